package caddymodule_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
)

// seen is what an upstream received for one request.
type seen struct {
	method, path string
	header       http.Header
	body         []byte
	contentLen   int64
	chunked      bool
}

// upstream is a real HTTP server standing in for the identity provider.
type upstream struct {
	addr string
	mu   sync.Mutex
	reqs []seen
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// newUpstream serves h on a fresh loopback port, recording each request.
func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body,
			contentLen: r.ContentLength, chunked: len(r.TransferEncoding) > 0})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return u
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

// jwt builds an unsigned-looking JWS (this layer does not verify
// signatures; the e2e suite uses real signed tokens).
func jwt(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}

// auth0Body is an Auth0-shaped client-credentials response.
func auth0Body(client, org string) string {
	tok := jwt(map[string]any{"iss": "https://acme.eu.auth0.com/", "sub": client + "@clients", "aud": "https://api.example.com/",
		"azp": client, "org_id": org, "gty": "client-credentials", "scope": "read:orders"})
	return `{"access_token":"` + tok + `","scope":"read:orders","expires_in":86400,"token_type":"Bearer"}`
}

// serveJSON answers with a fixed JSON body and the no-store headers of
// RFC 6749 §5.1.
func serveJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v (%q)", err, b)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
