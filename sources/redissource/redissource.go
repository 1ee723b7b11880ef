// Package redissource is the redis metadata source of token_enrich: it looks
// a rendered key up in Redis (standalone, Sentinel or Cluster, through
// go-redis) and uses the JSON object stored there, or the fields of a hash.
// Answers are cached per key in each replica (package cache).
//
// What it guarantees:
//
//   - A change to a key from any client (SET, HSET, DEL, RENAME, an expiry,
//     an eviction) invalidates the key in every replica's cache as soon as
//     the server's keyspace notification arrives, when the server sends
//     them (notify-keyspace-events with K and the classes $, h, g, x and e,
//     or A). The source subscribes to the notifications of the keys its
//     template can produce only. The lookup after an invalidation waits
//     for Redis and gets the new value; it gets the old one, marked stale,
//     only when Redis fails or is slower than the lookup's timeout.
//   - When its notification connection comes back after a drop, the whole
//     cache is revalidated: changes made meanwhile were not announced.
//   - In a cluster, where a node announces the changes of its own keys
//     only, the source subscribes on every master; the masters are listed
//     again periodically and when a subscription ends, so that a master a
//     failover or a resharding brings is subscribed on too, its first
//     subscription revalidating the cache.
//   - When the server (in a cluster: a master) sends no notifications, or
//     refuses CONFIG GET, one warning per server says so and how to turn
//     them on; changes then reach a replica when cache_ttl expires.
//   - While Redis is down or slow, cached objects are served, marked stale,
//     up to max_stale past cache_ttl; every command, retries included, ends
//     by fetch_timeout; a lookup never outlasts its context.
//   - A config reload that keeps the source's configuration keeps its
//     client, subscription and cache (backend.go): tokens get the cached
//     values right after the reload, also while Redis is down.
//   - The URL's password is never logged nor put in an error.
package redissource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func init() {
	caddy.RegisterModule(Source{})
}

// The formats of the values.
const (
	FormatJSON = "json"
	FormatHash = "hash"
)

// Source is the redis metadata source.
type Source struct {
	// URL is the server's address: redis://[user:password@]host[:port][/db]
	// or rediss:// for TLS, with go-redis' query options. It may hold
	// placeholders known when the config loads ({env.*}, {file.*}),
	// rendered then; write the password so, since Caddy shows a literal
	// one in GET /config/ (a literal password is warned about at load). With SentinelMaster it names a Sentinel; with
	// ClusterAddrs, a node of the cluster.
	URL string `json:"url,omitempty"`

	// Format is how a value is stored: "json" (default), a string holding
	// a JSON object; or "hash", a hash whose fields become string members.
	// A value that is not a JSON object is an error; a missing key or an
	// empty hash is a miss. A value over max_size is refused without being
	// read whole (a string: GETRANGE; a hash: HLEN, then HSCAN until it
	// passes max_size), and the refusal is remembered for negative_ttl.
	Format string `json:"format,omitempty"`

	// SentinelMaster is the name of the master that the Sentinels at the
	// URL's address and at SentinelAddrs monitor. The URL's user, password
	// and db are the master's.
	SentinelMaster string `json:"sentinel_master,omitempty"`

	// SentinelAddrs are more Sentinels (host:port) besides the URL's.
	SentinelAddrs []string `json:"sentinel_addrs,omitempty"`

	// ClusterAddrs are more nodes (host:port) of a Redis Cluster besides
	// the URL's; setting it selects cluster mode. Keyspace notifications
	// are per node: the source subscribes on every master.
	ClusterAddrs []string `json:"cluster_addrs,omitempty"`

	// The cache's settings: cache_ttl (how long a value is fresh when no
	// notification invalidates it earlier), max_stale, negative_ttl (how
	// long a missing key is remembered when no notification says it was
	// set), cache_size, cache_bytes and fetch_timeout (bounds every command
	// to Redis, its retries and the dial, read and write of a connection
	// included).
	cache.Settings

	opts    *redis.UniversalOptions
	rawURL  string // URL with its load-time placeholders rendered
	db      int
	address string // the URL without its password, for logs and errors
	logger  *zap.Logger
	now     func() time.Time // the cache's clock; time.Now when nil

	b      *backend                  // set by UseKeyTemplate
	shared *sources.Shared[*backend] // the hold on b
}

