package enrichers

import (
	"strings"

	"github.com/tidwall/gjson"
)

// ClaimMapping says which access-token claims name the client, the tenant and
// the scopes. Each list is in priority order: the first claim present wins.
type ClaimMapping struct {
	Client []string
	Tenant []string
	Scope  []string
}

// DefaultClaimMapping is the generic mapping used when nothing more specific is
// configured: it covers RFC 9068, Auth0, Okta, Entra ID and Keycloak names.
func DefaultClaimMapping() ClaimMapping {
	return ClaimMapping{
		Client: []string{"client_id", "azp", "cid", "appid"},
		Tenant: []string{"org_id", "tid", "tenant_id", "tenant"},
		Scope:  []string{"scope", "scp"},
	}
}

// Identity is who a token is for, merged from the access token's claims (when
// it is a JWT) and the token request. Token claims win over request parameters.
// Strings point into the decoded token payload; an Identity is safe to keep
// for as long as it is referenced.
type Identity struct {
	// Format is the access token's format.
	Format TokenFormat
	// ClientID is the OAuth client the token was issued to.
	ClientID string
	// RequestClientID is the client id the request named (Basic, body or
	// assertion), kept to report disagreements with the token.
	RequestClientID string
	// Tenant is the tenant / organisation the token belongs to, if any.
	Tenant string
	// Issuer is the token's `iss` claim.
	Issuer string
	// Subject is the token's `sub` claim.
	Subject string
	// GrantType is the request's grant_type, else derived from the token.
	GrantType string
	// RequestedAudience is the audience (or resource) the client asked for.
	RequestedAudience string
	// Preset names the claim mapping used for this token ("auth0",
	// "generic", ...); "" for an opaque token under preset auto.
	Preset string

	aud        listClaim    // the token's audience claim
	scopeClaim listClaim    // the token's scope claim
	permClaim  listClaim    // permissions that also count as scopes
	scopeText  string       // response or request scope when no claim
	claims     gjson.Result // the payload root object
	index      *claimIndex  // claims by name, only while Enrich runs (claims.go)
	nested     gjson.Result // the preset's nested claims object (Hydra's ext)
}

// Audience returns the audience the client asked for, else the token's first.
func (id *Identity) Audience() string {
	if id.RequestedAudience != "" {
		return id.RequestedAudience
	}
	var first string
	id.EachAudience(func(a string) bool { first = a; return false })
	return first
}

// EachAudience calls fn for the requested audience and for every audience of
// the token until fn returns false. It reports whether fn ever returned false.
func (id *Identity) EachAudience(fn func(string) bool) bool {
	if id.RequestedAudience != "" && !fn(id.RequestedAudience) {
		return true
	}
	return id.aud.each(fn)
}

// HasScope reports whether the token (or, without a scope claim, the response
// or request) carries scope s, or the preset's permissions claim (Auth0
// `permissions`, Entra `roles`) lists it.
func (id *Identity) HasScope(s string) bool {
	if id.permClaim.exists() && id.permClaim.each(func(v string) bool { return !hasWord(v, s) }) {
		return true
	}
	if id.scopeClaim.exists() {
		return id.scopeClaim.each(func(v string) bool { return !hasWord(v, s) })
	}
	return hasWord(id.scopeText, s)
}

// Scope returns the scopes space-separated.
func (id *Identity) Scope() string {
	if !id.scopeClaim.exists() {
		return id.scopeText
	}
	if id.scopeClaim.isString() {
		return id.scopeClaim.str
	}
	var b strings.Builder
	id.scopeClaim.each(func(v string) bool {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
		return true
	})
	return b.String()
}

// Claim returns a top-level claim by its literal name; with a preset that
// nests custom claims (Hydra's `ext`), a name absent at the top level is
// looked up there.
func (id *Identity) Claim(name string) gjson.Result { return id.claim(noSlot, name) }

// claim is Claim with the name's slot when the caller knows it (noSlot
// otherwise): while Enrich runs, a read of the index built as the payload
// was validated; after, a scan of the payload.
func (id *Identity) claim(s claimSlot, name string) gjson.Result {
	if !id.claims.Exists() {
		return gjson.Result{}
	}
	var out gjson.Result
	if id.index != nil {
		out = id.index.get(s, name)
	} else {
		out = lookupMember(id.claims, name)
	}
	if out.Exists() || !id.nested.Exists() {
		return out
	}
	return memberOf(id.nested, name)
}

// claimString returns, while Enrich runs, a claim that the index holds as a
// JSON string, unescaped: what resultText(id.claim(s, name)) gives for it,
// without building a gjson.Result. ok is false for anything else (absent,
// another type, no index), which callers read through claim.
func (id *Identity) claimString(s claimSlot) (text string, ok bool) {
	if id.index == nil {
		return "", false
	}
	m := id.index.member(s)
	if m == nil || !m.isString(id.index.src) {
		return "", false
	}
	return m.str(id.index.src), true
}

// memberOf returns the member of object obj named name (literally).
func memberOf(obj gjson.Result, name string) gjson.Result { return lookupMember(obj, name) }

