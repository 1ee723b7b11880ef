package enrichers

import (
	"slices"
	"strings"
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
func (e *Enricher) readIntrospection(r *Response, body []byte, req *tokenRequest, ents []entry, s *scratch) ([]entry, error) {
	*r = Response{Status: StatusNotToken, introspection: true}
	list, err := readEntries(body, ents)
	if err != nil {
		return ents, err
	}
	if foldedTwice(body, list, true) {
		r.Status = StatusAmbiguous
		return list, nil
	}
	if a := lastEntry(body, list, "active"); a == nil || string(body[a.vs:a.ve]) != "true" {
		return list, nil
	}
	r.Status = StatusUnchanged
	// the members are the claims, which the identity keeps: a copy of
	// the body and of its entries
	claims := newObject(string(body), slices.Clone(list))
	iss := topText(claims, "iss")
	p, why := e.presets.choose(true, iss, nil)
	r.Identity = identify(p, true, claims, iss, nil, "", nil, &s.from)
	s.from.preset = why
	r.Identity.Format = tokenIntrospected
	if req != nil {
		r.Identity.RequestClientID = req.client()
	}
	return list, nil
}

// dropIntrospectionReserved removes from the plan the fields an
// introspection response must not get.
func (pl *plan) dropIntrospectionReserved() {
	pl.fields = slices.DeleteFunc(pl.fields, func(p planned) bool { return isIntrospectionReserved(p.name) })
	pl.reindex()
}
