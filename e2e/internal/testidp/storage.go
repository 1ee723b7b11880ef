package testidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is a small in-memory implementation of op.Storage and
// op.ClientCredentialsStorage. Everything lives in maps guarded by mu.
type storage struct {
	issuer func() string // used to build the login URL of the auto-approving login
	key    *rsa.PrivateKey
	keyID  string

	mu            sync.Mutex
	clients       map[string]Client
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	tokens        map[string]*token // access token ID -> token
	refreshTokens map[string]*token // refresh token -> data it was issued for
	opaque        map[string]string // opaque value -> plaintext (see Encrypt)
}

var (
	_ op.Storage                  = (*storage)(nil)
	_ op.ClientCredentialsStorage = (*storage)(nil)
	_ op.Crypto                   = (*storage)(nil)
)

// token is what the storage remembers about an issued access or refresh token.
type token struct {
	id       string
	clientID string
	subject  string
	audience []string
	scopes   []string
	authTime time.Time
	amr      []string
	expires  time.Time
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails, see crypto/rand docs
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNotFound is returned for unknown clients, codes and tokens. It is a plain
// error on purpose: op answers oidc.ErrServerError with 500.
var errNotFound = errors.New("not found")

// ---- op.Crypto: opaque reference tokens ----
//
// op encrypts "tokenID:subject" into bearer (non-JWT) access tokens and the
// auth request ID into authorization codes. Its default AES-256-GCM crypto
// yields a JWE (five dot-separated parts), which looks like a JWT to naive
// parsers. Reference tokens (random strings mapped to the plaintext) are
// unmistakably opaque.

// Encrypt implements op.Crypto.
func (s *storage) Encrypt(plain string) (string, error) {
	v := randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opaque[v] = plain
	return v, nil
}

// Decrypt implements op.Crypto.
func (s *storage) Decrypt(v string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, ok := s.opaque[v]
	if !ok {
		return "", errNotFound
	}
	return plain, nil
}

// ---- clients ----

func (s *storage) client(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

func (s *storage) checkSecret(id, secret string) (Client, error) {
	c, ok := s.client(id)
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return Client{}, errors.New("invalid client_id / client_secret")
	}
	return c, nil
}

// GetClientByClientID implements op.Storage.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.client(clientID)
	if !ok {
		return nil, errNotFound
	}
	return &opClient{Client: c, issuer: s.issuer}, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	_, err := s.checkSecret(clientID, clientSecret)
	return err
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *storage) ClientCredentials(_ context.Context, clientID, clientSecret string) (op.Client, error) {
	c, err := s.checkSecret(clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	return &opClient{Client: c, issuer: s.issuer}, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage. The
// client itself is the subject.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	return &clientCredentialsRequest{clientID: clientID, scopes: scopes}, nil
}

// ---- authorization code flow (auto-approved) ----

// CreateAuthRequest implements op.Storage. The request is approved right
// away for TestUser (or the subject of a valid id_token_hint).
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if userID == "" {
		userID = TestUser
	}
	ar := &authRequest{
		id:           randomString(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		scopes:       slices.Clone(req.Scopes),
		state:        req.State,
		nonce:        req.Nonce,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		subject:      userID,
		authTime:     time.Now(),
	}
	if req.CodeChallenge != "" {
		ar.codeChallenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[ar.id] = ar
	return ar, nil
}

// AuthRequestByID implements op.Storage.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, ok := s.authRequests[id]
	if !ok {
		return nil, errNotFound
	}
	return ar, nil
}

// AuthRequestByCode implements op.Storage.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

// SaveAuthCode implements op.Storage.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest implements op.Storage. It also invalidates the code, so
// a code can be redeemed only once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	maps.DeleteFunc(s.codes, func(_, reqID string) bool { return reqID == id })
	return nil
}

// ---- tokens ----

// tokenInfo extracts client ID, auth time and AMR from any of the request
// types op hands to CreateAccessToken / CreateAccessAndRefreshTokens.
func tokenInfo(req op.TokenRequest) (clientID string, authTime time.Time, amr []string) {
	switch r := req.(type) {
	case *clientCredentialsRequest:
		return r.clientID, time.Time{}, nil
	case *authRequest:
		return r.clientID, r.authTime, r.GetAMR()
	case *refreshTokenRequest:
		return r.clientID, r.authTime, r.amr
	case op.TokenExchangeRequest:
		return r.GetClientID(), r.GetAuthTime(), r.GetAMR()
	}
	return "", time.Time{}, nil
}

func (s *storage) newAccessToken(req op.TokenRequest) *token {
	clientID, authTime, amr := tokenInfo(req)
	t := &token{
		id:       randomString(),
		clientID: clientID,
		subject:  req.GetSubject(),
		audience: req.GetAudience(),
		scopes:   req.GetScopes(),
		authTime: authTime,
		amr:      amr,
		expires:  time.Now().Add(AccessTokenLifetime).UTC().Truncate(time.Second),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.id] = t
	return t
}

