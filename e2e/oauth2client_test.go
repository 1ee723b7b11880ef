package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testupstream"
)

// TestOAuth2ClientLibraryReadsExtras: golang.org/x/oauth2 reads the added
// members of an Auth0-shaped response as token extras, with the client's
// credentials reaching the upstream exactly as it sent them, in the
// Authorization header and in the body.
func TestOAuth2ClientLibraryReadsExtras(t *testing.T) {
	up := testupstream.Start(t, testupstream.ServeJSON(200, testupstream.Auth0Body("svc-eu", "org_acme")))
	base := testcaddy.LoadSite(t, testcaddy.FreePort(t), strings.ReplaceAll(testcaddy.EnrichBlock, "{UPSTREAM}", up.Addr))
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: "svc-eu", ClientSecret: "p:a%ss", TokenURL: base + "/oauth/token",
			EndpointParams: map[string][]string{"audience": {"https://api.example.com/"}}, AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tok.Extra("api-uri") != "https://eu.api.example.com" || tok.Extra("tenant_id") != "org_acme" {
			t.Fatalf("extras: api-uri=%v tenant_id=%v", tok.Extra("api-uri"), tok.Extra("tenant_id"))
		}
		limits, _ := tok.Extra("limits").(map[string]any)
		if limits["rps"] != float64(100) || tok.TokenType != "Bearer" || tok.AccessToken == "" {
			t.Fatalf("token %+v limits %v", tok, limits)
		}
		// the upstream saw the client's credentials exactly as sent
		seen := up.Last(t)
		if style == oauth2.AuthStyleInHeader {
			if u, p, ok := (&http.Request{Header: seen.Header}).BasicAuth(); !ok || u != "svc-eu" || p != "p%3Aa%25ss" {
				t.Fatalf("basic auth at upstream: %q %q %v", u, p, ok)
			}
		} else if !strings.Contains(string(seen.Body), "client_secret=p%3Aa%25ss") {
			t.Fatalf("body at upstream: %s", seen.Body)
		}
	}
}
