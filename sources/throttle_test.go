package sources

import (
	"testing"
	"time"
)

// The first event passes, the next ones within the interval are counted,
// and the first one past the interval passes with that count.
func TestThrottle(t *testing.T) {
	th := Throttle{Interval: 10 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at   time.Duration
		held int
		ok   bool
	}{
		{0, 0, true},
		{time.Second, 0, false},
		{9 * time.Second, 0, false},
		{10 * time.Second, 2, true},
		{19 * time.Second, 0, false},
		{25 * time.Second, 1, true},
		{40 * time.Second, 0, true},
	}
	for _, s := range steps {
		held, ok := th.Pass(t0.Add(s.at))
		if held != s.held || ok != s.ok {
			t.Fatalf("Pass at +%v = (%d, %v), want (%d, %v)", s.at, held, ok, s.held, s.ok)
		}
	}
	th.Pass(t0.Add(41 * time.Second))
	if n := th.Held(); n != 1 {
		t.Fatalf("Held = %d, want 1", n)
	}
}
