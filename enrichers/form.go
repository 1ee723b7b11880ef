package enrichers

import (
	"mime"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
)

// Allocation-free equivalents, for the common inputs, of the standard
// library calls ParseTokenRequest used to make on every token request:
// url.ParseQuery (a map and a slice per parameter) and mime.ParseMediaType
// (a map). Anything unusual takes the standard call, so results are the same.

// formParams are the token request parameters ParseTokenRequest reads from
// a form body: the first value of each, every value of audience and resource.
type formParams struct {
	grantType, clientID, scope, assertion string
	audiences, resources                  []string
}

// maxFormParams is url.ParseQuery's limit on the number of parameters (Go's
// defaultMaxParams): past it ParseQuery returns no values at all.
const maxFormParams = 10000

// customFormLimit is set when GODEBUG (the environment, or the binary's
// default from go.mod or //go:debug) changes that limit; the standard
// parser, which reads it, is then used for every body.
var customFormLimit = func() bool {
	if strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams") {
		return true
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" && strings.Contains(s.Value, "urlmaxqueryparams") {
				return true
			}
		}
	}
	return false
}()

// parseForm reads the token parameters of an application/x-www-form-urlencoded
// body exactly as url.ParseQuery followed by Get and indexing would: pairs
// split on `&`, a pair holding `;` or failing to unescape is skipped, and the
// first value of a repeated parameter wins. Values without escapes are
// substrings of q.
func parseForm(q string) formParams { return parseFormInto(q, nil) }

// parseFormInto is parseForm keeping decoded values and the audience and
// resource lists in s when it has room (see RequestScratch); with s nil it
// is parseForm.
func parseFormInto(q string, s *RequestScratch) formParams {
	var p formParams
	if customFormLimit || strings.Count(q, "&")+1 > maxFormParams {
		form, _ := url.ParseQuery(q)
		return formParams{grantType: form.Get("grant_type"), clientID: form.Get("client_id"), scope: form.Get("scope"),
			assertion: form.Get("client_assertion"), audiences: form["audience"], resources: form["resource"]}
	}
	var seenGrant, seenClient, seenScope, seenAssertion bool
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := queryUnescape(k)
		if err != nil {
			continue
		}
		var first *string
		var seen *bool
		var all *[]string
		switch k {
		case "grant_type":
			first, seen = &p.grantType, &seenGrant
		case "client_id":
			first, seen = &p.clientID, &seenClient
		case "scope":
			first, seen = &p.scope, &seenScope
		case "client_assertion":
			first, seen = &p.assertion, &seenAssertion
		case "audience":
			all = &p.audiences
		case "resource":
			all = &p.resources
		default:
			continue
		}
		if v, err = s.unescape(v); err != nil {
			continue
		}
		if all != nil {
			*all = appendList(*all, v, s.spareList(all == &p.resources))
		} else if !*seen {
			*first, *seen = v, true
		}
	}
	return p
}

// queryUnescape is url.QueryUnescape, which returns s itself when s has no
// `%` and no `+`: the vectorised searches answer that faster than its
// byte-by-byte scan.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// unescapeQuery writes the url.QueryUnescape decoding of s into dst, which
// must hold len(s) bytes (decoding never lengthens), and returns the decoded
// length; ok is false when s has a malformed escape (dst is then garbage).
func unescapeQuery(dst []byte, s string) (n int, ok bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return 0, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return 0, false
			}
			dst[n] = hi<<4 | lo
			i += 2
		case '+':
			dst[n] = ' '
		default:
			dst[n] = c
		}
		n++
	}
	return n, true
}

// unhex is the value of a hexadecimal digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendList appends v to dst, starting an empty dst in spare (when not
// nil) instead of a new array.
func appendList(dst []string, v string, spare []string) []string {
	if dst == nil && spare != nil {
		dst = spare[:0:len(spare)]
	}
	return append(dst, v)
}

// mediaType returns the lowercased media type of a Content-Type value as
// mime.ParseMediaType does (ignoring its error), without allocating for the
// types token requests and responses use.
func mediaType(v string) string {
	for _, t := range [...]string{"application/x-www-form-urlencoded", "application/json"} {
		if isMediaType(v, t) {
			return t
		}
	}
	mt, _, _ := mime.ParseMediaType(v)
	return mt
}

// IsJSONMediaType reports whether a Content-Type value is application/json
// (parameters allowed) exactly as mime.ParseMediaType would say without
// error, without allocating for the values identity providers send.
func IsJSONMediaType(v string) bool {
	if isMediaType(v, "application/json") {
		return true
	}
	mt, _, err := mime.ParseMediaType(v)
	return err == nil && mt == "application/json"
}

// isMediaType reports whether v is exactly media type t (lowercase ASCII),
// in any case, optionally followed by a `charset=utf-8` parameter: a value
// mime.ParseMediaType parses to t without error. false means "not known",
// not "different": callers fall back to mime.ParseMediaType.
func isMediaType(v, t string) bool {
	base, params, hasParams := strings.Cut(v, ";")
	if !asciiEqualFold(base, t) {
		return false
	}
	return !hasParams || asciiEqualFold(strings.TrimLeft(params, " \t"), "charset=utf-8")
}

// asciiEqualFold reports whether s equals lower (lowercase ASCII) with ASCII
// letters of s compared case-insensitively. Unlike strings.EqualFold it does
// not fold non-ASCII runes (mime.ParseMediaType's strings.ToLower keeps ſ and
// K apart from s and k).
func asciiEqualFold(s, lower string) bool {
	if s == lower {
		return true // the usual spelling: one comparison, not a loop
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
