package enrichers

import (
	"strings"

	"github.com/tidwall/gjson"
)

// TokenRequest holds the identity-relevant parameters of an OAuth 2.0 token
// request (RFC 6749 §4, RFC 8693, RFC 8707). It never holds a secret: the client
// secret, the client assertion and any token parameters are read only to the
// extent needed to name the client and are not kept.
type TokenRequest struct {
	// GrantType is the grant_type parameter as sent.
	GrantType string
	// ClientID is the client identifier from HTTP Basic authentication
	// (URL-decoded per RFC 6749 §2.3.1) or else the client_id parameter.
	ClientID string
	// AssertionClientID is the client named by a client_assertion JWT
	// (private_key_jwt / client_secret_jwt): its `sub`, else its `iss`.
	AssertionClientID string
	// Audiences lists the audience parameters (Auth0, RFC 8693), in order.
	Audiences []string
	// Resources lists the resource parameters (RFC 8707), in order.
	Resources []string
	// Scope is the scope parameter as sent (space-separated).
	Scope string
}

// Client returns the best request-side client id: Basic/body client_id, else
// the client assertion's subject.
func (r *TokenRequest) Client() string {
	if r.ClientID != "" {
		return r.ClientID
	}
	return r.AssertionClientID
}

// Audience returns the audience the client asked for: the first audience
// parameter, else the first resource parameter.
func (r *TokenRequest) Audience() string {
	if len(r.Audiences) > 0 {
		return r.Audiences[0]
	}
	if len(r.Resources) > 0 {
		return r.Resources[0]
	}
	return ""
}

// ParseTokenRequest extracts the parameters from a token request body of the
// given Content-Type (application/x-www-form-urlencoded or application/json;
// anything else yields only the Basic client id) and the user part of an HTTP
// Basic Authorization header (basicUser, still form-encoded; "" if none).
// It is lenient by design: a malformed body yields whatever could be read.
func ParseTokenRequest(contentType string, body []byte, basicUser string) TokenRequest {
	return parseTokenRequest(contentType, body, basicUser, nil)
}

// ParseTokenRequestShared is ParseTokenRequest without copies: the strings
// of the result may share memory with body, and decoded values and the
// Audiences and Resources lists are kept in scratch when they fit, so a
// typical token request is parsed without allocating. Neither body nor
// scratch may be modified or reused while the result, or anything derived
// from it (an Identity), is in use. A nil scratch makes it ParseTokenRequest.
func ParseTokenRequestShared(contentType string, body []byte, basicUser string, scratch *RequestScratch) TokenRequest {
	return parseTokenRequest(contentType, body, basicUser, scratch)
}

// RequestScratch is memory for ParseTokenRequestShared: room for the
// percent-decoded values of a token request and for short Audiences and
// Resources lists. The zero value is ready to use, for one request.
type RequestScratch struct {
	lists   [2]string // the first audience and the first resource
	decoded [64]byte
	used    int // bytes of decoded in use
}

// unescape is queryUnescape, decoding into s's free bytes when the value
// has escapes and fits. A nil s allocates as queryUnescape does.
func (s *RequestScratch) unescape(v string) (string, error) {
	if s == nil || len(v) > len(s.decoded)-s.used ||
		(strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0) {
		return queryUnescape(v)
	}
	free := s.decoded[s.used:]
	n, ok := unescapeQuery(free, v)
	if !ok {
		return queryUnescape(v) // the same error
	}
	s.used += n
	return stringOf(free[:n]), nil
}

// text is body as a string: shared with body when s is not nil (see
// ParseTokenRequestShared), else a copy.
func (s *RequestScratch) text(body []byte) string {
	if s == nil {
		return string(body)
	}
	return stringOf(body)
}

// spareList is the room in s for the Audiences (resources false) or the
// Resources list; nil when s is nil.
func (s *RequestScratch) spareList(resources bool) []string {
	switch {
	case s == nil:
		return nil
	case resources:
		return s.lists[1:2:2]
	}
	return s.lists[0:1:1]
}

// parseTokenRequest is ParseTokenRequestShared; with scratch nil, the
// result shares no memory with body.
func parseTokenRequest(contentType string, body []byte, basicUser string, scratch *RequestScratch) TokenRequest {
	var tr TokenRequest
	if basicUser != "" {
		if u, err := scratch.unescape(basicUser); err == nil {
			tr.ClientID = u
		} else {
			tr.ClientID = basicUser
		}
	}
	mt := mediaType(contentType)
	var assertion string
	switch {
	case mt == "application/x-www-form-urlencoded":
		form := parseFormInto(scratch.text(body), scratch)
		tr.GrantType = form.grantType
		if tr.ClientID == "" {
			tr.ClientID = form.clientID
		}
		tr.Audiences = form.audiences
		tr.Resources = form.resources
		tr.Scope = form.scope
		assertion = form.assertion
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if !isJSONObject(body) {
			break
		}
		gjson.Parse(scratch.text(body)).ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "grant_type":
				tr.GrantType = v.String()
			case "client_id":
				if tr.ClientID == "" {
					tr.ClientID = v.String()
				}
			case "audience":
				tr.Audiences = appendStrings(tr.Audiences, v, scratch.spareList(false))
			case "resource":
				tr.Resources = appendStrings(tr.Resources, v, scratch.spareList(true))
			case "scope":
				tr.Scope = v.String()
			case "client_assertion":
				assertion = v.String()
			}
			return true
		})
	}
	if assertion != "" {
		if _, payload, ok := DecodeJWT(assertion); ok {
			claims := gjson.ParseBytes(payload)
			if sub := claims.Get("sub"); sub.Type == gjson.String && sub.Str != "" {
				tr.AssertionClientID = sub.Str
			} else if iss := claims.Get("iss"); iss.Type == gjson.String {
				tr.AssertionClientID = iss.Str
			}
		}
	}
	return tr
}

// appendStrings appends a JSON string, or every string of a JSON array,
// starting an empty dst in spare (see appendList).
func appendStrings(dst []string, v gjson.Result, spare []string) []string {
	switch {
	case v.Type == gjson.String:
		return appendList(dst, v.Str, spare)
	case v.IsArray():
		v.ForEach(func(_, e gjson.Result) bool {
			if e.Type == gjson.String {
				dst = appendList(dst, e.Str, spare)
			}
			return true
		})
	}
	return dst
}
