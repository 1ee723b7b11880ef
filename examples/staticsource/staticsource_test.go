package staticsource

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	s := &Static{Entries: map[string]json.RawMessage{"org_acme": json.RawMessage(`{"region":"eu"}`)}}
	if r, err := s.Lookup(context.Background(), "org_acme"); err != nil || string(r.Object) != `{"region":"eu"}` {
		t.Fatalf("hit: %s %v", r.Object, err)
	}
	if r, err := s.Lookup(context.Background(), "nope"); err != nil || r.Object != nil {
		t.Fatalf("miss: %s %v", r.Object, err)
	}
}

// TestTheREADMEShowsThisFile: the example source of docs/metadata.md is
// this file's code, from its package clause on, so the two cannot drift.
func TestTheREADMEShowsThisFile(t *testing.T) {
	src, err := os.ReadFile("staticsource.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../docs/metadata.md")
	if err != nil {
		t.Fatal(err)
	}
	code := string(src[strings.Index(string(src), "package staticsource"):])
	if !strings.Contains(string(readme), code) {
		t.Fatal("docs/metadata.md does not show examples/staticsource/staticsource.go (from `package staticsource` on)")
	}
}
