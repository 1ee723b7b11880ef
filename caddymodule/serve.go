package caddymodule

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.matches(r) {
		return next.ServeHTTP(w, r)
	}
	x := new(exchange)
	treq := x.readTokenRequest(r)
	narrowAcceptEncoding(r.Header)

	raw := bufPool.Get().(*bytes.Buffer)
	defer putBuf(raw)
	rec := &x.rec
	rec.init(&x.wrap, w, raw, h.MaxBody, h)

	if err := serveNext(rec, r, next); err != nil {
		if rec.buffering {
			// the handler chain failed after the upstream answered: send
			// what it sent, as it sent it
			_ = rec.writeRaw()
		}
		return err
	}
	if !rec.wroteHeader {
		return nil // nothing written; let Caddy finish as usual
	}
	if !rec.buffering {
		if rec.spilled {
			countTooLarge.Inc()
			h.debug("token response larger than max_body passed through", zap.Int64("max_body", h.MaxBody))
		} else {
			countStreamed.Inc()
		}
		return nil
	}
	return h.finish(rec, r, &treq)
}

// exchange is the state of one token request the handler acts on, in a
// single allocation: the response recorder and its wrapper, the replayed
// request body and the memory its parameters are parsed into. It is never
// pooled or reused: reverse_proxy holds the request body, and the
// {http.token.*} placeholders the parameters, possibly after ServeHTTP
// returns (access logs); the GC frees it.
type exchange struct {
	rec     boundedRecorder
	wrap    caddyhttp.ResponseWriterWrapper
	body    replayBody
	scratch enrichers.RequestScratch
	// bodyBuf holds the request body when it fits.
	bodyBuf [256]byte
}

// result is what finish keeps of an enrichment, in one allocation made
// only for a response worth enriching (an error response does not pay for
// it): the outcome, whose identity the placeholders read (so it is never
// pooled either), and the enriched response's Content-Length header value
// with its text, which saves Header.Set's slice and the number's string.
type result struct {
	out           enrichers.Outcome
	contentLength [1]string
	clText        [20]byte
}

// serveNext runs the rest of the chain. reverse_proxy panics with
// http.ErrAbortHandler when the upstream fails mid-body; the bytes already
// received are sent first so the client sees what a plain proxy would show:
// the partial response, then the aborted connection.
func serveNext(rec *boundedRecorder, r *http.Request, next caddyhttp.Handler) error {
	defer func() {
		if p := recover(); p != nil {
			if rec.buffering {
				_ = rec.writeRaw()
				//nolint:bodyclose
				_ = http.NewResponseController(rec.ResponseWriterWrapper).Flush()
			}
			panic(p)
		}
	}()
	return next.ServeHTTP(rec, r)
}

// shouldBuffer decides, from the upstream's status and headers, whether the
// response may be a token response worth buffering.
func (h *Handler) shouldBuffer(status int, hdr http.Header) bool {
	if status < 200 || status > 299 || status == http.StatusNoContent || status == http.StatusResetContent {
		return false
	}
	if !enrichers.IsJSONMediaType(headerValue(hdr, "Content-Type")) {
		return false
	}
	if _, ok := hdr["Trailer"]; ok {
		return false
	}
	if cl := headerValue(hdr, "Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n > h.MaxBody {
			return false
		}
	}
	return enrichers.CanDecode(headerValue(hdr, "Content-Encoding"))
}

