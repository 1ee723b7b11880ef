package caddymodule

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// maxBodyFactor is the documented bound (docs/security.md, Size bounds) on the memory
// one token request takes: at most this many times max_body, plus the
// request bound. The copies are the raw body, its decoded form (a buffer
// that grows as it is decoded), the text gjson reads and the enriched
// output.
const maxBodyFactor = 5

// TestMemoryPerRequestIsBounded measures, with cold pools, everything a
// token request allocates while a response of nearly max_body is read,
// decoded, enriched and written: an upper bound on what it holds at once.
func TestMemoryPerRequestIsBounded(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	const maxBody = 1 << 20
	h := newBenchHandler(t, `{"max_body":`+strconv.Itoa(maxBody)+`,"fields":[{"name":"tenant","value":"{http.token.tenant}"}]}`)
	pad := strings.Repeat("a", maxBody-4096)
	tok := testjwt.Payload(`{"azp":"svc","org_id":"org_acme"}`)
	body := []byte(`{"access_token":"` + tok + `","pad":"` + pad + `"}`)
	for _, c := range []struct {
		name   string
		coding string
		data   []byte
	}{{"identity", "", body}, {"gzip", "gzip", testcompress.Gzip(t, body)}} {
		t.Run(c.name, func(t *testing.T) {
			up := tokenUpstream(c.data, c.coding)
			req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest)
			w := &benchWriter{h: http.Header{}, first: []byte{}} // keeps no copy
			r := req.next()
			// two collections empty sync.Pool: every buffer is new
			runtime.GC()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := h.ServeHTTP(w, r, up)
			runtime.ReadMemStats(&after)
			if err != nil || w.n <= len(body) {
				t.Fatalf("not enriched: err=%v, %d bytes out", err, w.n)
			}
			used := after.TotalAlloc - before.TotalAlloc
			bound := uint64(maxBodyFactor*maxBody + maxRequestBody)
			t.Logf("%s: %d bytes allocated for a %d-byte body (%.2f x max_body)", c.name, used, len(body), float64(used)/maxBody)
			if used > bound {
				t.Fatalf("%s: %d bytes allocated, bound %d", c.name, used, bound)
			}
		})
	}
}

// TestClientGoneStopsWork: when the client has gone by the time the
// response is buffered, the module neither reads nor writes it, and counts
// it as client_gone, nothing else.
func TestClientGoneStopsWork(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest)
	r := req.next()
	ctx, cancel := context.WithCancel(r.Context())
	r = r.WithContext(ctx)
	up := tokenUpstream(benchTokenBody(), "")
	w := &benchWriter{h: http.Header{}}
	gone := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		err := up.ServeHTTP(w, r)
		cancel() // the client hangs up as the upstream finishes
		return err
	})
	// processed counts the responses by whether they were counted as gone
	processed := func() (n, gone float64) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(responsesTotal)
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				if m.GetLabel()[0].GetValue() == "client_gone" {
					gone += m.GetCounter().GetValue()
				} else {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n, gone
	}
	before, goneBefore := processed()
	if err := h.ServeHTTP(w, r, gone); err != nil {
		t.Fatal(err)
	}
	if w.status != 0 || w.n != 0 {
		t.Fatalf("wrote %d bytes, status %d, to a client that is gone", w.n, w.status)
	}
	if after, goneAfter := processed(); after != before || goneAfter != goneBefore+1 {
		t.Fatalf("the response was processed: %v -> %v, or not counted as gone: %v -> %v", before, after, goneBefore, goneAfter)
	}
}
