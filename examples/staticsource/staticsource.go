// Package staticsource is the example source of docs/metadata.md: a complete
// third-party metadata source in one file. Build it into Caddy with
// `xcaddy build --with <its module path>`, then:
//
//	source tenants static {
//	    key {http.token.tenant}
//	}
//
// with the entries in JSON config ("entries": {"org_acme": {...}}).
package staticsource

import (
	"context"
	"encoding/json"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

func init() { caddy.RegisterModule(Static{}) }

// Static answers from a fixed map of keys to JSON objects.
type Static struct {
	// Entries maps each key to the object its tokens get.
	Entries map[string]json.RawMessage `json:"entries,omitempty"`
}

// CaddyModule registers the source in the sources namespace.
func (Static) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: sources.Namespace + ".static", New: func() caddy.Module { return new(Static) }}
}

// Lookup returns the object for key, or a miss.
func (s *Static) Lookup(_ context.Context, key string) (sources.Result, error) {
	return sources.Result{Object: s.Entries[key]}, nil
}

var _ sources.Source = (*Static)(nil)
