package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
)

// TestLoadsTheRecipesTable: the recipe's table goes into a real Redis as
// one JSON string per tenant, "*" goes to the default key tenant:default
// (or, with -default "", stays out and is printed as set lines),
// and with -delete a tenant the file no longer has is removed while keys
// outside the prefix are kept.
func TestLoadsTheRecipesTable(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	ctx := context.Background()
	srv.Client.Set(ctx, "tenant:org_gone", `{"plan":"free"}`, 0)
	srv.Client.Set(ctx, "session:abc", "keep", 0)

	var out strings.Builder
	if err := run([]string{"-table", "../tenants.json", "-redis", srv.URL(0)}, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"tenant:org_acme":   `{"api-uri":"https://eu.api.example.com","region":"eu-west-1","plan":"enterprise"}`,
		"tenant:org_globex": `{"api-uri":"https://us.api.example.com","region":"us-east-1","plan":"team"}`,
	}
	for k, v := range want {
		if got, err := srv.Client.Get(ctx, k).Result(); err != nil || got != v {
			t.Errorf("%s = %q %v, want %q", k, got, err, v)
		}
	}
	if n, _ := srv.Client.Exists(ctx, "tenant:*").Result(); n != 0 {
		t.Error(`"*" was loaded as a tenant`)
	}
	const def = `{"api-uri":"https://api.example.com","region":"us-east-1","plan":"free"}`
	if got, err := srv.Client.Get(ctx, "tenant:default").Result(); err != nil || got != def {
		t.Errorf(`"*" in tenant:default = %q %v, want %q`, got, err, def)
	}
	for _, w := range []string{"loaded 2 keys tenant:<key>", `loaded "*" into tenant:default: name it in the source, default tenant:default`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if n, _ := srv.Client.Exists(ctx, "tenant:org_gone").Result(); n != 1 {
		t.Error("a key the file lacks was deleted without -delete")
	}

	out.Reset()
	if err := run([]string{"-table", "../tenants.json", "-redis", srv.URL(0), "-delete"}, &out); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Client.Exists(ctx, "tenant:org_gone").Result(); n != 0 {
		t.Error("-delete kept tenant:org_gone")
	}
	if n, _ := srv.Client.Exists(ctx, "session:abc", "tenant:org_acme").Result(); n != 2 {
		t.Error("-delete removed a key it must keep")
	}
	if !strings.Contains(out.String(), "deleted 1") {
		t.Errorf("output: %s", out.String())
	}
	if n, _ := srv.Client.Exists(ctx, "tenant:default").Result(); n != 1 {
		t.Error("-delete removed the default key")
	}

	// without a default key, "*" is printed as the set lines to use instead
	srv.Client.Del(ctx, "tenant:default")
	out.Reset()
	if err := run([]string{"-table", "../tenants.json", "-redis", srv.URL(0), "-default", ""}, &out); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Client.Exists(ctx, "tenant:default").Result(); n != 0 {
		t.Error(`-default "" loaded "*"`)
	}
	for _, w := range []string{"set api-uri https://api.example.com", "set plan free", "set region us-east-1"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}

	// a default key outside the prefix is refused
	err := run([]string{"-table", "../tenants.json", "-redis", srv.URL(0), "-default", "tenant-default"}, &out)
	if err == nil || !strings.Contains(err.Error(), `-default "tenant-default" does not start with -prefix "tenant:"`) {
		t.Errorf("a default key outside the prefix: %v", err)
	}
}

// TestRefusesABadTable: a file the table source would refuse is refused
// with what is wrong, and nothing is written.
func TestRefusesABadTable(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	for name, c := range map[string]struct{ text, want string }{
		"array":     {`[{"a":1}]`, "not a JSON object"},
		"entry":     {`{"org_a":{"plan":"x"},"org_b":"gold"}`, `entry "org_b" is not an object`},
		"truncated": {`{"org_a":{"plan":"x"}`, "byte"},
		"trailing":  {`{"org_a":{}} {}`, "text after"},
		"empty key": {`{"":{"plan":"x"}}`, "empty key"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.json")
			if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			err := run([]string{"-table", path, "-redis", srv.URL(0)}, &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if n, _ := srv.Client.DBSize(context.Background()).Result(); n != 0 {
				t.Fatalf("%d keys written", n)
			}
		})
	}
}

// TestDuplicateKeysLastWins, as in the table source.
func TestDuplicateKeysLastWins(t *testing.T) {
	entries, _, err := parseTable([]byte(`{"a":{"v":1},"b":{},"a":{"v":2}}`))
	if err != nil || len(entries) != 2 || entries[0].key != "a" || string(entries[0].object) != `{"v":2}` {
		t.Fatalf("%+v %v", entries, err)
	}
}
