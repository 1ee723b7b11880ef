package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// boundedRecorder buffers a response for enrichment, but only while it stays
// within limit bytes. It decides once, at WriteHeader, whether to buffer; past
// the limit it spills what it holds to the client and streams the rest, so a
// large or unbounded body never sits in memory. caddyhttp.NewResponseRecorder
// has no such bound, hence this small wrapper.
type boundedRecorder struct {
	*caddyhttp.ResponseWriterWrapper
	buf    *bytes.Buffer
	limit  int64
	decide bufferDecider

	status      int
	wroteHeader bool
	buffering   bool
	spilled     bool
	// flushed: a flush was asked for while buffering; headerLen: the
	// number of header keys when buffering began. Either hints that
	// trailers may have reached the header map (see mayHaveTrailers).
	flushed   bool
	headerLen int
}

// bufferDecider says, from the status and headers, whether to buffer. An
// interface rather than a func so that passing the handler's method does
// not allocate a method value per request.
type bufferDecider interface {
	shouldBuffer(status int, header http.Header) bool
}

// init readies br to record into buf for w, through wrap (br's embedded
// wrapper, which the caller allocates along with br).
func (br *boundedRecorder) init(wrap *caddyhttp.ResponseWriterWrapper, w http.ResponseWriter, buf *bytes.Buffer,
	limit int64, decide bufferDecider) {
	wrap.ResponseWriter = w
	*br = boundedRecorder{
		ResponseWriterWrapper: wrap,
		buf:                   buf,
		limit:                 limit,
		decide:                decide,
	}
}

// WriteHeader decides whether to buffer. 1xx responses pass straight through.
func (br *boundedRecorder) WriteHeader(status int) {
	if br.wroteHeader {
		return
	}
	if status >= 100 && status <= 199 {
		br.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	br.status = status
	br.wroteHeader = true
	hdr := br.Header()
	br.buffering = br.decide.shouldBuffer(status, hdr)
	br.headerLen = len(hdr)
	if !br.buffering {
		br.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	// a declared length (within the limit, or shouldBuffer said no) is
	// room taken once, instead of doubling up to it
	if n, err := strconv.ParseInt(header(hdr, "Content-Length"), 10, 64); err == nil && n > 0 && n <= br.limit {
		br.buf.Grow(int(n))
	}
}

// Write buffers while within the limit, else streams.
func (br *boundedRecorder) Write(p []byte) (int, error) {
	if !br.wroteHeader {
		br.WriteHeader(http.StatusOK)
	}
	if !br.buffering {
		return br.ResponseWriterWrapper.Write(p)
	}
	if int64(br.buf.Len()+len(p)) > br.limit {
		if err := br.spill(); err != nil {
			return 0, err
		}
		return br.ResponseWriterWrapper.Write(p)
	}
	return br.buf.Write(p)
}

// ReadFrom must not be promoted from the wrapper: that would bypass the
// buffer. Streaming mode keeps the fast path.
func (br *boundedRecorder) ReadFrom(r io.Reader) (int64, error) {
	if !br.wroteHeader {
		br.WriteHeader(http.StatusOK)
	}
	if !br.buffering {
		return br.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{br}, r)
}

// FlushError is a no-op while buffering, which is what makes the proxy's
// flushes safe; once streaming it flushes the client connection.
func (br *boundedRecorder) FlushError() error {
	if br.buffering {
		br.flushed = true
		return nil
	}
	//nolint:bodyclose
	return http.NewResponseController(br.ResponseWriterWrapper).Flush()
}

// mayHaveTrailers reports whether trailers may have been added to the
// header map while the body was buffered. reverse_proxy flushes before it
// copies an upstream's trailers, and a handler adding one adds a key; when
// neither happened, the header map need not be searched for
// http.TrailerPrefix keys. Only a handler that deletes a header and adds a
// trailer in its place, without flushing, would go unseen; none of Caddy's
// does.
func (br *boundedRecorder) mayHaveTrailers() bool {
	return br.flushed || len(br.Header()) != br.headerLen
}

// spill sends the status line and what is buffered so far to the client and
// switches to streaming. The headers are the upstream's, untouched.
func (br *boundedRecorder) spill() error {
	br.buffering = false
	br.spilled = true
	br.ResponseWriterWrapper.WriteHeader(br.status)
	_, err := br.ResponseWriterWrapper.Write(br.buf.Bytes())
	br.buf.Reset()
	return err
}

// writeRaw sends a buffered response exactly as the upstream sent it.
func (br *boundedRecorder) writeRaw() error {
	br.buffering = false
	br.ResponseWriterWrapper.WriteHeader(br.status)
	_, err := br.ResponseWriterWrapper.Write(br.buf.Bytes())
	return err
}

// writerOnly hides ReadFrom so io.Copy goes through Write.
type writerOnly struct{ io.Writer }

// hasTrailers reports whether trailers reached the header map (as
// http.TrailerPrefix keys) while the body was buffered: trailers the
// upstream did not announce arrive only after the body, too late for
// shouldBuffer. Such a response passes on untouched, trailers included:
// an enriched body needs a Content-Length, which would drop them, and a
// digest trailer would no longer match it.
func (br *boundedRecorder) hasTrailers() bool {
	if !br.mayHaveTrailers() {
		return false
	}
	for k := range br.Header() {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// isStale reports whether the header named k (canonical) describes the
// upstream's body and is false of an enriched one: its entity tag and its
// digests. They are dropped when the body changes, and so is the content
// coding, which the enriched body no longer has.
func isStale(k string) bool {
	switch k {
	case "Etag", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest", "Content-Encoding":
		return true
	}
	return false
}

// writeBody sends body in place of the upstream's, with the upstream's
// status and headers, less those that describe the old body. cl is the
// room of its Content-Length header, which must outlive the handler.
func (br *boundedRecorder) writeBody(body []byte, cl *[1]string) error {
	hdr := br.Header()
	// One walk of the map, which holds a few headers, costs less than a
	// lookup of each stale header, which it mostly lacks. Content-Length
	// gets a list of its own, cl: the upstream's may be shared by
	// whatever set it, so it is replaced, never written into.
	for k := range hdr {
		if isStale(k) {
			delete(hdr, k)
		}
	}
	cl[0] = strconv.Itoa(len(body))
	hdr["Content-Length"] = cl[:]
	br.buffering = false
	br.ResponseWriterWrapper.WriteHeader(br.status)
	_, err := br.ResponseWriterWrapper.Write(body)
	return err
}

// writeFailure replaces the response by on_error fail's 502 answer.
func (br *boundedRecorder) writeFailure() error {
	hdr := br.Header()
	for _, k := range []string{"Content-Encoding", "Content-Length", "Etag", "Vary"} {
		delete(hdr, k)
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Content-Length", strconv.Itoa(len(failBody)))
	br.buffering = false
	br.ResponseWriterWrapper.WriteHeader(http.StatusBadGateway)
	_, err := br.ResponseWriterWrapper.Write(failBody)
	return err
}
