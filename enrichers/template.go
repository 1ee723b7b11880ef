package enrichers

import (
	"fmt"
	"strings"
)

// PlaceholderPrefix starts every placeholder this library resolves itself.
const PlaceholderPrefix = "http.token."

// Resolver resolves placeholders that are not under PlaceholderPrefix, such as
// Caddy's {env.*} or {http.request.host}. It reports false for unknown keys,
// which are then left in the output as written.
type Resolver func(key string) (string, bool)

// tokenKey enumerates the identity placeholders.
type tokenKey uint8

const (
	keyNone tokenKey = iota
	keyClientID
	keyAudience
	keyTenant
	keyIssuer
	keySubject
	keyGrantType
	keyScope
	keyClaim
)

var tokenKeys = map[string]tokenKey{
	"client_id":  keyClientID,
	"audience":   keyAudience,
	"tenant":     keyTenant,
	"issuer":     keyIssuer,
	"subject":    keySubject,
	"grant_type": keyGrantType,
	"scope":      keyScope,
}

// TokenPlaceholders lists the names under PlaceholderPrefix (claims.<name>
// aside), for documentation and the Caddy replacer.
func TokenPlaceholders() []string {
	return []string{"client_id", "audience", "tenant", "issuer", "subject", "grant_type", "scope"}
}

// segment is a literal run or one placeholder.
type segment struct {
	lit   string    // literal text (when key == "")
	key   string    // full placeholder key, without braces
	tok   tokenKey  // identity placeholder, or keyNone for external ones
	claim string    // claim name for keyClaim
	slot  claimSlot // the claim's slot, set by Enricher.bindClaims
}

// Template is a field value with {placeholders}, parsed once. `\{` and `\}`
// are literal braces; an unclosed brace is literal.
type Template struct {
	raw  string
	segs []segment
}

// ParseTemplate parses s. It rejects an unknown name under http.token.
func ParseTemplate(s string) (Template, error) {
	t := Template{raw: s}
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
		seg := segment{key: key, slot: noSlot}
		if name, ok := strings.CutPrefix(key, PlaceholderPrefix); ok {
			if claim, ok := strings.CutPrefix(name, "claims."); ok && claim != "" {
				seg.tok, seg.claim = keyClaim, claim
			} else if k, ok := tokenKeys[name]; ok {
				seg.tok = k
			} else {
				return Template{}, fmt.Errorf("unknown placeholder {%s}: known are {%s<%s>} and {%sclaims.<name>}",
					key, PlaceholderPrefix, strings.Join(TokenPlaceholders(), "|"), PlaceholderPrefix)
			}
		}
		flush()
		t.segs = append(t.segs, seg)
		i += end + 1
	}
	flush()
	return t, nil
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// constant returns the text and true when the template has no placeholder.
func (t Template) constant() (string, bool) {
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

// appendText renders the template onto dst (unescaped text).
func (t Template) appendText(dst []byte, id *Identity, resolve Resolver) []byte {
	for i := range t.segs {
		s := &t.segs[i]
		switch {
		case s.key == "":
			dst = append(dst, s.lit...)
		case s.tok != keyNone:
			dst = append(dst, id.placeholder(s.tok, s.claim, s.slot)...)
		default:
			if resolve != nil {
				if v, ok := resolve(s.key); ok {
					dst = append(dst, v...)
					continue
				}
			}
			dst = append(dst, '{')
			dst = append(dst, s.key...)
			dst = append(dst, '}')
		}
	}
	return dst
}

// Placeholder returns the value of an identity placeholder name (the part
// after PlaceholderPrefix) and whether the name is known.
func (id *Identity) Placeholder(name string) (string, bool) {
	if claim, ok := strings.CutPrefix(name, "claims."); ok {
		return id.ClaimString(claim), true
	}
	k, ok := tokenKeys[name]
	if !ok {
		return "", false
	}
	return id.placeholder(k, "", noSlot), true
}

// placeholder renders identity placeholder k; for keyClaim, the claim named
// claim, in slot s when known.
func (id *Identity) placeholder(k tokenKey, claim string, s claimSlot) string {
	switch k {
	case keyClientID:
		return id.ClientID
	case keyAudience:
		return id.Audience()
	case keyTenant:
		return id.Tenant
	case keyIssuer:
		return id.Issuer
	case keySubject:
		return id.Subject
	case keyGrantType:
		return id.GrantType
	case keyScope:
		return id.Scope()
	case keyClaim:
		if text, ok := id.claimString(s); ok {
			return text
		}
		return resultText(id.claim(s, claim))
	}
	return ""
}
