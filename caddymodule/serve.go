package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler. A token request flows
// one way: the request is read (identity parameters), the upstream's
// response is buffered, the engine reads and identifies it, the identity
// is published as {http.token.*} placeholders, and only then are the
// fields rendered, so that Caddy (map, vars, any placeholder module) can
// compute values from the identity that the fields use.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	ok, introspection := h.matches(r)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	x := &exchange{introspection: introspection}
	x.readTokenRequest(r)
	narrowAcceptEncoding(r.Header)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		// known, and empty, until a token response names the identity
		repl.Map(x.placeholder)
	}
	x.logger = h.logger

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
	return h.finish(x, r, repl)
}

// exchange is the state of one token request the handler acts on: the
// response recorder and its wrapper, the replayed request body, and the
// identity the placeholders read. It is never pooled or reused:
// reverse_proxy holds the request body, and the placeholders the
// identity, possibly after ServeHTTP returns (access logs).
type exchange struct {
	rec  boundedRecorder
	wrap caddyhttp.ResponseWriterWrapper
	// introspection: the request matched introspection_paths, and its
	// response is read as an RFC 7662 introspection response
	introspection bool
	body          replayBody
	// bodyBuf holds the request body when it fits.
	bodyBuf [256]byte
	// The token request's parameters as sent: a form or JSON body of
	// paramsType, and the Basic user.
	params                []byte
	paramsType, basicUser string
	// audience is room for the one audience a token request names, as a
	// rule; Read keeps the request's strings, so the list cannot be on
	// the stack
	audience [1]string
	// text holds the strings the exchange keeps (keep): the request's
	// parameters, the text of the response body the engine reads and the
	// enriched response's Content-Length value, in one allocation
	text strings.Builder
	// resp is the token response, once it is read: its identity and what
	// the sources found. It points to response, which the exchange holds
	// because the placeholders read it for as long as they read the
	// exchange.
	resp     *enrichers.Response
	response enrichers.Response
	logger   *zap.Logger
	// contentLength is the enriched response's Content-Length header value.
	contentLength [1]string
}

// noResponse answers which placeholders are known before a token response
// is read: every value of it is empty. It is only read.
var noResponse enrichers.Response

// placeholder is the {http.token.*} provider of the request's replacer.
// Every name the engine knows is known, and empty until the token response
// is read. A value holding control characters is withheld: in a header
// it would break the response for every client.
func (x *exchange) placeholder(key string) (any, bool) {
	name, ok := strings.CutPrefix(key, enrichers.PlaceholderPrefix)
	if !ok {
		return nil, false
	}
	if x.resp == nil {
		_, known := noResponse.Placeholder(name)
		return "", known
	}
	v, known, withheld := x.resp.SafePlaceholder(name)
	if withheld {
		x.logger.Warn("placeholder value withheld: it holds control characters", zap.String("placeholder", key))
	}
	return v, known
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
// response may be a token response worth buffering: a whole (not partial)
// 2xx UTF-8 JSON body, without trailers, within max_body, in a coding the
// module decodes.
func (h *Handler) shouldBuffer(status int, hdr http.Header) bool {
	if status < 200 || status > 299 || status == http.StatusNoContent || status == http.StatusResetContent ||
		status == http.StatusPartialContent || hdr.Get("Content-Range") != "" {
		return false
	}
	if !enrichers.IsJSONMediaType(hdr.Get("Content-Type")) {
		return false
	}
	if _, ok := hdr["Trailer"]; ok {
		return false
	}
	if cl := hdr.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n > h.MaxBody {
			return false
		}
	}
	return enrichers.CanDecode(hdr.Get("Content-Encoding"))
}

// staleHeaders describe the upstream's body and are false of an enriched
// one: its entity tag and its digests. They are dropped when the body
// changes.
var staleHeaders = []string{"Etag", "Content-Md5", "Digest", "Content-Digest", "Repr-Digest"}

