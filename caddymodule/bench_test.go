package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// Handler-level benchmarks: ServeHTTP through the request parsing, the
// bounded response buffering and the enrichment, with an in-memory `next`
// standing in for reverse_proxy (no network). Compare:
//
//   - baseline: next called directly, what a plain reverse_proxy route costs
//     in this harness;
//   - passthrough: a request token_enrich does not act on (GET, or another
//     path), which must cost nothing measurable over the baseline;
//   - enriched: a client-credentials token request and an Auth0-shaped
//     response, enriched by the five-rule configuration of the load
//     benchmark (bench/Caddyfile);
//   - the cases in between: a token path answered with an error, a gzip
//     upstream.
//
// Run with:
//
//	go test -run '^$' -bench Handler -benchmem ./caddymodule

// benchConfig is bench/Caddyfile's token_enrich block in JSON.
const benchConfig = `{
	"fields": [
		{"name": "api-uri", "value": "https://api.example.com"},
		{"name": "tenant_id", "value": "{http.token.tenant}"}
	],
	"rules": [
		{"name": "eu", "tenant": ["org_9f8K*"], "fields": [{"name": "api-uri", "value": "https://eu.api.example.com"}]},
		{"name": "us", "issuer": ["https://*.us.auth0.com/"], "fields": [{"name": "api-uri", "value": "https://us.api.example.com"}]},
		{"name": "partners", "client": ["partner-*", "ext-*"], "fields": [{"name": "partner", "json": true}]},
		{"name": "orders", "audience": ["https://api.example.com/"], "scope": ["write:orders"],
			"fields": [{"name": "limits", "json": {"rps": 100, "burst": 200}}]},
		{"name": "gold", "claims": [{"name": "https://example.com/plan", "values": ["gold", "platinum"]}],
			"fields": [{"name": "plan", "value": "{http.token.claims.https://example.com/plan}"}]}
	]
}`

// benchTokenBody is an Auth0 client-credentials response (~1 KB, RS256).
func benchTokenBody() []byte {
	sig := make([]byte, 256)
	for i := range sig {
		sig[i] = byte(i*131 + 7)
	}
	tok := testjwt.Signed([]byte(`{"alg":"RS256","typ":"JWT","kid":"Nk3mQ8rT2vX9yB5cD1fG7hJ4"}`),
		[]byte(`{"iss":"https://acme.eu.auth0.com/","sub":"Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg@clients",`+
			`"aud":"https://api.example.com/","iat":1764288000,"exp":1764374400,`+
			`"scope":"read:orders write:orders read:customers","gty":"client-credentials",`+
			`"azp":"Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg","org_id":"org_9f8KqL2mZx7TnB4c",`+
			`"https://example.com/plan":"gold"}`), sig)
	return []byte(`{"access_token":"` + tok + `","scope":"read:orders write:orders read:customers","expires_in":86400,"token_type":"Bearer"}`)
}

// benchTokenRequest is what an Auth0 client sends (client_secret_post).
var benchTokenRequest = []byte("grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg" +
	"&client_secret=" + strings.Repeat("s3cr3t", 10) + "&audience=" + url.QueryEscape("https://api.example.com/"))

func newBenchHandler(tb testing.TB, config string) *Handler {
	tb.Helper()
	var h Handler
	if err := json.Unmarshal([]byte(config), &h); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		tb.Fatal(err)
	}
	// caddy.Context gives a development (debug) logger when there is no
	// config; Caddy's default is INFO, at which the handler logs nothing
	// on success.
	h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return &h
}

// upstreamHandler plays reverse_proxy: it reads the request body (the proxy
// streams it upstream), copies the upstream's headers and writes its body.
type upstreamHandler struct {
	status int
	header http.Header
	body   []byte
}

func (u *upstreamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	h := w.Header()
	for k, v := range u.header {
		h[k] = v
	}
	w.WriteHeader(u.status)
	_, err := w.Write(u.body)
	return err
}

