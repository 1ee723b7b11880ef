package caddymodule_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
)

// TestCaddyfileAndJSONAgree: the Caddyfile is only syntax for the one JSON
// schema, and one validation checks both. Each row is a config written
// both ways: the Caddyfile one must fail to adapt, naming its line, and
// the JSON one must fail to provision, with the same message. A row for
// every check the configuration has.
func TestCaddyfileAndJSONAgree(t *testing.T) {
	table := `source t table ../examples/tenants.json {
			key {http.token.tenant}
		}`
	tableJSON := `"sources":[{"name":"t","key":"{http.token.tenant}","lookup":{"source":"table","path":"../examples/tenants.json"}}],"fields":[{"source":"t"}]`
	cases := []struct {
		name, caddyfile, json, want string
	}{
		{"max_body out of range", "max_body 2TiB", `"max_body":2199023255552`, "out of range: give a size from 1B to 1TiB"},
		{"on_error", "on_error ignore", `"on_error":"ignore"`, `on_error: expected pass or fail, got "ignore"`},
		{"preset", "preset zitadel", `"preset":"zitadel"`, `preset: unknown preset "zitadel"`},
		{"empty client claim", `client_claim ""`, `"client_claims":[""]`, "client_claims: empty claim name"},
		{"empty tenant claim", `tenant_claim ""`, `"tenant_claims":[""]`, "tenant_claims: empty claim name"},
		{"empty lift_claim", `lift_claim ""`, `"lift_claims":[""]`, "lift_claims[0]: empty claim name"},
		{"reserved field", "set access_token x", `"fields":[{"name":"access_token","value":"x"}]`, `fields[0].name: field "access_token" is a reserved`},
		{"reserved field, folded", "set Expires_In x", `"fields":[{"name":"Expires_In","value":"x"}]`, `fields[0].name: field "Expires_In" is a reserved`},
		{"empty field name", `set "" x`, `"fields":[{"name":"","value":"x"}]`, "fields[0].name: field name is empty"},
		{"unknown placeholder", "set x {http.token.nope}", `"fields":[{"name":"x","value":"{http.token.nope}"}]`, `fields[0].value: field "x": unknown placeholder {http.token.nope}`},
		{"invalid JSON", "set_json x `{\"a\":}`", `"fields":[{"name":"x","json_text":"{\"a\":}"}]`, `fields[0].json_text: field "x": invalid JSON value`},
		{"bad glob", "rule r {\n\t\tclient svc-[a]\n\t\tset x y\n\t}", `"rules":[{"name":"r","client":["svc-[a]"],"fields":[{"name":"x","value":"y"}]}]`, `rules[0].client: rule r: pattern "svc-[a]": character classes are not supported`},
		{"bad claim glob", "rule r {\n\t\tclaim plan a[b\n\t\tset x y\n\t}", `"rules":[{"name":"r","claims":[{"name":"plan","values":["a[b"]}],"fields":[{"name":"x","value":"y"}]}]`, `rules[0].claims[0].values: rule r: claim "plan": pattern "a[b"`},
		{"empty claim name", "rule r {\n\t\tclaim \"\" gold\n\t\tset x y\n\t}", `"rules":[{"name":"r","claims":[{"name":"","values":["gold"]}],"fields":[{"name":"x","value":"y"}]}]`, "rules[0].claims[0].name: rule r: claim condition without a claim name"},
		{"rule sets nothing", "rule r {\n\t\tclient a\n\t}", `"rules":[{"name":"r","client":["a"]}]`, "rules[0]: rule r: sets no field"},
		{"reserved field in a rule", "rule r {\n\t\tset scope x\n\t}", `"rules":[{"name":"r","fields":[{"name":"scope","value":"x"}]}]`, `rules[0].fields[0].name: rule r: field "scope" is a reserved`},
		{"unknown matcher", "rule r {\n\t\tmatch {\n\t\t\tgeoip DE\n\t\t}\n\t\tset x y\n\t}", `"rules":[{"name":"r","match":{"geoip":["DE"]},"fields":[{"name":"x","value":"y"}]}]`, `rule r: match: unknown Caddy request matcher "geoip" (a module of http.matchers)`},
		{"split weight", "split slot {http.token.client_id} {\n\t\tgreen -1\n\t}", `"splits":[{"name":"slot","key":"{http.token.client_id}","buckets":[{"name":"green","weight":-1}]}]`, `splits[0].buckets[0]: split slot: bucket "green": a bucket needs a name of its own and a positive weight`},
		{"split key", "split slot {http.token.nope} {\n\t\tgreen 1\n\t}", `"splits":[{"name":"slot","key":"{http.token.nope}","buckets":[{"name":"green","weight":1}]}]`, "splits[0].key: split slot: unknown placeholder {http.token.nope}"},
		{"split name", "split sl.ot {http.token.client_id} {\n\t\tgreen 1\n\t}", `"splits":[{"name":"sl.ot","key":"{http.token.client_id}","buckets":[{"name":"green","weight":1}]}]`, `splits[0].name: split name "sl.ot": use letters, digits, _ and -`},
		{"split bucket twice", "split slot {http.token.client_id} {\n\t\tgreen 1\n\t\tgreen 2\n\t}", `"splits":[{"name":"slot","key":"{http.token.client_id}","buckets":[{"name":"green","weight":1},{"name":"green","weight":2}]}]`, `splits[0].buckets[1]: split slot: bucket "green": a bucket needs a name of its own`},
		{"source key", strings.Replace(table, "{http.token.tenant}", "{http.token.nope}", 1), strings.Replace(tableJSON, "{http.token.tenant}", "{http.token.nope}", 1), "sources[0].key: source t: key: unknown placeholder {http.token.nope}"},
		{"source fields", strings.Replace(table, "key {http.token.tenant}", "key {http.token.tenant}\n\t\t\tfields some", 1), strings.Replace(tableJSON, `"key"`, `"fields":"some","key"`, 1), `sources[0].fields: source t: fields: expected all or none, got "some"`},
		{"source timeout", strings.Replace(table, "key {http.token.tenant}", "key {http.token.tenant}\n\t\t\ttimeout -1s", 1), strings.Replace(tableJSON, `"key"`, `"timeout":-1000000000,"key"`, 1), "sources[0].timeout: source t: timeout: -1s is negative"},
		{"source name", strings.Replace(table, "source t ", "source t.x ", 1), strings.ReplaceAll(tableJSON, `"t"`, `"t.x"`), `sources[0].name: source name "t.x": use letters, digits, _ and -`},
		{"source twice", table + "\n\t" + strings.Replace(table, "tenants.json", "tenants.json ", 1), strings.Replace(tableJSON, `],"fields"`, `,{"name":"t","key":"{http.token.tenant}","lookup":{"source":"table","path":"../examples/tenants.json"}}],"fields"`, 1), "sources[1].name: source t: declared twice"},
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// the Caddyfile: the error names the line of the value
			cf := "http://127.0.0.1:9 {\n\ttoken_enrich {\n\t" + c.caddyfile + "\n\t}\n\treverse_proxy 127.0.0.1:1\n}\n"
			_, _, err := adapter.Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ", at Caddyfile:") {
				t.Errorf("Caddyfile: %v\nwant %q, at Caddyfile:<line>", err, c.want)
			}
			// JSON: the same message, from Provision
			var h caddymodule.Handler
			if err := json.Unmarshal([]byte("{"+c.json+"}"), &h); err != nil {
				t.Fatalf("JSON %s: %v", c.json, err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err = h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("JSON: %v\nwant %q", err, c.want)
			}
		})
	}
}
