package caddymodule

import (
	"bytes"
	"io"
	"net/http"

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
	br.buffering = br.decide.shouldBuffer(status, br.Header())
	if !br.buffering {
		br.ResponseWriterWrapper.WriteHeader(status)
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
		return nil
	}
	//nolint:bodyclose
	return http.NewResponseController(br.ResponseWriterWrapper).Flush()
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
