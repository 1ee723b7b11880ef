package sources

import "context"

// Prober is implemented by a source whose origin can be checked without a
// lookup. The handler probes each such source at start and, while the
// origin does not answer, again at an interval, and logs when it is
// unreachable and when it answers again: a source that cannot answer is
// visible before the first token needs it.
type Prober interface {
	// Origin names the origin Probe checks, for logs: an address with no
	// secret in it (no password, no user info, no query). ok is false when
	// there is nothing to probe before a request, e.g. an address that is
	// rendered from the request's placeholders.
	Origin() (origin string, ok bool)

	// Probe returns nil when the origin answers, or the reason it does
	// not. It must return by ctx's deadline.
	Probe(ctx context.Context) error
}
