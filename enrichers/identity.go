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

	aud        gjson.Result // the token's aud claim: string or array
	scopeClaim gjson.Result // the token's scope claim: string or array
	scopeText  string       // response or request scope when no claim
	claims     gjson.Result // the payload root object
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
	return eachString(id.aud, fn)
}

// HasScope reports whether the token (or, without a scope claim, the response
// or request) carries scope s.
func (id *Identity) HasScope(s string) bool {
	if id.scopeClaim.Exists() {
		return eachString(id.scopeClaim, func(v string) bool { return !hasWord(v, s) })
	}
	return hasWord(id.scopeText, s)
}

// Scope returns the scopes space-separated.
func (id *Identity) Scope() string {
	if !id.scopeClaim.Exists() {
		return id.scopeText
	}
	if id.scopeClaim.Type == gjson.String {
		return id.scopeClaim.Str
	}
	var b strings.Builder
	eachString(id.scopeClaim, func(v string) bool {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
		return true
	})
	return b.String()
}

// Claim returns a top-level claim by its literal name.
func (id *Identity) Claim(name string) gjson.Result {
	if !id.claims.Exists() {
		return gjson.Result{}
	}
	var out gjson.Result
	id.claims.ForEach(func(k, v gjson.Result) bool {
		if k.Str == name {
			out = v
			return false
		}
		return true
	})
	return out
}

// ClaimString renders a top-level claim: strings raw, other types as their
// JSON text, "" when absent or null.
func (id *Identity) ClaimString(name string) string {
	return resultText(id.Claim(name))
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

// identify builds an Identity from a decoded payload (nil for opaque tokens),
// the response's scope member and the token request. Claims win over the
// request: the token is what the upstream actually issued.
func identify(m *ClaimMapping, payload []byte, respScope string, req *TokenRequest) Identity {
	var id Identity
	var clientRank, tenantRank, scopeRank = len(m.Client), len(m.Tenant), len(m.Scope)
	var gty string
	if payload != nil {
		id.Format = TokenJWT
		id.claims = gjson.Parse(stringOf(payload))
		id.claims.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "iss":
				id.Issuer = v.String()
			case "sub":
				id.Subject = v.String()
			case "aud":
				id.aud = v
			case "gty":
				gty = v.String()
			}
			if r := rank(m.Client, k.Str); r < clientRank && v.Type == gjson.String && v.Str != "" {
				clientRank, id.ClientID = r, v.Str
			}
			if r := rank(m.Tenant, k.Str); r < tenantRank && v.Type != gjson.Null && v.Raw != `""` {
				tenantRank, id.Tenant = r, resultText(v)
			}
			if r := rank(m.Scope, k.Str); r < scopeRank && (v.Type == gjson.String || v.IsArray()) {
				scopeRank, id.scopeClaim = r, v
			}
			return true
		})
	}
	if !id.scopeClaim.Exists() {
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
		if id.scopeText == "" && !id.scopeClaim.Exists() {
			id.scopeText = req.Scope
		}
	}
	if id.GrantType == "" && gty != "" {
		id.GrantType = grantFromGty(gty)
	}
	return id
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
