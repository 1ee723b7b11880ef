package sources

import (
	"sync"
	"time"
)

// ReportInterval is the shortest time between two reports of a Throttle
// used for a source's failures: while an origin is down every lookup
// fails, and one line per interval, with the count of the others, says as
// much as all of them.
const ReportInterval = 10 * time.Second

// Throttle lets the first event through, then at most one per Interval,
// and counts the events it holds back: a log of failures that happen on
// every request stays readable and still says how many there were. The
// zero Throttle lets every event through. It is safe for concurrent use.
type Throttle struct {
	// Interval is the shortest time between two events let through.
	Interval time.Duration

	mu   sync.Mutex
	last time.Time // when the last event was let through; zero before the first
	held int       // the events held back since
}

// Pass reports whether the event at now is to be reported; when it is,
// held is the number of events held back since the last one let through,
// and the count starts again.
func (t *Throttle) Pass(now time.Time) (held int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < t.Interval {
		t.held++
		return 0, false
	}
	held = t.held
	t.held, t.last = 0, now
	return held, true
}

// Held returns the number of events held back since the last one let
// through.
func (t *Throttle) Held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.held
}
