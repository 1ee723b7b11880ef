package enrichers

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// PlaceholderPrefix starts every placeholder this library resolves itself.
const PlaceholderPrefix = "http.token."

// resolver resolves placeholders that are not under PlaceholderPrefix, such as
// Caddy's {env.*} or {http.request.host}. It reports false for unknown keys,
// which are then left in the output as written.
type resolver func(key string) (string, bool)

// tokenPlaceholders lists the names under PlaceholderPrefix (claims.<name>
// aside), for documentation and the Caddy replacer.
func tokenPlaceholders() []string {
	return []string{"client_id", "audience", "tenant", "issuer", "subject", "grant_type", "scope"}
}

// placeholder returns the value of an identity placeholder name (the part
// after PlaceholderPrefix) and whether the name is known. Field templates
// render it as it is: they write it as an escaped JSON string.
func (id *Identity) placeholder(name string) (string, bool) {
	if claim, ok := strings.CutPrefix(name, "claims."); ok {
		return id.claimText(claim), true
	}
	switch name {
	case "client_id":
		return id.ClientID, true
	case "audience":
		return id.audience(), true
	case "tenant":
		return id.Tenant, true
	case "issuer":
		return id.Issuer, true
	case "subject":
		return id.Subject, true
	case "grant_type":
		return id.GrantType, true
	case "scope":
		return id.scope(), true
	}
	return "", false
}

// placeholder is Identity.placeholder, plus the members of the objects the
// sources found (source.<name>.<member>, empty when the source found
// nothing) and the buckets of the splits (split.<name>, empty without a
// key or before the splits are assigned).
func (r *Response) placeholder(name string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "source."); ok {
		source, member, ok := strings.Cut(rest, ".")
		if !ok || source == "" || member == "" {
			return "", false
		}
		v, _ := r.sourceMember(source, member)
		return v, true
	}
	if split, ok := splitName(name); ok {
		return r.splitBucket(split), true
	}
	return r.Identity.placeholder(name)
}

// Placeholder returns the value of the placeholder name (the part after
// PlaceholderPrefix) for values that leave the engine as plain text
// (Caddy's placeholders, written into headers and logs), and whether the
// name is known. A value holding a C0 control character or DEL is
// withheld (value "", withheld true): in a header it would break the
// response for every client. Field templates read values as they are,
// and write them as escaped JSON strings.
func (r *Response) Placeholder(name string) (value string, known, withheld bool) {
	value, known = r.placeholder(name)
	if hasControl(value) {
		return "", known, true
	}
	return value, known, false
}

// knownPlaceholder reports whether name (after PlaceholderPrefix) is one
// the engine renders: an identity name, claims.<name>,
// source.<source>.<member> or split.<name>.
func knownPlaceholder(name string) bool {
	if claim, ok := strings.CutPrefix(name, "claims."); ok {
		return claim != ""
	}
	if rest, ok := strings.CutPrefix(name, "source."); ok {
		source, member, ok := strings.Cut(rest, ".")
		return ok && source != "" && member != ""
	}
	if _, ok := splitName(name); ok {
		return true
	}
	return slices.Contains(tokenPlaceholders(), name)
}

// hasControl reports whether s holds a C0 control character or DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// segment is a literal run or one placeholder.
type segment struct {
	lit   string // literal text; for a placeholder, the placeholder as written
	key   string // full placeholder key, without braces
	token string // the name under PlaceholderPrefix, for identity placeholders
}

// valueTemplate is a field value with {placeholders}, parsed once. `\{` and `\}`
// are literal braces; an unclosed brace is literal.
type valueTemplate struct {
	raw  string
	segs []segment
}

