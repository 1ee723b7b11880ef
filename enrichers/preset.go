package enrichers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// idpPreset says where one identity provider's access tokens name the client,
// the tenant, the scopes and the audiences, and how to recognise its tokens.
// Every list is in priority order: the first claim present wins. The table
// presets is the only place a preset is described: configuration names,
// detection, documentation and error messages are all derived from it.
type idpPreset struct {
	// Name is the preset's configuration name, e.g. "okta".
	Name string
	// Client lists the claims naming the OAuth client.
	Client []string
	// Tenant lists the claims naming the tenant or organisation.
	Tenant []string
	// TenantFromIssuer derives the tenant from the issuer when no Tenant
	// claim is present (Auth0 tenant name, Okta authorization server, Entra
	// tenant id, Keycloak realm, Cognito user pool). Nil: none. It returns a
	// substring of issuer, or "".
	TenantFromIssuer func(issuer string) string
	// Scope lists the claims holding the granted scopes, as a space-separated
	// string or an array; the first present is {http.token.scope}.
	Scope []string
	// Permissions lists further claims whose values also satisfy a rule's
	// scope condition, without being part of {http.token.scope}: Auth0's RBAC
	// `permissions`, Entra's app `roles`.
	Permissions []string
	// Audience lists the claims naming the token's audiences (Cognito access
	// tokens have no `aud`; API Gateway matches their `client_id` instead).
	Audience []string
	// Nested is a JSON-object claim whose members are read when a claim is
	// not present at the top level: Ory Hydra puts custom claims under `ext`
	// unless they are configured as top-level claims.
	Nested string
	// Issuer reports whether preset auto picks this preset for a token from
	// an issuer with this host (no port) and path. Nil: never by issuer.
	Issuer func(host, path string) bool
}

// Preset names that are not a row of the table.
const (
	// presetAuto picks the preset from each token's issuer (see detectIssuer),
	// else from its header (`typ: at+jwt` is RFC 9068), else from its shape
	// (an `ext` object is Ory Hydra's), else the generic fallbacks. It is the
	// default.
	presetAuto = "auto"
	// presetGeneric reads the common claim names of every preset, with no
	// issuer parsing and no `ext` lookup.
	presetGeneric = "generic"
	// presetHydra and presetRFC9068 are the presets auto chooses by a
	// token's shape rather than by its issuer.
	presetHydra   = "hydra"
	presetRFC9068 = "rfc9068"
)

// Generic claim lists; presets reuse them so that a custom `tenant` or
// `tenant_id` claim works with every IdP.
var (
	genericClient   = []string{"client_id", "azp", "cid", "appid"}
	genericTenant   = []string{"org_id", "tid", "tenant_id", "tenant"}
	genericScope    = []string{"scope", "scp"}
	genericAudience = []string{"aud"}
)

// presets is the table of identity providers. Sources of the claim names:
// the sample claim sets in testdata/claims and docs/idps.md. Adding an
// identity provider is one entry here and one claim set there.
var presets = []idpPreset{
	{Name: presetGeneric, Client: genericClient, Tenant: genericTenant, Scope: genericScope, Audience: genericAudience},
	{Name: "auth0",
		Client: []string{"azp", "client_id"}, Tenant: []string{"org_id", "tenant_id", "tenant"}, TenantFromIssuer: auth0Tenant,
		Scope: []string{"scope"}, Permissions: []string{"permissions"}, Audience: genericAudience,
		Issuer: hostSuffix(".auth0.com")},
	{Name: "okta",
		Client: []string{"cid", "client_id"}, Tenant: []string{"tenant_id", "tenant"}, TenantFromIssuer: oktaTenant,
		Scope: []string{"scp", "scope"}, Audience: genericAudience,
		Issuer: hostSuffix(".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com")},
	{Name: "entra",
		Client: []string{"azp", "appid"}, Tenant: []string{"tid"}, TenantFromIssuer: firstPathSegment,
		Scope: []string{"scp", "roles"}, Permissions: []string{"roles"}, Audience: genericAudience,
		Issuer: anyOf(hostIs("login.microsoftonline.com", "sts.windows.net", "login.microsoftonline.us",
			"login.partner.microsoftonline.cn", "login.chinacloudapi.cn", "sts.chinacloudapi.cn"),
			hostSuffix(".ciamlogin.com", ".b2clogin.com"))},
	{Name: "keycloak",
		Client: []string{"client_id", "clientId", "azp"}, Tenant: []string{"tenant_id", "tenant"}, TenantFromIssuer: keycloakRealm,
		Scope: []string{"scope"}, Audience: genericAudience,
		Issuer: func(_, path string) bool { return strings.Contains(path, "/realms/") }},
	{Name: "cognito",
		Client: []string{"client_id"}, Tenant: []string{"tenant_id", "tenant", "custom:tenant_id", "custom:tenant"},
		TenantFromIssuer: firstPathSegment, Scope: []string{"scope"}, Audience: []string{"aud", "client_id"},
		Issuer: func(host, _ string) bool {
			return hasPrefixFold(host, "cognito-idp.") && hostSuffix(".amazonaws.com", ".amazonaws.com.cn")(host, "")
		}},
	{Name: presetHydra,
		Client: []string{"client_id"}, Tenant: genericTenant, Scope: []string{"scp", "scope"}, Audience: genericAudience,
		Nested: "ext"},
	// RFC 9068 names first (client_id, scope), then the generic fallbacks:
	// at+jwt issuers (Duende IdentityServer, Curity, ...) often add azp or
	// an scp array.
	{Name: presetRFC9068, Client: genericClient, Tenant: genericTenant, Scope: genericScope, Audience: genericAudience},
}

