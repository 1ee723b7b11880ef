package enrichers

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tidwall/gjson"
)

// Preset names accepted by Config.Preset.
const (
	// PresetAuto picks the preset from each token's issuer (see Detect),
	// else from its header (`typ: at+jwt` is RFC 9068), else from its shape
	// (an `ext` object is Ory Hydra's), else the generic fallbacks. It is the
	// default.
	PresetAuto = "auto"
	// PresetGeneric reads the common claim names of every preset, with no
	// issuer parsing and no `ext` lookup.
	PresetGeneric  = "generic"
	PresetAuth0    = "auth0"
	PresetOkta     = "okta"
	PresetEntra    = "entra"
	PresetKeycloak = "keycloak"
	PresetCognito  = "cognito"
	PresetHydra    = "hydra"
	PresetRFC9068  = "rfc9068"
)

// Preset says where one identity provider's access tokens name the client,
// the tenant, the scopes and the audiences. Every list is in priority order:
// the first claim present wins.
type Preset struct {
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
}

// presetKind indexes the built-in presets.
type presetKind uint8

const (
	kindGeneric presetKind = iota
	kindAuth0
	kindOkta
	kindEntra
	kindKeycloak
	kindCognito
	kindHydra
	kindRFC9068
	numKinds
)

// Generic claim lists; presets reuse them so that a custom `tenant` or
// `tenant_id` claim works with every IdP.
var (
	genericClient   = []string{"client_id", "azp", "cid", "appid"}
	genericTenant   = []string{"org_id", "tid", "tenant_id", "tenant"}
	genericScope    = []string{"scope", "scp"}
	genericAudience = []string{"aud"}
)

// presets is the table behind PresetNames, LookupPreset and Detect. Sources
// of the claim names: the sample claim sets in testdata/claims and
// docs/idps.md.
var presets = [numKinds]Preset{
	kindGeneric: {Name: PresetGeneric, Client: genericClient, Tenant: genericTenant, Scope: genericScope, Audience: genericAudience},
	kindAuth0: {Name: PresetAuth0,
		Client: []string{"azp", "client_id"}, Tenant: []string{"org_id", "tenant_id", "tenant"}, TenantFromIssuer: auth0Tenant,
		Scope: []string{"scope"}, Permissions: []string{"permissions"}, Audience: genericAudience},
	kindOkta: {Name: PresetOkta,
		Client: []string{"cid", "client_id"}, Tenant: []string{"tenant_id", "tenant"}, TenantFromIssuer: oktaTenant,
		Scope: []string{"scp", "scope"}, Audience: genericAudience},
	kindEntra: {Name: PresetEntra,
		Client: []string{"azp", "appid"}, Tenant: []string{"tid"}, TenantFromIssuer: firstPathSegment,
		Scope: []string{"scp", "roles"}, Permissions: []string{"roles"}, Audience: genericAudience},
	kindKeycloak: {Name: PresetKeycloak,
		Client: []string{"client_id", "clientId", "azp"}, Tenant: []string{"tenant_id", "tenant"}, TenantFromIssuer: keycloakRealm,
		Scope: []string{"scope"}, Audience: genericAudience},
	kindCognito: {Name: PresetCognito,
		Client: []string{"client_id"}, Tenant: []string{"tenant_id", "tenant", "custom:tenant_id", "custom:tenant"},
		TenantFromIssuer: firstPathSegment, Scope: []string{"scope"}, Audience: []string{"aud", "client_id"}},
	kindHydra: {Name: PresetHydra,
		Client: []string{"client_id"}, Tenant: genericTenant, Scope: []string{"scp", "scope"}, Audience: genericAudience,
		Nested: "ext"},
	// RFC 9068 names first (client_id, scope), then the generic fallbacks:
	// at+jwt issuers (Duende IdentityServer, Curity, ...) often add azp or
	// an scp array.
	kindRFC9068: {Name: PresetRFC9068, Client: genericClient, Tenant: genericTenant, Scope: genericScope, Audience: genericAudience},
}

// PresetNames lists the names Config.Preset accepts, "auto" first.
func PresetNames() []string {
	names := []string{PresetAuto}
	for i := range presets {
		names = append(names, presets[i].Name)
	}
	return names
}

// LookupPreset returns the built-in preset of that name ("auto" is not a
// preset but a choice among them).
func LookupPreset(name string) (Preset, bool) {
	k, ok := kindOf(name)
	if !ok {
		return Preset{}, false
	}
	return presets[k].clone(), true
}

// Detect returns the preset for tokens from issuer, judged by its host and
// path alone: *.auth0.com; Okta hosts (*.okta.com, *.oktapreview.com,
// *.okta-emea.com, *.okta-gov.com); Entra ID (login.microsoftonline.com and
// the national clouds, sts.windows.net, *.ciamlogin.com, *.b2clogin.com);
// Cognito user pools (cognito-idp.REGION.amazonaws.com); and any issuer with a
// /realms/ path (Keycloak). Anything else, custom domains included, is
// generic: Auto then looks at the token itself (RFC 9068 header, Hydra's
// `ext`). Configure the preset explicitly for a custom domain.
func Detect(issuer string) Preset {
	return presets[detectIssuer(issuer)].clone()
}

