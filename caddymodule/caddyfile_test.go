package caddymodule

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`token_enrich {
		paths /oauth/token /realms/*/protocol/openid-connect/token
		introspection_paths /oauth/introspect
		introspection_paths /realms/*/protocol/openid-connect/token/introspect
		max_body 256KiB
		on_error fail
		overwrite
		tenant_claim tid org_id
		client_claim azp
		lift_claim ext
		set api-uri https://{http.token.tenant}.api.example.com
		set_json limits ` + "`" + `{"rps": 10, "burst": [1, 2]}` + "`" + `
		rule eu-gold {
			client svc-* other
			audience https://api.example.com/*
			tenant org_acme
			issuer https://*.auth0.com/
			grant_type client_credentials
			scope read:orders write:orders
			claim plan gold platinum
			set api-uri https://eu.api.example.com
			set_json slot ` + "`" + `"green"` + "`" + `
		}
		rule {
			set https://example.com/tenant {http.token.tenant}
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Handler{
		Paths:              []string{"/oauth/token", "/realms/*/protocol/openid-connect/token"},
		IntrospectionPaths: []string{"/oauth/introspect", "/realms/*/protocol/openid-connect/token/introspect"},
		MaxBody:            256 << 10,
		OnError:            "fail",
		Config: enrichers.Config{
			Overwrite:    true,
			TenantClaims: []string{"tid", "org_id"},
			ClientClaims: []string{"azp"},
			LiftClaims:   []string{"ext"},
			Fields: []enrichers.FieldConfig{
				{Name: "api-uri", Value: "https://{http.token.tenant}.api.example.com"},
				{Name: "limits", JSONText: `{"rps":10,"burst":[1,2]}`},
			},
			Rules: []enrichers.RuleConfig{
				{
					Name: "eu-gold", Client: []string{"svc-*", "other"}, Audience: []string{"https://api.example.com/*"},
					Tenant: []string{"org_acme"}, Issuer: []string{"https://*.auth0.com/"}, GrantType: []string{"client_credentials"},
					Scope: []string{"read:orders", "write:orders"}, Claims: []enrichers.ClaimCondition{{Name: "plan", Values: []string{"gold", "platinum"}}},
					Fields: []enrichers.FieldConfig{{Name: "api-uri", Value: "https://eu.api.example.com"}, {Name: "slot", JSONText: `"green"`}},
				},
				{Fields: []enrichers.FieldConfig{{Name: "https://example.com/tenant", Value: "{http.token.tenant}"}}},
			},
		},
	}
	if !reflect.DeepEqual(h, want) {
		got, _ := json.MarshalIndent(h, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("got  %s\nwant %s", got, exp)
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	cases := []struct {
		name, input, want string
		line              int
	}{
		{"unknown subdirective", "token_enrich {\n\tbogus x\n}", "unrecognized subdirective: bogus", 2},
		{"argument on directive", "token_enrich extra {\n}", "wrong argument count", 1},
		{"bad size", "token_enrich {\n\n\tmax_body lots\n}", `max_body: "lots" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB`, 3},
		{"unknown unit", "token_enrich {\n\tmax_body 5XB\n}", `max_body: "5XB" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB`, 2},
		{"zero size", "token_enrich {\n\tmax_body 0\n}", `max_body: size "0" out of range: give a size from 1B to 1TiB, e.g. 1MiB`, 2},
		{"bad on_error", "token_enrich {\n\ton_error ignore\n}", `on_error: expected pass or fail, got "ignore"`, 2},
		{"overwrite arg", "token_enrich {\n\toverwrite yes\n}", "wrong argument count", 2},
		{"set arity", "token_enrich {\n\tset api-uri\n}", "set: expected <field> <value>, got 1 argument(s)", 2},
		{"reserved set", "token_enrich {\n\tset access_token x\n}", `fields[0].name: field "access_token" is a reserved OAuth 2.0 token response member`, 2},
		{"reserved set_json", "token_enrich {\n\tset_json expires_in 5\n}", `fields[0].name: field "expires_in" is a reserved`, 2},
		{"reserved in rule", "token_enrich {\n\trule r {\n\t\tset scope x\n\t}\n}", `rules[0].fields[0].name: rule r: field "scope" is a reserved`, 3},
		{"unquoted json object", "token_enrich {\n\tset_json limits {\"rps\": 100}\n}", "set_json limits: expected one JSON value, got 2 tokens: wrap a JSON object or array in backticks, e.g. set_json limits `{\"rps\": 100}`", 2},
		{"unquoted json in rule", "token_enrich {\n\trule r {\n\t\tset_json limits {\"rps\": 1, \"burst\": 2}\n\t}\n}", "set_json limits: expected one JSON value, got 5 tokens: wrap a JSON object or array in backticks", 3},
		{"bad json", "token_enrich {\n\tset_json limits `{\"a\":}`\n}", `fields[0].json_text: field "limits": invalid JSON value`, 2},
		{"two json values", "token_enrich {\n\tset_json x `1 2`\n}", `fields[0].json_text: field "x": invalid JSON value: invalid character '2' after top-level value`, 2},
		{"unknown placeholder", "token_enrich {\n\tset x {http.token.nope}\n}", `fields[0].value: field "x": unknown placeholder {http.token.nope}`, 2},
		{"bad glob", "token_enrich {\n\trule r {\n\t\tclient svc-[a]\n\t\tset x y\n\t}\n}", `rules[0].client: rule r: pattern "svc-[a]": character classes are not supported`, 3},
		{"bad claim glob", "token_enrich {\n\trule r {\n\t\tclaim plan a[b\n\t\tset x y\n\t}\n}", `rules[0].claims[0].values: rule r: claim "plan": pattern "a[b"`, 3},
		{"claim without pattern", "token_enrich {\n\trule r {\n\t\tclaim plan\n\t}\n}", "wrong argument count", 3},
		{"unknown in rule", "token_enrich {\n\trule r {\n\t\tcolor blue\n\t}\n}", "rule r: unrecognized subdirective: color", 3},
		{"rule without block", "token_enrich {\n\trule r\n}", "rule r: expected a block", 2},
		{"rule without fields", "token_enrich {\n\trule r {\n\t\tclient a\n\t}\n}", "rules[0]: rule r: sets no field", 2},
		{"paths empty", "token_enrich {\n\tpaths\n}", "wrong argument count", 2},
		{"introspection_paths empty", "token_enrich {\n\tintrospection_paths\n}", "wrong argument count", 2},
		{"unknown matcher", "token_enrich {\n\trule r {\n\t\tmatch {\n\t\t\tremote_ip 10.0.0.0/8\n\t\t\tgeoip DE\n\t\t}\n\t\tset x y\n\t}\n}", `rule r: match: unknown Caddy request matcher "geoip" (a module of http.matchers)`, 5},
		{"matcher's own error", "token_enrich {\n\trule r {\n\t\tmatch {\n\t\t\theader X-Region\n\t\t}\n\t\tset x y\n\t}\n}", "rule r: match: malformed header matcher: expected both field and value", 4},
		{"two match blocks", "token_enrich {\n\trule r {\n\t\tmatch {\n\t\t\tremote_ip 10.0.0.0/8\n\t\t}\n\t\tmatch header X-Region eu-*\n\t\tset x y\n\t}\n}", "rule r: match: a rule takes one match block; put all its matchers in it", 6},
		{"empty match", "token_enrich {\n\trule r {\n\t\tmatch {\n\t\t}\n\t\tset x y\n\t}\n}", "rule r: match: no matcher in the block", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasSuffix(err.Error(), fmt.Sprintf(", at Testfile:%d", c.line)) {
				t.Fatalf("error %v\nwant it to contain %q and name line %d", err, c.want, c.line)
			}
		})
	}
}

