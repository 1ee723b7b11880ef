package caddymodule_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func TestEnrichedHappyPath(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, body))
	base := startCaddy(t, testcaddy.EnrichBlock, up)

	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded",
		"grant_type=client_credentials&client_id=svc-eu&client_secret=s3cret&audience=https%3A%2F%2Fapi.example.com%2F")
	want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","limits":{"rps":100,"burst":20}}`
	if resp.StatusCode != 200 || string(got) != want {
		t.Fatalf("status %d\ngot  %s\nwant %s", resp.StatusCode, got, want)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(want)) {
		t.Errorf("Content-Length %q, want %d", cl, len(want))
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers changed: %v", resp.Header)
	}
}

func TestRequestReachesUpstreamByteIdentical(t *testing.T) {
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	cases := []struct{ ctype, body string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=svc-eu&client_secret=a%2Bb%26c%3D&scope=x+y"},
		{"application/json", `{"client_id":"svc-eu","client_secret":"x\"y","audience":"https://api.example.com/","grant_type":"client_credentials"}`},
		{"application/x-www-form-urlencoded; charset=ISO-8859-1", "grant_type=password&username=j%E9r%F4me&password=%FF%FE"},
		{"", "\x00\x01binary"},
	}
	for _, c := range cases {
		testhttp.Post(t, base+"/oauth/token", c.ctype, c.body, "X-Custom", "kept")
		s := up.last(t)
		if string(s.body) != c.body || s.contentLen != int64(len(c.body)) || s.header.Get("X-Custom") != "kept" ||
			s.header.Get("Content-Type") != c.ctype {
			t.Errorf("upstream saw body %q len %d headers %v", s.body, s.contentLen, s.header)
		}
	}
	// a chunked request stays chunked and intact
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("grant_type=client_credentials&"))
		_, _ = pw.Write([]byte("client_id=svc-eu"))
		_ = pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	testhttp.Do(t, req)
	if s := up.last(t); string(s.body) != "grant_type=client_credentials&client_id=svc-eu" || !s.chunked {
		t.Errorf("chunked request: body %q chunked %v", s.body, s.chunked)
	}
}

func TestErrorsPassThroughUnchanged(t *testing.T) {
	cases := []struct {
		status int
		ctype  string
		body   string
	}{
		{401, "application/json", `{"error":"access_denied","error_description":"Unauthorized"}`},
		{400, "application/json", `{"error":"invalid_request"}`},
		{500, "application/json", `{"access_token":"should-not-be-touched"}`},
		{200, "text/html", `<html>{"access_token":"x"}</html>`},
		{200, "application/json", `{"not":"a token response"}`},
		{200, "application/json", `[{"access_token":"x"}]`},
		{200, "application/json", `{"access_token":"x"`},
	}
	for _, c := range cases {
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", c.ctype)
			w.Header().Set("X-Upstream", "yes")
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		})
		base := startCaddy(t, testcaddy.EnrichBlock, up)
		resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
		if resp.StatusCode != c.status || string(got) != c.body || resp.Header.Get("X-Upstream") != "yes" ||
			resp.Header.Get("Content-Length") != strconv.Itoa(len(c.body)) {
			t.Errorf("%d %s: got %d %q headers %v", c.status, c.body, resp.StatusCode, got, resp.Header)
		}
	}
}

func TestNonMatchingRequestsStreamThrough(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, body))
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	// other path
	_, got := testhttp.Post(t, base+"/oauth/other", "application/x-www-form-urlencoded", "grant_type=client_credentials", "Accept-Encoding", "br")
	if string(got) != body {
		t.Fatalf("other path changed: %s", got)
	}
	if ae := up.last(t).header.Get("Accept-Encoding"); ae != "br" {
		t.Fatalf("Accept-Encoding touched on a non-matching path: %q", ae)
	}
	// GET on the token path
	testhttp.Get(t, base+"/oauth/token")
	if up.last(t).method != http.MethodGet {
		t.Fatal("GET not proxied")
	}
}