func (p Preset) clone() Preset {
	p.Client = slices.Clone(p.Client)
	p.Tenant = slices.Clone(p.Tenant)
	p.Scope = slices.Clone(p.Scope)
	p.Permissions = slices.Clone(p.Permissions)
	p.Audience = slices.Clone(p.Audience)
	return p
}

func kindOf(name string) (presetKind, bool) {
	for i := range presets {
		if presets[i].Name == name {
			return presetKind(i), true
		}
	}
	return 0, false
}

// detectIssuer maps an issuer to a preset without allocating.
func detectIssuer(iss string) presetKind {
	host, path := splitIssuer(iss)
	if host == "" {
		return kindGeneric
	}
	switch {
	case hasSuffixFold(host, ".auth0.com"):
		return kindAuth0
	case hasSuffixFold(host, ".okta.com"), hasSuffixFold(host, ".oktapreview.com"),
		hasSuffixFold(host, ".okta-emea.com"), hasSuffixFold(host, ".okta-gov.com"):
		return kindOkta
	case strings.EqualFold(host, "login.microsoftonline.com"), strings.EqualFold(host, "sts.windows.net"),
		strings.EqualFold(host, "login.microsoftonline.us"), strings.EqualFold(host, "login.partner.microsoftonline.cn"),
		strings.EqualFold(host, "login.chinacloudapi.cn"), strings.EqualFold(host, "sts.chinacloudapi.cn"),
		hasSuffixFold(host, ".ciamlogin.com"), hasSuffixFold(host, ".b2clogin.com"):
		return kindEntra
	case hasPrefixFold(host, "cognito-idp.") && (hasSuffixFold(host, ".amazonaws.com") || hasSuffixFold(host, ".amazonaws.com.cn")):
		return kindCognito
	case strings.Contains(path, "/realms/"):
		return kindKeycloak
	}
	return kindGeneric
}

// splitIssuer returns the host (without port) and the path of an http(s)
// issuer URL, or "" for anything else.
func splitIssuer(iss string) (host, path string) {
	rest, ok := cutPrefixFold(iss, "https://")
	if !ok {
		if rest, ok = cutPrefixFold(iss, "http://"); !ok {
			return "", ""
		}
	}
	host = rest
	// byte loops rather than strings.IndexAny, which builds a set per call:
	// this runs for every token
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' {
			host, path = rest[:i], rest[i:]
			break
		}
	}
	for j := 0; j < len(path); j++ {
		if c := path[j]; c == '?' || c == '#' {
			path = path[:j]
			break
		}
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	return host, path
}

// auth0Tenant: https://TENANT[.REGION].auth0.com/ gives TENANT; a custom
// domain gives the whole host.
func auth0Tenant(iss string) string {
	host, _ := splitIssuer(iss)
	if hasSuffixFold(host, ".auth0.com") {
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
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		if rest != "" && rest != "v1" {
			return rest
		}
	}
	return host
}

