package caddymodule_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testupstream"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/table"
)

// seen is what an upstream received for one request.
type seen struct {
	method, path string
	header       http.Header
	body         []byte
	contentLen   int64
	chunked      bool
}

// upstream is the recording stand-in for the identity provider of
// internal/testupstream.
type upstream struct {
	*testupstream.Server
	addr string
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	r := u.Last(t)
	return seen{method: r.Method, path: r.Path, header: r.Header, body: r.Body, contentLen: r.ContentLength, chunked: r.Chunked}
}

// newUpstream serves h on a fresh loopback port, recording each request.
func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	s := testupstream.Start(t, h)
	return &upstream{Server: s, addr: s.Addr}
}

// startCaddy loads a Caddyfile site block into the in-process Caddy on a
// free port and returns the site's base URL. {UPSTREAM} in the block is
// replaced by the upstream's address.
func startCaddy(t *testing.T, block string, up *upstream) string {
	t.Helper()
	if up != nil {
		block = strings.ReplaceAll(block, "{UPSTREAM}", up.addr)
	}
	return testcaddy.LoadSite(t, testcaddy.FreePort(t), block)
}

// rawClient does not add or decode Accept-Encoding: assertions see bytes.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// post sends a token request and returns the response and its raw body.
func post(t *testing.T, url, ctype, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

var (
	auth0Body = testupstream.Auth0Body
	serveJSON = testupstream.ServeJSON
)
