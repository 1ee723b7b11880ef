package caddymodule_test

// Secrets: the suite's traffic, with every logger at debug level
// and access logs on, must not put an access token, refresh token, id
// token, client secret, client assertion or Authorization header value in
// any log line.

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// secretSet finds any of a set of secrets in text. Each secret is indexed
// by its last secretAnchor bytes, so a scan costs one map lookup per byte.
type secretSet struct {
	byAnchor map[string][]string
	kinds    map[string]string
}

const secretAnchor = 12

func newSecretSet() *secretSet {
	return &secretSet{byAnchor: map[string][]string{}, kinds: map[string]string{}}
}

// add registers a secret of a kind, with the forms it could be logged in:
// as sent, URL-encoded, and for a JWT its payload segment on its own.
func (s *secretSet) add(kind, secret string) {
	forms := []string{secret, url.QueryEscape(secret)}
	if parts := strings.Split(secret, "."); len(parts) == 3 {
		forms = append(forms, parts[1])
	}
	for _, f := range forms {
		if len(f) < secretAnchor {
			panic("secret too short to index: " + f)
		}
		if _, dup := s.kinds[f]; dup {
			continue
		}
		s.kinds[f] = kind
		a := f[len(f)-secretAnchor:]
		s.byAnchor[a] = append(s.byAnchor[a], f)
	}
}

// find returns a description of every secret occurring in text.
func (s *secretSet) find(text string) []string {
	var found []string
	for end := secretAnchor; end <= len(text); end++ {
		for _, f := range s.byAnchor[text[end-secretAnchor:end]] {
			if end >= len(f) && text[end-len(f):end] == f {
				found = append(found, fmt.Sprintf("%s %.40q", s.kinds[f], f))
			}
		}
	}
	return found
}

func TestSecretsNeverLogged(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	global := fmt.Sprintf("\tgrace_period 1ns\n\tlog {\n\t\toutput file %s\n\t\tformat json\n\t\tlevel DEBUG\n\t}", logFile)

	release := make(chan struct{})
	defer close(release)
	ldUp := ldUpstream(t)
	fltUp := newUpstream(t, fltUpstream(t, release))
	tok := testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme","nasty":"x"}`)
	plain := []byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":300,"refresh_token":"rt-hs-0123456789abcdef"}`)
	hsReplies := hsEncoded(t, plain)
	hsReplies["invalid UTF-8"] = hsReply{body: []byte("{\"access_token\":\"" + tok + "\",\"name\":\"caf\xe9\"}")}
	hsReplies["truncated JSON"] = hsReply{body: plain[:len(plain)-10]}
	hsUp := hsUpstream(t, hsReplies)
	access := "\tlog\n"
	bases := startSites(t, global,
		access+ldSite(ldUp.addr, "v1"),
		access+strings.ReplaceAll(fltModule, "{UPSTREAM}", fltUp.addr+fltTimeouts),
		access+strings.ReplaceAll(hsBlock, "{UPSTREAM}", hsUp.addr),
		access+strings.ReplaceAll(strings.Replace(hsBlock, "lift_claim ext", "on_error fail", 1), "{UPSTREAM}", hsUp.addr))

	secrets := newSecretSet()
	secrets.add("access token", tok)
	secrets.add("access token", strings.Split(fltToken, `"`)[3])
	secrets.add("refresh token", "rt-hs-0123456789abcdef")
	secrets.add("client secret", "s3cret-of-hsRequest")

	// the load mix: every kind for every client, with a Bearer header on
	// some requests besides the Basic ones
	client := ldClient(8)
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 2*len(ldKinds)*ldClients; i += 8 {
				r := ldNew(i, "S")
				mu.Lock()
				secrets.add("access token", r.accessToken())
				secrets.add("refresh token", r.refreshToken())
				secrets.add("id token", r.idToken())
				secrets.add("client secret", r.secret)
				if r.assertion != "" {
					secrets.add("client assertion", r.assertion)
				}
				basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(r.client) + ":" + url.QueryEscape(r.secret)))
				secrets.add("Authorization header", "Basic "+basic)
				secrets.add("Authorization header", basic)
				bearer := "Bearer " + r.accessToken() + "-as-bearer"
				secrets.add("Authorization header", bearer)
				mu.Unlock()
				var res ldResult
				if i%5 == 0 && r.kind != "jwt-basic" {
					res = ldRunHeader(client, bases[0], r, "Authorization", bearer)
				} else {
					res = ldRun(client, bases[0], r)
				}
				if res.err != "" {
					mu.Lock()
					failures = append(failures, res.String())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}

	// the faults, the bad bodies and the codings
	for _, c := range []string{"reset before headers", "reset mid-body, Content-Length", "reset mid-body, chunked", "RST mid-body",
		"slow drip", "timeout before headers", "stall mid-body", "503 with a token-shaped JSON", "chunked token response",
		"declared trailers", "undeclared trailers", "early hints"} {
		fltDo(t, testhttp.Client, bases[1], c)
	}
	for name := range hsReplies {
		for _, base := range bases[2:] {
			testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", strings.Replace(hsRequest, "s3cret", "s3cret-of-hsRequest", 1),
				"X-Case", name, "Accept-Encoding", "gzip, zstd", "Authorization", "Bearer "+tok)
		}
	}

	// the scanner finds what it should
	probe := ldNew(7, "S")
	if got := secrets.find(`{"msg":"x","v":"` + probe.secret + `"}`); len(got) != 1 {
		t.Fatalf("scanner self-check: %v", got)
	}

	lines := ldLogLines(t, logFile)
	leaks := 0
	for i, line := range lines {
		if found := secrets.find(line); len(found) > 0 {
			if leaks++; leaks <= 5 {
				t.Errorf("log line %d leaks %v:\n%.600s", i+1, found, line)
			}
		}
	}
	if leaks > 0 {
		t.Fatalf("%d of %d log lines leak a secret", leaks, len(lines))
	}

	// the log really was at debug level and covered the module's paths
	for _, want := range []string{
		`"level":"debug","ts":`, `"msg":"token response enriched"`, `"msg":"token response passed through unchanged"`,
		`"level":"warn"`, `"msg":"token response replaced by an error (on_error fail)"`, `"msg":"handled request"`,
		`"msg":"upstream roundtrip"`, `"Authorization":["REDACTED"]`, `"logger":"http.handlers.token_enrich"`,
		`"msg":"aborting with incomplete response"`,
		// an invalid UTF-8 body passes through with a warning
		`"msg":"token response passed through unchanged","result":"error_passed","reason":"not a JSON object","error":"response body is not a valid JSON object"`,
		`"msg":"token response passed through unchanged","result":"error_passed","reason":"cannot decode its content coding","error":"decoding gzip body: gzip: `,
	} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("no log line contains %s", want)
		}
	}
	t.Logf("%d log lines, %d secret forms checked", len(lines), len(secrets.kinds))
}
