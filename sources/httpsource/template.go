package httpsource

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// urlTemplate is a URL template split where its values are escaped
// differently. The split points are found outside placeholders, so a
// placeholder such as {file./etc/x} does not split a part.
type urlTemplate struct {
	scheme string // "http://" or "https://"
	host   string // user info, host and port, rendered at load
	path   *sources.KeyTemplate
	query  *sources.KeyTemplate
	// prefix is the literal text before the first placeholder or escaped
	// brace: every URL the template renders starts with it.
	prefix string
}

// parseTemplate splits t and checks that it renders an http(s) URL with a
// host and no fragment. The scheme, host and port are where the request
// goes, with the source's credentials: no value of a request may choose
// them, so a placeholder there is refused, except those known when the
// config loads ({env.*}, {file.*}), which are rendered then.
func parseTemplate(t string) (urlTemplate, error) {
	var tmpl urlTemplate
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "https://"):
		tmpl.scheme = t[:len("https://")]
	case strings.HasPrefix(lower, "http://"):
		tmpl.scheme = t[:len("http://")]
	default:
		return tmpl, fmt.Errorf("http source: url %q must start with http:// or https:// (placeholders are values, escaped; use {$VAR} in a Caddyfile for a base URL from the environment)", sources.Truncate(t))
	}
	rest := t[len(tmpl.scheme):]
	hostEnd := indexOutside(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	host := rest[:hostEnd]
	rest = rest[hostEnd:]
	pathEnd := indexOutside(rest, "?#")
	if pathEnd < 0 {
		pathEnd = len(rest)
	}
	path, query := rest[:pathEnd], rest[pathEnd:]
	if strings.HasPrefix(query, "#") || indexOutside(query, "#") >= 0 {
		return tmpl, fmt.Errorf("http source: url %q has a fragment, which is never sent", sources.Truncate(t))
	}
	if host == "" {
		return tmpl, fmt.Errorf("http source: url %q has no host", sources.Truncate(t))
	}
	var err error
	tmpl.host, err = caddy.NewReplacer().ReplaceOrErr(host, false, true)
	if err != nil {
		return tmpl, fmt.Errorf("http source: url %q: the host and port must not hold a placeholder of the request (%v): they choose where the source's credentials go; put placeholders in the path or the query, or use {env.*} or {$VAR} for a host known when the config loads", sources.Truncate(t), err)
	}
	if strings.ContainsAny(tmpl.host, "/?#{}\\") && tmpl.host != host {
		return tmpl, fmt.Errorf("http source: url %q: the host rendered at load, %q, is not a host and port", sources.Truncate(t), sources.Truncate(tmpl.host))
	}
	if tmpl.path, err = sources.ParseKeyTemplate(path, sources.WithEscape(pathValue)); err != nil {
		return tmpl, fmt.Errorf("http source: url path: %w", err)
	}
	if tmpl.query, err = sources.ParseKeyTemplate(query, sources.WithEscape(queryValue)); err != nil {
		return tmpl, fmt.Errorf("http source: url query: %w", err)
	}
	base := tmpl.scheme + tmpl.host + path + query
	if i := strings.IndexAny(base, `{\`); i >= 0 {
		tmpl.prefix = base[:i]
	} else {
		tmpl.prefix = base
	}
	// With every placeholder standing for a plain value, the template must
	// be a URL.
	sample, err := caddy.NewReplacer().ReplaceFunc(base, func(string, any) (any, error) { return "x", nil })
	if err != nil {
		return tmpl, fmt.Errorf("http source: url %q: %w", sources.Truncate(t), err)
	}
	u, err := url.Parse(sample)
	if err != nil {
		return tmpl, fmt.Errorf("http source: url %q: %w", sources.Truncate(t), unwrapURLError(err))
	}
	if u.Host == "" {
		return tmpl, fmt.Errorf("http source: url %q has no host", sources.Truncate(t))
	}
	return tmpl, nil
}

// render renders the URL for repl's values; ok is false when a
// placeholder renders empty or a value is refused (see
// sources.KeyTemplate).
func (tmpl *urlTemplate) render(repl *caddy.Replacer) (string, bool) {
	path, ok := tmpl.path.Render(repl)
	if !ok && tmpl.path.String() != "" {
		return "", false
	}
	query, ok := tmpl.query.Render(repl)
	if !ok && tmpl.query.String() != "" {
		return "", false
	}
	return tmpl.scheme + tmpl.host + path + query, true
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