// finish decodes, enriches and writes a buffered response.
func (h *Handler) finish(rec *boundedRecorder, r *http.Request, treq *enrichers.TokenRequest) error {
	hdr := rec.Header()
	// Trailers the upstream did not announce reach the header map (as
	// http.TrailerPrefix keys) only after the body, too late for
	// shouldBuffer. Treat them like announced ones: pass the response on
	// untouched, trailers included. An enriched body needs a
	// Content-Length, which would drop them, and a digest trailer would no
	// longer match it.
	if rec.mayHaveTrailers() {
		for k := range hdr {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				countStreamed.Inc()
				h.debug("token response with trailers passed through unchanged")
				return rec.writeRaw()
			}
		}
	}
	coding := headerValue(hdr, "Content-Encoding")
	body := rec.buf.Bytes()
	if coding != "" && coding != "identity" {
		plain := slicePool.Get().(*[]byte)
		defer putSlice(plain)
		dec, err := enrichers.DecodeBody((*plain)[:0], coding, body, h.MaxBody)
		*plain = dec
		if err != nil {
			return h.cannotEnrich(rec, "decoding "+coding+" body", err)
		}
		body = dec
	}

	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	var resolve enrichers.Resolver
	if repl != nil {
		resolve = resolver(repl)
	}
	res := &result{out: enrichers.Outcome{WantNames: h.logger.Core().Enabled(zapcore.DebugLevel)}}
	out := &res.out
	outBuf := slicePool.Get().(*[]byte)
	defer putSlice(outBuf)
	enriched, err := h.enricher.Enrich((*outBuf)[:0], body, treq, resolve, out)
	*outBuf = enriched
	if err != nil {
		return h.cannotEnrich(rec, "enriching", err)
	}
	if out.Status != enrichers.StatusNotToken && repl != nil {
		setPlaceholders(repl, &out.Identity)
	}
	if out.Status != enrichers.StatusNotToken && out.Identity.RequestClientID != "" &&
		out.Identity.ClientID != out.Identity.RequestClientID {
		h.debug("client id in token differs from request; using the token's",
			zap.String("token_client", out.Identity.ClientID), zap.String("request_client", out.Identity.RequestClientID))
	}
	if out.Status != enrichers.StatusEnriched {
		if ce := h.logger.Check(zapcore.DebugLevel, "token response passed through unchanged"); ce != nil {
			reason := "no field applies"
			if out.Status == enrichers.StatusNotToken {
				reason = "not a token response (no string access_token)"
			}
			ce.Write(zap.String("reason", reason), zap.String("client", out.Identity.ClientID))
		}
		if out.Status == enrichers.StatusNotToken {
			countNotToken.Inc()
		} else {
			countUnchanged.Inc()
		}
		return rec.writeRaw()
	}
	id := &out.Identity
	if ce := h.logger.Check(zapcore.DebugLevel, "token response enriched"); ce != nil {
		ce.Write(zap.String("client", id.ClientID), zap.String("audience", id.Audience()),
			zap.String("tenant", id.Tenant), zap.String("token_format", id.Format.String()), zap.String("preset", id.Preset),
			zap.Strings("added", out.Added), zap.Int("kept_upstream", out.Kept))
	}
	// delete, not Del: the keys are written in canonical form ("Etag",
	// not "ETag", is how http.Header stores an ETag)
	if coding != "" {
		delete(hdr, "Content-Encoding")
	}
	delete(hdr, "Etag")
	cl := strconv.AppendInt(res.clText[:0], int64(len(enriched)), 10)
	res.contentLength[0] = unsafe.String(&cl[0], len(cl))
	hdr["Content-Length"] = res.contentLength[:]
	countEnriched.Inc()
	rec.buffering = false
	rec.ResponseWriterWrapper.WriteHeader(rec.status)
	_, err = rec.ResponseWriterWrapper.Write(enriched)
	return err
}

// cannotEnrich handles a response that should have been enriched but could
// not be: on_error pass sends it unchanged, on_error fail answers 502.
func (h *Handler) cannotEnrich(rec *boundedRecorder, what string, err error) error {
	if !h.failMode {
		countErrorPassed.Inc()
		h.logger.Warn("token response passed through unchanged", zap.String("reason", what), zap.Error(err))
		return rec.writeRaw()
	}
	countErrorFailed.Inc()
	h.logger.Warn("token response replaced by an error (on_error fail)", zap.String("reason", what), zap.Error(err))
	hdr := rec.Header()
	for _, k := range []string{"Content-Encoding", "Content-Length", "ETag", "Vary"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	body := []byte(`{"error":"server_error","error_description":"the token response from the identity provider could not be processed"}`)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	rec.buffering = false
	rec.ResponseWriterWrapper.WriteHeader(http.StatusBadGateway)
	_, werr := rec.ResponseWriterWrapper.Write(body)
	return werr
}

func (h *Handler) debug(msg string, fields ...zap.Field) {
	if ce := h.logger.Check(zapcore.DebugLevel, msg); ce != nil {
		ce.Write(fields...)
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var slicePool = sync.Pool{New: func() any { return new([]byte) }}

func putSlice(b *[]byte) {
	if cap(*b) > 4<<20 {
		return
	}
	*b = (*b)[:0]
	slicePool.Put(b)
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return
	}
	b.Reset()
	bufPool.Put(b)
}