// CaddyModule returns the Caddy module information.
func (Source) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sources.Namespace + ".redis",
		New: func() caddy.Module { return new(Source) },
	}
}

// Provision renders the URL's load-time placeholders and checks the
// configuration. It does not connect: a Redis that is down when the config
// loads does not fail the load. The client, the cache and the subscriber
// come with UseKeyTemplate.
func (s *Source) Provision(ctx caddy.Context) error {
	if s.logger == nil {
		s.logger = ctx.Logger()
	}
	if err := sources.RegisterMetrics(ctx, invalidationsTotal, reconnectsTotal); err != nil {
		return fmt.Errorf("redis source: registering metrics: %w", err)
	}
	if s.Format == "" {
		s.Format = FormatJSON
	}
	s.SetDefaults()
	if err := s.check(); err != nil {
		return err
	}
	rawURL, err := caddy.NewReplacer().ReplaceOrErr(s.URL, false, true)
	if err != nil {
		return fmt.Errorf("redis source: url: %w (only placeholders known when the config loads, such as {env.*} and {file.*}, are allowed here)", err)
	}
	opts, err := s.options(rawURL)
	if err != nil {
		return err
	}
	s.rawURL, s.opts = rawURL, opts
	s.address = redact(rawURL)
	s.db = opts.DB
	if opts.Password != "" && literalPassword(s.URL) {
		s.logger.Warn("redis source: the url holds its password as literal text, which Caddy shows in GET /config/ "+
			"and in its debug log of the loaded config; put it in the environment or a file and write "+
			"{env.REDIS_PASSWORD} or {file./run/secrets/redis} in its place",
			zap.String("redis", s.address))
	}
	return nil
}

// literalPassword reports whether the URL as configured holds a password
// in its user info as text rather than as a placeholder rendered at load.
func literalPassword(configured string) bool {
	rest := configured
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		// the user info comes from a placeholder, if any
		return false
	}
	_, pass, ok := strings.Cut(rest[:at], ":")
	return ok && sources.LiteralSecret(pass)
}

// options turns the rendered URL and the Sentinel and Cluster fields into
// go-redis' options. Errors never hold the URL: it may hold a password.
func (s *Source) options(rawURL string) (*redis.UniversalOptions, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("redis source: url is not a valid URL (not shown: it may hold a password)")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis source: url %s: the scheme must be redis or rediss", redact(rawURL))
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis source: url %s: %w", redact(rawURL), err)
	}
	if len(s.ClusterAddrs) > 0 && o.DB != 0 {
		return nil, fmt.Errorf("redis source: url %s: a cluster has database 0 only", redact(rawURL))
	}
	ft := time.Duration(s.FetchTimeout)
	addrs := []string{o.Addr}
	addrs = append(addrs, s.SentinelAddrs...)
	addrs = append(addrs, s.ClusterAddrs...)
	return &redis.UniversalOptions{
		Addrs:         addrs,
		MasterName:    s.SentinelMaster,
		IsClusterMode: len(s.ClusterAddrs) > 0,
		DB:            o.DB,
		Protocol:      o.Protocol,
		Username:      o.Username,
		Password:      o.Password,
		TLSConfig:     o.TLSConfig,
		ClientName:    o.ClientName,
		PoolSize:      o.PoolSize,
		MinIdleConns:  o.MinIdleConns,
		MaxRetries:    o.MaxRetries,
		// Every command is bounded by fetch_timeout through its context,
		// retries and their backoff included; the socket timeouts bound
		// the commands sent without one.
		ContextTimeoutEnabled: true,
		DialTimeout:           ft,
		ReadTimeout:           ft,
		WriteTimeout:          ft,
		PoolTimeout:           ft,
		// One dial per attempt: the command's own retries (MaxRetries)
		// retry a refused connection; the pool's dial retries, 100ms
		// apart, would spend a lookup's timeout on a server that is
		// down, and its "connection refused" would read "timed out".
		DialerRetries: 1,
		// CLIENT SETINFO is refused by servers before 7.2.
		DisableIdentity: true,
	}, nil
}

