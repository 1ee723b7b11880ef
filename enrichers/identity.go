package enrichers

import (
	"strings"

	"github.com/tidwall/gjson"
)

// Identity is who a token is for, merged from the access token's claims (when
// it is a JWT) and the token request. Token claims win over request parameters.
// Its strings are its own: it is safe to keep for as long as it is
// referenced, as Caddy's placeholders do until the request is logged.
type Identity struct {
	// Format is the access token's format.
	Format tokenFormat
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

	// The raw JSON of the claims chosen for the audience, the scopes and
	// the permissions that also count as scopes, and of the preset's
	// nested claims object (Hydra's ext); "" when absent. Kept raw, an
	// Identity is small: it lives as long as the request's placeholders.
	aud, scopes, perms, nested string

	scopeText string // response or request scope when no claim
	claims    object // the payload's top-level claims, in order
}

// provenance says where the values of an Identity came from: a claim
// name, or a constant naming a request parameter or a rule of the preset.
// Only an explanation reads it, so Run records it on its own stack, apart
// from the Identity, which outlives Run in the placeholders.
type provenance struct {
	preset, client, tenant, audience, scope, perms, grant string
	// nested: bits of the claims found in the preset's nested object
	nested uint8
}

// The bits of provenance.nested.
const (
	nestedClient uint8 = 1 << iota
	nestedTenant
	nestedScope
	nestedPerms
	nestedAudience
)

// Claim returns a claim by its literal name: the last top-level member so
// named, as JWT libraries read a repeated claim; with a preset that nests
// custom claims (Hydra's `ext`), a name absent at the top level is looked up
// there. It is the one way claims are read.
func (id *Identity) claim(name string) gjson.Result {
	if m, ok := id.claims.find(name); ok {
		return id.claims.val(&m)
	}
	if id.nested == "" {
		return gjson.Result{}
	}
	return lastOf(gjson.Parse(id.nested), name)
}

// claimText is valueText(id.claim(name)), without building the value of a
// top-level string claim.
func (id *Identity) claimText(name string) string {
	if m, ok := id.claims.find(name); ok {
		return id.claims.valText(&m)
	}
	if id.nested == "" {
		return ""
	}
	return valueText(lastOf(gjson.Parse(id.nested), name))
}

// Audience returns the audience the client asked for, else the token's first.
func (id *Identity) audience() string {
	if id.RequestedAudience != "" {
		return id.RequestedAudience
	}
	var first string
	eachRawString(id.aud, func(a string) bool { first = a; return false })
	return first
}

// EachAudience calls fn for the requested audience and for every audience of
// the token until fn returns false. It reports whether fn ever returned false.
func (id *Identity) eachAudience(fn func(string) bool) bool {
	if id.RequestedAudience != "" && !fn(id.RequestedAudience) {
		return true
	}
	return eachRawString(id.aud, fn)
}

// HasScope reports whether the token (or, without a scope claim, the response
// or request) carries scope s, or the preset's permissions claim (Auth0
// `permissions`, Entra `roles`) lists it.
func (id *Identity) hasScope(s string) bool {
	has := func(v string) bool { return !hasWord(v, s) }
	if id.perms != "" && eachRawString(id.perms, has) {
		return true
	}
	if id.scopes != "" {
		return eachRawString(id.scopes, has)
	}
	return hasWord(id.scopeText, s)
}

// Scope returns the scopes space-separated.
func (id *Identity) scope() string {
	if id.scopes == "" {
		return id.scopeText
	}
	if s, ok := plainText(id.scopes); ok {
		return s
	}
	scopes := gjson.Parse(id.scopes)
	if scopes.Type == gjson.String {
		return scopes.Str
	}
	var b strings.Builder
	eachString(scopes, func(v string) bool {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
		return true
	})
	return b.String()
}

// hasWord reports whether the space-separated list contains w.
func hasWord(list, w string) bool {
	for list != "" {
		var f string
		f, list, _ = strings.Cut(list, " ")
		if f == w {
			return true
		}
	}
	return false
}