// finish decodes, reads, publishes, renders and writes a buffered response.
func (h *Handler) finish(x *exchange, r *http.Request, repl *caddy.Replacer) error {
	defer observeSince(time.Now())
	rec := &x.rec
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
	if err := r.Context().Err(); err != nil {
		h.debug("client gone before the token response was read", zap.Error(err))
		return nil
	}
	coding := hdr.Get("Content-Encoding")
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
		if err := r.Context().Err(); err != nil {
			h.debug("client gone before the token response was read", zap.Error(err))
			return nil
		}
	}

	out := enrichers.Outcome{WantNames: h.DryRun || h.logger.Core().Enabled(zapcore.DebugLevel), WantValues: h.DryRun}
	if !h.DryRun {
		out.Count = countField
	}
	outBuf := slicePool.Get().(*[]byte)
	defer putSlice(outBuf)
	resp, _, enriched, err := h.stages((*outBuf)[:0], x, r, repl, body, &out)
	if enriched != nil {
		*outBuf = enriched
	}
	switch {
	case errors.Is(err, enrichers.ErrTooDeep):
		countTooDeep.Inc()
		h.logger.Warn("token response passed through unchanged", zap.String("reason", "nested too deep"), zap.Error(err))
		return rec.writeRaw()
	case err != nil:
		return h.cannotEnrich(rec, "enriching", err)
	}
	switch resp.Status {
	case enrichers.StatusNotToken:
		countNotToken.Inc()
		notToken := "not a token response (no string access_token)"
		if x.introspection {
			notToken = "not an active introspection response"
		}
		h.debug("token response passed through unchanged", zap.String("reason", notToken))
		return rec.writeRaw()
	case enrichers.StatusAmbiguous:
		countAmbiguous.Inc()
		h.logger.Warn("token response passed through unchanged",
			zap.String("reason", "a standard member appears twice; clients would disagree on which to read"))
		return rec.writeRaw()
	}
	id := &resp.Identity
	if out.Status != enrichers.StatusEnriched {
		countUnchanged.Inc()
		h.debug("token response passed through unchanged", zap.String("reason", "no field applies"), sources.LogString("client", id.ClientID))
		return rec.writeRaw()
	}
	if h.DryRun {
		countDryRun.Inc()
		fields := make([]zap.Field, 0, 4+len(out.Added))
		fields = append(fields, sources.LogString("client", id.ClientID), sources.LogString("tenant", id.Tenant),
			zap.Strings("added", out.Added))
		for i, name := range out.Added {
			fields = append(fields, zap.Any("field."+name, json.RawMessage(out.Values[i])))
		}
		h.logger.Info("token response would be enriched (dry_run); sent unchanged", fields...)
		return rec.writeRaw()
	}
	if ce := h.logger.Check(zapcore.DebugLevel, "token response enriched"); ce != nil {
		ce.Write(sources.LogString("client", id.ClientID), sources.LogString("audience", id.Audience()),
			sources.LogString("tenant", id.Tenant), zap.String("token_format", id.Format.String()), zap.String("preset", id.Preset),
			zap.Strings("added", out.Added), zap.Int("kept_upstream", out.Kept))
	}
	if coding != "" {
		hdr.Del("Content-Encoding")
	}
	for _, k := range staleHeaders {
		hdr.Del(k)
	}
	var length [maxLengthText]byte
	x.contentLength[0] = x.keep(strconv.AppendInt(length[:0], int64(len(enriched)), 10))
	hdr["Content-Length"] = x.contentLength[:]
	countEnriched.Inc()
	rec.buffering = false
	rec.ResponseWriterWrapper.WriteHeader(rec.status)
	_, err = rec.ResponseWriterWrapper.Write(enriched)
	return err
}

// stages runs the engine on a token response body, the part of finish
// that explain shares so that the two cannot disagree: read and identify,
// publish the identity (x.resp), the rules' matcher sets, the sources, the
// splits, then Render into dst. For a body that is not a token response
// (resp.Status) it stops after reading, and enriched is nil. It returns
// the resolver Render was given.
func (h *Handler) stages(dst []byte, x *exchange, r *http.Request, repl *caddy.Replacer, body []byte, out *enrichers.Outcome) (resp *enrichers.Response, resolve enrichers.Resolver, enriched []byte, err error) {
	x.text.Grow(len(x.params) + len(body) + maxLengthText)
	treq := x.tokenRequest()
	if x.introspection {
		err = h.enricher.ReadIntrospectionInto(&x.response, x.keep(body), &treq)
	} else {
		err = h.enricher.ReadInto(&x.response, x.keep(body), &treq)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if resp = &x.response; resp.Status != enrichers.StatusUnchanged {
		return resp, nil, nil, nil
	}
	// publish the identity before rendering: placeholders that Caddy
	// computes from it (map, vars) are then known to the sources' keys and
	// to the fields
	x.resp = resp
	id := &resp.Identity
	h.matchRules(r, resp)
	h.lookUp(r.Context(), repl, resp)
	// an introspection request's client is the resource server asking,
	// which differs from the token's as a rule
	if !x.introspection && id.RequestClientID != "" && id.ClientID != id.RequestClientID {
		h.debug("client id in token differs from request; using the token's",
			sources.LogString("token_client", id.ClientID), sources.LogString("request_client", id.RequestClientID))
	}
	if repl != nil && h.needsResolver {
		resolve = repl.GetString
	}
	// the buckets of the splits, from keys that may use the identity and
	// what the sources found; {http.token.split.*} is known from here on
	h.enricher.Split(resp, resolve)
	enriched = h.enricher.Render(dst, resp, resolve, out)
	return resp, resolve, enriched, nil
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
	body := failBody
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	rec.buffering = false
	rec.ResponseWriterWrapper.WriteHeader(http.StatusBadGateway)
	_, werr := rec.ResponseWriterWrapper.Write(body)
	return werr
}

// failBody is the body of the 502 answer of on_error fail.
var failBody = []byte(`{"error":"server_error","error_description":"the token response from the identity provider could not be processed"}`)

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
