package enrichers

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// introspectionFields are the members of an RFC 7662 §2.2 introspection
// response. In an introspection response they are the authorisation
// server's statement about a token, so, like the token response members of
// reservedFields, they are never written there, whatever the
// configuration, the claims or a source say. In a token response they are
// ordinary names (a field may be called `sub`).
var introspectionFields = [...]string{
	"active",
	"scope",
	"client_id",
	"username",
	"token_type",
	"exp",
	"iat",
	"nbf",
	"sub",
	"aud",
	"iss",
	"jti",
}

// isIntrospectionReserved reports whether name must never be written to an
// introspection response: an RFC 7662 member or a name isReserved reports,
// in any spelling a client would take for it (folded as isReserved folds:
// encoding/json would read an added `Active` as `active`).
func isIntrospectionReserved(name string) bool {
	for _, r := range introspectionFields {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return isReserved(name)
}

// readIntrospection is read for an RFC 7662 token introspection response.
// The body is validated as read validates a token response (errTooDeep,
// errNotJSONObject). Only an active response is enriched: when the member
// `active` (that exact name) is JSON true, the status is StatusUnchanged
// and the identity is built exactly as for a JWT access token, the
// response's own members being the claims (client_id, aud, scope, iss, sub,
// the preset's tenant claims; the preset chosen by `iss` under auto), so
// that rules, placeholders, sources and fields work the same way. An
// inactive response (active false, absent, or anything but true) is
// StatusNotToken, and a response in which an RFC 7662 or token response
// member appears twice in spellings a client folds together (two `active`,
// or `active` and `Active`) is StatusAmbiguous: both are passed on as
// they are, since a client might read the other copy.
//
// req is the introspection request: its client is the party asking (a
// resource server), not the token's client, so it only sets
// Identity.RequestClientID; the client, grant, audience and scope come
// from the response alone. render never writes a name
// isIntrospectionReserved reports into an introspection response.
func (e *Enricher) readIntrospection(r *Response, body string, req *tokenRequest) error {
	*r = Response{Status: StatusNotToken, body: body, introspection: true}
	_, list, err := readObject(body, nil)
	if err != nil {
		return err
	}
	r.members = list
	if ambiguousIntrospection(list) {
		r.Status = StatusAmbiguous
		return nil
	}
	if last(list, "active").Type != gjson.True {
		return nil
	}
	r.Status = StatusUnchanged
	// the members are the claims
	claims := list
	p, why := e.presets.choose(true, claims, "")
	r.Identity = identify(p, true, claims, "", "", nil)
	r.Identity.from.preset = why
	r.Identity.Format = tokenIntrospected
	if req != nil {
		r.Identity.RequestClientID = req.client()
	}
	return nil
}

// ambiguousIntrospection reports whether a name isIntrospectionReserved
// reports appears more than once in spellings encoding/json folds together.
func ambiguousIntrospection(list []member) bool { return foldedTwice(list, isIntrospectionReserved) }

// dropIntrospectionReserved removes from the plan the fields an
// introspection response must not get.
func (pl *plan) dropIntrospectionReserved() {
	pl.fields = slices.DeleteFunc(pl.fields, func(p planned) bool { return isIntrospectionReserved(p.name) })
	pl.reindex()
}
