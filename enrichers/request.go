package enrichers

import (
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
)

// tokenRequest holds the identity-relevant parameters of an OAuth 2.0 token
// request (RFC 6749 §4, RFC 8693, RFC 8707). It never holds a secret: the client
// secret, the client assertion and any token parameters are read only to the
// extent needed to name the client and are not kept.
type tokenRequest struct {
	// GrantType is the grant_type parameter as sent.
	GrantType string
	// ClientID is the client identifier from HTTP Basic authentication
	// (URL-decoded per RFC 6749 §2.3.1) or else the client_id parameter.
	ClientID string
	// AssertionClientID is the client named by a client_assertion JWT
	// (private_key_jwt / client_secret_jwt): its `sub`, else its `iss`.
	AssertionClientID string
	// Audiences lists the audience parameters (Auth0, RFC 8693), in order.
	Audiences values
	// Resources lists the resource parameters (RFC 8707), in order.
	Resources values
	// Scope is the scope parameter as sent (space-separated).
	Scope string
	// ClientIDConflict, when not empty, says how the request names two
	// different clients: two client_id parameters with different values,
	// or a Basic user other than the client_id parameter. An identity
	// provider may authenticate either, so the request cannot say whom
	// the token is for: Read then passes the response on as ambiguous.
	// Identical repeats are no conflict.
	ClientIDConflict string
}

// Client returns the best request-side client id: Basic/body client_id, else
// the client assertion's subject.
func (r *tokenRequest) client() string {
	if r.ClientID != "" {
		return r.ClientID
	}
	return r.AssertionClientID
}

// Audience returns the audience the client asked for: the first audience
// parameter, else the first resource parameter.
func (r *tokenRequest) audience() string {
	if r.Audiences.sent {
		return r.Audiences.first
	}
	if r.Resources.sent {
		return r.Resources.first
	}
	return ""
}

// parseTokenRequest extracts the parameters from a token request body of
// the given Content-Type (application/x-www-form-urlencoded or
// application/json; anything else yields only the Basic client id) and the
// user part of an HTTP Basic Authorization header (basicUser, still
// form-encoded; "" if none). It is lenient by design: a malformed body
// yields whatever could be read. The result points into body.
func parseTokenRequest(contentType, body, basicUser string) tokenRequest {
	var tr tokenRequest
	var ids clientIDs
	if basicUser != "" {
		tr.ClientID = basicUser
		if u, err := url.QueryUnescape(basicUser); err == nil {
			tr.ClientID = u
		}
	}
	mt := mediaType(contentType)
	var assertion string
	switch {
	case mt == "application/x-www-form-urlencoded":
		f := readForm(body, form{audiences: tr.Audiences, resources: tr.Resources})
		tr.GrantType = f.grantType
		if tr.ClientID == "" {
			tr.ClientID = f.clientID
		}
		ids = f.clientIDs
		tr.Audiences, tr.Resources, tr.Scope, assertion = f.audiences, f.resources, f.scope, f.assertion
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		o, err := readObject(body, nil)
		if err != nil {
			break
		}
		for i := range o.members {
			m := &o.members[i]
			switch o.name(i) {
			case "grant_type":
				tr.GrantType = o.val(m).String()
			case "client_id":
				v := o.val(m).String()
				if !ids.seen && tr.ClientID == "" {
					tr.ClientID = v
				}
				ids.add(v)
			case "audience":
				addStrings(&tr.Audiences, o.val(m))
			case "resource":
				addStrings(&tr.Resources, o.val(m))
			case "scope":
				tr.Scope = o.val(m).String()
			case "client_assertion":
				assertion = o.val(m).String()
			}
		}
	}
	tr.ClientIDConflict = ids.conflict(basicUser != "", tr.ClientID)
	if assertion != "" {
		if _, claims, ok := readClaims([]byte(assertion), nil); ok {
			if sub := claims.last("sub"); sub.Type == gjson.String && sub.Str != "" {
				tr.AssertionClientID = sub.Str
			} else if iss := claims.last("iss"); iss.Type == gjson.String {
				tr.AssertionClientID = iss.Str
			}
		}
	}
	return tr
}

// addStrings adds a JSON string, or every string of a JSON array, to vs.
func addStrings(vs *values, v gjson.Result) {
	eachString(v, func(s string) bool {
		vs.add(s)
		return true
	})
}

// values is the list of a repeated parameter's values. The identity reads
// the first alone, and a usual request sends one: it is held in place,
// and only the others are appended to a list.
type values struct {
	first string
	more  []string
	// sent: the parameter was sent at least once (first may be "")
	sent bool
}

