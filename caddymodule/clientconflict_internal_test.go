package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// TestClientConflictWarned: the warning for a token request naming two
// clients says so and names both; a body with a standard member twice is
// warned of with its own error.
func TestClientConflictWarned(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := Handler{Config: enrichers.Config{Fields: []enrichers.FieldConfig{{Name: "x", Value: "y"}}}}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ params, body, reason string }{
		{"grant_type=client_credentials&client_id=svc-a&client_id=svc-b", `{"access_token":"t","token_type":"Bearer"}`,
			`the token request names two clients (client_id "svc-a" and client_id "svc-b"); the identity provider may have authenticated either`},
		{"grant_type=client_credentials&client_id=svc-a", `{"access_token":"t","Access_Token":"u"}`,
			"a standard member appears twice; clients would disagree on which to read"},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		h.logger = zap.New(core)
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(c.params))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		w := httptest.NewRecorder()
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			_, err := io.WriteString(w, c.body)
			return err
		})
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		if w.Body.String() != c.body {
			t.Errorf("%s: body changed: %s", c.params, w.Body.String())
		}
		all := logs.All()
		if len(all) != 1 || all[0].Message != "token response passed through unchanged" || all[0].ContextMap()["error"] != c.reason ||
			all[0].ContextMap()["result"] != "ambiguous" {
			t.Errorf("%s: warnings %v, want one ambiguous with error %q", c.params, all, c.reason)
		}
	}
}
