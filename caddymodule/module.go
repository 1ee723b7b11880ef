// Package caddymodule is the Caddy glue for token_enrich: the HTTP handler
// module, its Caddyfile directive, {http.token.*} placeholders and logs. The
// work itself is done by package enrichers.
package caddymodule

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
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
	// through untouched. Default: 1 MiB; at most 1 TiB, though a body of
	// more than 2 GiB is never read as JSON: it is handled as invalid JSON
	// (OnError).
	MaxBody int64 `json:"max_body,omitempty"`

	// What to do when a response that should be enriched cannot be (a
	// corrupt compressed body, invalid JSON): "pass" (default) sends the
	// original response unchanged; "fail" answers 502 with a JSON error.
	OnError string `json:"on_error,omitempty"`

	// Compute everything but change nothing: each response that would be
	// enriched is logged at info level with the names and values it would
	// get (never a token), counted as result "dry_run", and sent exactly
	// as the upstream sent it. For rolling new rules out against live
	// traffic.
	DryRun bool `json:"dry_run,omitempty"`

	// The engine's part of the configuration: preset, client_claims,
	// tenant_claims, lift_claims, fields, rules, overwrite and splits.
	enrichers.Config

	// Metadata sources, looked up once the token's identity is known where
	// a field places them ({"source": "<name>"}).
	Sources []SourceConfig `json:"sources,omitempty"`

	sources map[string]*SourceConfig

	// ruleMatchers[i] is rule i's matcher set, nil when it has none
	ruleMatchers []caddyhttp.MatcherSet

	enricher *enrichers.Enricher
	// countField counts the fields written, by label index (metrics.go)
	countField func(label int)
	paths      caddyhttp.MatchPath
	// exactPaths: the paths a request matches by equality (exactPaths)
	exactPaths []string
	// introspectionPaths: nil when none is configured
	introspectionPaths caddyhttp.MatchPath
	failMode           bool
	// logger is the config's logger for the handler, unless set before
	// Provision (explain sets the process's default logger)
	logger *zap.Logger
	// noProbes: the sources' origins are not probed in the background
	// (explain looks each source up once, and says how that went)
	noProbes bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.token_enrich",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision applies defaults, validates and compiles the configuration,
// and loads the rules' matchers and the sources' modules.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.logger == nil {
		h.logger = ctx.Logger()
	}
	if err := sources.RegisterMetrics(ctx, responsesTotal, sourceLookups, enrichDuration, fieldsAdded, liftedRefused); err != nil {
		return fmt.Errorf("token_enrich: registering metrics: %w", err)
	}
	h.withDefaults()
	e, err := h.compile()
	if err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	h.enricher = e
	h.countField = fieldCounts(e.Labels())
	h.failMode = h.OnError == "fail"
	h.paths = append(caddyhttp.MatchPath(nil), h.Paths...)
	h.exactPaths = exactPaths(h.Paths)
	if err := h.paths.Provision(ctx); err != nil {
		return fmt.Errorf("token_enrich: paths: %w", err)
	}
	if len(h.IntrospectionPaths) > 0 {
		h.introspectionPaths = append(caddyhttp.MatchPath(nil), h.IntrospectionPaths...)
		if err := h.introspectionPaths.Provision(ctx); err != nil {
			return fmt.Errorf("token_enrich: introspection_paths: %w", err)
		}
	}
	if err := h.provisionRuleMatchers(ctx); err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	if err := h.provisionSources(ctx); err != nil {
		return fmt.Errorf("token_enrich: %w", err)
	}
	h.warnClientInput()
	if !h.noProbes {
		h.startProbes(ctx)
	}
	return nil
}

// Validate has nothing left to check: Provision validates the whole
// configuration (check.go).
func (h *Handler) Validate() error { return nil }

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
	if h.introspectionPaths == nil && slices.Contains(h.exactPaths, r.URL.Path) {
		return true, false
	}
	ok, err := h.paths.MatchWithError(r)
	return ok && err == nil, false
}

// exactPaths returns the paths of ps that MatchPath matches by equality
// alone: lowercase, clean, without wildcard, escape, placeholder or
// double slash, and without a segment a Windows path would trim. A
// request whose path is one of them, byte for byte, matches; matches
// then spares MatchPath's lowering, cleaning and globbing of the path,
// and asks it about every other path.
func exactPaths(ps []string) []string {
	var exact []string
	for _, p := range ps {
		if plainPath(p) {
			exact = append(exact, p)
		}
	}
	return exact
}

// plainPath reports whether p is a path exactPaths keeps.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.Contains(p, "./") || strings.HasSuffix(p, ".") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
