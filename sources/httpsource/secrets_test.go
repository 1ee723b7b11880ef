package httpsource

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
)

// TestLiteralSecretsWarned: a secret written as text in the config (which
// Caddy shows in GET /config/) is warned about at load, naming the setting
// and the fix and never the secret; one from {env.*} or {file.*} is not.
func TestLiteralSecretsWarned(t *testing.T) {
	t.Setenv("HTTPSOURCE_TEST_SECRET", "from-env-0123456789")
	const url = "https://cells.internal/v1/{http.token.tenant}"
	for _, c := range []struct {
		name string
		s    Source
		want string
	}{
		{"oauth2 literal", Source{OAuth2: &OAuth2{TokenURL: "https://idp.internal/token", ClientID: "c", ClientSecret: "literal-0123456789"}}, "oauth2's client_secret"},
		{"oauth2 env", Source{OAuth2: &OAuth2{TokenURL: "https://idp.internal/token", ClientID: "c", ClientSecret: "{env.HTTPSOURCE_TEST_SECRET}"}}, ""},
		{"basic literal", Source{BasicAuth: &BasicAuth{Username: "u", Password: "literal-0123456789"}}, "basic_auth's password"},
		{"basic file", Source{BasicAuth: &BasicAuth{Username: "u", Password: "{file./nonexistent/secret}"}}, ""},
		{"header literal", Source{Headers: map[string]string{"authorization": "Bearer literal-0123456789"}}, "the Authorization header"},
		{"header env", Source{Headers: map[string]string{"Authorization": "Bearer {env.HTTPSOURCE_TEST_SECRET}"}}, ""},
		{"no secret", Source{Headers: map[string]string{"X-Team": "cells"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			s := c.s
			s.URL, s.logger = url, zap.New(core)
			testcaddy.Provision(t, &s)
			entries := logs.All()
			if c.want == "" {
				if len(entries) != 0 {
					t.Fatalf("warnings %v; want none", entries)
				}
				return
			}
			if len(entries) != 1 || !strings.Contains(entries[0].Message, c.want) ||
				!strings.Contains(entries[0].Message, "GET /config/") || !strings.Contains(entries[0].Message, "{env.NAME}") {
				t.Fatalf("warnings %v; want one naming %s, GET /config/ and the fix", entries, c.want)
			}
			if strings.Contains(entries[0].Message+fmt.Sprint(entries[0].ContextMap()), "literal-0123456789") {
				t.Errorf("the warning shows the secret: %v", entries[0])
			}
		})
	}
}
