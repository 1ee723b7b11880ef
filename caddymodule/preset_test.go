package caddymodule

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func TestCaddyfilePreset(t *testing.T) {
	for _, name := range []string{"auto", "generic", "auth0", "okta", "entra", "keycloak", "cognito", "hydra", "rfc9068"} {
		d := caddyfile.NewTestDispenser("token_enrich {\n\tpreset " + name + "\n}")
		var h Handler
		if err := h.UnmarshalCaddyfile(d); err != nil || h.Preset != name {
			t.Errorf("preset %s: %v (%q)", name, err, h.Preset)
		}
	}
	for in, want := range map[string]string{
		"preset":              "wrong argument count",
		"preset okta entra":   "wrong argument count",
		"preset Okta":         `unknown preset "Okta" (known: auto, generic, auth0, okta, entra, keycloak, cognito, hydra, rfc9068)`,
		"preset azure":        `unknown preset "azure"`,
		"preset\n\tpreset ok": "wrong argument count",
	} {
		d := caddyfile.NewTestDispenser("token_enrich {\n\t" + in + "\n}")
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", in, err)
		}
	}
	// through the adapter the error names the file and line
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\ttoken_enrich {\n\t\tset a b\n\t\tpreset nope\n\t}\n}"), nil)
	if err == nil || !strings.Contains(err.Error(), "Caddyfile:4") || !strings.Contains(err.Error(), `unknown preset "nope"`) {
		t.Fatalf("adapt: %v", err)
	}
	out, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\ttoken_enrich {\n\t\tpreset keycloak\n\t\tpaths /realms/*/protocol/openid-connect/token\n\t}\n}\n"), nil)
	if err != nil || len(warn) != 0 || !strings.Contains(string(out), `"handler":"token_enrich","paths":["/realms/*/protocol/openid-connect/token"],"preset":"keycloak"`) {
		t.Fatalf("adapt: %v %v %s", err, warn, out)
	}
}

func TestJSONPresetProvision(t *testing.T) {
	var h Handler
	if err := json.Unmarshal([]byte(`{"preset":"cognito","fields":[{"name":"t","value":"{http.token.tenant}"}]}`), &h); err != nil {
		t.Fatal(err)
	}
	if h.Preset != "cognito" {
		t.Fatalf("preset %q", h.Preset)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	h = Handler{Config: enrichers.Config{Preset: "nope"}}
	if err := h.Provision(ctx); err == nil || !strings.Contains(err.Error(), `unknown preset "nope"`) {
		t.Fatalf("provision: %v", err)
	}
}

// TestClientDisagreementLogged: Basic auth names one client, the token's azp
// another; the token's wins and the disagreement is logged at debug, also
// when no field applies. The enriched line names the preset.
func TestClientDisagreementLogged(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	tok := testjwt.Claims(t, map[string]any{"iss": "https://acme.eu.auth0.com/", "azp": "from-token", "gty": "client-credentials"})
	for _, rule := range []string{"from-token", "nobody"} {
		h := Handler{Config: enrichers.Config{Rules: []enrichers.RuleConfig{{Client: []string{rule}, Fields: []enrichers.FieldConfig{{Name: "hit", Value: "{http.token.client_id}"}}}}}}
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.DebugLevel)
		h.logger = zap.New(core)
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("from-basic", "secret")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		w := httptest.NewRecorder()
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			_, err := io.WriteString(w, `{"access_token":"`+tok+`","token_type":"Bearer"}`)
			return err
		})
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		d := logs.FilterMessage("client id in token differs from request; using the token's").All()
		if len(d) != 1 || d[0].ContextMap()["token_client"] != "from-token" || d[0].ContextMap()["request_client"] != "from-basic" {
			t.Errorf("rule %s: disagreement log %v", rule, d)
		}
		hit := strings.Contains(w.Body.String(), `"hit":"from-token"`)
		if hit != (rule == "from-token") {
			t.Errorf("rule %s: body %s", rule, w.Body.String())
		}
		if e := logs.FilterMessage("token response enriched").All(); hit && (len(e) != 1 || e[0].ContextMap()["preset"] != "auth0") {
			t.Errorf("enriched log %v", e)
		}
	}
}
