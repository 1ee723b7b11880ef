package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
)

// readTokenRequest keeps what the token request says about its client
// without changing what the upstream receives: it reads at most
// maxRequestBody bytes and puts the body back, byte-identical, with the same
// ContentLength (so a chunked request stays chunked). A larger body is
// forwarded intact and only the Basic client id is kept. The parameters are
// parsed later, by tokenRequest, and only for a token response. The body
// is read into scratch, when it fits, and kept as one string: nothing
// of scratch is kept.
func (x *exchange) readTokenRequest(r *http.Request, scratch []byte) {
	if _, ok := r.Header["Authorization"]; ok {
		x.basicUser, _, _ = r.BasicAuth()
	}
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	orig := r.Body
	rb := &x.kept.body
	rb.closer = orig
	body, err := readAtMost(r.Body, maxRequestBody+1, r.ContentLength, scratch[:0])
	r.Body = rb
	switch {
	case err != nil:
		// replay what was read, then the same error
		rb.Reader = io.MultiReader(bytes.NewReader(bytes.Clone(body)), errReader{err})
		return
	case len(body) > maxRequestBody:
		rb.Reader = io.MultiReader(bytes.NewReader(bytes.Clone(body)), orig)
		return
	}
	// the one string the upstream's replay and the engine both read
	x.params, x.paramsType = string(body), header(r.Header, "Content-Type")
	rb.buf.Reset(x.params)
	rb.Reader = &rb.buf
}

// readAtMost reads r until EOF or until n bytes have been read, like
// bytes.Buffer.ReadFrom(io.LimitReader(r, n)). It reads into buf when the
// request's ContentLength (or, when unknown, 512 bytes) fits, else into a
// buffer of exactly that size, so that a token request costs at most one
// small allocation. EOF is not an error.
func readAtMost(r io.Reader, n, contentLength int64, buf []byte) ([]byte, error) {
	size := int64(512)
	if contentLength >= 0 {
		size = contentLength + 1 // room to see EOF without growing
	}
	if size = min(size, n); size > int64(cap(buf)) {
		buf = make([]byte, 0, size)
	}
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), n-int64(len(buf)))))
		}
		m, err := r.Read(buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// header is h.Get(key) for a key in canonical form, as every key the
// token path reads is: Get canonicalises the key it is given, which costs
// more than the lookup itself.
func header(h http.Header, key string) string { return first(h[key]) }

// first is a header's first value, "" when it has none.
func first(v []string) string {
	if len(v) > 0 {
		return v[0]
	}
	return ""
}

// replayBody serves buffered bytes (and possibly the rest of the original
// body) while closing the original body. buf reads the whole body, read
// as the exchange's params, in the common case.
type replayBody struct {
	io.Reader
	closer io.Closer
	buf    strings.Reader
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
	vals := h["Accept-Encoding"]
	if len(vals) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	if len(vals) == 1 && (vals[0] == "identity" || slices.Contains(decodableCodings, vals[0])) {
		return // one coding the module decodes, as clients send it
	}
	var keepArr [8]string
	keep := keepArr[:0]
	changed, star := false, false
	var seen uint64 // bit i: decodableCodings[i] is kept
	for _, v := range vals {
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
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
			if coding != "identity" && !canDecode(coding) {
				changed = true
				continue
			}
			seen |= decodableBit(coding)
			keep = append(keep, part)
		}
	}
	if star {
		for i, c := range decodableCodings {
			if seen&(1<<i) == 0 {
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

// decodableBit is the bit of coding's index in decodableCodings,
// 0 if it is not there.
func decodableBit(coding string) uint64 {
	for i, c := range decodableCodings {
		if c == coding {
			return 1 << i
		}
	}
	return 0
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
