// Package examples tests the example Caddyfiles: each adapts and validates
// without error or warning (also the warnings Caddy only logs), its token_enrich handler acts on its IdP's token paths, and it
// enriches that IdP's sample token responses (enrichers/testdata/claims) as
// its comments say.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// example is what one examples/<idp>/Caddyfile must do.
type example struct {
	preset string
	paths  []string
	// token request paths that must (and must not) reach token_enrich
	match, noMatch []string
	// sample (enrichers/testdata/claims/<name>.json) -> added members
	samples map[string]map[string]string
}

var examples = map[string]example{
	"auth0": {
		preset: "auth0", paths: []string{"/oauth/token"},
		match: []string{"/oauth/token"}, noMatch: []string{"/authorize", "/oauth/revoke"},
		samples: map[string]map[string]string{
			"auth0-m2m": {"tenant_id": `"acme"`, "api-uri": `"https://api.example.com"`, "https://example.com/region": `"eu-west-1"`},
		},
	},
	"okta": {
		preset: "okta", paths: []string{"/oauth2/v1/token", "/oauth2/*/v1/token"},
		match:   []string{"/oauth2/v1/token", "/oauth2/default/v1/token", "/oauth2/aus8acme2lq7QbTbs4M5d7/v1/token"},
		noMatch: []string{"/oauth2/default/v1/authorize", "/oauth2/v1/keys", "/oauth2/a/b/v1/token"},
		samples: map[string]map[string]string{
			"okta-cc-custom-as": {"api-uri": `"https://api.example.com"`, "tenant_id": `"default"`, "can_write": `true`},
			"okta-user-org-as":  {"api-uri": `"https://api.example.com"`, "tenant_id": `"globex.okta.com"`},
		},
	},
	"entra": {
		preset: "entra", paths: []string{"/*/oauth2/v2.0/token", "/*/oauth2/token"},
		match:   []string{"/contoso.onmicrosoft.com/oauth2/v2.0/token", "/2b7f4c1e-3a9d-4e5f-8b6a-0c1d2e3f4a5b/oauth2/token", "/common/oauth2/v2.0/token"},
		noMatch: []string{"/common/oauth2/v2.0/authorize", "/common/discovery/v2.0/keys"},
		samples: map[string]map[string]string{
			"entra-v1-app":  {"api-uri": `"https://api.example.com"`, "tenant_id": `"7d4e1c2b-9a8f-4e3d-b2c1-a0f9e8d7c6b5"`, "batch_limits": `{"rps":20}`},
			"entra-v2-user": {"api-uri": `"https://contoso.api.example.com"`, "tenant_id": `"2b7f4c1e-3a9d-4e5f-8b6a-0c1d2e3f4a5b"`},
		},
	},
	"keycloak": {
		preset: "keycloak", paths: []string{"/realms/*/protocol/openid-connect/token"},
		match:   []string{"/realms/acme/protocol/openid-connect/token"},
		noMatch: []string{"/realms/acme/protocol/openid-connect/auth", "/auth/realms/acme/protocol/openid-connect/token"},
		samples: map[string]map[string]string{
			"keycloak-user":            {"api-uri": `"https://acme.api.example.com"`, "tenant_id": `"acme"`},
			"keycloak-service-account": {"api-uri": `"https://api.example.com"`, "tenant_id": `"globex"`, "service_account": `true`},
		},
	},
	"cognito": {
		preset: "cognito", paths: []string{"/oauth2/token"},
		match: []string{"/oauth2/token"}, noMatch: []string{"/oauth2/authorize", "/oauth2/userInfo"},
		samples: map[string]map[string]string{
			"cognito-m2m":  {"api-uri": `"https://eu.api.example.com"`, "tenant_id": `"eu-west-1_Zy98Xw76V"`, "can_write": `true`},
			"cognito-user": {"api-uri": `"https://api.example.com"`, "tenant_id": `"us-east-1_Ab12Cd34E"`},
		},
	},
	"hydra": {
		preset: "hydra", paths: []string{"/oauth2/token"},
		match: []string{"/oauth2/token"}, noMatch: []string{"/oauth2/auth", "/oauth2/revoke"},
		samples: map[string]map[string]string{
			"hydra-cc":       {"api-uri": `"https://acme.api.example.com"`, "tenant_id": `"acme"`},
			"hydra-ext-only": {"api-uri": `"https://api.example.com"`, "tenant_id": `"globex"`},
		},
	},
}

func TestExamplesCoverEveryIdP(t *testing.T) {
	files, err := filepath.Glob("*/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, f := range files {
		dirs = append(dirs, filepath.Dir(f))
	}
	for name := range examples {
		if !slices.Contains(dirs, name) {
			t.Errorf("examples/%s/Caddyfile is missing", name)
		}
	}
	for _, d := range dirs {
		if _, ok := examples[d]; !ok {
			t.Errorf("examples/%s/Caddyfile has no expectations in examples_test.go", d)
		}
	}
}

