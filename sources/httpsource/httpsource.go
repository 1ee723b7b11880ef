// Package httpsource is the http metadata source of token_enrich: it GETs a
// URL rendered from the request's placeholders and uses the JSON object the
// service answers with. Answers are cached per URL (package cache).
//
// What is sent: the URL, Accept: application/json and the configured
// headers, Basic credentials or OAuth 2.0 client-credentials token. Nothing
// of the incoming request (its access token, its headers, its cookies) is
// sent unless the URL template names it with a placeholder.
package httpsource

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

func init() {
	caddy.RegisterModule(Source{})
}

// MaxDepth is the engine's bound (enrichers.MaxDepth) on the nesting of
// objects and arrays, applied to the service's answers too.
const MaxDepth = enrichers.MaxDepth

// Source is the http metadata source.
type Source struct {
	// URL is the template of the URL to GET, with placeholders in its path
	// and query. Its scheme (http or https) is literal; its host and port
	// may hold only placeholders known when the config loads ({env.*},
	// {file.*}), rendered then: a value of a request must not choose where
	// the source's credentials go. Each placeholder's value is escaped for
	// where it stands: in the path with url.PathEscape, in the query with
	// url.QueryEscape. When a placeholder renders empty there is no lookup.
	// The rendered URL is the cache key.
	URL string `json:"url,omitempty"`

	// The cache's settings, per URL: cache_ttl, max_stale, negative_ttl
	// (how long a 404 is remembered), cache_size, cache_bytes, max_size
	// (the largest response body read) and fetch_timeout (bounds every
	// request to the service, the OAuth 2.0 token request included).
	cache.Settings

	// Headers are added to every request. Values may hold placeholders that
	// are known when the config loads ({env.*}, {file.*}); they are
	// rendered then. Per-request placeholders are for the URL only: the
	// cache is keyed by URL.
	Headers map[string]string `json:"headers,omitempty"`

	// BasicAuth sends HTTP Basic credentials.
	BasicAuth *BasicAuth `json:"basic_auth,omitempty"`

	// OAuth2 gets a bearer token with the OAuth 2.0 client credentials
	// grant and sends it; the token is cached and refreshed before expiry.
	OAuth2 *OAuth2 `json:"oauth2,omitempty"`

	tmpl   urlTemplate
	header http.Header // every request's headers, rendered
	logger *zap.Logger
	now    func() time.Time // the cache's clock; time.Now when nil

	b      *backend                  // set by Provision
	shared *sources.Shared[*backend] // the hold on b
}

// BasicAuth holds HTTP Basic credentials. Both may hold {env.*} and
// {file.*} placeholders, rendered when the config loads.
type BasicAuth struct {
	// Username is the user ID.
	Username string `json:"username,omitempty"`
	// Password is the password.
	Password string `json:"password,omitempty"`
}