// add appends v.
func (vs *values) add(v string) {
	if !vs.sent {
		vs.first, vs.sent = v, true
	} else {
		vs.more = append(vs.more, v)
	}
}

// form holds the token request parameters of a form body: the first value
// of each, every value of audience and resource.
type form struct {
	grantType, clientID, scope, assertion string
	audiences, resources                  values
	// clientIDs: every client_id, to tell whether they agree
	clientIDs clientIDs
}

// readForm reads the token parameters of an application/x-www-form-urlencoded
// body as url.ParseQuery followed by Get would: pairs split on `&`, a pair
// holding `;` or failing to unescape is skipped, the first value of a
// repeated parameter wins. Unlike ParseQuery it keeps only these six
// parameters, so a token request costs no map. It returns f with the
// parameters set, audiences and resources added to its values.
func readForm(q string, f form) form {
	var seen [4]bool
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(k)
		if err != nil {
			continue
		}
		var first *string
		var i int
		switch k {
		case "grant_type":
			first, i = &f.grantType, 0
		case "client_id":
			first, i = &f.clientID, 1
		case "scope":
			first, i = &f.scope, 2
		case "client_assertion":
			first, i = &f.assertion, 3
		case "audience", "resource":
		default:
			continue
		}
		if v, err = queryUnescape(v); err != nil {
			continue
		}
		if i == 1 {
			f.clientIDs.add(v)
		}
		switch {
		case k == "audience":
			f.audiences.add(v)
		case k == "resource":
			f.resources.add(v)
		case !seen[i]:
			*first, seen[i] = v, true
		}
	}
	return f
}

// queryUnescape is url.QueryUnescape, which reads a string a byte at a
// time to learn that it has nothing to unescape: most token parameters
// (client ids, grant types, scopes) have nothing, and IndexByte says so
// at a fraction of the cost.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// mediaType returns the lowercased media type of a Content-Type value, as
// mime.ParseMediaType would (its error aside): a plain comparison for the
// two types a token request uses, the library for anything else.
func mediaType(v string) string {
	if v == "application/x-www-form-urlencoded" || v == "application/json" {
		return v // as clients send it, with nothing to lower or trim
	}
	base, _, _ := strings.Cut(v, ";")
	base = strings.TrimSpace(base)
	// ToLower, as mime does: strings.EqualFold would also fold ſ and K
	if base = strings.ToLower(base); base == "application/x-www-form-urlencoded" || base == "application/json" {
		return base
	}
	mt, _, _ := mime.ParseMediaType(v)
	return mt
}

// IsJSONMediaType reports whether a Content-Type value is application/json,
// with no parameter but a UTF-8 charset: RFC 8259 §8.1 says JSON exchanged
// between systems is UTF-8, so a body labelled with another charset is not
// one this module may rewrite. A value with parameters is judged by
// mime.ParseMediaType.
func IsJSONMediaType(v string) bool {
	if v == "application/json" || v == "application/json; charset=utf-8" || v == "application/json;charset=UTF-8" {
		return true // what identity providers send, as they send it
	}
	// the usual spellings, judged without the library; ToLower, as mime
	// does: strings.EqualFold would also fold ſ and K
	base, param, hasParam := strings.Cut(v, ";")
	if strings.ToLower(strings.TrimSpace(base)) == "application/json" &&
		(!hasParam || strings.ToLower(strings.TrimSpace(param)) == "charset=utf-8") {
		return true
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
}

// clientIDs follows the client_id parameters of a request: the first,
// and the first other value, if any.
type clientIDs struct {
	seen         bool
	first, other string
	differ       bool
}

// add notes a client_id parameter.
func (c *clientIDs) add(v string) {
	switch {
	case !c.seen:
		c.seen, c.first = true, v
	case v != c.first && !c.differ:
		c.differ, c.other = true, v
	}
}

// conflict describes how the request names two clients, "" when it
// names one at most: two different client_id parameters, or a Basic user
// (basicID, when hasBasic) other than the client_id parameter.
func (c *clientIDs) conflict(hasBasic bool, basicID string) string {
	switch {
	case c.differ:
		return fmt.Sprintf("client_id %q and client_id %q", c.first, c.other)
	case hasBasic && c.seen && c.first != basicID:
		return fmt.Sprintf("Basic user %q and client_id %q", basicID, c.first)
	}
	return ""
}
