package caddymodule_test

// Load and concurrency: thousands of concurrent mixed requests
// through a real Caddy, each checked byte for byte against the response
// expected for its own client and request; and a config reload through the
// admin API in the middle of such a load. Run under -race.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// ldKinds are the kinds of request in the mix. Each names how the client
// authenticates and what the upstream answers.
var ldKinds = []string{
	"jwt-form",        // client_secret_post, JWT access token: enriched
	"jwt-basic",       // client_secret_basic
	"jwt-json",        // JSON token request (Auth0 style)
	"jwt-assertion",   // private_key_jwt client assertion
	"jwt-gzip",        // gzip-encoded token response: decoded and enriched
	"opaque",          // opaque token: identity from the request
	"error401",        // OAuth error: unchanged
	"error500",        // upstream failure: unchanged
	"not-token",       // 200 JSON without access_token: unchanged
	"big",             // token response over max_body, chunked: streamed unchanged
	"html",            // 200 text/html: unchanged
	"other-path",      // not a token path: unchanged
	"strict-bad-gzip", // on_error fail route, corrupt gzip: 502
	"strict-ok",       // on_error fail route, good token
}

const ldClients = 8

// ldReq is one request of the mix.
type ldReq struct {
	id, kind, client, tenant string
	secret, assertion        string
}

func ldNew(i int, prefix string) ldReq {
	c := i % ldClients
	k := ldKinds[(i/ldClients+i)%len(ldKinds)] // every client meets every kind
	r := ldReq{id: fmt.Sprintf("%s%05d", prefix, i), kind: k, client: fmt.Sprintf("svc-%d", c), tenant: fmt.Sprintf("org_%d", c%4)}
	r.secret = "sec:%" + r.id + "-" + strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 36)
	if k == "jwt-assertion" {
		r.assertion = testjwt.Payload(fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":"https://idp/oauth/token","jti":"as-%s"}`, r.client, r.client, r.id))
	}
	return r
}

// ldAccessToken is the access token the upstream mints for r.
func (r ldReq) accessToken() string {
	if r.kind == "opaque" {
		return "opaque-" + r.id + "-" + strconv.Itoa(len(r.secret))
	}
	return testjwt.Payload(fmt.Sprintf(`{"azp":%q,"org_id":%q,"jti":%q}`, r.client, r.tenant, r.id))
}

func (r ldReq) refreshToken() string { return "rt-" + r.id + "-" + r.secret[len(r.secret)-6:] }

func (r ldReq) idToken() string {
	return testjwt.Payload(fmt.Sprintf(`{"sub":"user-%s","nonce":%q}`, r.id, r.secret))
}

// upstreamBody is the token response, or other answer, for r.
func (r ldReq) upstreamBody() (int, string, string) {
	tok := `{"access_token":"` + r.accessToken() + `","token_type":"Bearer","expires_in":300,"refresh_token":"` + r.refreshToken() +
		`","id_token":"` + r.idToken() + `","req":"` + r.id + `"}`
	switch r.kind {
	case "error401":
		return 401, "application/json", `{"error":"invalid_client","req":"` + r.id + `"}`
	case "error500":
		return 500, "application/json", `{"error":"server_error","req":"` + r.id + `"}`
	case "not-token":
		return 200, "application/json", `{"status":"ok","req":"` + r.id + `"}`
	case "big":
		return 200, "application/json", tok[:len(tok)-1] + `,"pad":"` + strings.Repeat("p", 20<<10) + `"}`
	case "html":
		return 200, "text/html; charset=utf-8", `<html>` + tok + `</html>`
	}
	return 200, "application/json", tok
}