// TestUnmarshalCaddyfileRuleMatch: a rule's match block becomes the JSON of
// a Caddy matcher set, matchers by module name, as in a route's match;
// repeated lines of one matcher merge as in a named matcher, and a
// backticked expression is the expression matcher's shorthand.
func TestUnmarshalCaddyfileRuleMatch(t *testing.T) {
	d := caddyfile.NewTestDispenser(`token_enrich {
		rule internal {
			match {
				remote_ip 10.0.0.0/8 192.168.0.0/16
				header X-Region eu-*
				header X-Region ch-*
				expression {http.token.claims.plan} in ["gold", "platinum"]
			}
			set api-uri https://internal.api.example.com
		}
		rule one-line {
			match client_ip 203.0.113.0/24
			set region apac
		}
		rule shorthand {
			match ` + "`{http.token.tenant} == \"org_acme\"`" + `
			set acme true
		}
		rule plain {
			set x y
		}
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"expression":"{http.token.claims.plan} in [\"gold\", \"platinum\" ]","header":{"X-Region":["eu-*","ch-*"]},"remote_ip":{"ranges":["10.0.0.0/8","192.168.0.0/16"]}}`,
		`{"client_ip":{"ranges":["203.0.113.0/24"]}}`,
		`{"expression":"{http.token.tenant} == \"org_acme\""}`,
		``,
	}
	if len(h.Rules) != len(want) {
		t.Fatalf("%d rules", len(h.Rules))
	}
	for i, w := range want {
		if string(h.Rules[i].Match) != w {
			t.Errorf("rule %d: match\ngot  %s\nwant %s", i, h.Rules[i].Match, w)
		}
	}
}

