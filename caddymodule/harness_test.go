package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testupstream"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/httpsource"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/sources/redissource"
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

// tokenBody sends a client_credentials token request to base and returns
// the response body; the test fails unless the status is 200. It opens a
// connection of its own: the reload tests call it right after a config
// load, which closes the idle connections a shared client would reuse.
func tokenBody(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := testhttp.DoWith(t, freshClient, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	return string(body)
}

var (
	auth0Body = testupstream.Auth0Body
	serveJSON = testupstream.ServeJSON
)

// freshClient opens a connection per request.
var freshClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
	Timeout:   time.Minute,
}