// presetNames lists the names Config.Preset accepts, "auto" first, then the
// table's order.
func presetNames() []string {
	names := []string{presetAuto}
	for i := range presets {
		names = append(names, presets[i].Name)
	}
	return names
}

// lookupPreset returns a copy of the built-in preset of that name ("auto"
// is not a preset but a choice among them).
func lookupPreset(name string) (idpPreset, bool) {
	for i := range presets {
		if presets[i].Name == name {
			return presets[i].clone(), true
		}
	}
	return idpPreset{}, false
}

// detectIssuer returns the preset for tokens from issuer, judged by its host and
// path alone (each preset's Issuer). Anything else, custom domains
// included, is generic: auto then looks at the token itself (RFC 9068
// header, Hydra's `ext`). Configure the preset explicitly for a custom
// domain.
func detectIssuer(issuer string) idpPreset {
	return detect(presets, issuer).clone()
}

// detect returns the first preset of table whose Issuer accepts issuer, or
// the generic one (the table's first row).
func detect(table []idpPreset, issuer string) *idpPreset {
	host, path := splitIssuer(issuer)
	if host != "" {
		for i := range table {
			if table[i].Issuer != nil && table[i].Issuer(host, path) {
				return &table[i]
			}
		}
	}
	return &table[0]
}

func (p idpPreset) clone() idpPreset {
	p.Client = slices.Clone(p.Client)
	p.Tenant = slices.Clone(p.Tenant)
	p.Scope = slices.Clone(p.Scope)
	p.Permissions = slices.Clone(p.Permissions)
	p.Audience = slices.Clone(p.Audience)
	return p
}

// withClaims returns p with the configured client and tenant claim lists in
// place of its own, where they are given.
func (p idpPreset) withClaims(client, tenant []string) idpPreset {
	if len(client) > 0 {
		p.Client = client
	}
	if len(tenant) > 0 {
		p.Tenant = tenant
	}
	return p
}

// presetChooser picks the preset for each token: one fixed preset, or
// (auto) one per token.
type presetChooser struct {
	auto bool
	// table holds every preset with the claim overrides applied (auto), or
	// only the configured one.
	table []idpPreset
	// fallback is auto's preset for tokens it cannot place: generic, plus
	// Hydra's `ext` lookup.
	fallback idpPreset
}

func newPresetChooser(name string, client, tenant []string) (presetChooser, error) {
	var c presetChooser
	for what, list := range map[string][]string{"client_claims": client, "tenant_claims": tenant} {
		if slices.Contains(list, "") {
			return c, &ConfigError{Path: what, Err: errors.New("empty claim name")}
		}
	}
	if name == "" || name == presetAuto {
		c.auto = true
		for i := range presets {
			c.table = append(c.table, presets[i].withClaims(client, tenant))
		}
		c.fallback = c.table[0]
		c.fallback.Nested = "ext"
		return c, nil
	}
	p, ok := lookupPreset(name)
	if !ok {
		return c, &ConfigError{Path: "preset", Err: fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(presetNames(), ", "))}
	}
	c.table = []idpPreset{p.withClaims(client, tenant)}
	return c, nil
}

