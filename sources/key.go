package sources

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// KeyTemplate is a compiled key template: literal text and placeholders,
// as caddy.Replacer reads them. It is the one place where a source's key is
// rendered from a request's placeholders.
//
// The rules, which hold for every source:
//
//   - A key is looked up only when every placeholder in it renders
//     non-empty. A placeholder that is unknown, empty, or withheld by the
//     handler (a claim holding a control character) renders empty; the
//     literal text around it would otherwise make a key of its own
//     ("tenant:"), one that no token names.
//   - In a key of two or more placeholders each value is escaped, so that
//     distinct tuples of values give distinct keys: '%' and the template's
//     literal characters that a value could be mistaken for (every one
//     that is not an ASCII letter or digit, and the first character of the
//     text between two placeholders) are percent-encoded, ':' as "%3A".
//     With the template "{tenant}:{client}", "acme:billing" + "svc" and
//     "acme" + "billing:svc" read "acme%3Abilling:svc" and
//     "acme:billing%3Asvc". A key of one placeholder holds its value as it
//     is: it is unambiguous already, and the keys stored for it stay valid.
//   - Two placeholders with no text between them are refused: no escaping
//     can tell where the first value ends.
type KeyTemplate struct {
	text string
	// prefix is the literal text before the first placeholder.
	prefix string
	// placeholders counts the template's placeholders.
	placeholders int
	// special marks the bytes escaped in values, '%' among them.
	special [256]bool
	escape  func(string) (string, bool)
}

// KeyTemplateOption changes how a KeyTemplate escapes values.
type KeyTemplateOption func(*KeyTemplate)

// WithEscape replaces the default escaping of values with escape, for a
// source whose keys have their own syntax (a URL part: its path escaping).
// escape may refuse a value (ok false): then there is no lookup.
func WithEscape(escape func(value string) (escaped string, ok bool)) KeyTemplateOption {
	return func(k *KeyTemplate) { k.escape = escape }
}

// mark is a placeholder's stand-in while the template is taken apart; a
// template holding it is refused.
const mark = "\x00"

// ParseKeyTemplate compiles text. An error names what is wrong.
func ParseKeyTemplate(text string, opts ...KeyTemplateOption) (*KeyTemplate, error) {
	if strings.Contains(text, mark) {
		return nil, fmt.Errorf("key template %q holds a NUL byte", Truncate(text))
	}
	k := &KeyTemplate{text: text}
	// Rendered with every placeholder standing for the mark, the template
	// is its literal text (escaped braces resolved) cut by the marks.
	split, err := caddy.NewReplacer().ReplaceFunc(text, func(string, any) (any, error) {
		k.placeholders++
		return mark, nil
	})
	if err != nil {
		return nil, fmt.Errorf("key template %q: %w", Truncate(text), err)
	}
	literals := strings.Split(split, mark)
	k.prefix = literals[0]
	if k.placeholders < 2 {
		k.escape = verbatim
	}
	k.special['%'] = true
	for i, lit := range literals {
		for j := 0; j < len(lit); j++ {
			if c := lit[j]; !isAlnum(c) {
				k.special[c] = true
			}
		}
		if i == 0 || i == len(literals)-1 {
			continue
		}
		if lit == "" {
			return nil, fmt.Errorf("key template %q: two placeholders with nothing between them, so that a key cannot tell where one value ends; put a separator such as ':' between them", Truncate(text))
		}
		k.special[lit[0]] = true
	}
	for _, o := range opts {
		o(k)
	}
	return k, nil
}

func verbatim(v string) (string, bool) { return v, true }

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// String returns the template as written.
func (k *KeyTemplate) String() string { return k.text }

// Prefix returns the literal text before the first placeholder: every key
// the template renders starts with it.
func (k *KeyTemplate) Prefix() string { return k.prefix }

// Placeholders returns the number of placeholders in the template.
func (k *KeyTemplate) Placeholders() int { return k.placeholders }

// Render renders the key for repl's values. ok is false when a placeholder
// renders empty (or unknown) or the escaping refuses its value: then the
// key must not be looked up.
func (k *KeyTemplate) Render(repl *caddy.Replacer) (key string, ok bool) {
	if k.placeholders == 0 {
		return k.text, k.text != ""
	}
	if repl == nil {
		return "", false
	}
	ok = true
	out, err := repl.ReplaceFunc(k.text, func(_ string, val any) (any, error) {
		v := caddy.ToString(val)
		if v == "" {
			ok = false
			return "", errEmpty
		}
		e, good := k.escapeValue(v)
		if !good {
			ok = false
			return "", errEmpty
		}
		return e, nil
	})
	if err != nil || !ok {
		return "", false
	}
	return out, true
}

// errEmpty stops a rendering at its first empty value.
var errEmpty = errors.New("empty placeholder")

func (k *KeyTemplate) escapeValue(v string) (string, bool) {
	if k.escape != nil {
		return k.escape(v)
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if k.special[v[i]] {
			n++
		}
	}
	if n == 0 {
		return v, true
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(v)+2*n)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if k.special[c] {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b), true
}
