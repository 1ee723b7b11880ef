// Package tokenenrich is the plugin entry point for xcaddy:
//
//	xcaddy build --with github.com/caddy-token-enrich/caddy-token-enrich
//
// It registers the http.handlers.token_enrich module and the token_enrich
// Caddyfile directive; see package caddymodule for the handler and package
// enrichers for the engine.
package tokenenrich

import (
	// plug in the token_enrich handler
	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
)
