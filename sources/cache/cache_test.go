package cache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testclock"
)

// A waiter gives up at its own deadline; the fetch it started goes on for
// the other waiters and fills the cache.
func TestWaiterReturnsAtItsOwnDeadline(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int32
	c, err := New(Config{}, func(ctx context.Context, key string) ([]byte, error) {
		fetches.Add(1)
		<-release
		return []byte(`{"k":"` + key + `"}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	patient := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := c.Get(ctx, "a")
		if err == nil && string(r.Object) != `{"k":"a"}` {
			err = errors.New("patient waiter got " + string(r.Object))
		}
		patient <- err
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Get(ctx, "a")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient waiter: err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("impatient waiter returned after %v, want about 50ms", d)
	}
	close(release)
	if err := <-patient; err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(context.Background(), "a")
	if err != nil || string(r.Object) != `{"k":"a"}` {
		t.Fatalf("after the fetch: %q, %v", r.Object, err)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

func TestSizeBoundsEntries(t *testing.T) {
	var fetches atomic.Int32
	c, err := New(Config{Size: 2}, func(_ context.Context, key string) ([]byte, error) {
		fetches.Add(1)
		return []byte(`{}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, k := range []string{"a", "b", "c", "c", "b"} {
		if _, err := c.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if n := fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3 (a, b, c)", n)
	}
	if _, err := c.Get(context.Background(), "a"); err != nil { // evicted
		t.Fatal(err)
	}
	if n := fetches.Load(); n != 4 {
		t.Fatalf("fetches = %d, want 4: the least recently used key was evicted", n)
	}
}

// Close cancels a fetch in flight and waits for it; later fetches fail.
func TestCloseCancelsFetches(t *testing.T) {
	started := make(chan struct{})
	var sawCancel atomic.Bool
	c, err := New(Config{FetchTimeout: time.Minute}, func(ctx context.Context, _ string) ([]byte, error) {
		close(started)
		<-ctx.Done()
		sawCancel.Store(true)
		return nil, ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "a")
		done <- err
	}()
	<-started
	c.Close()
	if !sawCancel.Load() {
		t.Fatal("Close returned before the fetch in flight ended")
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: err = %v, want Canceled", err)
	}
	if _, err := c.Get(context.Background(), "b"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: err = %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	fetch := func(context.Context, string) ([]byte, error) { return nil, nil }
	for _, cfg := range []Config{{TTL: -1}, {MaxStale: -1}, {NegativeTTL: -1}, {Size: -1}, {FetchTimeout: -1}} {
		if _, err := New(cfg, fetch); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New with a nil fetch succeeded")
	}
}

// MaxBytes bounds the bytes held, and the count stays exact when keys are
// replaced and evicted.
func TestMaxBytesBoundsEntries(t *testing.T) {
	obj := make([]byte, 400)
	obj[0], obj[len(obj)-1] = '{', '}'
	cost := int64(len(obj)+1) + entryOverhead // one-byte keys
	var fetches atomic.Int32
	clk := time.Unix(0, 0)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	c, err := New(Config{MaxBytes: 2*cost + 1, TTL: time.Minute, Now: now}, func(context.Context, string) ([]byte, error) {
		fetches.Add(1)
		return obj, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := c.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 || c.Bytes() != 2*cost {
		t.Fatalf("Len = %d, Bytes = %d; want 2, %d", c.Len(), c.Bytes(), 2*cost)
	}
	// Expired keys are fetched again and replaced: the count does not drift.
	mu.Lock()
	clk = clk.Add(2 * time.Minute)
	mu.Unlock()
	for _, k := range []string{"b", "c", "b", "c"} {
		if _, err := c.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 || c.Bytes() != 2*cost {
		t.Fatalf("after replacing: Len = %d, Bytes = %d; want 2, %d", c.Len(), c.Bytes(), 2*cost)
	}
	if n := fetches.Load(); n != 5 {
		t.Fatalf("fetches = %d, want 5", n)
	}
}

// While the origin is down, the failed background refreshes of many keys
// are reported once per RefreshErrorInterval, with the count of the others.
func TestRefreshErrorsAreReportedOncePerInterval(t *testing.T) {
	clk := testclock.New()
	var mu sync.Mutex
	var calls []int
	var down atomic.Bool
	c, err := New(Config{TTL: time.Minute, MaxStale: time.Hour, Now: clk.Now,
		OnRefreshError: func(_ string, _ error, unreported int) {
			mu.Lock()
			calls = append(calls, unreported)
			mu.Unlock()
		}}, func(ctx context.Context, key string) ([]byte, error) {
		if down.Load() {
			return nil, errors.New("down")
		}
		return []byte(`{}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys := []string{"a", "b", "c", "d", "e"}
	for _, k := range keys {
		if _, err := c.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	down.Store(true)
	reported := func(want []int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := append([]int(nil), calls...)
			mu.Unlock()
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("OnRefreshError calls (unreported counts) = %v, want %v", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Each stale key's refresh fails once: one report, four counted.
	clk.Advance(2 * time.Minute)
	for _, k := range keys {
		c.Get(context.Background(), k)
	}
	reported([]int{0})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n := c.refreshErrors.Held()
		if n == len(keys)-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refresh failures counted, want %d", n, len(keys)-1)
		}
	}
	// Past the interval, the next failure is reported with that count.
	clk.Advance(RefreshErrorInterval)
	c.Get(context.Background(), "a")
	reported([]int{0, 4})
}
