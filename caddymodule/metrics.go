package caddymodule

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// responsesTotal counts what the handler did with each token-endpoint
// response it looked at. Requests that do not match (other methods or
// paths) are not counted: they never reach the handler's logic.
//
// Collectors are created once per process and registered with every new
// config's registry on Provision: a collector created per Provision stops
// reporting after a reload, and registering one twice is refused.
var responsesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "responses_total",
	Help: "Token-endpoint responses seen by token_enrich, by result: enriched, unchanged (a token " +
		"response no field applied to), not_token, ambiguous (a standard member sent twice), too_deep " +
		"(nested deeper than 512 levels), dry_run (would have been enriched; sent unchanged), streamed " +
		"(not a buffered JSON 2xx), too_large, " +
		"error_passed, error_failed (on_error fail answered 502), client_gone (the client left first).",
}, []string{"result"})

// sourceLookups counts source lookups by source (a configured name, so
// bounded) and result: hit, stale, miss, error, timeout.
var sourceLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "source_lookups_total",
	Help: "Metadata source lookups by source and result: hit, stale (served from cache past its TTL), " +
		"miss (no metadata for the key), error, timeout.",
}, []string{"source", "result"})

func countLookup(source, result string) { sourceLookups.WithLabelValues(source, result).Inc() }

// liftedRefused counts the lifted claims left out of a token response
// because they hold more than 1000 members, by claim (a configured name).
var liftedRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "lifted_refused_total",
	Help:      "Lifted claims left out of a token response because they hold more than 1000 members, by claim.",
}, []string{"claim"})

func countLifted(claim string) { liftedRefused.WithLabelValues(claim).Inc() }

// enrichDuration is the time the module spends on each buffered
// token-endpoint response, from the end of the upstream's body to the
// first byte written: decoding, reading, the sources, rendering. The
// upstream's own time is not in it.
var enrichDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "duration_seconds",
	Help:      "Time token_enrich adds to a buffered token-endpoint response (decode, read, sources, render), in seconds.",
	Buckets:   prometheus.ExponentialBuckets(5e-6, 4, 9), // 5 µs to 330 ms
})

// fieldsAdded counts the members written into token responses by where
// they came from: a configured field's name, lift:<claim>, source:<name>.
// All three are bounded by the configuration.
var fieldsAdded = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "fields_added_total",
	Help:      "Members written into token responses, by field: a configured field's name, lift:<claim> or source:<name>.",
}, []string{"field"})

// fieldCounts returns the enricher's Input.Count: it counts each label
// in fieldsAdded with a counter resolved here, once per configuration,
// from the enricher's list of every label it counts (Labels), so that a
// response counts a member by its label's index, with no lookup or
// hashing of the label.
func fieldCounts(labels []string) func(label int) {
	counters := make([]prometheus.Counter, len(labels))
	for i, l := range labels {
		counters[i] = fieldsAdded.WithLabelValues(l)
	}
	return func(label int) { counters[label].Inc() }
}

// observeSince records the time since start in enrichDuration.
func observeSince(start time.Time) { enrichDuration.Observe(time.Since(start).Seconds()) }