// choose returns the preset for a token: for a JWT, by its issuer (the
// text of its iss claim) and header. It also says why, for Explain.
func (c *presetChooser) choose(isJWT bool, iss string, header []byte) (*idpPreset, string) {
	if !c.auto {
		return &c.table[0], "configured"
	}
	if !isJWT {
		return &c.fallback, "auto: an opaque token"
	}
	if p := detect(c.table, iss); p.Issuer != nil {
		return p, "auto: the issuer"
	}
	if isATJWT(header) {
		for i := range c.table {
			if c.table[i].Name == presetRFC9068 {
				return &c.table[i], "auto: the typ at+jwt header"
			}
		}
	}
	return &c.fallback, "auto: no issuer or header known (generic names)"
}

// splitIssuer returns the host (without port or user) and the path
// (without query or fragment) of an http(s) issuer URL, or "" for anything
// else.
func splitIssuer(iss string) (host, path string) {
	rest, ok := cutPrefixFold(iss, "https://")
	if !ok {
		if rest, ok = cutPrefixFold(iss, "http://"); !ok {
			return "", ""
		}
	}
	// The URL ends at its query or fragment, the host at the path. Every
	// issuer is split once per token: IndexByte reads many bytes a step,
	// where IndexAny and LastIndexByte read one, so they run only on the
	// rare issuer holding a user or a port.
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	host, path = rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if strings.IndexByte(host, '@') >= 0 {
		host = host[strings.LastIndexByte(host, '@')+1:]
	}
	if strings.IndexByte(host, ':') >= 0 {
		if i := strings.LastIndexByte(host, ':'); !strings.Contains(host[i:], "]") {
			host = host[:i]
		}
	}
	return host, path
}

// hostSuffix matches a host ending in any of the suffixes, in any case.
func hostSuffix(suffixes ...string) func(host, path string) bool {
	return func(host, _ string) bool {
		for _, s := range suffixes {
			if len(host) >= len(s) && strings.EqualFold(host[len(host)-len(s):], s) {
				return true
			}
		}
		return false
	}
}

// hostIs matches any of the hosts, in any case.
func hostIs(hosts ...string) func(host, path string) bool {
	return func(host, _ string) bool {
		for _, h := range hosts {
			if strings.EqualFold(host, h) {
				return true
			}
		}
		return false
	}
}

// anyOf matches when any of the matchers does.
func anyOf(ms ...func(host, path string) bool) func(host, path string) bool {
	return func(host, path string) bool {
		for _, m := range ms {
			if m(host, path) {
				return true
			}
		}
		return false
	}
}

// auth0Tenant: https://TENANT[.REGION].auth0.com/ gives TENANT; a custom
// domain gives the whole host.
func auth0Tenant(iss string) string {
	host, _ := splitIssuer(iss)
	if hostSuffix(".auth0.com")(host, "") {
		if i := strings.IndexByte(host, '.'); i > 0 {
			return host[:i]
		}
	}
	return host
}

// oktaTenant: https://ORG.okta.com/oauth2/AUTHSERVER gives AUTHSERVER
// (e.g. "default" or "aus8..."); the org authorization server
// (https://ORG.okta.com) gives the host.
func oktaTenant(iss string) string {
	host, path := splitIssuer(iss)
	if rest, ok := strings.CutPrefix(path, "/oauth2/"); ok {
		rest, _, _ = strings.Cut(rest, "/")
		if rest != "" && rest != "v1" {
			return rest
		}
	}
	return host
}

// keycloakRealm: https://HOST[/auth]/realms/REALM gives REALM.
func keycloakRealm(iss string) string {
	_, path := splitIssuer(iss)
	_, rest, ok := strings.Cut(path, "/realms/")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "/")
	return rest
}

// firstPathSegment: Entra's https://login.microsoftonline.com/TID/v2.0 and
// https://sts.windows.net/TID/, Cognito's
// https://cognito-idp.REGION.amazonaws.com/POOL.
func firstPathSegment(iss string) string {
	_, path := splitIssuer(iss)
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return seg
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if hasPrefixFold(s, prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