func TestGzipClientGetsEnrichedResponse(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, serveJSON(200, body))
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"Accept-Encoding", "gzip, br, zstd")
	if ae := up.last(t).header.Get("Accept-Encoding"); ae != "gzip, zstd" {
		t.Errorf("upstream Accept-Encoding %q, want %q", ae, "gzip, zstd")
	}
	if resp.Header.Get("Content-Encoding") != "" || !strings.Contains(string(got), `"api-uri":"https://eu.api.example.com"`) {
		t.Fatalf("got %q %s", resp.Header.Get("Content-Encoding"), got)
	}
	// no Accept-Encoding at all: the upstream must not be asked for gzip
	testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if ae := up.last(t).header.Get("Accept-Encoding"); ae != "identity" {
		t.Errorf("upstream Accept-Encoding %q, want identity", ae)
	}
}

func TestEncodeInFrontCompressesEnrichedBody(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme") + strings.Repeat(" ", 600) // over encode's minimum length
	up := newUpstream(t, serveJSON(200, body))
	base := startCaddy(t, "\tencode gzip\n"+testcaddy.EnrichBlock, up)
	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not compressed by encode: %v", resp.Header)
	}
	plain := testcompress.Gunzip(t, got)
	var m map[string]any
	if err := json.Unmarshal(plain, &m); err != nil || m["api-uri"] != "https://eu.api.example.com" {
		t.Fatalf("decoded %s (%v)", plain, err)
	}
}

func TestGzipUpstreamIsDecodedAndEnriched(t *testing.T) {
	body := auth0Body("svc-eu", "org_acme")
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("ETag", `"v1"`)
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Vary", "Accept-Encoding")
			_, _ = w.Write(testcompress.Gzip(t, []byte(body)))
			return
		}
		_, _ = w.Write([]byte(body))
	})
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"Accept-Encoding", "gzip")
	want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","limits":{"rps":100,"burst":20}}`
	// the enriched body is another representation: the upstream's ETag
	// no longer names it
	if resp.Header.Get("Content-Encoding") != "" || string(got) != want ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) || resp.Header.Values("ETag") != nil {
		t.Fatalf("headers %v\ngot %q", resp.Header, got)
	}
	// a lying Content-Encoding: raw bytes pass through unchanged
	up2 := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte(body))
	})
	base2 := startCaddy(t, testcaddy.EnrichBlock, up2)
	resp, got = testhttp.Post(t, base2+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("lying gzip: %d %v %q", resp.StatusCode, resp.Header, got)
	}
}

func TestPlaceholdersReachOtherHandlers(t *testing.T) {
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, `
	header >X-Token-Client {http.token.client_id}
	header >X-Token-Tenant {http.token.tenant}
	header >X-Token-Audience {http.token.audience}
	header >X-Token-Claim {http.token.claims.gty}
`+testcaddy.EnrichBlock, up)
	resp, _ := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.Header.Get("X-Token-Client") != "svc-eu" || resp.Header.Get("X-Token-Tenant") != "org_acme" ||
		resp.Header.Get("X-Token-Audience") != "https://api.example.com/" || resp.Header.Get("X-Token-Claim") != "client-credentials" {
		t.Fatalf("placeholders: %v", resp.Header)
	}
}

func TestReservedFieldProtection(t *testing.T) {
	// an upstream member is never overwritten, even with overwrite on, when reserved;
	// a lifted claim cannot smuggle one in
	tok := testjwt.Claims(t, map[string]any{"client_id": "svc", "ext": map[string]any{"access_token": "evil", "token_type": "evil", "region": "eu"}})
	body := `{"access_token":"` + tok + `","token_type":"Bearer","expires_in":300}`
	up := newUpstream(t, serveJSON(200, body))
	base := startCaddy(t, `
	token_enrich {
		overwrite
		lift_claim ext
		set region us
	}
	reverse_proxy {UPSTREAM}
`, up)
	_, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if want := body[:len(body)-1] + `,"region":"us"}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