// TestCaddyfileErrorsThroughAdapter adapts whole Caddyfiles the way `caddy
// adapt` and `caddy validate` do and checks that each error names what is
// accepted, and the file and line.
func TestCaddyfileErrorsThroughAdapter(t *testing.T) {
	cases := []struct{ name, block, want string }{
		{"max_body", "max_body abc", `max_body: "abc" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB, at Caddyfile:4`},
		{"unknown matcher", "rule r {\n\t\t\tmatch {\n\t\t\t\tmaxmind_geolocation {\n\t\t\t\t\tallow_countries DE\n\t\t\t\t}\n\t\t\t}\n\t\t\tset x y\n\t\t}",
			`rule r: match: unknown Caddy request matcher "maxmind_geolocation" (a module of http.matchers), at Caddyfile:6`},
		{"set_json object", `set_json limits {"rps": 100}`, "set_json limits: expected one JSON value, got 2 tokens: wrap a JSON object or array in backticks, e.g. set_json limits `{\"rps\": 100}`, at Caddyfile:4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "http://127.0.0.1:8080 {\n\ttoken_enrich {\n\t\tset api-uri https://api.example.com\n\t\t" + c.block + "\n\t}\n\treverse_proxy 127.0.0.1:8081\n}\n"
			_, _, err := testcaddy.AdaptCaddyfile([]byte(src), "Caddyfile")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestCaddyfileWarnsWhenAddingNothing: a token_enrich that adds no member to
// any token response adapts, with a warning naming its file and line; one
// that adds something in any way adapts without it.
func TestCaddyfileWarnsWhenAddingNothing(t *testing.T) {
	site := func(block string) []byte {
		return []byte("http://127.0.0.1:8080 {\n\ttoken_enrich" + block + "\n\treverse_proxy 127.0.0.1:8081\n}\n")
	}
	const warning = "token_enrich has no set, set_json, rule or lift_claim: it adds nothing to token responses (it only sets the {http.token.*} placeholders)"
	for _, block := range []string{"", " {\n\t}", " {\n\t\tpreset auth0\n\t\tpaths /oauth/token\n\t}"} {
		_, warnings, err := testcaddy.AdaptCaddyfile(site(block), "sites/Caddyfile")
		if err != nil || !slices.Contains(warnings, warning+", at sites/Caddyfile:2") {
			t.Errorf("token_enrich%s: %v, warnings %q, want %q at sites/Caddyfile:2", block, err, warnings, warning)
		}
	}
	for _, block := range []string{
		" {\n\t\tset api-uri https://api.example.com\n\t}",
		" {\n\t\tset_json can_write true\n\t}",
		" {\n\t\tlift_claim ext\n\t}",
		" {\n\t\trule r {\n\t\t\tclient a\n\t\t\tset x y\n\t\t}\n\t}",
	} {
		_, warnings, err := testcaddy.AdaptCaddyfile(site(block), "sites/Caddyfile")
		if err != nil || len(warnings) != 0 {
			t.Errorf("token_enrich%s: %v, warnings %q", block, err, warnings)
		}
	}
}
