// Package cache is the lookup cache shared by the metadata sources that ask
// a remote origin (an HTTP service, a key-value store): an LRU of the
// objects fetched per key, bounded in keys and in bytes, with one fetch in
// flight per key, stale-while-revalidate, stale-if-error and negative
// caching.
//
// For a key, with age the time since its object was fetched:
//
//   - age < TTL (fresh): the cached object is returned; the origin is not asked.
//   - TTL <= age < TTL+MaxStale (stale): the cached object is returned at once
//     and one background fetch refreshes it (stale-while-revalidate). While
//     that fetch fails, the object keeps being returned, with Result.Stale
//     set (stale-if-error), until the age reaches TTL+MaxStale; a failed key
//     is fetched again at most once per RetryInterval.
//   - no entry, or age >= TTL+MaxStale: the caller waits for a fetch, at
//     most until its own context ends; on an error it gets the error.
//   - a negative entry (the origin has nothing for the key) is a miss for
//     NegativeTTL, then the key is fetched as if absent. Negative entries
//     are never served stale.
//
// Fetches run detached from the context of the lookup that started them,
// bounded by FetchTimeout: a lookup that gives up at its deadline does not
// cancel the fetch that other lookups of the key wait for, and a slow
// origin's answer still fills the cache for the lookups after it.
//
// Invalidation (Invalidate for one key, RevalidateAll for every key) is for
// origins that announce their changes. An entry fetched before an
// invalidation of its key is invalidated, whatever its age, and so is the
// answer of a fetch that started before it, even when it is stored after:
// every entry carries the generation of its key at the time its fetch
// started. The lookup that finds an invalidated entry waits for a new
// fetch, which no fetch started before the invalidation can stand in for,
// so the lookups after an invalidation get the new object, never the old
// one as fresh. When that fetch fails, or outlasts the lookup's context, the
// old object is returned with Result.Stale set, up to TTL+MaxStale after it
// was fetched (stale-if-error); after a failure the old object is served
// without a new fetch for RetryInterval.
package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Defaults for the zero values of Config.
const (
	DefaultTTL          = 5 * time.Minute
	DefaultNegativeTTL  = 30 * time.Second
	DefaultSize         = 10000
	DefaultMaxBytes     = 64 << 20
	DefaultFetchTimeout = 2 * time.Second
)

// RetryInterval is the shortest time between two failed background fetches
// of one key: while the origin is down, a stale key served to many lookups
// does not turn each of them into a request.
const RetryInterval = time.Second

// RefreshErrorInterval is the shortest time between two calls of
// Config.OnRefreshError. While the origin is down every stale key's
// refresh fails once per RetryInterval: with thousands of keys, one report
// per interval, with the count of the others, says as much as all of them.
const RefreshErrorInterval = sources.ReportInterval

// ErrClosed is returned by fetches started after Close.
var ErrClosed = errors.New("cache closed")

// Refuse marks err, returned by a Fetch, as a lasting refusal of the key
// (a value larger than the source accepts): the cache remembers it like a
// miss, for NegativeTTL, and the lookups meanwhile get err without a fetch.
// A value that costs a lot to find too large is then not read again for
// every token.
func Refuse(err error) error { return &refusal{err} }

type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// Fetch asks the origin for the object stored for key. It returns a nil
// object and a nil error when the origin has none (a negative entry). The
// returned bytes are kept by the cache and handed to every caller, so they
// must not be modified afterwards.
type Fetch func(ctx context.Context, key string) ([]byte, error)

