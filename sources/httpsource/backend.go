package httpsource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

// backends holds the live backends by the configuration that made them.
// A config reload that keeps a source's configuration (its URL, headers,
// credentials and every setting, as rendered) keeps its backend: its
// connections, its OAuth 2.0 token and its warm cache. Tokens issued after
// the reload get the cached answers at once, also while the service is
// down. A changed configuration gets a new backend; the old one is closed
// when the last config using it is unloaded.
var backends = caddy.NewUsagePool()

// backend is what a source needs at run time: the client and the cache.
type backend struct {
	client  *http.Client
	idle    interface{ CloseIdleConnections() }
	header  http.Header // every request's headers
	maxSize int64
	cache   *cache.Cache

	// logger is the logger of the newest config using the backend: an
	// older config's logs may be closed.
	logger atomic.Pointer[zap.Logger]
}

// backendKey identifies the configuration of s, as rendered, with cc its
// OAuth 2.0 client configuration (nil without): two sources with equal keys
// may share a backend.
func (s *Source) backendKey(cc *clientcredentials.Config) (string, error) {
	j, err := json.Marshal(struct {
		Config *Source
		Header http.Header
		OAuth2 *clientcredentials.Config
	}{s, s.header, cc})
	if err != nil {
		return "", fmt.Errorf("http source: %w", err)
	}
	key := string(j)
	if s.now != nil {
		// a cache with its own clock is shared with no other source
		key = sources.Unshared(key)
	}
	return key, nil
}

// newBackend makes the backend of s, with cc its OAuth 2.0 client
// configuration (nil without).
func (s *Source) newBackend(cc *clientcredentials.Config) (*backend, error) {
	// A transport of its own: nothing is shared with the proxy's
	// connections or with other sources.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	var rt http.RoundTripper = transport
	if cc != nil {
		tokenClient := &http.Client{
			Transport:     transport,
			Timeout:       time.Duration(s.FetchTimeout),
			CheckRedirect: noRedirect,
		}
		// The token source caches the token and asks for a new one when
		// it expires; clientcredentials wraps it in a ReuseTokenSource.
		ts := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient))
		rt = &oauth2.Transport{Source: ts, Base: transport}
	}
	b := &backend{
		// No cookie jar, and redirects are not followed (a 3xx is an
		// error): the configured credentials go only to the configured
		// service.
		client:  &http.Client{Transport: rt, CheckRedirect: noRedirect},
		idle:    transport,
		header:  s.header,
		maxSize: s.MaxSize,
	}
	b.logger.Store(s.logger)
	cfg := s.Config()
	cfg.Now = s.now
	cfg.OnRefreshError = func(key string, err error, unreported int) {
		b.logger.Load().Warn("background refresh failed; serving the cached answer (one line per 10s at most)",
			sources.LogString("url", redact(key)), sources.LogError(err), zap.Int("failures_not_logged", unreported))
	}
	var err error
	if b.cache, err = cache.New(cfg, b.fetch); err != nil {
		return nil, fmt.Errorf("http source: %w", err)
	}
	return b, nil
}

// Destruct stops the background refreshes and closes the idle
// connections; the usage pool calls it when no config uses the backend
// any more.
func (b *backend) Destruct() error {
	b.cache.Close()
	b.idle.CloseIdleConnections()
	return nil
}

// Interface guard.
var _ caddy.Destructor = (*backend)(nil)