// TestExamplesWarningsAreSeen checks that the warnings TestExamples requires
// to be absent are seen when present: those the adapter logs (Caddy's own and
// token_enrich's, with its file and line) and those logged while validating.
func TestExamplesWarningsAreSeen(t *testing.T) {
	src := []byte(`example.com {
	token_enrich
	reverse_proxy https://idp.example.com {
		header_up Host {upstream_hostport}
		request_buffers unlimited
	}
}
`)
	out, warnings, err := testcaddy.AdaptCaddyfile(src, "control/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Unnecessary header_up Host: ",
		"token_enrich has no set, set_json, rule or lift_claim: it adds nothing to token responses (it only sets the {http.token.*} placeholders), at control/Caddyfile:2",
	}
	if len(warnings) != len(want) {
		t.Fatalf("adapt warnings %q, want %q", warnings, want)
	}
	for _, w := range want {
		if !slices.ContainsFunc(warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("adapt warnings %q lack %q", warnings, w)
		}
	}
	warnings, err = testcaddy.ValidateWarnings(t, out, t.TempDir())
	if err != nil || len(warnings) != 1 || !strings.HasSuffix(warnings[0], "UNLIMITED BUFFERING: buffering is enabled without any cap on buffer size, which can result in OOM crashes") {
		t.Fatalf("validate: %v %q", err, warnings)
	}
}

func TestExamples(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for name, ex := range examples {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(name, "Caddyfile"))
			if err != nil {
				t.Fatal(err)
			}
			if formatted := caddyfile.Format(src); !bytes.Equal(formatted, src) {
				t.Errorf("not formatted: run caddy fmt --overwrite examples/%s/Caddyfile", name)
			}
			out, warnings, err := testcaddy.AdaptCaddyfile(src, name+"/Caddyfile")
			if err != nil || len(warnings) != 0 {
				t.Fatalf("adapt: %v %q", err, warnings)
			}
			// as `caddy validate` does: provision every module, then stop
			if warnings, err := testcaddy.ValidateWarnings(t, out, t.TempDir()); err != nil || len(warnings) != 0 {
				t.Fatalf("validate: %v %q", err, warnings)
			}
			h := tokenEnrichHandler(t, out)
			if h.Preset != ex.preset || !slices.Equal(h.Paths, ex.paths) {
				t.Errorf("preset %q paths %q, want %q %q", h.Preset, h.Paths, ex.preset, ex.paths)
			}
			if err := h.Provision(ctx); err != nil {
				t.Fatalf("provision: %v", err)
			}
			paths := caddyhttp.MatchPath(h.Paths)
			if err := paths.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			for _, p := range ex.match {
				if !paths.Match(post(p)) {
					t.Errorf("token path %s not matched", p)
				}
			}
			for _, p := range ex.noMatch {
				if paths.Match(post(p)) {
					t.Errorf("path %s matched", p)
				}
			}
			e, err := enrichers.New(h.Config)
			if err != nil {
				t.Fatal(err)
			}
			for sample, want := range ex.samples {
				in := loadSample(t, sample)
				res := e.Run(nil, &in, envHost{})
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				body, got := in.Body, res.Body
				if res.Status != enrichers.StatusEnriched {
					got = body
				}
				var m map[string]json.RawMessage
				if err := json.Unmarshal(got, &m); err != nil {
					t.Fatalf("%s: %v: %s", sample, err, got)
				}
				var orig map[string]json.RawMessage
				_ = json.Unmarshal(body, &orig)
				for k, v := range want {
					if string(m[k]) != v {
						t.Errorf("%s: %s = %s, want %s", sample, k, m[k], v)
					}
				}
				for k := range m {
					if _, ok := want[k]; !ok && orig[k] == nil {
						t.Errorf("%s: unexpected member %s = %s", sample, k, m[k])
					}
				}
			}
		})
	}
}

// post is a token request to path p as a Caddy handler sees it.
func post(p string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, p, nil)
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

// env stands in for Caddy's {env.*} placeholders.
func env(key string) (string, bool) {
	if key == "env.REGION" {
		return "eu-west-1", true
	}
	return "", false
}

// tokenEnrichHandler finds the one token_enrich handler in an adapted config.
func tokenEnrichHandler(t *testing.T, cfg []byte) *caddymodule.Handler {
	t.Helper()
	var found []json.RawMessage
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["handler"] == "token_enrich" {
				b, _ := json.Marshal(x)
				found = append(found, b)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var root any
	if err := json.Unmarshal(cfg, &root); err != nil {
		t.Fatal(err)
	}
	walk(root)
	if len(found) != 1 {
		t.Fatalf("%d token_enrich handlers in %s", len(found), cfg)
	}
	if !strings.Contains(string(cfg), `"handler":"reverse_proxy"`) {
		t.Fatalf("no reverse_proxy: %s", cfg)
	}
	var h caddymodule.Handler
	if err := json.Unmarshal(found[0], &h); err != nil {
		t.Fatal(err)
	}
	return &h
}

// loadSample builds the token response and request of a claim sample.
func loadSample(t *testing.T, name string) enrichers.Input {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "enrichers", "testdata", "claims", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Header, Claims, Response json.RawMessage
		Request                  *struct {
			ContentType string `json:"content_type"`
			Basic, Body string
		}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	tok, _ := json.Marshal(testjwt.Unsigned(s.Header, s.Claims))
	body := append(append([]byte(`{"access_token":`), tok...), ',')
	body = append(body, bytes.TrimSpace(s.Response)[1:]...)
	in := enrichers.Input{Body: body}
	if s.Request == nil || strings.Contains(s.Request.Body, "{ASSERTION:") {
		return in
	}
	in.RequestType, in.Request, in.BasicUser = s.Request.ContentType, s.Request.Body, s.Request.Basic
	return in
}

// envHost is the engine's host for the examples: it resolves {env.*} as
// env does, and has no matcher or source.
type envHost struct{}

func (envHost) Publish(*enrichers.Response)       {}
func (envHost) MatchRule(int) bool                { return false }
func (envHost) LookUp([]string) []enrichers.Found { return nil }
func (envHost) Resolve(key string) (string, bool) { return env(key) }