// Config configures a Cache. Zero durations and sizes take the defaults,
// except MaxStale, whose zero means that nothing is served stale.
type Config struct {
	// TTL is how long a fetched object is fresh.
	TTL time.Duration
	// MaxStale is how long after TTL an object may still be served while
	// it is refreshed or while the origin fails.
	MaxStale time.Duration
	// NegativeTTL is how long "the origin has nothing" is remembered.
	NegativeTTL time.Duration
	// Size is the largest number of keys kept; the least recently used
	// key is evicted first.
	Size int
	// MaxBytes bounds the bytes of the keys and objects kept, plus a fixed
	// overhead per entry; the least recently used keys are evicted to stay
	// under it. The most recent entry is kept even when it alone is larger.
	MaxBytes int64
	// FetchTimeout bounds every fetch.
	FetchTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnRefreshError, when set, is called with the error of a background
	// fetch, which no lookup waits for and so no caller otherwise sees:
	// for the first failure, then at most once per RefreshErrorInterval,
	// with the number of failures since the last call that it was not
	// called for.
	OnRefreshError func(key string, err error, unreported int)
}

// Cache caches the objects of one origin. It is safe for concurrent use.
type Cache struct {
	cfg   Config
	fetch Fetch
	lru   *lru.Cache[string, *entry]
	bytes atomic.Int64 // the cost of the entries in lru
	group singleflight.Group

	// refreshing holds the keys with a background fetch started, so that
	// a stale key starts one goroutine, not one per lookup.
	refreshing sync.Map

	// gens are the generations of the keys, by a hash of the key; epoch is
	// the generation of every key. Invalidate bumps one gen, RevalidateAll
	// the epoch; an entry is valid while both equal what they were when its
	// fetch started. Keys that share a slot invalidate each other: a
	// refetch too many, never a stale object served as fresh.
	gens  [genSlots]atomic.Uint64
	epoch atomic.Uint64
	seed  maphash.Seed

	// refreshErrors lets OnRefreshError be called once per
	// RefreshErrorInterval and counts the failures it is not called for.
	refreshErrors sources.Throttle

	// storeMu serialises the stores: fetches of one key started in
	// different generations may run at once.
	storeMu sync.Mutex

	// base is the parent of every fetch's context; Close cancels it.
	base   context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and the wg.Add that follows
	closed bool
	wg     sync.WaitGroup
}

// entry is what the cache holds for a key. Entries are never modified once
// stored: an update stores a new one, so readers need no lock.
type entry struct {
	object    []byte    // nil when negative
	fetchedAt time.Time // when object was fetched
	failedAt  time.Time // the last failed fetch after fetchedAt; zero if none
	negative  bool
	refused   error      // set on a negative entry for a refusal (see Refuse)
	gen       generation // of the key when the fetch of object started
	failedGen generation // of the key when the fetch that failed at failedAt started
}

// genSlots is the number of per-key generation counters.
const genSlots = 1024

// generation identifies the state of a key's invalidations.
type generation struct {
	epoch, gen uint64
}

// before reports whether g is older than h.
func (g generation) before(h generation) bool {
	return g.epoch < h.epoch || (g.epoch == h.epoch && g.gen < h.gen)
}

func (c *Cache) slot(key string) *atomic.Uint64 {
	return &c.gens[maphash.String(c.seed, key)%genSlots]
}

// generation returns key's current generation.
func (c *Cache) generation(key string) generation {
	return generation{epoch: c.epoch.Load(), gen: c.slot(key).Load()}
}

// Invalidate marks the object cached for key, and the answer of any fetch
// of key in flight, as out of date: the next lookup of key fetches it
// again (see the package comment).
func (c *Cache) Invalidate(key string) { c.slot(key).Add(1) }

// RevalidateAll is Invalidate for every key, for when changes may have been
// missed.
func (c *Cache) RevalidateAll() { c.epoch.Add(1) }

// entryOverhead approximates what an entry costs besides its key and object:
// the entry, the LRU's list element and map slot.
const entryOverhead = 200

func (e *entry) cost(key string) int64 {
	return int64(len(key)+len(e.object)) + entryOverhead
}

