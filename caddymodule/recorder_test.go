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
		after        afterTheBody
		wantEnriched bool
	}{
		{name: "nothing after the body", wantEnriched: true},
		{name: "flush only", after: afterTheBody{flush: true}, wantEnriched: true},
		{name: "ordinary header after the body", after: afterTheBody{late: "X-Late"}, wantEnriched: true},
		{name: "trailer without a flush", after: afterTheBody{late: http.TrailerPrefix + "X-Checksum"}},
		{name: "flush, then trailer", after: afterTheBody{flush: true, late: http.TrailerPrefix + "X-Checksum"}},
		// as many keys as before: only the flush tells
		{name: "flush, then a header swapped for a trailer",
			after: afterTheBody{flush: true, drop: "Content-Type", late: http.TrailerPrefix + "X-Checksum"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.after.serve(t, h, body)
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

// afterTheBody is what a handler after token_enrich does to the header
// map around a token response it answers: a header set before the status
// (early), then, once the body is written, a flush, a key deleted (drop)
// and a key set (late).
type afterTheBody struct {
	early, late, drop string
	flush             bool
}

// serve runs h in front of that handler answering body, for the token
// request of the benchmarks.
func (a afterTheBody) serve(t *testing.T, h *Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		hdr.Set("X-Upstream", "kept")
		if a.early != "" {
			hdr.Set(a.early, "identity") // a value every header named here accepts
		}
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(body); err != nil {
			return err
		}
		if a.flush {
			if err := http.NewResponseController(w).Flush(); err != nil {
				return err
			}
		}
		if a.drop != "" {
			hdr.Del(a.drop)
		}
		if a.late != "" {
			hdr.Set(a.late, "sha256=abc")
		}
		return nil
	})
	w := httptest.NewRecorder()
	req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest).next()
	if err := h.ServeHTTP(w, req, next); err != nil {
		t.Fatal(err)
	}
	return w
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

// TestStaleHeaderAfterTheBody: a header describing the upstream's bytes
// that a handler after token_enrich sets once the body is written is
// dropped from the enriched response, as one set before it is. The
// header map is searched again only when it may have changed since
// WriteHeader (a new key, or a flush), so each case takes one way in.
func TestStaleHeaderAfterTheBody(t *testing.T) {
	h := newBenchHandler(t, benchConfig)
	body := benchTokenBody()
	for _, c := range []struct {
		name  string
		after afterTheBody
	}{
		{name: "before the status", after: afterTheBody{early: "Etag"}},
		{name: "content coding before the status", after: afterTheBody{early: "Content-Encoding"}},
		{name: "after the body, a new key", after: afterTheBody{late: "Etag"}},
		{name: "after the body, a digest", after: afterTheBody{late: "Content-Digest"}},
		// as many keys as before: only the flush tells
		{name: "after a flush, in place of another", after: afterTheBody{late: "Etag", flush: true, drop: "X-Upstream"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.after.serve(t, h, body)
			got := w.Body.Bytes()
			if !bytes.Contains(got, []byte(`"api-uri":`)) {
				t.Fatalf("not enriched: %s", got)
			}
			for _, k := range []string{c.after.early, c.after.late} {
				if _, ok := w.Header()[k]; k != "" && ok {
					t.Errorf("enriched response kept %s: %q", k, w.Header()[k])
				}
			}
			if c.after.drop == "" && w.Header().Get("X-Upstream") != "kept" {
				t.Errorf("X-Upstream = %q, want kept", w.Header().Get("X-Upstream"))
			}
			if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(got)) {
				t.Errorf("Content-Length %q for %d bytes", cl, len(got))
			}
		})
	}
}
