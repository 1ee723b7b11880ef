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
	// keys may have reached the header map (see headerMayHaveChanged).
	flushed   bool
	headerLen int
	// head is what the token path reads of the upstream's headers, as
	// they stood at WriteHeader
	head upstreamHeader
}

// upstreamHeader is what the token path reads of the upstream's headers,
// gathered by one walk of the header map: a token response carries a
// handful of headers, and one walk of them costs less than a lookup of
// each header read. The keys are matched as the map holds them,
// canonical, as header() looks them up.
type upstreamHeader struct {
	contentType, contentEncoding string
	// length is the declared Content-Length, -1 when there is none, and
	// badLength says one was declared that is not a length
	length    int64
	badLength bool
	// contentRange: a non-empty Content-Range; trailer: a Trailer key;
	// stale: a header isStale names
	contentRange, trailer, stale bool
}

// read gathers h into u.
func (u *upstreamHeader) read(h http.Header) {
	*u = upstreamHeader{length: -1}
	for k, v := range h {
		switch k {
		case "Content-Type":
			u.contentType = first(v)
		case "Content-Encoding": // stale, too
			u.contentEncoding, u.stale = first(v), true
		case "Content-Length":
			if cl := first(v); cl != "" {
				n, err := strconv.ParseInt(cl, 10, 64)
				u.length, u.badLength = n, err != nil
			}
		case "Content-Range":
			u.contentRange = first(v) != ""
		case "Trailer":
			u.trailer = true
		default:
			u.stale = u.stale || isStale(k)
		}
	}
}

// bufferDecider says, from the status and headers, whether to buffer. An
// interface rather than a func so that passing the handler's method does
// not allocate a method value per request.
type bufferDecider interface {
	shouldBuffer(status int, header *upstreamHeader) bool
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
	br.head.read(hdr)
	br.buffering = br.decide.shouldBuffer(status, &br.head)
	br.headerLen = len(hdr)
	if !br.buffering {
		br.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	// a declared length (within the limit, or shouldBuffer said no) is
	// room taken once, instead of doubling up to it
	if n := br.head.length; n > 0 && n <= br.limit {
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

// headerMayHaveChanged reports whether keys may have been added to the
// header map while the body was buffered: trailers, or a stale header set
// late. reverse_proxy flushes before it copies an upstream's trailers, and
// a handler adding a header adds a key; when neither happened, the map
// need not be searched again. Only a handler that deletes a header and
// adds another in its place, without flushing, would go unseen; none of
// Caddy's does.
func (br *boundedRecorder) headerMayHaveChanged() bool {
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
	if !br.headerMayHaveChanged() {
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
	// The stale headers are looked for by one walk of the map, which
	// holds a few headers and mostly none of them, and only when the walk
	// at WriteHeader saw one or the map may have changed since.
	// Content-Length gets a list of its own, cl: the upstream's may be
	// shared by whatever set it, so it is replaced, never written into.
	if br.head.stale || br.headerMayHaveChanged() {
		for k := range hdr {
			if isStale(k) {
				delete(hdr, k)
			}
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
