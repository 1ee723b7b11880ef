// Package caddymodule is the Caddy glue for token_enrich: the HTTP handler
// module, its Caddyfile directive, {http.token.*} placeholders and logs. The
// work itself is done by package enrichers.
package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Default limits and paths.
const (
	// DefaultMaxBody is the largest upstream body buffered for enrichment.
	DefaultMaxBody = 1 << 20
	// DefaultPath is where OAuth 2.0 token endpoints usually live (Auth0).
	DefaultPath = "/oauth/token"
	// maxRequestBody bounds how much of a token request is read to learn the
	// client, grant and audience; a larger body is forwarded intact and the
	// identity comes from the token alone.
	maxRequestBody = 64 << 10
)

// Handler adds metadata fields to successful OAuth 2.0 / OpenID Connect token
// responses coming back from an upstream identity provider. Place it before
// reverse_proxy. It learns who a token is for (client id, audiences, tenant,
// issuer, grant type, scopes) from the access token's JWT claims and from the
// token request, then splices the configured fields into the JSON body.
//
// Only POST requests to the configured paths are considered, and only 2xx
// application/json responses whose body is a JSON object with a string
// access_token are changed. Everything else, including error responses and
// bodies over max_body, reaches the client byte-for-byte unchanged. Standard
// OAuth members (access_token, token_type, expires_in, refresh_token, scope,
// id_token, issued_token_type, error, error_description, error_uri) are
// never written.
//
// POST requests to introspection_paths are RFC 7662 token introspection
// requests: only a response with "active": true is changed, its members
// standing for the token's claims, and RFC 7662 members are never written
// to it either.
//
// After a token response is seen, these placeholders are set on the
// request's replacer for later handlers and logs: {http.token.client_id},
// {http.token.audience}, {http.token.tenant}, {http.token.issuer},
// {http.token.subject}, {http.token.grant_type}, {http.token.scope} and
// {http.token.claims.<name>}.
type Handler struct {
	// Request paths to act on, as Caddy path matcher patterns (wildcards
	// allowed). Default: /oauth/token.
	Paths []string `json:"paths,omitempty"`

	// Request paths of RFC 7662 token introspection endpoints to act on,
	// as Caddy path matcher patterns, e.g. /oauth/introspect. None by
	// default. A POST to one of them is handled like a token request, but
	// its response is read as an introspection response: only one with
	// "active": true is enriched, by the same fields and rules, its own
	// members (client_id, aud, scope, iss, sub, the tenant claim) standing
	// for the token's claims. RFC 7662 members (active, scope, client_id,
	// username, token_type, exp, iat, nbf, sub, aud, iss, jti) are never
	// written to it. A path in both lists is an introspection path.
	IntrospectionPaths []string `json:"introspection_paths,omitempty"`

	// The largest upstream response body, in bytes, that is buffered for
	// enrichment (decoded size for compressed bodies). Larger bodies pass
	// through untouched. Default: 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// What to do when a response that should be enriched cannot be (a
	// corrupt compressed body, invalid JSON): "pass" (default) sends the
	// original response unchanged; "fail" answers 502 with a JSON error.
	OnError string `json:"on_error,omitempty"`

	// Allow replacing a non-reserved member the upstream already sent.
	// By default the upstream's value is kept.
	Overwrite bool `json:"overwrite,omitempty"`

	// Compute everything but change nothing: each response that would be
	// enriched is logged at info level with the names and values it would
	// get (never a token), counted as result "dry_run", and sent exactly
	// as the upstream sent it. For rolling new rules out against live
	// traffic.
	DryRun bool `json:"dry_run,omitempty"`

	// The identity provider whose claim names to read: auto (default),
	// generic, auth0, okta, entra, keycloak, cognito, hydra or rfc9068.
	// auto picks the preset per token from its issuer (*.auth0.com, Okta,
	// Entra ID and Cognito hosts, /realms/ paths for Keycloak), else from
	// an RFC 9068 `typ: at+jwt` header or Hydra's `ext` claim, else the
	// generic names. A preset also derives the tenant from the issuer when
	// no tenant claim is present (Auth0 tenant, Okta authorization server,
	// Entra tenant id, Keycloak realm, Cognito user pool).
	Preset string `json:"preset,omitempty"`

	// Claims naming the tenant, in priority order; replaces the preset's
	// list (the preset's issuer fallback still applies). Generic default:
	// org_id, tid, tenant_id, tenant.
	TenantClaims []string `json:"tenant_claims,omitempty"`

	// Claims naming the client, in priority order; replaces the preset's
	// list. Generic default: client_id, azp, cid, appid.
	ClientClaims []string `json:"client_claims,omitempty"`

	// JSON-object claims whose members are copied to the top level of the
	// response (reserved names skipped).
	LiftClaims []string `json:"lift_claims,omitempty"`

	// Fields added to every enriched response.
	Fields []enrichers.FieldConfig `json:"fields,omitempty"`

	// Rules, checked in order; every matching rule applies and a later rule
	// wins over an earlier one for the same field. A rule's match is a
	// matcher set of Caddy request matchers (the http.matchers modules, as
	// in a route's match), evaluated once the identity is known: the rule
	// applies only when its token conditions and all its matchers hold.
	Rules []enrichers.RuleConfig `json:"rules,omitempty"`

	// Metadata sources, looked up once the token's identity is known where
	// a field places them ({"source": "<name>"}).
	Sources []SourceConfig `json:"sources,omitempty"`

	// Weighted, sticky splits assigned to every token response: each key
	// falls in one bucket, the placeholder {http.token.split.<name>}.
	Splits []enrichers.SplitConfig `json:"splits,omitempty"`

	sources map[string]*SourceConfig

	// the rules' matcher sets, in rule order
	ruleMatchers []ruleMatcher

	enricher *enrichers.Enricher
	paths    caddyhttp.MatchPath
	// introspectionPaths: nil when none is configured
	introspectionPaths caddyhttp.MatchPath
	failMode           bool
	// needsResolver: a field has a placeholder the engine does not render
	// itself, so the request's replacer must be consulted
	needsResolver bool
	logger        *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.token_enrich",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies defaults and compiles the configuration.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("token_enrich: registering metrics: %w", err)
	}
	if len(h.Paths) == 0 {
		h.Paths = []string{DefaultPath}
	}
	h.paths = append(caddyhttp.MatchPath(nil), h.Paths...)
	if err := h.paths.Provision(ctx); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	if len(h.IntrospectionPaths) > 0 {
		h.introspectionPaths = append(caddyhttp.MatchPath(nil), h.IntrospectionPaths...)
		if err := h.introspectionPaths.Provision(ctx); err != nil {
			return fmt.Errorf("introspection_paths: %w", err)
		}
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.OnError == "" {
		h.OnError = "pass"
	}
	h.failMode = h.OnError == "fail"
	if err := h.provisionSources(ctx); err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	e, err := enrichers.New(enrichers.Config{
		Sources:      h.sourceSpecs(),
		Splits:       h.Splits,
		Preset:       h.Preset,
		ClientClaims: h.ClientClaims,
		TenantClaims: h.TenantClaims,
		LiftClaims:   h.LiftClaims,
		Fields:       h.Fields,
		Rules:        h.Rules,
		Overwrite:    h.Overwrite,
	})
	if err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	h.enricher = e
	h.needsResolver = e.NeedsResolver()
	if err := h.provisionRuleMatchers(ctx, e.ExternalRules()); err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	h.warnClientInput()
	return nil
}

// Validate checks the settings that Provision does not compile.
func (h *Handler) Validate() error {
	switch h.OnError {
	case "pass", "fail":
	default:
		return fmt.Errorf("token_enrich: on_error must be pass or fail, got %q", h.OnError)
	}
	if h.MaxBody < 0 {
		return fmt.Errorf("token_enrich: max_body must be positive, got %d", h.MaxBody)
	}
	return nil
}

// matches reports whether the request is a token or introspection request
// this handler acts on, and whether it is an introspection request. The
// introspection paths are tried first, so that a path in both lists is
// read as introspection, never as a token response.
func (h *Handler) matches(r *http.Request) (ok, introspection bool) {
	if r.Method != http.MethodPost {
		return false, false
	}
	if h.introspectionPaths != nil {
		if ok, err := h.introspectionPaths.MatchWithError(r); ok && err == nil {
			return true, true
		}
	}
	ok, err := h.paths.MatchWithError(r)
	return ok && err == nil, false
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