func tokenUpstream(body []byte, coding string) *upstreamHandler {
	h := http.Header{
		"Content-Type":   {"application/json; charset=utf-8"},
		"Cache-Control":  {"no-store"},
		"Pragma":         {"no-cache"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	if coding != "" {
		h["Content-Encoding"] = []string{coding}
	}
	return &upstreamHandler{status: http.StatusOK, header: h, body: body}
}

// benchWriter is a reusable http.ResponseWriter that keeps only what the
// benchmark checks.
type benchWriter struct {
	h      http.Header
	status int
	n      int
	first  []byte // the first body written, for the sanity check
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.first == nil {
		w.first = append([]byte{}, p...)
	}
	w.n += len(p)
	return len(p), nil
}
func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// replayReader is a request body that can be rewound without allocating.
type replayReader struct{ bytes.Reader }

func (*replayReader) Close() error { return nil }

// benchRequest is a reusable request: fresh replacer and vars per call, as
// Caddy's server makes them, and the body rewound.
type benchRequest struct {
	base *http.Request
	body replayReader
	data []byte
}

func newBenchRequest(method, path string, body []byte) *benchRequest {
	br := &benchRequest{data: body}
	br.base = &http.Request{
		Method: method, URL: &url.URL{Path: path}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: "auth.example.com", RemoteAddr: "127.0.0.1:50000", RequestURI: path,
		Header: http.Header{
			"Content-Type":    {"application/x-www-form-urlencoded"},
			"Accept-Encoding": {"gzip"},
			"User-Agent":      {"Go-http-client/1.1"},
		},
		ContentLength: int64(len(body)),
	}
	return br
}

// next readies the request for one ServeHTTP call.
func (br *benchRequest) next() *http.Request {
	repl := caddy.NewReplacer()
	ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	r := br.base.WithContext(ctx)
	br.body.Reset(br.data)
	r.Body = &br.body
	return r
}

type handlerCase struct {
	name     string
	method   string
	path     string
	upstream *upstreamHandler
	// direct skips token_enrich: the baseline
	direct bool
	// want is a substring the response must have (enriched or not)
	want string
}

func handlerCases(tb testing.TB, body []byte) []handlerCase {
	gz := testcompress.Gzip(tb, body)
	errBody := []byte(`{"error":"access_denied","error_description":"Unauthorized"}`)
	errUp := &upstreamHandler{status: http.StatusUnauthorized, body: errBody,
		header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(errBody))}}}
	return []handlerCase{
		{name: "baseline-proxy-only", method: http.MethodPost, path: "/oauth/token", upstream: tokenUpstream(body, ""), direct: true, want: `"token_type":"Bearer"}`},
		{name: "passthrough-other-path", method: http.MethodPost, path: "/api/orders", upstream: tokenUpstream(body, ""), want: `"token_type":"Bearer"}`},
		{name: "passthrough-GET", method: http.MethodGet, path: "/oauth/token", upstream: tokenUpstream(body, ""), want: `"token_type":"Bearer"}`},
		{name: "token-path-error-response", method: http.MethodPost, path: "/oauth/token", upstream: errUp, want: `access_denied`},
		{name: "enriched", method: http.MethodPost, path: "/oauth/token", upstream: tokenUpstream(body, ""), want: `"plan":"gold"}`},
		{name: "enriched-gzip-upstream", method: http.MethodPost, path: "/oauth/token", upstream: tokenUpstream(gz, "gzip"), want: `"plan":"gold"}`},
	}
}

func BenchmarkHandler(b *testing.B) {
	h := newBenchHandler(b, benchConfig)
	body := benchTokenBody()
	for _, c := range handlerCases(b, body) {
		b.Run(c.name, func(b *testing.B) {
			req := newBenchRequest(c.method, c.path, benchTokenRequest)
			w := &benchWriter{h: http.Header{}}
			serve := func() {
				w.reset()
				r := req.next()
				var err error
				if c.direct {
					err = c.upstream.ServeHTTP(w, r)
				} else {
					err = h.ServeHTTP(w, r, c.upstream)
				}
				if err != nil || w.n == 0 {
					b.Fatalf("err %v, %d bytes", err, w.n)
				}
			}
			serve()
			if !bytes.Contains(w.first, []byte(c.want)) {
				b.Fatalf("response lacks %q:\n%s", c.want, w.first)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				serve()
			}
		})
	}
}