// Validate checks the configuration.
func (s *Source) Validate() error { return s.check() }

// check holds the checks that need no provisioning.
func (s *Source) check() error {
	if s.URL == "" {
		return errors.New("redis source: url is required")
	}
	switch s.Format {
	case "", FormatJSON, FormatHash:
	default:
		return fmt.Errorf("redis source: format %q: want json or hash", s.Format)
	}
	if err := s.Settings.Check(); err != nil {
		return fmt.Errorf("redis source: %w", err)
	}
	if len(s.SentinelAddrs) > 0 && s.SentinelMaster == "" {
		return errors.New("redis source: sentinel_addrs needs sentinel_master")
	}
	if s.SentinelMaster != "" && len(s.ClusterAddrs) > 0 {
		return errors.New("redis source: use sentinel_master or cluster_addrs, not both")
	}
	return nil
}

// UseKeyTemplate takes the backend of the source's configuration under
// this name and key template (the one a previous config left, or a new
// one): the client, the cache, and the subscriber to the keyspace
// notifications of the keys the template can produce.
func (s *Source) UseKeyTemplate(name, template string) error {
	if s.opts == nil {
		return errors.New("redis source: not provisioned")
	}
	if s.b != nil {
		return errors.New("redis source: used by two handlers; declare one source per handler")
	}
	key, err := s.backendKey(name, template)
	if err != nil {
		return err
	}
	tmpl, err := sources.ParseKeyTemplate(template)
	if err != nil {
		return fmt.Errorf("redis source: %w", err)
	}
	if tmpl.Placeholders() > 0 && tmpl.Prefix() == "" {
		s.logger.Warn("redis source: the key template starts with a placeholder, so a token's value can name "+
			"any key of the database (another application's session:..., say); start it with literal text "+
			"such as tenant:{http.token.tenant}",
			zap.String("source", name), sources.LogString("key", template))
	}
	shared, loaded, err := sources.Share(backends, key, func() (*backend, error) {
		return s.newBackend(name, tmpl.Prefix())
	})
	if err != nil {
		return err
	}
	s.shared, s.b = shared, shared.Backend
	if loaded {
		s.b.logger.Store(s.logger)
	}
	return nil
}

// Cleanup releases the backend (see sources.Shared); the source keeps
// using it for the requests of its config still in flight.
func (s *Source) Cleanup() error {
	if s.shared == nil {
		return nil
	}
	if err := s.shared.Release(); err != nil {
		return fmt.Errorf("redis source: %w", err)
	}
	return nil
}

// Lookup returns the object stored for key, from the cache when it has it.
func (s *Source) Lookup(ctx context.Context, key string) (sources.Result, error) {
	b := s.b
	if b == nil {
		return sources.Result{}, errors.New("redis source: not started")
	}
	// Only keys of the template are looked up: the notifications of other
	// keys are not heard, so their cached values would go out of date.
	if !strings.HasPrefix(key, b.prefix) {
		return sources.Result{}, fmt.Errorf("redis source: key %q does not start with %q, the literal start of the key template", sources.Truncate(key), b.prefix)
	}
	return b.cache.Get(ctx, key)
}

// redact returns rawURL without its password, for logs and errors.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}

// Interface guards.
var (
	_ caddy.Provisioner       = (*Source)(nil)
	_ caddy.Validator         = (*Source)(nil)
	_ caddy.CleanerUpper      = (*Source)(nil)
	_ sources.Source          = (*Source)(nil)
	_ sources.KeyTemplateUser = (*Source)(nil)
)

// metrics of the package, created once per process and registered with
// every new config's registry on Provision.
var (
	invalidationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http_token_enrich",
		Name:      "source_redis_invalidations_total",
		Help: "Keys of token_enrich redis sources invalidated in the local cache by a Redis keyspace " +
			"notification (a change from any client), by source.",
	}, []string{"source"})
	reconnectsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "http_token_enrich",
		Name:      "source_redis_reconnects_total",
		Help: "Reconnections of the keyspace notification subscription of token_enrich redis sources, by " +
			"source; each revalidates the source's whole cache, since changes may have been missed.",
	}, []string{"source"})
)
