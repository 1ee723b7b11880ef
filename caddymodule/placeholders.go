package caddymodule

import (
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// setPlaceholders makes {http.token.*} available to every later handler and
// log of this request. Values are computed lazily from the identity, so a
// request that never uses them pays nothing but the provider registration.
func setPlaceholders(repl *caddy.Replacer, id *enrichers.Identity) {
	repl.Map(func(key string) (any, bool) {
		name, ok := strings.CutPrefix(key, enrichers.PlaceholderPrefix)
		if !ok {
			return nil, false
		}
		return id.Placeholder(name)
	})
}

// resolver renders non-token placeholders ({env.*}, {http.request.*}, ...)
// in field values with the request's replacer.
func resolver(repl *caddy.Replacer) enrichers.Resolver {
	return func(key string) (string, bool) {
		return repl.GetString(key)
	}
}
