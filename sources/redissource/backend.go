package redissource

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

// backends holds the live backends by the configuration that made them.
// A config reload that keeps a source's configuration (its name, key
// template and every setting) keeps its backend: its connections, its
// subscription and its warm cache. Tokens issued after the reload get the
// cached values at once, also while Redis is down. A changed configuration
// gets a new backend; the old one is closed when the last config using it
// is unloaded.
var backends = caddy.NewUsagePool()

// backend is what a source needs at run time: the client, the cache and
// the subscribers that invalidate it (one, or one per master of a
// cluster).
type backend struct {
	client       redis.UniversalClient
	cache        *cache.Cache
	format       string
	db           int
	prefix       string // the literal start of every key looked up
	name         string // the source's name in the handler
	address      string // the URL without its password, for logs and errors
	fetchTimeout time.Duration
	maxSize      int64

	// logger is the logger of the newest config using the backend: an
	// older config's logs may be closed.
	logger atomic.Pointer[zap.Logger]

	stop context.CancelFunc
	done chan struct{} // closed when the subscribers have returned

	// subscriptions counts the subscription confirmations handled (of
	// every master, in a cluster), each after its revalidation of the
	// cache.
	subscriptions atomic.Int64
}

// backendKey identifies the configuration of s used under name with the
// key template: two sources with equal keys may share a backend.
func (s *Source) backendKey(name, template string) (string, error) {
	cfg := *s
	cfg.URL = s.rawURL // as rendered: an {env.*} may have changed
	j, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("redis source: %w", err)
	}
	key := fmt.Sprintf("%s\x00%s\x00%s", name, template, j)
	if s.now != nil {
		// a cache with its own clock is shared with no other source
		key = sources.Unshared(key)
	}
	return key, nil
}

// newBackend makes the backend of s and starts its subscribers.
func (s *Source) newBackend(name, prefix string) (*backend, error) {
	b := &backend{
		client:       redis.NewUniversalClient(s.opts),
		format:       s.Format,
		db:           s.opts.DB,
		prefix:       prefix,
		name:         name,
		address:      s.address,
		fetchTimeout: time.Duration(s.FetchTimeout),
		maxSize:      s.MaxSize,
		done:         make(chan struct{}),
	}
	b.logger.Store(s.logger)
	var err error
	cfg := s.Config()
	cfg.Now = s.now
	cfg.OnRefreshError = func(key string, err error, unreported int) {
		b.log().Warn("background refresh failed; serving the cached value (one line per 10s at most)",
			zap.String("source", b.name), zap.String("redis", b.address), sources.LogString("key", key), sources.LogError(err),
			zap.Int("failures_not_logged", unreported))
	}
	b.cache, err = cache.New(cfg, b.fetch)
	if err != nil {
		_ = b.client.Close()
		return nil, fmt.Errorf("redis source: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		go b.subscribeCluster(ctx, cc)
	} else {
		go b.subscribe(ctx)
	}
	return b, nil
}

func (b *backend) log() *zap.Logger { return b.logger.Load() }

// Destruct stops the subscribers, the background refreshes and the client;
// the usage pool calls it when no config uses the backend any more.
func (b *backend) Destruct() error {
	b.stop()
	<-b.done
	b.cache.Close()
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("redis source: closing the client: %w", err)
	}
	return nil
}

// Interface guard.
var _ caddy.Destructor = (*backend)(nil)