// New returns a cache whose misses are filled by fetch.
func New(cfg Config, fetch Fetch) (*Cache, error) {
	if fetch == nil {
		return nil, errors.New("cache: nil fetch")
	}
	if cfg.TTL < 0 || cfg.MaxStale < 0 || cfg.NegativeTTL < 0 || cfg.Size < 0 || cfg.MaxBytes < 0 || cfg.FetchTimeout < 0 {
		return nil, fmt.Errorf("cache: negative duration or size in %+v", cfg)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{cfg: cfg, fetch: fetch, seed: maphash.MakeSeed()}
	c.refreshErrors.Interval = RefreshErrorInterval
	// Every entry that leaves the LRU (evicted, removed) goes through
	// here, so bytes counts exactly the entries held.
	l, err := lru.NewWithEvict(cfg.Size, func(key string, e *entry) { c.bytes.Add(-e.cost(key)) })
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.lru = l
	c.base, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Get returns the object for key, as described in the package comment. A
// miss (the origin has nothing for key) is a Result with a nil Object and a
// nil error. Get returns by ctx's end at the latest, with ctx's error when
// it had nothing to return.
func (c *Cache) Get(ctx context.Context, key string) (sources.Result, error) {
	now := c.cfg.Now()
	if e, ok := c.lru.Get(key); ok {
		age := now.Sub(e.fetchedAt)
		gen := c.generation(key)
		switch {
		case e.gen != gen:
			// Invalidated: the old object is no answer, except while the
			// refetches fail (see wait). Only a failure since this
			// invalidation holds the next fetch back: an invalidation
			// announces that the origin has a new answer (or, after a
			// reconnection, may have one), so failures before it say
			// nothing about the fetch it calls for.
			if !e.negative && !e.failedAt.IsZero() && !e.failedAt.Before(e.fetchedAt) && e.failedGen == gen &&
				now.Sub(e.failedAt) < RetryInterval && age < c.cfg.TTL+c.cfg.MaxStale {
				return sources.Result{Object: e.object, Stale: true}, nil
			}
			return c.wait(ctx, key, gen)
		case e.negative:
			if age < c.cfg.NegativeTTL {
				return sources.Result{}, e.refused
			}
		case age < c.cfg.TTL:
			return sources.Result{Object: e.object}, nil
		case age < c.cfg.TTL+c.cfg.MaxStale:
			c.revalidate(key, e, now)
			return sources.Result{Object: e.object, Stale: !e.failedAt.IsZero()}, nil
		}
	}
	return c.wait(ctx, key, c.generation(key))
}

// flightKey is the single-flight key of a fetch of key started in
// generation gen: a lookup after an invalidation never joins a fetch
// started before it.
func flightKey(key string, gen generation) string {
	return fmt.Sprintf("%d.%d.%s", gen.epoch, gen.gen, key)
}

// wait fetches key, sharing the fetch with every other lookup of the key in
// generation gen, and returns when the fetch is done or ctx ends, whichever
// is first.
func (c *Cache) wait(ctx context.Context, key string, gen generation) (sources.Result, error) {
	ch := c.group.DoChan(flightKey(key, gen), func() (any, error) { return c.fill(key, gen) })
	select {
	case r := <-ch:
		if r.Err != nil {
			// A concurrent lookup may have seen the entry fresh enough to
			// serve, or the entry is an invalidated one whose refetch
			// failed; serve it rather than fail (stale-if-error).
			if res, ok := c.servable(key); ok {
				return res, nil
			}
			return sources.Result{}, r.Err
		}
		return sources.Result{Object: r.Val.(*entry).object}, nil
	case <-ctx.Done():
		// Only an invalidated entry can be servable here: any other
		// servable entry was answered by Get without waiting.
		if res, ok := c.servable(key); ok {
			return res, nil
		}
		return sources.Result{}, ctx.Err()
	}
}

// servable returns the cached object of key marked stale, when there is one
// younger than TTL+MaxStale.
func (c *Cache) servable(key string) (sources.Result, bool) {
	if e, ok := c.lru.Peek(key); ok && !e.negative &&
		c.cfg.Now().Sub(e.fetchedAt) < c.cfg.TTL+c.cfg.MaxStale {
		return sources.Result{Object: e.object, Stale: true}, true
	}
	return sources.Result{}, false
}

// revalidate starts a background fetch of the stale entry e, unless one is
// already running or the last one failed less than RetryInterval ago.
func (c *Cache) revalidate(key string, e *entry, now time.Time) {
	if !e.failedAt.IsZero() && now.Sub(e.failedAt) < RetryInterval {
		return
	}
	if _, busy := c.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	// A refresh that ended between this lookup's read and now has stored
	// a new entry (refreshing is cleared after the store): nothing to do.
	if cur, ok := c.lru.Peek(key); !ok || cur != e {
		c.refreshing.Delete(key)
		return
	}
	go func() {
		defer c.refreshing.Delete(key)
		// Do joins a fetch of the key already in flight for a lookup.
		gen := c.generation(key)
		_, err, _ := c.group.Do(flightKey(key, gen), func() (any, error) { return c.fill(key, gen) })
		if err != nil && c.cfg.OnRefreshError != nil && !errors.Is(err, ErrClosed) {
			c.reportRefreshError(key, err)
		}
	}()
}

// reportRefreshError calls OnRefreshError for the failed refresh of key,
// or counts it when the last call was less than RefreshErrorInterval ago.
func (c *Cache) reportRefreshError(key string, err error) {
	if n, ok := c.refreshErrors.Pass(c.cfg.Now()); ok {
		c.cfg.OnRefreshError(key, err, n)
	}
}

// fill fetches key, whose generation is gen, and stores the outcome. One
// fill per key and generation runs at a time (the single flight); fills of
// different generations may overlap, and the store keeps the newest.
func (c *Cache) fill(key string, gen generation) (*entry, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	ctx, cancel := context.WithTimeout(c.base, c.cfg.FetchTimeout)
	defer cancel()
	object, err := c.fetch(ctx, key)
	now := c.cfg.Now()
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	old, had := c.lru.Peek(key)
	var r *refusal
	if errors.As(err, &r) {
		e := &entry{fetchedAt: now, negative: true, refused: r.err, gen: gen}
		if !had || !e.gen.before(old.gen) {
			c.store(key, e)
		}
		return nil, r.err
	}
	if err != nil {
		if had && !old.negative {
			failed := *old
			failed.failedAt, failed.failedGen = now, gen
			c.store(key, &failed)
		}
		return nil, err
	}
	e := &entry{object: object, fetchedAt: now, negative: object == nil, gen: gen}
	// A fill of an older generation that ends after a newer one does not
	// replace the newer answer; its own waiters still get what it fetched.
	if !had || !e.gen.before(old.gen) {
		c.store(key, e)
	}
	return e, nil
}

// store puts e in the cache for key and evicts the least recently used
// entries past MaxBytes. Only fill calls it, holding storeMu. The old entry is removed rather than overwritten because the LRU
// reports removals, not overwrites, to the byte count; a lookup in between
// finds no entry and waits for the fill in flight, which returns e (or,
// descheduled until that fill has returned, starts the next fetch).
func (c *Cache) store(key string, e *entry) {
	c.lru.Remove(key)
	c.bytes.Add(e.cost(key))
	c.lru.Add(key, e)
	for c.bytes.Load() > c.cfg.MaxBytes && c.lru.Len() > 1 {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// Len returns the number of keys cached, negative ones included.
func (c *Cache) Len() int { return c.lru.Len() }

// Bytes returns the cost of the entries cached, as bounded by MaxBytes.
func (c *Cache) Bytes() int64 { return c.bytes.Load() }

// Close cancels the fetches in flight and waits for them to return; fetches
// asked for afterwards fail with ErrClosed. Cached entries are still served.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}