// ClaimString renders a top-level claim: strings raw, other types as their
// JSON text, "" when absent or null.
func (id *Identity) ClaimString(name string) string {
	return resultText(id.claim(noSlot, name))
}

// Claims returns the payload root (an object), or an empty Result for opaque
// tokens.
func (id *Identity) Claims() gjson.Result { return id.claims }

// resultText renders a JSON value as placeholder text.
func resultText(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Null:
		return ""
	default:
		return v.Raw
	}
}

// eachString calls fn for a string value or for each string of an array until
// fn returns false; it reports whether fn returned false.
func eachString(v gjson.Result, fn func(string) bool) bool {
	switch {
	case v.Type == gjson.String:
		return !fn(v.Str)
	case v.IsArray():
		stopped := false
		v.ForEach(func(_, e gjson.Result) bool {
			if e.Type == gjson.String && !fn(e.Str) {
				stopped = true
				return false
			}
			return true
		})
		return stopped
	}
	return false
}

// listClaim is a claim that holds a string or an array of strings (aud,
// scope, scp, roles, permissions): its raw JSON ("" when absent) and, for a
// string, its unescaped text.
type listClaim struct {
	raw, str string
}

func (c listClaim) exists() bool   { return c.raw != "" }
func (c listClaim) isString() bool { return c.raw != "" && c.raw[0] == '"' }

// each calls fn for the string or for each string of the array until fn
// returns false; it reports whether fn returned false.
func (c listClaim) each(fn func(string) bool) bool {
	if c.isString() {
		return !fn(c.str)
	}
	return c.exists() && eachString(gjson.Result{Type: gjson.JSON, Raw: c.raw}, fn)
}

// hasWord reports whether the space-separated list contains w.
func hasWord(list, w string) bool {
	for list != "" {
		i := strings.IndexByte(list, ' ')
		if i < 0 {
			return list == w
		}
		if list[:i] == w {
			return true
		}
		list = list[i+1:]
	}
	return false
}

// identify builds the Identity, in place, from a decoded payload (nil for
// opaque tokens) whose claims idx has indexed with m's slots, the response's
// scope and issued_token_type members and the token request. Claims win over
// the request: the token is what the upstream actually issued. A claim
// missing at the top level is looked up in m.nested.
func identify(id *Identity, m *mapping, payload []byte, idx *claimIndex, respScope, issuedType string, req *TokenRequest) {
	*id = Identity{Preset: m.name}
	var gty, idtyp string
	if payload != nil {
		id.Format = TokenJWT
		id.claims = gjson.Parse(stringOf(payload))
		at := &m.at
		id.Issuer, id.Subject = idx.text(at.iss), idx.text(at.sub)
		gty, idtyp = idx.text(at.gty), idx.text(at.idtyp)
		var top claimRanks
		top.fromIndex(m, idx)
		if at.nested != noSlot {
			if v := idx.value(at.nested); v.IsObject() {
				id.nested = v
			}
		}
		if id.nested.Exists() && top.missing(m) {
			var sub claimRanks
			sub.reset(m)
			forEachMember(id.nested, func(k string, v gjson.Result) bool {
				sub.see(m, k, v)
				return true
			})
			top.fillFrom(m, &sub)
		}
		id.ClientID, id.Tenant = top.client, top.tenant
		id.aud, id.scopeClaim, id.permClaim = top.aud, top.scope, top.perm
	}
	if id.Tenant == "" && id.Issuer != "" && m.tenantFromIssuer != nil {
		id.Tenant = m.tenantFromIssuer(id.Issuer)
	}
	if !id.scopeClaim.exists() {
		// respScope points into the response body, which the caller may
		// recycle once Enrich returns.
		id.scopeText = cloneString(respScope)
	}
	if req != nil {
		id.RequestClientID = req.Client()
		if id.ClientID == "" {
			id.ClientID = id.RequestClientID
		}
		id.GrantType = req.GrantType
		id.RequestedAudience = req.Audience()
		if id.scopeText == "" && !id.scopeClaim.exists() {
			id.scopeText = req.Scope
		}
	}
	if id.GrantType == "" {
		id.GrantType = grantFromResponse(issuedType, gty, idtyp, id)
	}
}

// claimRanks holds, for each list of a mapping, the claim chosen and its
// rank in the list (lower is better; len(list): none). fromIndex fills it
// from the top-level claims by slot; see considers claims one at a time, for
// a nested claims object (Hydra's ext), which is not indexed.
type claimRanks struct {
	clientRank, tenantRank, scopeRank, permRank, audRank int
	client, tenant                                       string
	scope, perm, aud                                     listClaim
}

func (c *claimRanks) reset(m *mapping) {
	*c = claimRanks{clientRank: len(m.client), tenantRank: len(m.tenant), scopeRank: len(m.scope),
		permRank: len(m.permissions), audRank: len(m.audience)}
}

