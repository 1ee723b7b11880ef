// Package testidp runs a real, in-process OpenID Connect provider for tests.
//
// It is built on the OpenID-certified github.com/zitadel/oidc/v3/pkg/op
// with a small in-memory storage. It serves discovery
// (/.well-known/openid-configuration), /oauth/token, /keys,
// /oauth/introspect, /authorize, /userinfo and /revoke.
//
// Supported:
//   - client_credentials with client_secret_basic or client_secret_post,
//     issuing RS256-signed JWT access tokens (or opaque tokens for clients
//     with Opaque set) that carry the client's Claims;
//   - authorization_code (login is auto-approved for TestUser, no UI; see
//     Provider.AuthorizationCode) and refresh_token with rotation.
//
// The issuer is independent of the listener and of the request's Host
// header, so the provider can sit behind a reverse proxy whose address is
// the issuer (see WithIssuer and Provider.SetIssuer). The proxy must forward
// paths unchanged (an issuer with a path prefix requires the proxy to strip
// that prefix).
package testidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Credentials of the default clients (see DefaultClients).
const (
	AcmeClientID       = "svc-acme"      // JWT access tokens, tenant "acme"
	AcmeClientSecret   = "acme-secret"   // secret of AcmeClientID
	GlobexClientID     = "svc-globex"    // JWT access tokens, tenant "globex"
	GlobexClientSecret = "globex-secret" // secret of GlobexClientID
	OpaqueClientID     = "svc-opaque"    // opaque access tokens, tenant "initech"
	OpaqueClientSecret = "opaque-secret" // secret of OpaqueClientID
)

const (
	// TenantClaim is the custom access token claim carrying the tenant of
	// the default clients ("acme", "globex", "initech").
	TenantClaim = "tenant"

	// RedirectURI is the only redirect URI registered for every client. It
	// is never contacted: Provider.AuthorizationCode stops at it.
	RedirectURI = "http://127.0.0.1/testidp/callback"

	// TestUser is the subject of tokens from the authorization_code flow.
	TestUser = "test-user"

	// AccessTokenLifetime is the lifetime of every access token.
	AccessTokenLifetime = 5 * time.Minute
)

// Client is a confidential client registered at the provider. Every client
// may use the client_credentials, authorization_code and refresh_token
// grants, authenticating with client_secret_basic or client_secret_post.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret.
	Secret string
	// Claims are added to every JWT access token issued to this client and
	// to introspection responses for its tokens. They must not collide
	// with registered claims (iss, sub, aud, exp, ...).
	Claims map[string]any
	// Opaque makes the provider issue opaque (random, non-JWT) access
	// tokens to this client instead of signed JWTs.
	Opaque bool
}

// DefaultClients returns the clients registered unless replaced with
// WithClients:
//
//	svc-acme   / acme-secret    JWT access tokens, tenant "acme"
//	svc-globex / globex-secret  JWT access tokens, tenant "globex"
//	svc-opaque / opaque-secret  opaque access tokens, tenant "initech"
func DefaultClients() []Client {
	return []Client{
		{ID: AcmeClientID, Secret: AcmeClientSecret, Claims: map[string]any{TenantClaim: "acme"}},
		{ID: GlobexClientID, Secret: GlobexClientSecret, Claims: map[string]any{TenantClaim: "globex"}},
		{ID: OpaqueClientID, Secret: OpaqueClientSecret, Claims: map[string]any{TenantClaim: "initech"}, Opaque: true},
	}
}

type config struct {
	issuer  string
	clients []Client
}

// Option configures Start.
type Option func(*config)

// WithIssuer sets the issuer, e.g. "http://127.0.0.1:8443" for a reverse
// proxy in front of the provider. By default the issuer is Provider.URL.
// Use Provider.SetIssuer if the issuer is only known after Start.
func WithIssuer(issuer string) Option {
	return func(c *config) { c.issuer = issuer }
}

// WithClients registers clients in addition to DefaultClients; a client
// with the ID of a default client replaces it.
func WithClients(clients ...Client) Option {
	return func(c *config) { c.clients = append(c.clients, clients...) }
}

// Provider is a running OpenID provider. Create it with Start.
type Provider struct {
	// URL is the base URL of the provider's own listener,
	// "http://127.0.0.1:PORT", without a trailing slash.
	URL string

	storage *storage
	mu      sync.RWMutex
	issuer  string
}

