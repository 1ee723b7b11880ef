package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
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
// response is buffered, and the engine runs the pipeline on it (read,
// publish the {http.token.*} placeholders, rule matchers, sources, splits,
// render), asking the exchange, its Host, for what only Caddy knows. Every
// response ends in one outcome (outcome.go), which is counted, logged and
// written in one place.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	ok, introspection := h.matches(r)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	x := exchanges.Get().(*exchange)
	x.h, x.introspection = h, introspection
	err := h.serve(x, w, r, next)
	// nothing reads the exchange once serve has returned: what may be
	// read later is in x.kept. A panic leaves x to the collector.
	*x = exchange{}
	exchanges.Put(x)
	return err
}

// exchanges holds the exchanges of finished token requests for reuse: an
// exchange is most of what the handler allocates per token request, and
// none of it is read after the request is served.
var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// serve proxies one token request through next and ends it in one
// outcome, recorded in x. explain runs it too, with a next that replays a
// response, so the two cannot disagree.
func (h *Handler) serve(x *exchange, w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	x.r, x.kept = r, &kept{h: h}
	// raw holds the upstream's response; the request is read into its
	// room first, and copied out of it
	raw := bufPool.Get().(*bytes.Buffer)
	defer putBuf(raw)
	raw.Grow(512) // a usual token request's room, kept in the pool
	x.readTokenRequest(r, raw.AvailableBuffer())
	narrowAcceptEncoding(r.Header)
	x.repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if x.repl != nil {
		// known, and empty, until a token response names the identity
		x.repl.Map(x.kept.placeholder)
	}
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
	switch {
	case !rec.wroteHeader:
		return nil // nothing written; let Caddy finish as usual
	case rec.spilled:
		return h.end(x, outTooLarge, nil)
	case !rec.buffering:
		return h.end(x, outStreamed, nil)
	}
	return h.finish(x)
}

// exchange is the state of one token request the handler acts on, and the
// engine's Host for it (host.go). ServeHTTP reuses it once the request is
// served; what may be read after that is kept apart, in kept.
type exchange struct {
	h    *Handler
	r    *http.Request
	repl *caddy.Replacer
	rec  boundedRecorder
	wrap caddyhttp.ResponseWriterWrapper
	// introspection: the request matched introspection_paths, and its
	// response is read as an RFC 7662 introspection response
	introspection bool
	// explain: record the engine's explanation (the explain command)
	explain bool
	// kept is what outlives the exchange
	kept *kept
	// The token request's parameters as sent: a form or JSON body of
	// paramsType, and the Basic user.
	params, paramsType, basicUser string
	// res is what the engine made of the response, and outcome how the
	// handler ended it.
	res     enrichers.Result
	outcome outcome
	err     error
}

// kept is what of a token request may be read after ServeHTTP returns:
// the {http.token.*} provider the request's replacer holds (access logs
// read it once the handlers are done), and the request body, which
// reverse_proxy's transport may still be sending.
type kept struct {
	h *Handler
	// resp is the token response once the engine has read it
	resp *enrichers.Response
	body replayBody
	// contentLength is the enriched response's Content-Length header:
	// the server may read the header map once ServeHTTP has returned
	contentLength [1]string
}

// noResponse answers which placeholders are known before a token response
// is read: every value of it is empty. It is only read.
var noResponse enrichers.Response

