package caddymodule

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestTrailersAfterTheBody covers what a handler after token_enrich may do
// to the header map once the body is written: trailers (with or without a
// flush first, the way reverse_proxy copies an upstream's) make the
// response pass unchanged; a flush alone or a late ordinary header does
// not stop the enrichment. The trailer search is skipped only when there
// was neither a flush nor a new header key, so each case here has to take
// the right branch.
func TestTrailersAfterTheBody(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	body := benchTokenBody()
	for _, c := range []struct {
		name         string
		flush        bool
		late         string // header key added after the body
		drop         string // header key deleted after the body
		wantEnriched bool
	}{
		{name: "nothing after the body", wantEnriched: true},
		{name: "flush only", flush: true, wantEnriched: true},
		{name: "ordinary header after the body", late: "X-Late", wantEnriched: true},
		{name: "trailer without a flush", late: http.TrailerPrefix + "X-Checksum"},
		{name: "flush, then trailer", flush: true, late: http.TrailerPrefix + "X-Checksum"},
		// as many keys as before: only the flush tells
		{name: "flush, then a header swapped for a trailer", flush: true, drop: "Content-Type",
			late: http.TrailerPrefix + "X-Checksum"},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				hdr := w.Header()
				hdr.Set("Content-Type", "application/json")
				hdr.Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(http.StatusOK)
				if _, err := w.Write(body); err != nil {
					return err
				}
				if c.flush {
					if err := http.NewResponseController(w).Flush(); err != nil {
						return err
					}
				}
				if c.drop != "" {
					hdr.Del(c.drop)
				}
				if c.late != "" {
					hdr.Set(c.late, "sha256=abc")
				}
				return nil
			})
			w := httptest.NewRecorder()
			req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest).next()
			if err := h.ServeHTTP(w, req, next); err != nil {
				t.Fatal(err)
			}
			got := w.Body.Bytes()
			enriched := bytes.Contains(got, []byte(`"api-uri":`))
			if enriched != c.wantEnriched {
				t.Fatalf("enriched = %v, want %v: %s", enriched, c.wantEnriched, got)
			}
			if !enriched && !bytes.Equal(got, body) {
				t.Fatalf("passed through with changes:\n got %s\nwant %s", got, body)
			}
		})
	}
}

// TestEnrichedResponseLeavesUpstreamHeaderListsAlone: the handler before
// token_enrich may set header lists it shares between responses (the
// harness's upstream does, as a static handler could): an enriched
// response replaces Content-Length with a list of its own and drops the
// stale headers from its map, and writes into none of those lists.
func TestEnrichedResponseLeavesUpstreamHeaderListsAlone(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	body := benchTokenBody()
	up := tokenUpstream(body, "")
	up.header["Etag"] = []string{`"v1"`}
	want := up.header.Clone()
	req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest)
	for range 2 {
		w := &benchWriter{h: http.Header{}}
		if err := h.ServeHTTP(w, req.next(), up); err != nil {
			t.Fatal(err)
		}
		if w.n <= len(body) || w.h.Get("Content-Length") != strconv.Itoa(w.n) || w.h.Get("Etag") != "" {
			t.Fatalf("not enriched as expected: %d bytes, Content-Length %q, Etag %q", w.n, w.h.Get("Content-Length"), w.h.Get("Etag"))
		}
		for k, v := range want {
			if got := up.header[k]; !slices.Equal(got, v) {
				t.Fatalf("the upstream's %s list became %q, was %q", k, got, v)
			}
		}
	}
}