// fromIndex finds, for every list of m, the first claim present in idx
// that qualifies: the same choice as calling see for every claim, in
// priority order instead of claim order, reading only the listed claims.
func (c *claimRanks) fromIndex(m *mapping, idx *claimIndex) {
	c.reset(m)
	at := &m.at
	for r, s := range at.client {
		if str := idx.str(s); clientValue(idx.raw(s), str) {
			c.clientRank, c.client = r, str
			break
		}
	}
	for r, s := range at.tenant {
		if raw := idx.raw(s); tenantValue(raw) {
			c.tenantRank, c.tenant = r, tenantText(raw, idx.str(s))
			break
		}
	}
	list := func(slots []claimSlot) (int, listClaim) {
		for r, s := range slots {
			if raw := idx.raw(s); listValue(raw) {
				return r, listClaim{raw: raw, str: idx.str(s)}
			}
		}
		return len(slots), listClaim{}
	}
	c.scopeRank, c.scope = list(at.scope)
	c.permRank, c.perm = list(at.permissions)
	c.audRank, c.aud = list(at.audience)
}

// see considers claim k with value v for every list.
func (c *claimRanks) see(m *mapping, k string, v gjson.Result) {
	if r := rank(m.client, k); r < c.clientRank && clientValue(v.Raw, v.Str) {
		c.clientRank, c.client = r, v.Str
	}
	if r := rank(m.tenant, k); r < c.tenantRank && tenantValue(v.Raw) {
		c.tenantRank, c.tenant = r, tenantText(v.Raw, v.Str)
	}
	if r := rank(m.scope, k); r < c.scopeRank && listValue(v.Raw) {
		c.scopeRank, c.scope = r, listClaim{raw: v.Raw, str: v.Str}
	}
	if r := rank(m.permissions, k); r < c.permRank && listValue(v.Raw) {
		c.permRank, c.perm = r, listClaim{raw: v.Raw, str: v.Str}
	}
	if r := rank(m.audience, k); r < c.audRank && listValue(v.Raw) {
		c.audRank, c.aud = r, listClaim{raw: v.Raw, str: v.Str}
	}
}

// The values each list of a mapping accepts, judged on a claim's raw JSON
// value and, for a string, its unescaped text; fromIndex and see share them.

// clientValue: a non-empty string.
func clientValue(raw, str string) bool { return raw != "" && raw[0] == '"' && str != "" }

// tenantValue: anything but null and the empty string.
func tenantValue(raw string) bool { return raw != "" && raw != "null" && raw != `""` }

// tenantText is a tenant claim's text: a string unescaped, another value as
// its JSON.
func tenantText(raw, str string) string {
	if raw[0] == '"' {
		return str
	}
	return raw
}

// listValue: a string or an array (scope, permissions, audience).
func listValue(raw string) bool { return raw != "" && (raw[0] == '"' || raw[0] == '[') }

// missing reports whether any non-empty list found nothing.
func (c *claimRanks) missing(m *mapping) bool {
	unfound := func(rank int, list []string) bool { return len(list) > 0 && rank == len(list) }
	return unfound(c.clientRank, m.client) || unfound(c.tenantRank, m.tenant) || unfound(c.scopeRank, m.scope) ||
		unfound(c.permRank, m.permissions) || unfound(c.audRank, m.audience)
}

// fillFrom takes from n (nested claims) what the top level lacks.
func (c *claimRanks) fillFrom(m *mapping, n *claimRanks) {
	if c.clientRank == len(m.client) {
		c.clientRank, c.client = n.clientRank, n.client
	}
	if c.tenantRank == len(m.tenant) {
		c.tenantRank, c.tenant = n.tenantRank, n.tenant
	}
	if c.scopeRank == len(m.scope) {
		c.scopeRank, c.scope = n.scopeRank, n.scope
	}
	if c.permRank == len(m.permissions) {
		c.permRank, c.perm = n.permRank, n.perm
	}
	if c.audRank == len(m.audience) {
		c.audRank, c.aud = n.audRank, n.aud
	}
}

// grantFromResponse infers the grant type when the request did not say (a
// body too large or of an unknown type): RFC 8693 issued_token_type in the
// response means token exchange; Auth0's `gty`; Entra's `idtyp: app` and a
// token whose subject is its client (RFC 9068 §2.2) mean client credentials.
func grantFromResponse(issuedType, gty, idtyp string, id *Identity) string {
	switch {
	case issuedType != "":
		return GrantTokenExchange
	case gty != "":
		return grantFromGty(gty)
	case idtyp == "app":
		return GrantClientCredentials
	case id.Format == TokenJWT && id.Subject != "" && id.Subject == id.ClientID:
		return GrantClientCredentials
	}
	return ""
}

// grantFromGty maps Auth0's `gty` claim values to grant_type values.
func grantFromGty(gty string) string {
	switch gty {
	case "client-credentials":
		return "client_credentials"
	case "authorization_code", "authorization-code":
		return "authorization_code"
	case "refresh_token", "refresh-token":
		return "refresh_token"
	case "password":
		return "password"
	}
	return gty
}

// rank returns the index of name in list, or len(list).
func rank(list []string, name string) int {
	for i, n := range list {
		if n == name {
			return i
		}
	}
	return len(list)
}
