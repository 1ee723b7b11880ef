package caddymodule_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestExplainTreatsResponsesAsTheProxyDoes: explain serves the token
// request through the handler itself, so for every response the proxy
// passes on unread (partial content, a non-UTF-8 charset, trailers) or
// decodes (a compressed body), explain prints the status and body the
// proxy sends; a response over max_body is refused with an error that says
// the proxy passes it on unread.
func TestExplainTreatsResponsesAsTheProxyDoes(t *testing.T) {
	dir := t.TempDir()
	token := auth0Body("svc-eu", "org_acme")
	// the upstream answers the status, headers and body the test sends in
	// X-Status, X-Headers ("Name: value|Name: value") and X-Body64, and a
	// trailer X-Digest when the headers announce it
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := base64.StdEncoding.DecodeString(r.Header.Get("X-Body64"))
		for _, hv := range strings.Split(r.Header.Get("X-Headers"), "|") {
			name, value, _ := strings.Cut(hv, ":")
			w.Header().Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		status := http.StatusOK
		fmt.Sscan(r.Header.Get("X-Status"), &status)
		w.WriteHeader(status)
		_, _ = w.Write(body)
		if w.Header().Get("Trailer") != "" {
			w.Header().Set("X-Digest", "sha-256=:x:")
		}
	})
	block := `
	token_enrich {
		max_body 4KiB
		set api-uri https://eu.api.example.com
	}
	reverse_proxy {UPSTREAM}
`
	base := startCaddy(t, block, up)
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	caddyfile := writeFile(t, dir, "Caddyfile", fmt.Sprintf("http://127.0.0.1:%s {\n%s\n}\n",
		port, strings.ReplaceAll(block, "{UPSTREAM}", up.addr)))

	cases := []struct {
		name    string
		status  int
		headers []string
		body    []byte
		result  string
	}{
		{"enriched", 200, []string{"Content-Type: application/json"}, []byte(token), "enriched"},
		{"compressed", 200, []string{"Content-Type: application/json", "Content-Encoding: gzip"}, testcompress.Gzip(t, []byte(token)), "enriched"},
		{"corrupt compression", 200, []string{"Content-Type: application/json", "Content-Encoding: gzip"}, []byte(token), "error_passed"},
		{"partial content", 206, []string{"Content-Type: application/json", "Content-Range: bytes 0-9/100"}, []byte(token), "streamed"},
		{"latin-1 charset", 200, []string{"Content-Type: application/json; charset=iso-8859-1"}, []byte(token), "streamed"},
		{"trailers", 200, []string{"Content-Type: application/json", "Trailer: X-Digest"}, []byte(token), "streamed"},
		{"not JSON", 200, []string{"Content-Type: text/plain"}, []byte(token), "streamed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{"X-Status", fmt.Sprint(c.status), "X-Body64", base64.StdEncoding.EncodeToString(c.body),
				"X-Headers", strings.Join(c.headers, "|"), "Accept-Encoding", "gzip"}
			resp, proxied := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", hdr...)

			file := writeFile(t, dir, "response", string(c.body))
			args := []string{"explain", "--config", caddyfile, "--response", file, "--request", "grant_type=client_credentials",
				"--status", fmt.Sprint(c.status), "--format", "json"}
			for _, h := range c.headers {
				args = append(args, "--response-header", h)
			}
			out, err := runExplain(t, "", args...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			var x explainJSON
			if err := json.Unmarshal([]byte(out), &x); err != nil {
				t.Fatalf("--format json is not JSON: %v\n%s", err, out)
			}
			if x.Result != c.result {
				t.Errorf("result %q (%s), want %q", x.Result, x.Reason, c.result)
			}
			if x.Status != resp.StatusCode || x.Body != string(proxied) {
				t.Errorf("explain and the proxy disagree\nexplain %d %q\nproxy   %d %q", x.Status, x.Body, resp.StatusCode, proxied)
			}
		})
	}

	// over max_body: the proxy passes it on unread; explain refuses it,
	// reading no more than max_body+1 bytes, and says so
	big := []byte(`{"access_token":"` + strings.Repeat("a", 5000) + `"}`)
	_, proxied := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		"X-Body64", base64.StdEncoding.EncodeToString(big), "X-Headers", "Content-Type: application/json")
	if string(proxied) != string(big) {
		t.Fatalf("the proxy changed a body over max_body: %.80s", proxied)
	}
	out, err := runExplain(t, strings.Repeat(string(big), 1000), "explain", "--config", caddyfile, "--response", "-")
	if err == nil || !strings.Contains(err.Error(), "larger than max_body (4096 bytes): the proxy passes it on unread and unchanged (result too_large)") {
		t.Fatalf("explain over max_body: %v\n%s", err, out)
	}
}