// CreateAccessToken implements op.Storage.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	t := s.newAccessToken(req)
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens implements op.Storage. Refresh tokens are
// opaque, single-use and rotated on every refresh.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	at := s.newAccessToken(req)
	rt := *at
	rt.id = randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	if currentRefreshToken != "" {
		if _, ok := s.refreshTokens[currentRefreshToken]; !ok {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		}
		delete(s.refreshTokens, currentRefreshToken)
	}
	s.refreshTokens[rt.id] = &rt
	return at.id, rt.id, at.expires, nil
}

// TokenRequestByRefreshToken implements op.Storage.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens[refreshToken]
	if !ok {
		return nil, errNotFound
	}
	return &refreshTokenRequest{token: *t}, nil
}

// TerminateSession implements op.Storage.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(_ string, t *token) bool { return t.subject == userID && t.clientID == clientID }
	maps.DeleteFunc(s.tokens, match)
	maps.DeleteFunc(s.refreshTokens, match)
	return nil
}

// RevokeToken implements op.Storage.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*token{s.tokens, s.refreshTokens} {
		if t, ok := m[tokenOrID]; ok {
			if t.clientID != clientID {
				return oidc.ErrInvalidClient().WithDescription("token was not issued for this client")
			}
			delete(m, tokenOrID)
		}
	}
	return nil
}

// GetRefreshTokenInfo implements op.Storage.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, refreshToken string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens[refreshToken]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.subject, t.id, nil
}

// ---- keys ----

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// SigningKey implements op.Storage.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

// SignatureAlgorithms implements op.Storage.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{signingKey{id: s.keyID, key: s.key}}}, nil
}

// ---- claims, userinfo, introspection ----

// GetPrivateClaimsFromScopes implements op.Storage: the client's Claims go
// into every JWT access token issued to it.
func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, _, clientID string, _ []string) (map[string]any, error) {
	c, ok := s.client(clientID)
	if !ok {
		return nil, errNotFound
	}
	return maps.Clone(c.Claims), nil
}

// SetUserinfoFromScopes implements op.Storage. op copies the result over
// the ID token's claims whenever scopes were granted, so it must at least
// carry the subject (strict clients such as openid-client reject an ID
// token without sub).
func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, userID, _ string, _ []string) error {
	info.Subject = userID
	return nil
}

// SetUserinfoFromToken implements op.Storage.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok || t.subject != subject || time.Now().After(t.expires) {
		return errNotFound
	}
	info.Subject = t.subject
	return nil
}

// SetIntrospectionFromToken implements op.Storage. Any registered client
// may introspect any token; the token's client claims are included.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || t.subject != subject || time.Now().After(t.expires) {
		return errNotFound
	}
	resp.Subject = t.subject
	resp.ClientID = t.clientID
	resp.Scope = t.scopes
	resp.Audience = t.audience
	resp.Expiration = oidc.FromTime(t.expires)
	resp.Issuer = s.issuer()
	resp.TokenType = oidc.BearerToken
	if c, ok := s.client(t.clientID); ok {
		resp.Claims = maps.Clone(c.Claims)
	}
	return nil
}

// GetKeyByIDAndClientID implements op.Storage; JWT profile client
// authentication is not supported.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported by testidp")
}

// ValidateJWTProfileScopes implements op.Storage.
func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

// Health implements op.Storage.
func (s *storage) Health(context.Context) error { return nil }

// ---- request types ----

// clientCredentialsRequest is the op.TokenRequest of the client_credentials grant.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }

// authRequest implements op.AuthRequest. It is always Done: the login is
// auto-approved.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	scopes        []string
	state         string
	nonce         string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	subject       string
	authTime      time.Time
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return true }

// refreshTokenRequest implements op.RefreshTokenRequest.
type refreshTokenRequest struct{ token }

func (r *refreshTokenRequest) GetAMR() []string             { return r.amr }
func (r *refreshTokenRequest) GetAudience() []string        { return r.audience }
func (r *refreshTokenRequest) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshTokenRequest) GetClientID() string          { return r.clientID }
func (r *refreshTokenRequest) GetScopes() []string          { return r.scopes }
func (r *refreshTokenRequest) GetSubject() string           { return r.subject }
func (r *refreshTokenRequest) SetCurrentScopes(sc []string) { r.scopes = sc }

// opClient adapts Client to op.Client: a confidential web client allowed to
// use client_credentials, authorization_code and refresh_token.
type opClient struct {
	Client
	issuer func() string
}

func (c *opClient) GetID() string                    { return c.ID }
func (c *opClient) RedirectURIs() []string           { return []string{RedirectURI} }
func (c *opClient) PostLogoutRedirectURIs() []string { return nil }
func (c *opClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *opClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials, oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL skips the login UI: it points straight at op's callback, which
// finds the (already Done) auth request and redirects with the code.
func (c *opClient) LoginURL(authRequestID string) string {
	return fmt.Sprintf("%s/authorize/callback?id=%s", c.issuer(), url.QueryEscape(authRequestID))
}

func (c *opClient) AccessTokenType() op.AccessTokenType {
	if c.Opaque {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}
func (c *opClient) IDTokenLifetime() time.Duration { return time.Hour }
func (c *opClient) DevMode() bool                  { return true }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) IsScopeAllowed(string) bool           { return true }
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *opClient) ClockSkew() time.Duration             { return 0 }