// OAuth2 configures the OAuth 2.0 client credentials grant (RFC 6749,
// section 4.4). The strings may hold {env.*} and {file.*} placeholders,
// rendered when the config loads. The client authenticates to the token
// endpoint with HTTP Basic, or in the form if the endpoint refuses that. A
// token is used until it expires; an expired one is replaced before the
// request that needs it.
type OAuth2 struct {
	// TokenURL is the token endpoint of the authorization server.
	TokenURL string `json:"token_url,omitempty"`
	// ClientID is the client's ID.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the client's secret. Write it as {env.*} or {file.*}:
	// Caddy shows a literal one in GET /config/ (it is warned about at
	// load).
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes are the scopes requested.
	Scopes []string `json:"scopes,omitempty"`
	// EndpointParams are extra parameters of the token request, such as
	// audience or resource.
	EndpointParams map[string][]string `json:"endpoint_params,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Source) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sources.Namespace + ".http",
		New: func() caddy.Module { return new(Source) },
	}
}

// Provision renders the load-time placeholders and sets up the client and
// the cache.
func (s *Source) Provision(ctx caddy.Context) error {
	if s.logger == nil {
		s.logger = ctx.Logger()
	}
	s.SetDefaults()
	if err := s.check(); err != nil {
		return err
	}

	tmpl, err := parseTemplate(s.URL)
	if err != nil {
		return err
	}
	s.tmpl = tmpl

	s.warnLiteralSecrets()
	repl := caddy.NewReplacer()
	s.header = http.Header{"Accept": {"application/json"}}
	for name, tv := range s.Headers {
		v, err := loadTime(repl, tv)
		if err != nil {
			return fmt.Errorf("http source: header %s: %w", name, err)
		}
		if err := checkHeader(name, v); err != nil {
			return err
		}
		s.header.Set(name, v)
	}
	if b := s.BasicAuth; b != nil {
		user, err := loadTime(repl, b.Username)
		if err != nil {
			return fmt.Errorf("http source: basic_auth username: %w", err)
		}
		pass, err := loadTime(repl, b.Password)
		if err != nil {
			return fmt.Errorf("http source: basic_auth password: %w", err)
		}
		if strings.Contains(user, ":") {
			return errors.New("http source: basic_auth username must not contain ':'")
		}
		s.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}

	var cc *clientcredentials.Config
	if o := s.OAuth2; o != nil {
		if cc, err = o.config(repl); err != nil {
			return err
		}
	}
	key, err := s.backendKey(cc)
	if err != nil {
		return err
	}
	shared, loaded, err := sources.Share(backends, key, func() (*backend, error) { return s.newBackend(cc) })
	if err != nil {
		return err
	}
	s.shared, s.b = shared, shared.Backend
	if loaded {
		s.b.logger.Store(s.logger)
	}
	return nil
}

// warnLiteralSecrets warns about each secret of the config written as
// text (see sources.LiteralSecret): the warning names the setting, never
// the secret.
func (s *Source) warnLiteralSecrets() {
	var literal []string
	for name, v := range s.Headers {
		if http.CanonicalHeaderKey(name) == "Authorization" && sources.LiteralSecret(v) {
			literal = append(literal, "the Authorization header")
		}
	}
	if s.BasicAuth != nil && sources.LiteralSecret(s.BasicAuth.Password) {
		literal = append(literal, "basic_auth's password")
	}
	if s.OAuth2 != nil && sources.LiteralSecret(s.OAuth2.ClientSecret) {
		literal = append(literal, "oauth2's client_secret")
	}
	for _, what := range literal {
		s.logger.Warn("http source: "+what+" is literal text, which Caddy shows in GET /config/ and in its debug "+
			"log of the loaded config; put the secret in the environment or a file and write {env.NAME} or "+
			"{file./run/secrets/name} in its place",
			sources.LogString("url", redact(s.URL)))
	}
}

// Validate checks the configuration.
func (s *Source) Validate() error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := parseTemplate(s.URL); err != nil {
		return err
	}
	return nil
}

// check holds the checks that need no provisioning.
func (s *Source) check() error {
	if s.URL == "" {
		return errors.New("http source: url is required")
	}
	if err := s.Settings.Check(); err != nil {
		return fmt.Errorf("http source: %w", err)
	}
	auth := 0
	for name := range s.Headers {
		if http.CanonicalHeaderKey(name) == "Authorization" {
			auth++
		}
	}
	if s.BasicAuth != nil {
		auth++
	}
	if s.OAuth2 != nil {
		auth++
		if s.OAuth2.TokenURL == "" || s.OAuth2.ClientID == "" {
			return errors.New("http source: oauth2 needs token_url and client_id")
		}
	}
	if auth > 1 {
		return errors.New("http source: use one of an Authorization header, basic_auth and oauth2")
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
		return fmt.Errorf("http source: %w", err)
	}
	return nil
}

// RenderKey renders the URL template with the request's placeholders,
// escaping each value for the part of the URL it stands in. ok is false
// when a placeholder renders empty (or is unknown), or a path value is "."
// or "..".
func (s *Source) RenderKey(repl *caddy.Replacer) (string, bool) {
	return s.tmpl.render(repl)
}

// Lookup returns the object the service answers for the URL key, from the
// cache when it has it. key must be a URL that RenderKey returned.
func (s *Source) Lookup(ctx context.Context, key string) (sources.Result, error) {
	// Only URLs the template can produce are fetched: the key goes to the
	// configured service, with its credentials, and nowhere else.
	if !strings.HasPrefix(key, s.tmpl.prefix) {
		return sources.Result{}, errors.New("http source: key is not a URL of this source's template")
	}
	return s.b.cache.Get(ctx, key)
}

// fetch GETs rawURL. It returns the body when it is a JSON object, nil for
// a 404, and an error otherwise.
func (b *backend) fetch(ctx context.Context, rawURL string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("http source: %w", unwrapURLError(err))
	}
	req.Header = b.header.Clone()
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := b.client.Do(req)
	if err != nil {
		// url.Error spells out the URL, which may hold a secret in its
		// query; the error names the host and path only.
		return nil, fmt.Errorf("http source: GET %s: %w", redact(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		drain(resp.Body)
		return nil, nil
	default:
		drain(resp.Body)
		return nil, fmt.Errorf("http source: GET %s: status %d", redact(rawURL), resp.StatusCode)
	}
	if resp.ContentLength > b.maxSize {
		return nil, fmt.Errorf("http source: GET %s: body of %d bytes is larger than max_size %d",
			redact(rawURL), resp.ContentLength, b.maxSize)
	}
	body, err := sources.ReadAtMost(resp.Body, b.maxSize, resp.ContentLength)
	if errors.Is(err, sources.ErrTooLarge) {
		return nil, fmt.Errorf("http source: GET %s: body larger than max_size %d", redact(rawURL), b.maxSize)
	}
	if err != nil {
		return nil, fmt.Errorf("http source: GET %s: reading body: %w", redact(rawURL), err)
	}
	if err := sources.CheckObject(body); err != nil {
		return nil, fmt.Errorf("http source: GET %s: %w", redact(rawURL), err)
	}
	return body, nil
}

// drain reads a little of an unused body so that its connection can be
// reused; a longer body closes the connection instead.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// unwrapURLError drops the *url.Error around err, whose message holds the
// whole URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact returns rawURL without its user info, query and fragment, cut
// to sources.MaxLogValue bytes, for logs and errors.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return sources.Truncate(u.String())
}

// loadTime renders the placeholders known when the config loads. An unknown
// placeholder is an error: per-request values would be missing from the
// cache key.
func loadTime(repl *caddy.Replacer, s string) (string, error) {
	v, err := repl.ReplaceOrErr(s, false, true)
	if err != nil {
		return "", fmt.Errorf("%w (only placeholders known when the config loads, such as {env.*} and {file.*}, are allowed here)", err)
	}
	return v, nil
}

// checkHeader rejects a header the client would refuse to send on every
// request.
func checkHeader(name, value string) error {
	if name == "" || strings.IndexFunc(name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) >= 0 {
		return fmt.Errorf("http source: header name %q is not a valid token", name)
	}
	if strings.IndexFunc(value, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
		return fmt.Errorf("http source: header %s: value holds a control character", name)
	}
	return nil
}

// config renders o's load-time placeholders into a clientcredentials.Config.
func (o *OAuth2) config(repl *caddy.Replacer) (*clientcredentials.Config, error) {
	var err error
	get := func(what, s string) string {
		if err != nil {
			return ""
		}
		var v string
		v, err = loadTime(repl, s)
		if err != nil {
			err = fmt.Errorf("http source: oauth2 %s: %w", what, err)
		}
		return v
	}
	cc := &clientcredentials.Config{
		TokenURL:     get("token_url", o.TokenURL),
		ClientID:     get("client_id", o.ClientID),
		ClientSecret: get("client_secret", o.ClientSecret),
		Scopes:       o.Scopes,
	}
	if err != nil {
		return nil, err
	}
	if u, perr := url.Parse(cc.TokenURL); perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("http source: oauth2 token_url %q is not an http(s) URL", cc.TokenURL)
	}
	if len(o.EndpointParams) > 0 {
		cc.EndpointParams = url.Values{}
		for k, vs := range o.EndpointParams {
			for _, v := range vs {
				cc.EndpointParams.Add(k, get("endpoint_params", v))
			}
		}
	}
	return cc, err
}

// Interface guards.
var (
	_ caddy.Provisioner   = (*Source)(nil)
	_ caddy.Validator     = (*Source)(nil)
	_ caddy.CleanerUpper  = (*Source)(nil)
	_ sources.Source      = (*Source)(nil)
	_ sources.KeyRenderer = (*Source)(nil)
)