// keycloakRealm: https://HOST[/auth]/realms/REALM gives REALM.
func keycloakRealm(iss string) string {
	_, path := splitIssuer(iss)
	i := strings.Index(path, "/realms/")
	if i < 0 {
		return ""
	}
	rest := path[i+len("/realms/"):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// firstPathSegment: Entra's https://login.microsoftonline.com/TID/v2.0 and
// https://sts.windows.net/TID/, Cognito's
// https://cognito-idp.REGION.amazonaws.com/POOL.
func firstPathSegment(iss string) string {
	_, path := splitIssuer(iss)
	path = strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		path = path[:i]
	}
	return path
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
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

// mapping is a preset compiled with the configured claim overrides.
type mapping struct {
	kind             presetKind
	name             string
	client           []string
	tenant           []string
	scope            []string
	permissions      []string
	audience         []string
	tenantFromIssuer func(string) string
	nested           string
	// at holds the slots of the claim names above (see bind).
	at mappingSlots
}

// mappingSlots are a mapping's claim names as slots of the Enricher's
// claimSlots, list for list.
type mappingSlots struct {
	iss, sub, gty, idtyp, nested                 claimSlot
	client, tenant, scope, permissions, audience []claimSlot
}

// bind numbers every claim name identify reads with m in t. It fails when t
// has no room left (a mapping override listing over a hundred names).
func (m *mapping) bind(t *claimSlots) error {
	one := func(name string) claimSlot {
		if name == "" {
			return noSlot
		}
		return t.add(name)
	}
	m.at = mappingSlots{iss: one("iss"), sub: one("sub"), gty: one("gty"), idtyp: one("idtyp"), nested: one(m.nested),
		client: t.addAll(m.client), tenant: t.addAll(m.tenant), scope: t.addAll(m.scope),
		permissions: t.addAll(m.permissions), audience: t.addAll(m.audience)}
	if len(t.names) >= maxClaimSlots {
		return fmt.Errorf("claim mapping: more than %d claim names", maxClaimSlots-1)
	}
	return nil
}

func compileMapping(k presetKind, over *ClaimMapping) mapping {
	p := &presets[k]
	m := mapping{kind: k, name: p.Name, client: p.Client, tenant: p.Tenant, scope: p.Scope,
		permissions: p.Permissions, audience: p.Audience, tenantFromIssuer: p.TenantFromIssuer, nested: p.Nested}
	if len(over.Client) > 0 {
		m.client = over.Client
	}
	if len(over.Tenant) > 0 {
		m.tenant = over.Tenant
	}
	if len(over.Scope) > 0 {
		m.scope = over.Scope
	}
	return m
}

// identifier chooses the mapping for each token: one fixed preset, or (auto)
// one per issuer.
type identifier struct {
	auto bool
	// maps holds every preset compiled with the overrides (auto), or only
	// the configured one at maps[0].
	maps [numKinds]mapping
	// fallback is auto's mapping for unrecognised issuers: generic, plus
	// Hydra's `ext` lookup.
	fallback mapping
	// slots numbers the claim names every mapping reads; the Enricher adds
	// those of its rules, templates and lifted claims.
	slots claimSlots
	// iss is the slot of "iss", which auto reads to pick the mapping.
	iss claimSlot
	// lastIssuer remembers auto's verdict on the last issuer seen.
	lastIssuer *atomic.Pointer[issuerVerdict]
}

// issuerVerdict is detectIssuer's verdict on one issuer.
type issuerVerdict struct {
	iss  string
	kind presetKind
}

// detectIssuerCached is detectIssuer, remembering the last answer: parsing the issuer
// costs as much as the rest of the identity, and a deployment sees one
// issuer, or a handful (a miss costs the parse and two small allocations).
func (s *identifier) detectIssuerCached(iss string) presetKind {
	if p := s.lastIssuer.Load(); p != nil && p.iss == iss {
		return p.kind
	}
	k := detectIssuer(iss)
	s.lastIssuer.Store(&issuerVerdict{iss: strings.Clone(iss), kind: k})
	return k
}

func newIdentifier(name string, over ClaimMapping) (identifier, error) {
	s := identifier{lastIssuer: new(atomic.Pointer[issuerVerdict])}
	if name == "" || name == PresetAuto {
		s.auto = true
		for k := range numKinds {
			s.maps[k] = compileMapping(k, &over)
		}
		s.fallback = s.maps[kindGeneric]
		s.fallback.nested = presets[kindHydra].Nested
		for k := range s.maps {
			if err := s.maps[k].bind(&s.slots); err != nil {
				return s, err
			}
		}
		err := s.fallback.bind(&s.slots)
		s.iss = s.slots.add("iss")
		return s, err
	}
	k, ok := kindOf(name)
	if !ok {
		return s, fmt.Errorf("preset: unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	s.maps[0] = compileMapping(k, &over)
	err := s.maps[0].bind(&s.slots)
	s.iss = s.slots.add("iss")
	return s, err
}

// identify picks the mapping for the token and builds its identity in *id
// (in place: an Identity is large, and copies of it showed in profiles).
func (s *identifier) identify(id *Identity, headerB64 string, payload []byte, idx *claimIndex, respScope, issuedType string, req *TokenRequest) {
	if !s.auto {
		identify(id, &s.maps[0], payload, idx, respScope, issuedType, req)
		return
	}
	if payload == nil {
		identify(id, &s.fallback, nil, nil, respScope, issuedType, req)
		id.Preset = ""
		return
	}
	k := s.detectIssuerCached(idx.str(s.iss))
	if k == kindGeneric && isATJWTHeader(headerB64) {
		k = kindRFC9068
	}
	if k != kindGeneric {
		identify(id, &s.maps[k], payload, idx, respScope, issuedType, req)
		return
	}
	identify(id, &s.fallback, payload, idx, respScope, issuedType, req)
	if id.nested.Exists() {
		id.Preset = PresetHydra
	}
}

// isATJWTHeader reports whether a base64url JWT header says `typ: at+jwt`
// (RFC 9068 §2.1; the media type form `application/at+jwt` too). It decodes
// into a pooled buffer: headers are small, and a stack buffer would escape
// through gjson.
func isATJWTHeader(headerB64 string) bool {
	seg := strings.TrimRight(headerB64, "=")
	if base64.RawURLEncoding.DecodedLen(len(seg)) > headerBufSize {
		typ := DecodeJWTHeaderType(headerB64)
		return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
	}
	buf := headerBufs.Get().(*[headerBufSize]byte)
	defer headerBufs.Put(buf)
	n, err := base64.RawURLEncoding.Decode(buf[:], bytesOf(seg))
	if err != nil {
		return false
	}
	typ := gjson.Get(stringOf(buf[:n]), "typ").Str
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

const headerBufSize = 512

var headerBufs = sync.Pool{New: func() any { return new([headerBufSize]byte) }}
