package sources_test

import (
	"errors"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

type backend struct{ destructed int }

func (b *backend) Destruct() error { b.destructed++; return nil }

// Two holds on one key share one backend, made once; it is destructed when
// the last is released, once, and a second Release does nothing.
func TestSharedBackendLivesUntilTheLastRelease(t *testing.T) {
	pool := caddy.NewUsagePool()
	made := 0
	mk := func() (*backend, error) { made++; return new(backend), nil }
	a, loaded, err := sources.Share(pool, "k", mk)
	if err != nil || loaded {
		t.Fatalf("first Share: loaded %v, %v", loaded, err)
	}
	b, loaded, err := sources.Share(pool, "k", mk)
	if err != nil || !loaded || b.Backend != a.Backend || made != 1 {
		t.Fatalf("second Share: loaded %v, same %v, made %d, %v", loaded, b.Backend == a.Backend, made, err)
	}
	if err := a.Release(); err != nil || a.Release() != nil {
		t.Fatalf("Release: %v", err)
	}
	if a.Backend.destructed != 0 {
		t.Fatal("destructed while still held")
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if a.Backend.destructed != 1 {
		t.Fatalf("destructed %d times after the last release, want 1", a.Backend.destructed)
	}
	c, loaded, err := sources.Share(pool, "k", mk)
	if err != nil || loaded || c.Backend == a.Backend {
		t.Fatalf("after the last release: loaded %v, same %v, %v", loaded, c.Backend == a.Backend, err)
	}
}

// A backend that cannot be made is an error, and nothing is stored.
func TestShareReportsAFailedMake(t *testing.T) {
	pool := caddy.NewUsagePool()
	if _, _, err := sources.Share(pool, "k", func() (*backend, error) { return nil, errors.New("no") }); err == nil {
		t.Fatal("Share succeeded")
	}
	if _, loaded, err := sources.Share(pool, "k", func() (*backend, error) { return new(backend), nil }); err != nil || loaded {
		t.Fatalf("after a failed make: loaded %v, %v", loaded, err)
	}
}

// Unshared keys never meet: a backend stored under one is made for its
// source alone.
func TestUnsharedKeysDiffer(t *testing.T) {
	pool := caddy.NewUsagePool()
	mk := func() (*backend, error) { return new(backend), nil }
	a, _, err := sources.Share(pool, sources.Unshared("k"), mk)
	if err != nil {
		t.Fatal(err)
	}
	b, loaded, err := sources.Share(pool, sources.Unshared("k"), mk)
	if err != nil || loaded || a.Backend == b.Backend {
		t.Fatalf("second unshared key: loaded %v, same backend %v, %v", loaded, a.Backend == b.Backend, err)
	}
}
