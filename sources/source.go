// Package sources defines the metadata sources of token_enrich: guest modules
// in the Caddy namespace http.handlers.token_enrich.sources that look up one
// JSON object by a key rendered from placeholders. The handler runs them
// after the token's identity is known and before the fields are rendered;
// the members of the object become fields, and placeholders
// {http.token.source.<name>.<member>}.
//
// A source never fails a token: the handler bounds every lookup with its
// timeout and, on an error or a timeout, leaves the source's fields out and
// sends the token response on.
//
// A source is a Caddy module whose ID is
// "http.handlers.token_enrich.sources.<name>" and which implements Source.
// It may implement caddy.Provisioner, caddy.Validator, caddy.CleanerUpper
// and caddyfile.Unmarshaler like any Caddy module; its Caddyfile block holds
// its own subdirectives, after the handler's (key, timeout, fields).
package sources

import (
	"context"
	"errors"

	"github.com/caddyserver/caddy/v2"
)

// Namespace is the Caddy module namespace of sources.
const Namespace = "http.handlers.token_enrich.sources"

// Source looks up the metadata stored for a key.
type Source interface {
	// Lookup returns the JSON object stored for key, or a Result with a
	// nil Object when there is none (a miss). It must return by ctx's
	// deadline; the handler gives up on it then anyway. The object must be
	// a JSON object; the caller never modifies it.
	Lookup(ctx context.Context, key string) (Result, error)
}

// KeyRenderer is implemented by a source that renders its own key from the
// request's placeholders instead of the handler's `key` template: the http
// source renders its URL, escaping each value for the place it stands in.
type KeyRenderer interface {
	// RenderKey returns the key for this request; ok is false when the key
	// cannot be formed (a placeholder rendered empty), and then there is no lookup.
	RenderKey(repl *caddy.Replacer) (key string, ok bool)
}

// KeyTemplateUser is implemented by a source that needs to know which keys
// it will be asked for before any lookup: a source that subscribes to its
// origin's change notifications subscribes to the keys the template can
// produce, not to every key of the origin.
type KeyTemplateUser interface {
	// UseKeyTemplate is called once, after the source is provisioned and
	// before its first lookup, with the source's name and its key
	// template (the handler's `key`, placeholders unrendered). A source
	// may start background work here; Cleanup stops it. An error fails
	// the config load.
	UseKeyTemplate(name, template string) error
}

// Result is what a lookup found.
type Result struct {
	// Object is the JSON object for the key; nil for a miss.
	Object []byte
	// Stale is set when Object comes from a cache past its freshness
	// because the origin could not be reached (stale-if-error).
	Stale bool
}

// ErrNotObject is returned by a source whose origin answered with something
// other than a JSON object.
var ErrNotObject = errors.New("source value is not a JSON object")