// request builds the HTTP request for r.
func (r ldReq) request(base string) *http.Request {
	path := "/oauth/token"
	switch r.kind {
	case "other-path":
		path = "/other/oauth/token"
	case "strict-bad-gzip", "strict-ok":
		path = "/strict/oauth/token"
	}
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"https://api.example.com/"}}
	ctype := "application/x-www-form-urlencoded"
	var body string
	switch r.kind {
	case "jwt-basic":
	case "jwt-json":
		ctype = "application/json"
		b, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": r.client, "client_secret": r.secret})
		body = string(b)
	case "jwt-assertion":
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", r.assertion)
	default:
		form.Set("client_id", r.client)
		form.Set("client_secret", r.secret)
	}
	if body == "" {
		body = form.Encode()
	}
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-Kind", r.kind)
	req.Header.Set("X-Req", r.id)
	// Lets Go's transport resend a request that met a keep-alive
	// connection the server closed while idle (as Caddy does to the old
	// config's connections on reload): such a request never reached a
	// handler. Nothing else is ever retried.
	req.Header.Set("Idempotency-Key", r.id)
	if r.kind == "jwt-basic" {
		req.SetBasicAuth(url.QueryEscape(r.client), url.QueryEscape(r.secret))
	}
	if r.kind == "jwt-gzip" {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	return req
}

// expected is the status and exact body the client must get for r under
// config version v.
func (r ldReq) expected(v string) (int, string) {
	status, _, body := r.upstreamBody()
	cut := body[:len(body)-1]
	switch r.kind {
	case "jwt-form", "jwt-basic", "jwt-json", "jwt-assertion", "jwt-gzip", "opaque":
		add := `,"version":"` + v + `","client":"` + r.client + `"`
		if r.kind != "opaque" {
			add += `,"tenant_id":"` + r.tenant + `","jti":"` + r.id + `"`
			if r.tenant == "org_0" || r.tenant == "org_1" {
				add += `,"api-uri":"https://org` + r.tenant[4:] + `.` + v + `.example.com"`
			}
		}
		if r.client == "svc-3" {
			add += `,"flags":{"beta":true}`
		}
		if v == "v2" {
			add += `,"v2-only":true`
		}
		return 200, cut + add + "}"
	case "strict-ok":
		return 200, cut + `,"version":"` + v + `"}`
	case "strict-bad-gzip":
		return 502, `{"error":"server_error","error_description":"the token response from the identity provider could not be processed"}`
	}
	return status, body
}

// ldUpstream is the identity provider of the mix: it names the client from
// the request as a real one would, and answers by X-Kind.
func ldUpstream(t *testing.T) *upstream { return ldUpstreamParking(t, nil) }

// ldUpstreamParking is ldUpstream that first hands requests carrying an
// X-Park header to park, which returns when they may be answered.
func ldUpstreamParking(t *testing.T, park func(*http.Request)) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if park != nil && r.Header.Get("X-Park") != "" {
			park(r)
		}
		body, _ := io.ReadAll(r.Body)
		client, _, _ := r.BasicAuth()
		client, _ = url.QueryUnescape(client)
		if client == "" {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				var m map[string]string
				_ = json.Unmarshal(body, &m)
				client = m["client_id"]
			} else {
				form, _ := url.ParseQuery(string(body))
				client = form.Get("client_id")
				if a := form.Get("client_assertion"); a != "" {
					var claims struct{ Sub string }
					p, _ := base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[1])
					_ = json.Unmarshal(p, &claims)
					client = claims.Sub
				}
			}
		}
		var n int
		id := r.Header.Get("X-Req")
		_, _ = fmt.Sscanf(id[len(id)-5:], "%d", &n)
		req := ldNew(n, id[:len(id)-5])
		if req.kind != r.Header.Get("X-Kind") || req.client != client {
			t.Errorf("upstream: request %s names client %q kind %q, want %q %q", id, client, r.Header.Get("X-Kind"), req.client, req.kind)
		}
		status, ctype, out := req.upstreamBody()
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-store")
		switch req.kind {
		case "jwt-gzip":
			if r.Header.Get("Accept-Encoding") != "gzip" {
				t.Errorf("upstream: gzip request %s asked for %q", id, r.Header.Get("Accept-Encoding"))
			}
			w.Header().Set("Content-Encoding", "gzip")
			out = string(testcompress.Gzip(t, []byte(out)))
		case "strict-bad-gzip":
			w.Header().Set("Content-Encoding", "gzip") // a lie
		case "big":
			w.WriteHeader(status)
			for i := 0; i < len(out); i += 4096 {
				_, _ = io.WriteString(w, out[i:min(i+4096, len(out))])
				_ = http.NewResponseController(w).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	})
}