// placeholder is the {http.token.*} provider of the request's replacer.
// Every name the engine knows is known, and empty until the token response
// is read. A value holding control characters is withheld: in a header
// it would break the response for every client.
func (k *kept) placeholder(key string) (any, bool) {
	name, ok := strings.CutPrefix(key, enrichers.PlaceholderPrefix)
	if !ok {
		return nil, false
	}
	resp := k.resp
	if resp == nil {
		resp = &noResponse
	}
	v, known, withheld := resp.Placeholder(name)
	if withheld {
		k.h.logger.Warn("placeholder value withheld: it holds control characters", zap.String("placeholder", key))
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
func (h *Handler) shouldBuffer(status int, hdr *upstreamHeader) bool {
	if status < 200 || status > 299 || status == http.StatusNoContent || status == http.StatusResetContent ||
		status == http.StatusPartialContent || hdr.contentRange {
		return false
	}
	if !enrichers.IsJSONMediaType(hdr.contentType) || hdr.trailer || hdr.badLength || hdr.length > h.MaxBody {
		return false
	}
	return canDecode(hdr.contentEncoding)
}

// finish decodes a buffered response, runs the engine on it and ends it.
func (h *Handler) finish(x *exchange) error {
	defer observeSince(time.Now())
	rec := &x.rec
	if rec.hasTrailers() {
		return h.end(x, outTrailers, nil)
	}
	body := rec.buf.Bytes()
	if coding := rec.head.contentEncoding; coding != "" && coding != "identity" {
		var err error
		if body, err = decodeBody(nil, coding, body, h.MaxBody); err != nil {
			return h.end(x, outDecodeError, fmt.Errorf("decoding %s body: %w", coding, err))
		}
	}
	if x.r.Context().Err() != nil {
		return h.end(x, outClientGone, nil)
	}
	debug := h.logger.Core().Enabled(zapcore.DebugLevel)
	in := enrichers.Input{
		Body: body, RequestType: x.paramsType, Request: x.params, BasicUser: x.basicUser,
		Introspection: x.introspection, Names: h.DryRun || debug || x.explain, Values: h.DryRun, Explain: x.explain,
	}
	if !h.DryRun {
		in.Count = h.countField
	}
	var dst []byte
	if !x.explain {
		// the enriched body is written before finish returns, and the
		// buffer it is spliced into is then reused: what the fields add
		// fits in the room left past the upstream's body
		out := bufPool.Get().(*bytes.Buffer)
		defer putBuf(out)
		out.Grow(len(body) + outputRoom)
		dst = out.AvailableBuffer()
	}
	x.res = h.enricher.Run(dst, &in, x)
	h.reportRejected(x.res.Rejected)
	o, err := h.outcomeOf(x)
	return h.end(x, o, err)
}

// loggedIdentity are the identity values a log line carries: who the
// token is for, never the subject (a person) or the scopes.
var loggedIdentity = map[string]bool{"client_id": true, "audience": true, "tenant": true, "preset": true, "format": true}

// end counts, logs and writes the outcome o of x.
func (h *Handler) end(x *exchange, o outcome, err error) error {
	x.outcome, x.err = o, err
	fail := o.failed() && h.failMode
	if fail {
		countErrorFailed.Inc()
	} else {
		outcomeCounters[o].Inc()
	}
	h.log(x, o, fail, err)
	switch {
	case fail:
		return x.rec.writeFailure()
	case outcomes[o].write == writeRaw:
		return x.rec.writeRaw()
	case outcomes[o].write == writeEnriched:
		return x.rec.writeBody(x.res.Body, &x.kept.contentLength)
	}
	return nil
}

// log writes the one log line of an outcome, in the placeholders'
// vocabulary for the identity.
func (h *Handler) log(x *exchange, o outcome, fail bool, err error) {
	d := &outcomes[o]
	msg, level, result := "token response passed through unchanged", d.level, d.label
	switch {
	case fail:
		msg, level, result = "token response replaced by an error (on_error fail)", zapcore.WarnLevel, "error_failed"
	case o == outEnriched:
		msg = "token response enriched"
	case o == outDryRun:
		msg = "token response would be enriched (dry_run); sent unchanged"
	}
	ce := h.logger.Check(level, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("result", result), zap.String("reason", d.reason)}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	if o == outTooLarge {
		fields = append(fields, zap.Int64("max_body", h.MaxBody))
	}
	if o == outEnriched || o == outDryRun || o == outUnchanged {
		for _, v := range x.res.Response.Describe() {
			if loggedIdentity[v.Name] {
				fields = append(fields, sources.LogString(v.Name, v.Value))
			}
		}
	}
	if o == outEnriched || o == outDryRun {
		fields = append(fields, zap.Strings("added", x.res.Added), zap.Int("kept_upstream", x.res.Kept))
		for i, v := range x.res.Values {
			fields = append(fields, zap.Any("field."+x.res.Added[i], json.RawMessage(v)))
		}
	}
	ce.Write(fields...)
}

// failBody is the body of the 502 answer of on_error fail.
var failBody = []byte(`{"error":"server_error","error_description":"the token response from the identity provider could not be processed"}`)

func (h *Handler) debug(msg string, fields ...zap.Field) {
	if ce := h.logger.Check(zapcore.DebugLevel, msg); ce != nil {
		ce.Write(fields...)
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// outputRoom is the room an enriched body is given past the upstream's
// body in a pooled buffer; a larger one is spliced into a new slice.
const outputRoom = 4 << 10

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 4<<20 {
		return
	}
	b.Reset()
	bufPool.Put(b)
}
