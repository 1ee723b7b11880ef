package caddymodule

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// outcome is how the handler ended one token-endpoint response. Every
// response it acts on ends in exactly one, and the table below is the one
// place that says what each is called in the metric, how it is described
// in the log and by explain, at which level it is logged and what is
// written.
type outcome uint8

const (
	outEnriched outcome = iota
	outUnchanged
	outNotToken
	outInactive
	outAmbiguous
	outTooDeep
	outInvalid
	outDecodeError
	outDryRun
	outStreamed
	outTrailers
	outTooLarge
	outClientGone
	numOutcomes
)

// write says what an outcome sends the client.
type write uint8

const (
	writeNothing  write = iota // the response is already on its way, or nobody is listening
	writeRaw                   // the upstream's response, byte for byte
	writeEnriched              // the enriched body
)

// outcomes describes each outcome. A response the handler could not read
// (outInvalid, outDecodeError) is passed on or, under on_error fail,
// replaced by a 502: that choice, and its label, is the handler's
// (Handler.failMode), the reason stays the same.
var outcomes = [numOutcomes]struct {
	label  string
	reason string
	level  zapcore.Level
	write  write
}{
	outEnriched:    {"enriched", "enriched", zapcore.DebugLevel, writeEnriched},
	outUnchanged:   {"unchanged", "no field applies", zapcore.DebugLevel, writeRaw},
	outNotToken:    {"not_token", "not a token response (no string access_token)", zapcore.DebugLevel, writeRaw},
	outInactive:    {"not_token", "not an active introspection response", zapcore.DebugLevel, writeRaw},
	outAmbiguous:   {"ambiguous", "ambiguous: a client or the identity provider could read it otherwise", zapcore.WarnLevel, writeRaw},
	outTooDeep:     {"too_deep", "nested deeper than 512 levels", zapcore.WarnLevel, writeRaw},
	outInvalid:     {"error_passed", "not a JSON object", zapcore.WarnLevel, writeRaw},
	outDecodeError: {"error_passed", "cannot decode its content coding", zapcore.WarnLevel, writeRaw},
	outDryRun:      {"dry_run", "dry_run: would be enriched; sent unchanged", zapcore.InfoLevel, writeRaw},
	outStreamed:    {"streamed", "not a whole 2xx UTF-8 JSON response within max_body in a known coding", zapcore.DebugLevel, writeNothing},
	outTrailers:    {"streamed", "it has trailers", zapcore.DebugLevel, writeRaw},
	outTooLarge:    {"too_large", "larger than max_body", zapcore.DebugLevel, writeNothing},
	outClientGone:  {"client_gone", "the client left before the response was written", zapcore.DebugLevel, writeNothing},
}

// countErrorFailed counts the responses on_error fail replaced by a 502.
var countErrorFailed = responsesTotal.WithLabelValues("error_failed")

// outcomeCounters are the outcomes' counters, bound once: the hot path
// increments an atomic, with no label lookup.
var outcomeCounters = func() (c [numOutcomes]prometheus.Counter) {
	for o := range c {
		c[o] = responsesTotal.WithLabelValues(outcomes[o].label)
	}
	return c
}()

// failed reports whether o is a response that should have been enriched but
// could not be read, which on_error decides the fate of.
func (o outcome) failed() bool { return o == outInvalid || o == outDecodeError }

// outcomeOf is the outcome of a response the engine has run on, and the
// error that details it.
func (h *Handler) outcomeOf(x *exchange) (outcome, error) {
	o := engineOutcome(x.res.Status, x.introspection)
	switch {
	case x.r.Context().Err() != nil:
		return outClientGone, nil
	case o == outEnriched && h.DryRun:
		return outDryRun, nil
	case o == outAmbiguous:
		return o, errors.New(x.res.Ambiguity)
	}
	return o, x.res.Err
}

// engineOutcome is the outcome of a response the engine read.
func engineOutcome(s enrichers.Status, introspection bool) outcome {
	switch s {
	case enrichers.StatusEnriched:
		return outEnriched
	case enrichers.StatusUnchanged:
		return outUnchanged
	case enrichers.StatusAmbiguous:
		return outAmbiguous
	case enrichers.StatusTooDeep:
		return outTooDeep
	case enrichers.StatusInvalid:
		return outInvalid
	}
	if introspection {
		return outInactive
	}
	return outNotToken
}

// describe returns the metric label of x's outcome and its reason, with
// what the client was sent: the words of the log line and of explain.
func (h *Handler) describe(x *exchange) (label, reason string) {
	o := x.outcome
	label, reason = outcomes[o].label, outcomes[o].reason
	if x.err != nil {
		reason += " (" + x.err.Error() + ")"
	}
	switch {
	case o.failed() && h.failMode:
		return "error_failed", reason + ": replaced by a 502 error (on_error fail)"
	case o == outEnriched:
		return label, "added " + strings.Join(x.res.Added, ", ")
	case o == outDryRun:
		return label, "dry_run: would add " + strings.Join(x.res.Added, ", ") + "; sent unchanged"
	}
	return label, reason + ": sent unchanged"
}