// parseTemplate parses s. It rejects an unknown name under http.token.
func parseTemplate(s string) (valueTemplate, error) {
	t := valueTemplate{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '}') {
			lit.WriteByte(s[i+1])
			i++
			continue
		}
		if c != '{' {
			lit.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			lit.WriteString(s[i:])
			break
		}
		key := s[i+1 : i+1+end]
		if key == "" || strings.ContainsAny(key, "{ ") {
			lit.WriteByte(c)
			continue
		}
		seg := segment{key: key, lit: "{" + key + "}"}
		if name, ok := strings.CutPrefix(key, PlaceholderPrefix); ok {
			if !knownPlaceholder(name) {
				return valueTemplate{}, fmt.Errorf("unknown placeholder {%s}: known are {%s<%s>}, {%sclaims.<name>} and {%ssource.<source>.<member>}",
					key, PlaceholderPrefix, strings.Join(tokenPlaceholders(), "|"), PlaceholderPrefix, PlaceholderPrefix)
			}
			seg.token = name
		}
		flush()
		t.segs = append(t.segs, seg)
		i += end + 1
	}
	flush()
	return t, nil
}

// String returns the template as written.
func (t valueTemplate) String() string { return t.raw }

// external reports whether the template has a placeholder the engine does
// not render itself, which a resolver must.
func (t valueTemplate) external() bool {
	for i := range t.segs {
		if t.segs[i].key != "" && t.segs[i].token == "" {
			return true
		}
	}
	return false
}

// constant returns the text and true when the template has no placeholder.
func (t valueTemplate) constant() (string, bool) {
	switch len(t.segs) {
	case 0:
		return "", true
	case 1:
		if t.segs[0].key == "" {
			return t.segs[0].lit, true
		}
	}
	return "", false
}

// appendText renders the template onto dst as plain text.
func (t valueTemplate) appendText(dst []byte, r *Response, resolve resolver) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		switch {
		case s.key == "":
			dst = append(dst, s.lit...)
		case s.token != "":
			v, _ := r.placeholder(s.token)
			dst = append(dst, v...)
		default:
			if resolve != nil {
				if v, ok := resolve(s.key); ok {
					dst = append(dst, v...)
					continue
				}
			}
			dst = append(dst, s.lit...)
		}
	}
	return dst
}

// appendJSON renders the template onto dst as a JSON string. Identity
// placeholders are read from id; others through resolve. empty reports a
// template that rendered no text (dst then holds `""`). Escaping each piece
// as it is written gives the escaping of the whole text, without a copy of
// it.
func (t valueTemplate) appendJSON(dst []byte, r *Response, resolve resolver) (_ []byte, empty bool) {
	dst = append(dst, '"')
	n := 0
	piece := func(s string) {
		n += len(s)
		dst = appendEscaped(dst, s)
	}
	for i := range t.segs {
		s := &t.segs[i]
		switch {
		case s.key == "":
			piece(s.lit)
		case s.token != "":
			v, _ := r.placeholder(s.token)
			piece(v)
		default:
			if resolve != nil {
				if v, ok := resolve(s.key); ok {
					piece(v)
					continue
				}
			}
			piece(s.lit)
		}
	}
	return append(dst, '"'), n == 0
}

// appendEscaped appends s to dst as the contents of a JSON string,
// escaped as gjson.AppendJSONString escapes it. Most values (ids, URLs,
// plan names) need no escape: they are copied after one look at each
// byte, which costs a fraction of escaping them a byte at a time.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if escapes[s[i]] {
			q := gjson.AppendJSONString(dst, s)
			// drop the quotes AppendJSONString puts around s
			copy(q[len(dst):], q[len(dst)+1:len(q)-1])
			return q[:len(q)-2]
		}
	}
	return append(dst, s...)
}

// escapes marks the bytes gjson.AppendJSONString does not copy as they
// are: controls, the quote and the backslash, '<', '>' and '&' (escaped
// for HTML), and every byte of a multi-byte character (checked for
// UTF-8 validity).
var escapes = func() (t [256]bool) {
	for c := range t {
		t[c] = c < ' ' || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()