// ldSite is the site block of the mix for config version v ("v1", "v2").
func ldSite(up string, v string) string {
	extra := ""
	if v == "v2" {
		extra = "rule all {\n\t\t\t\tset_json v2-only true\n\t\t\t}"
	}
	return fmt.Sprintf(`
	handle /strict/* {
		token_enrich {
			paths /strict/oauth/token
			on_error fail
			set version %[1]s
		}
		reverse_proxy %[2]s
	}
	handle {
		token_enrich {
			max_body 16KiB
			set version %[1]s
			set client {http.token.client_id}
			set tenant_id {http.token.tenant}
			set jti {http.token.claims.jti}
			rule org0 {
				tenant org_0
				set api-uri https://org0.%[1]s.example.com
			}
			rule org1 {
				tenant org_1
				set api-uri https://org1.%[1]s.example.com
			}
			rule beta {
				client svc-3
				set_json flags `+"`"+`{"beta": true}`+"`"+`
			}
			%[3]s
		}
		reverse_proxy %[2]s
	}`, v, up, extra)
}

// ldGlobal logs at debug level (exercising those code paths under the race
// detector) to a file instead of the test output, and lets requests in
// flight finish when a config is replaced.
func ldGlobal(t *testing.T) (global, logFile string) {
	logFile = filepath.Join(t.TempDir(), "caddy.log")
	return fmt.Sprintf("\tgrace_period 30s\n\tlog {\n\t\toutput file %s\n\t\tformat json\n\t\tlevel DEBUG\n\t}", logFile), logFile
}

// ldClient is a keep-alive client sized for the workers.
func ldClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
		Timeout: 30 * time.Second}
}

// ldResult is one finished request of the mix.
type ldResult struct {
	req          ldReq
	version      string // v1 or v2, whichever it matched; any if the rules leave it alone
	start, end   time.Time
	err          string
	status       int
	body, wantV1 string
}

// ldRun sends one request and checks it against versions.
func ldRun(client *http.Client, base string, r ldReq, versions ...string) ldResult {
	return ldRunHeader(client, base, r, "", "", versions...)
}

// ldRunHeader is ldRun with one more request header (none when key is "").
func ldRunHeader(client *http.Client, base string, r ldReq, key, value string, versions ...string) (res ldResult) {
	if len(versions) == 0 {
		versions = []string{"v1"}
	}
	res = ldResult{req: r, start: time.Now()}
	defer func() { res.end = time.Now() }()
	req := r.request(base)
	if key != "" {
		req.Header.Set(key, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		res.err = err.Error()
		return res
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		res.err = err.Error()
		return res
	}
	res.status, res.body = resp.StatusCode, string(b)
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		res.err = "Content-Encoding " + ce
		return res
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
		res.err = "Content-Length " + cl
		return res
	}
	for _, v := range versions {
		if status, want := r.expected(v); status == res.status && want == res.body {
			res.version = v
			if _, other := r.expected("v0"); other == want {
				res.version = "any" // a response the rules do not touch
			}
			return res
		}
	}
	_, res.wantV1 = r.expected(versions[0])
	res.err = "unexpected response"
	return res
}

func (r ldResult) String() string {
	return fmt.Sprintf("request %s (%s, %s): %s: status %d\ngot  %.400s\nwant %.400s", r.req.id, r.req.kind, r.req.client, r.err, r.status, r.body, r.wantV1)
}