// identify builds the identity of a token under preset p from its claims
// and iss, the text of its iss claim, which the caller has read to choose
// p (isJWT false: an opaque token), the response's scope (respScope, nil
// for none, asked for only when no claim gives the scopes) and
// issued_token_type members and the token request, and records in from
// where each value came from. Claims win over the request: the token is
// what the upstream actually issued.
func identify(p *idpPreset, isJWT bool, claims object, iss string, respScope func() string, issuedType string, req *tokenRequest, from *provenance) Identity {
	id := Identity{Preset: p.Name}
	if isJWT {
		id.Format = tokenJWT
		id.claims = claims
		id.Issuer, id.Subject = iss, topText(claims, "sub")
		if p.Nested != "" {
			if m, ok := claims.find(p.Nested); ok && claims.kind(&m) == '{' {
				id.nested = claims.raw(&m)
			}
		}
		n := &from.nested
		id.ClientID = rawText(id.pick(p.Client, isClient, &from.client, n, nestedClient))
		id.Tenant = rawText(id.pick(p.Tenant, isTenant, &from.tenant, n, nestedTenant))
		id.scopes = id.pick(p.Scope, isList, &from.scope, n, nestedScope)
		id.perms = id.pick(p.Permissions, isList, &from.perms, n, nestedPerms)
		id.aud = id.pick(p.Audience, isList, &from.audience, n, nestedAudience)
		if id.nested != "" && p.Name == presetGeneric {
			id.Preset = presetHydra // auto's fallback found Hydra's ext
		}
	} else if p.Nested != "" && p.Name == presetGeneric {
		id.Preset = "" // auto cannot name the preset of an opaque token
	}
	if id.Tenant == "" && id.Issuer != "" && p.TenantFromIssuer != nil {
		id.Tenant = p.TenantFromIssuer(id.Issuer)
		if id.Tenant != "" {
			from.tenant = fromIssuer
		}
	}
	if id.scopes == "" {
		if respScope != nil {
			id.scopeText = respScope()
		}
		if id.scopeText != "" {
			from.scope = fromResponseScope
		}
	}
	if req != nil {
		id.RequestClientID = req.client()
		if id.ClientID == "" {
			id.ClientID = id.RequestClientID
			if id.ClientID != "" {
				from.client = fromRequest
			}
		}
		id.GrantType = req.GrantType
		if id.GrantType != "" {
			from.grant = fromRequestGrant
		}
		id.RequestedAudience = req.audience()
		if id.scopeText == "" && id.scopes == "" {
			id.scopeText = req.Scope
			if req.Scope != "" {
				from.scope = fromRequestScope
			}
		}
	}
	if id.GrantType == "" {
		// read only when the request did not say
		gty, idtyp := topText(claims, "gty"), topText(claims, "idtyp")
		id.GrantType, from.grant = grantFromResponse(issuedType, gty, idtyp, &id)
	}
	return id
}

// Provenances that are not a claim name.
const (
	fromIssuer        = "issuer (the preset's tenant of the issuer URL)"
	fromRequest       = "request (client_id, Basic user or client assertion)"
	fromRequestGrant  = "request: grant_type"
	fromRequestScope  = "request: scope"
	fromResponseScope = "response: scope"
)

// pick returns the raw JSON of the first claim of names that ok accepts,
// "" when none does: among the top-level claims, else among the nested
// ones. It records the chosen claim's name in *from, and sets bit in
// *nestedBits for a nested one. A non-empty string without escapes,
// what most claims are, is accepted without building its value: every ok
// accepts one.
func (id *Identity) pick(names []string, ok func(gjson.Result) bool, from *string, nestedBits *uint8, bit uint8) string {
	for _, n := range names {
		if m, found := id.claims.find(n); found && (m.plain && m.ve-m.vs > 2 || ok(id.claims.val(&m))) {
			*from = n
			return id.claims.raw(&m)
		}
	}
	if id.nested != "" {
		nested := gjson.Parse(id.nested)
		for _, n := range names {
			if v := lastOf(nested, n); ok(v) {
				*from = n
				*nestedBits |= bit
				return v.Raw
			}
		}
	}
	return ""
}

// rawText is valueText of the raw JSON value raw ("" for none), without
// parsing a string that holds no escape.
func rawText(raw string) string {
	if s, ok := plainText(raw); ok {
		return s
	}
	if raw == "" {
		return ""
	}
	return valueText(gjson.Parse(raw))
}

// topText is the text of the top-level claim name, "" when absent: the
// issuer, subject and grant claims are never read from a nested object.
func topText(claims object, name string) string {
	if m, ok := claims.find(name); ok {
		return claims.valText(&m)
	}
	return ""
}

// The values each claim list of a preset accepts.

// isClient: a non-empty string.
func isClient(v gjson.Result) bool { return v.Type == gjson.String && v.Str != "" }

// isTenant: anything but null and the empty string.
func isTenant(v gjson.Result) bool {
	return v.Exists() && v.Type != gjson.Null && !(v.Type == gjson.String && v.Str == "")
}

// isList: a string or an array (scope, permissions, audience).
func isList(v gjson.Result) bool { return v.Type == gjson.String || v.IsArray() }

// grantFromResponse infers the grant type when the request did not say (a
// body too large or of an unknown type): RFC 8693 issued_token_type in the
// response means token exchange; Auth0's `gty`; Entra's `idtyp: app` and a
// token whose subject is its client (RFC 9068 §2.2) mean client credentials.
// It also says where the grant came from.
func grantFromResponse(issuedType, gty, idtyp string, id *Identity) (grant, from string) {
	switch {
	case issuedType != "":
		return grantTokenExchange, "response: issued_token_type"
	case gty != "":
		return grantFromGty(gty), "gty"
	case idtyp == "app":
		return grantClientCredentials, "idtyp (app)"
	case id.Format == tokenJWT && id.Subject != "" && id.Subject == id.ClientID:
		return grantClientCredentials, "sub equals the client id (RFC 9068)"
	}
	return "", ""
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
