package httpsource

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// urlTemplate is a URL template split where its values are escaped
// differently. The split points are found outside placeholders, so a
// placeholder such as {file./etc/x} does not split a part.
type urlTemplate struct {
	scheme string // "http://" or "https://"
	host   string // user info, host and port
	path   string // from the first '/', empty if none
	query  string // from the '?', empty if none
	// prefix is the literal text before the first placeholder or escaped
	// brace: every URL the template renders starts with it.
	prefix string
}

// parseTemplate splits t and checks that it renders an http(s) URL with a
// host and no fragment.
func parseTemplate(t string) (urlTemplate, error) {
	var tmpl urlTemplate
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "https://"):
		tmpl.scheme = t[:len("https://")]
	case strings.HasPrefix(lower, "http://"):
		tmpl.scheme = t[:len("http://")]
	default:
		return tmpl, fmt.Errorf("http source: url %q must start with http:// or https:// (placeholders are values, escaped; use {$VAR} in a Caddyfile for a base URL from the environment)", t)
	}
	rest := t[len(tmpl.scheme):]
	hostEnd := indexOutside(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	tmpl.host = rest[:hostEnd]
	rest = rest[hostEnd:]
	pathEnd := indexOutside(rest, "?#")
	if pathEnd < 0 {
		pathEnd = len(rest)
	}
	tmpl.path = rest[:pathEnd]
	tmpl.query = rest[pathEnd:]
	if strings.HasPrefix(tmpl.query, "#") || indexOutside(tmpl.query, "#") >= 0 {
		return tmpl, fmt.Errorf("http source: url %q has a fragment, which is never sent", t)
	}
	if tmpl.host == "" {
		return tmpl, fmt.Errorf("http source: url %q has no host", t)
	}
	if i := strings.IndexAny(t, `{\`); i >= 0 {
		tmpl.prefix = t[:i]
	} else {
		tmpl.prefix = t
	}
	// With every placeholder standing for a plain value, the template must
	// be a URL.
	sample, err := caddy.NewReplacer().ReplaceFunc(t, func(string, any) (any, error) { return "x", nil })
	if err != nil {
		return tmpl, fmt.Errorf("http source: url %q: %w", t, err)
	}
	u, err := url.Parse(sample)
	if err != nil {
		return tmpl, fmt.Errorf("http source: url %q: %w", t, unwrapURLError(err))
	}
	if u.Host == "" {
		return tmpl, fmt.Errorf("http source: url %q has no host", t)
	}
	return tmpl, nil
}

// indexOutside returns the index in s of the first byte of chars that is
// outside a placeholder, or -1. A placeholder runs from an unescaped '{' to
// the next '}', as caddy.Replacer reads them.
func indexOutside(s, chars string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '}'):
			i++
		case c == '{':
			if end := strings.IndexByte(s[i:], '}'); end > 0 {
				i += end
			}
		case strings.IndexByte(chars, c) >= 0:
			return i
		}
	}
	return -1
}

// render renders part with repl, passing each placeholder's value through
// escape. ok is false when a value is empty or escape refuses it.
func render(repl *caddy.Replacer, part string, escape func(string) (string, bool)) (string, bool) {
	if strings.IndexByte(part, '{') < 0 {
		return part, true
	}
	ok := true
	out, err := repl.ReplaceFunc(part, func(_ string, val any) (any, error) {
		v := caddy.ToString(val)
		if v == "" {
			ok = false
			return "", nil
		}
		e, good := escape(v)
		if !good {
			ok = false
		}
		return e, nil
	})
	if err != nil || !ok {
		return "", false
	}
	return out, true
}

// pathValue escapes a value for the path. "." and ".." are refused: a
// server that resolves dot segments would serve another resource than the
// template names (a tenant ".." reading the parent collection).
func pathValue(v string) (string, bool) {
	if v == "." || v == ".." {
		return "", false
	}
	return url.PathEscape(v), true
}

func queryValue(v string) (string, bool) { return url.QueryEscape(v), true }

// hostValue accepts a value for the host part only when it can change
// nothing but the host name and port.
func hostValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':') {
			return "", false
		}
	}
	return v, true
}