// TestHandlerBenchCases checks that the benchmark measures what it claims:
// the enriched case is enriched, the others are the upstream's bytes.
func TestHandlerBenchCases(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	body := benchTokenBody()
	for _, c := range handlerCases(t, body) {
		req := newBenchRequest(c.method, c.path, benchTokenRequest)
		w := &benchWriter{h: http.Header{}}
		var err error
		if c.direct {
			err = c.upstream.ServeHTTP(w, req.next())
		} else {
			err = h.ServeHTTP(w, req.next(), c.upstream)
		}
		if err != nil || !bytes.Contains(w.first, []byte(c.want)) {
			t.Fatalf("%s: err %v body %s", c.name, err, w.first)
		}
		enriched := strings.HasPrefix(c.name, "enriched")
		if got := bytes.Contains(w.first, []byte(`"api-uri":"https://eu.api.example.com"`)); got != enriched {
			t.Errorf("%s: enriched = %v", c.name, got)
		}
		if enriched && w.h.Get("Content-Length") != strconv.Itoa(w.n) {
			t.Errorf("%s: Content-Length %q for %d bytes", c.name, w.h.Get("Content-Length"), w.n)
		}
	}
}

// TestHandlerAllocs holds what token_enrich allocates per request, over the
// harness's own allocations (the baseline case), to ceilings: nothing on a
// request it does not act on; on a token request answered with an error,
// four (the exchange, the {http.token.*} provider and its place in the
// replacer, and the request body's text); on an enriched one, eight:
// those four, the engine's three (the Response, the token payload's text
// and a decoded audience), and the Content-Length header's text (its list
// is room in what outlives ServeHTTP).
// The upstream's body is read where it lies, and the output is spliced
// into a pooled buffer; the bytes allocated are held to a ceiling too,
// since one buffer that escapes to the heap costs more than a dozen
// small allocations.
// Not timed; skipped under the race detector, which makes sync.Pool drop
// items at random.
func TestHandlerAllocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	h := newBenchHandler(t, benchConfig)
	body := benchTokenBody()
	allocs, bytes := map[string]float64{}, map[string]float64{}
	for _, c := range handlerCases(t, body) {
		req := newBenchRequest(c.method, c.path, benchTokenRequest)
		w := &benchWriter{h: http.Header{}}
		run := func() {
			w.reset()
			if c.direct {
				_ = c.upstream.ServeHTTP(w, req.next())
			} else {
				_ = h.ServeHTTP(w, req.next(), c.upstream)
			}
		}
		allocs[c.name] = testing.AllocsPerRun(200, run)
		// whole bytes per run, as AllocsPerRun counts whole allocations
		bytes[c.name] = float64(testenv.AllocDuring(func() {
			for range 1000 {
				run()
			}
		}) / 1000)
	}
	base, baseBytes := allocs["baseline-proxy-only"], bytes["baseline-proxy-only"]
	for name, budget := range map[string]struct{ allocs, bytes float64 }{
		"passthrough-other-path":    {0, 0},
		"passthrough-GET":           {0, 0},
		"token-path-error-response": {4, 448},
		"enriched":                  {8, 1216},
	} {
		extra, extraBytes := allocs[name]-base, bytes[name]-baseBytes
		if extra > budget.allocs || extraBytes > budget.bytes {
			t.Errorf("%s: %.0f allocations and %.0f bytes over the baseline, budget %.0f and %.0f", name, extra, extraBytes, budget.allocs, budget.bytes)
		} else {
			t.Logf("%s: %.0f allocations and %.0f bytes over the baseline (budget %.0f and %.0f)", name, extra, extraBytes, budget.allocs, budget.bytes)
		}
	}
}