// Start starts a provider on 127.0.0.1:0 and stops it on t.Cleanup.
func Start(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	cfg := config{clients: DefaultClients()}
	for _, o := range opts {
		o(&cfg)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testidp: generate key: %v", err)
	}
	p := &Provider{}
	p.storage = &storage{
		issuer:        p.Issuer,
		key:           key,
		keyID:         "testidp-" + randomString()[:8],
		clients:       map[string]Client{},
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		tokens:        map[string]*token{},
		refreshTokens: map[string]*token{},
		opaque:        map[string]string{},
	}
	for _, c := range cfg.clients {
		p.storage.clients[c.ID] = c
	}

	opConfig := &op.Config{
		AuthMethodPost:        true,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
	}
	// The issuer comes from p, never from the request's Host, so requests
	// forwarded by a proxy with any Host header are handled the same.
	issuerFn := func(bool) (op.IssuerFromRequest, error) {
		return func(*http.Request) string { return p.Issuer() }, nil
	}
	handler, err := op.NewProvider(opConfig, p.storage, issuerFn,
		op.WithAllowInsecure(), op.WithCrypto(p.storage))
	if err != nil {
		t.Fatalf("testidp: create provider: %v", err)
	}

	srv := httptest.NewUnstartedServer(handler)
	p.URL = "http://" + srv.Listener.Addr().String() // set before serving: no data race
	srv.Start()
	t.Cleanup(srv.Close)
	if cfg.issuer != "" {
		if err := p.setIssuer(cfg.issuer); err != nil {
			t.Fatalf("testidp: %v", err)
		}
	}
	return p
}

// Issuer returns the issuer: the "iss" of issued tokens and the base of
// every endpoint URL advertised by discovery. It defaults to URL.
func (p *Provider) Issuer() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.issuer == "" {
		return p.URL
	}
	return p.issuer
}

// SetIssuer changes the issuer, e.g. to the address of a reverse proxy
// started after the provider. It panics if issuer is not an absolute
// http(s) URL without query or fragment.
func (p *Provider) SetIssuer(issuer string) {
	if err := p.setIssuer(issuer); err != nil {
		panic("testidp: " + err.Error())
	}
}

func (p *Provider) setIssuer(issuer string) error {
	issuer = strings.TrimSuffix(issuer, "/")
	if err := op.ValidateIssuer(issuer, true); err != nil {
		return fmt.Errorf("invalid issuer %q: %w", issuer, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issuer = issuer
	return nil
}

// TokenURL returns the token endpoint as advertised by discovery
// (Issuer() + "/oauth/token").
func (p *Provider) TokenURL() string { return p.Issuer() + "/oauth/token" }

// Client returns the registered client with the given ID. Its Claims map
// is shared with the provider and must not be modified.
func (p *Provider) Client(id string) (Client, bool) { return p.storage.client(id) }

// JWKS returns the public signing keys, as served at /keys.
func (p *Provider) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       &p.storage.key.PublicKey,
		KeyID:     p.storage.keyID,
		Algorithm: string(jose.RS256),
		Use:       "sig",
	}}}
}

// VerifyAccessToken checks that accessToken is an RS256 JWT signed by this
// provider, issued by Issuer() and not expired, and returns its claims.
func (p *Provider) VerifyAccessToken(accessToken string) (map[string]any, error) {
	jws, err := jose.ParseSigned(accessToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("parse JWT: %w", err)
	}
	payload, err := jws.Verify(&p.storage.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("verify JWT: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	if iss := claims["iss"]; iss != p.Issuer() {
		return nil, fmt.Errorf("iss is %v, want %s", iss, p.Issuer())
	}
	if exp, _ := claims["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now()) {
		return nil, errors.New("token expired")
	}
	return claims, nil
}

// AuthorizationCode runs the auto-approved authorization_code flow: it
// GETs authURL (e.g. from oauth2.Config.AuthCodeURL with RedirectURL set
// to RedirectURI) and follows redirects until one to the redirect URI,
// whose "code" it returns. The redirect URI itself is never contacted.
// Request scope "offline_access" to also get a refresh token from the code
// exchange. httpClient may be nil; its CheckRedirect is not used.
func (p *Provider) AuthorizationCode(ctx context.Context, httpClient *http.Client, authURL string) (string, error) {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := *httpClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	next := authURL
	for range 10 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return "", err
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return "", fmt.Errorf("GET %s: %s: %s", next, resp.Status, body)
		}
		q := loc.Query()
		if e := q.Get("error"); e != "" {
			return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
		}
		if code := q.Get("code"); code != "" {
			return code, nil
		}
		next = loc.String()
	}
	return "", errors.New("too many redirects")
}