func TestLoadConcurrentMixedNoCrossTalk(t *testing.T) {
	const n, workers = 3000, 32
	up := ldUpstream(t)
	global, _ := ldGlobal(t)
	base := startSites(t, global, ldSite(up.addr, "v1"))[0]
	client := ldClient(workers)
	defer client.CloseIdleConnections()

	jobs := make(chan int)
	results := make([]ldResult, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = ldRun(client, base, ldNew(i, "L"), "v1")
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	failed, perKind := 0, map[string]int{}
	for _, r := range results {
		perKind[r.req.kind]++
		if r.err != "" {
			if failed++; failed <= 5 {
				t.Error(r)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d responses wrong", failed, n)
	}
	if up.Count() != n {
		t.Fatalf("upstream saw %d requests, want %d", up.Count(), n)
	}
	t.Logf("%d requests, %d workers, per kind: %v", n, workers, perKind)
}

func TestLoadReloadMidwayLosesNothing(t *testing.T) {
	const n, workers, parked = 1500, 32, 4
	// Parked requests reach the upstream through the old config and are
	// held there until the reload has returned: they are in flight across
	// it and must still get the old config's answer.
	arrived, release := make(chan struct{}, parked), make(chan struct{})
	up := ldUpstreamParking(t, func(r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(30 * time.Second): // safety net
			t.Error("parked request never released")
		}
	})
	global, _ := ldGlobal(t)
	port := testcaddy.FreePort(t)
	cfg := func(v string) string {
		return fmt.Sprintf("{\n\tadmin localhost:%d\n\thttp_port %d\n\tskip_install_trust\n%s\n}\nhttp://127.0.0.1:%d {\n%s\n}\n",
			testcaddy.AdminPort, port, global, port, ldSite(up.addr, v))
	}
	tester := caddytestTester(t)
	tester.InitServer(cfg("v1"), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := ldClient(workers)
	defer client.CloseIdleConnections()

	// The last third waits until the old config can no longer take a
	// request: its listener is closed and the client holds no connection
	// to it. Everything started from then on must see the new rules.
	tail := make(chan struct{})
	var done atomic.Int64
	var posted, barrier time.Time
	reloaded := make(chan error, 1)
	parkedResults := make([]ldResult, parked)
	var parkedWG sync.WaitGroup
	go func() {
		for done.Load() < n/3 {
			time.Sleep(time.Millisecond)
		}
		for i := 0; i < parked; i++ {
			parkedWG.Add(1)
			go func() {
				defer parkedWG.Done()
				r := ldNew(i, "P")
				parkedResults[i] = ldRunHeader(client, base, r, "X-Park", "1")
			}()
		}
		for i := 0; i < parked; i++ {
			<-arrived
		}
		posted = time.Now()
		resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", testcaddy.AdminPort), "text/caddyfile", strings.NewReader(cfg("v2")))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("load: %d %s", resp.StatusCode, b)
			}
		}
		// safety net only: the old listener closes as the reload returns
		for i := 0; err == nil && caddy.ListenerUsage("tcp", fmt.Sprintf(":%d", port)) != 1; i++ {
			if i == 10000 {
				err = fmt.Errorf("the old config's listener is still open (%d users)", caddy.ListenerUsage("tcp", fmt.Sprintf(":%d", port)))
			}
			time.Sleep(time.Millisecond)
		}
		close(release)
		client.CloseIdleConnections()
		barrier = time.Now()
		close(tail)
		reloaded <- err
	}()

	jobs := make(chan int)
	results := make([]ldResult, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if i >= 2*n/3 {
					<-tail
				}
				results[i] = ldRun(client, base, ldNew(i, "R"), "v1", "v2")
				done.Add(1)
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	parkedWG.Wait()
	for _, r := range parkedResults {
		if r.err != "" || r.version != "v1" {
			t.Errorf("in flight across the reload: %s (saw %q)", r, r.version)
		}
	}

	failed, versions := 0, map[string]int{}
	for _, r := range results {
		switch {
		case r.err != "":
		case r.version == "any":
		case r.end.Before(posted) && r.version != "v1":
			r.err = "finished before the reload but saw " + r.version
		case r.start.After(barrier) && r.version != "v2":
			r.err = "started after the reload but saw " + r.version
		}
		if r.err != "" {
			if failed++; failed <= 5 {
				t.Error(r)
			}
			continue
		}
		versions[r.version]++
	}
	if failed > 0 {
		t.Fatalf("%d of %d responses wrong", failed, n)
	}
	if versions["v1"] < n/6 || versions["v2"] < n/6 {
		t.Fatalf("versions seen: %v", versions)
	}
	if up.Count() != n+parked {
		t.Fatalf("upstream saw %d requests, want %d: a request was lost or repeated", up.Count(), n+parked)
	}
	t.Logf("%d requests, %d workers, responses per config: %v", n, workers, versions)
}

// ldLogLines reads a JSON log file into its lines.
func ldLogLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
