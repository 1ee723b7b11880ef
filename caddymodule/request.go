package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// readTokenRequest learns the token request's parameters without changing
// what the upstream receives: it reads at most maxRequestBody bytes and puts
// the body back, byte-identical, with the same ContentLength (so a chunked
// request stays chunked). A larger body is forwarded intact and only the
// Basic client id is taken from the request.
func readTokenRequest(r *http.Request) enrichers.TokenRequest {
	user, _, _ := r.BasicAuth()
	if r.Body == nil || r.Body == http.NoBody {
		return enrichers.ParseTokenRequest("", nil, user)
	}
	buf := make([]byte, 0, min(max(r.ContentLength, 512), maxRequestBody+1))
	b := bytes.NewBuffer(buf)
	_, err := b.ReadFrom(io.LimitReader(r.Body, maxRequestBody+1))
	body := b.Bytes()
	orig := r.Body
	switch {
	case err != nil:
		// replay what was read, then the same error
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), errReader{err}), closer: orig}
		return enrichers.ParseTokenRequest("", nil, user)
	case len(body) > maxRequestBody:
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), orig), closer: orig}
		return enrichers.ParseTokenRequest("", nil, user)
	}
	r.Body = &replayBody{Reader: bytes.NewReader(body), closer: orig}
	return enrichers.ParseTokenRequest(r.Header.Get("Content-Type"), body, user)
}

// replayBody serves buffered bytes (and possibly the rest of the original
// body) while closing the original body.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (rb *replayBody) Close() error { return rb.closer.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// narrowAcceptEncoding limits the codings the upstream may use to those the
// client accepts and this module can decode, so that a response passed
// through untouched is still one the client can read, and one the module can
// enrich. It also stops Go's transport from asking for gzip on its own (and
// decoding it, which fails mid-body when an upstream's Content-Encoding
// lies): with no acceptable coding it sends "identity".
func narrowAcceptEncoding(h http.Header) {
	vals := h.Values("Accept-Encoding")
	if len(vals) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	var keep []string
	changed, star := false, false
	seen := map[string]bool{}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "*" {
				changed = true
				if !rejected(params) {
					star = true
				}
				continue
			}
			if coding != "identity" && !enrichers.CanDecode(coding) {
				changed = true
				continue
			}
			seen[coding] = true
			keep = append(keep, part)
		}
	}
	if star {
		for _, c := range enrichers.DecodableCodings {
			if !seen[c] {
				keep = append(keep, c)
			}
		}
	}
	if !changed {
		return
	}
	if len(keep) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	h.Set("Accept-Encoding", strings.Join(keep, ", "))
}

// rejected reports whether coding parameters carry q=0.
func rejected(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			v = strings.TrimSpace(v)
			return strings.Trim(v, "0.") == "" && v != ""
		}
	}
	return false
}
