// Package tokenenrich is the plugin entry point for xcaddy:
//
//	xcaddy build --with github.com/caddy-token-enrich/caddy-token-enrich
//
// It registers the http.handlers.token_enrich module and the token_enrich
// Caddyfile directive, and the metadata sources in the namespace
// http.handlers.token_enrich.sources; see package caddymodule for the
// handler, package enrichers for the engine and package sources for the
// sources' interface.
package tokenenrich

import (
	// plug in the token_enrich handler
	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	// plug in the sources
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/httpsource"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/redissource"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/table"
)
