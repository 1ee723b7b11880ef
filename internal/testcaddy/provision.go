package testcaddy

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Provision provisions the module m in a fresh caddy.Context, as a config
// load would, then validates it when it is a caddy.Validator; the test
// fails on an error of either. When the test ends the module is cleaned
// up (when it is a caddy.CleanerUpper) and the context cancelled.
func Provision(t testing.TB, m caddy.Provisioner) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if c, ok := m.(caddy.CleanerUpper); ok {
		t.Cleanup(func() { _ = c.Cleanup() })
	}
	if v, ok := m.(caddy.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	}
}
