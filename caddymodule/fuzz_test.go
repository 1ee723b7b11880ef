package caddymodule_test

// Fuzz target for the Caddyfile unmarshaller. Seed corpus:
// testdata/fuzz/FuzzUnmarshalCaddyfile/; scripts/fuzz.sh runs it.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
)

// FuzzUnmarshalCaddyfile: for any token stream the unmarshaller never
// panics; a refused one is refused with an error naming the file and line;
// an accepted one provisions and validates (so every configuration error
// surfaces at parse time, with its line) and survives a JSON round trip.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, s := range []string{
		"token_enrich",
		"token_enrich {\n}",
		"token_enrich {\n\tset api-uri https://eu.api.example.com\n\tset tenant_id {http.token.tenant}\n}",
		"token_enrich {\n\tpaths /oauth/token /realms/*/protocol/openid-connect/token\n\tmax_body 256KiB\n\ton_error fail\n\toverwrite\n" +
			"\ttenant_claim tid org_id\n\tclient_claim azp\n\tlift_claim ext\n\tset_json limits `{\"rps\": 10}`\n" +
			"\trule eu-gold {\n\t\tclient svc-* other\n\t\taudience https://api.example.com/*\n\t\ttenant org_acme\n\t\tissuer https://*.auth0.com/\n" +
			"\t\tgrant_type client_credentials\n\t\tscope read:orders\n\t\tclaim plan gold\n\t\tset region eu\n\t\tset_json gold true\n\t}\n}",
		"token_enrich {\n\tbogus x\n}",
		"token_enrich {\n\tmax_body lots\n}",
		"token_enrich {\n\tset_json x `{\"a\":}`\n}",
		"token_enrich {\n\tset access_token x\n}",
		"token_enrich {\n\trule r {\n\t\tclient svc-[a]\n\t\tset x y\n\t}\n}",
		"token_enrich {\n\tlift_claim \"\"\n}",
		"token_enrich {\n\trule {\n\t\tclaim \"\" x\n\t\tset a b\n\t}\n}",
		"token_enrich {\n\tset \"\" x\n\tset x \"\"\n}",
		"token_enrich {\n\tpreset auth0\n}",
	} {
		f.Add(s)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Testfile")
		if err != nil || len(tokens) == 0 || tokens[0].Text != "token_enrich" {
			return
		}
		// like the http adapter, hand over the directive's segment alone
		d := caddyfile.NewDispenser(tokens)
		d.Next()
		var h caddymodule.Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(d.NextSegment())); err != nil {
			if !strings.Contains(err.Error(), ", at Testfile:") {
				t.Fatalf("error does not name the line: %v\ninput %q", err, input)
			}
			return
		}
		cfg, err := json.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		var back caddymodule.Handler
		if err := json.Unmarshal(cfg, &back); err != nil {
			t.Fatalf("JSON round trip: %v\n%s", err, cfg)
		}
		if again, _ := json.Marshal(&back); string(again) != string(cfg) {
			t.Fatalf("JSON round trip changed the config:\n%s\n%s", cfg, again)
		}
		if err := h.Provision(ctx); err != nil {
			t.Fatalf("accepted by the Caddyfile parser, refused by Provision: %v\ninput %q", err, input)
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("accepted by the Caddyfile parser, refused by Validate: %v\ninput %q", err, input)
		}
	})
}
