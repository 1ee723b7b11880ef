package enrichers

// grant_type values of the standard grants (RFC 6749 §4, RFC 8628, RFC 7523,
// RFC 8693, OpenID CIBA).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantSAML2Bearer       = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantCIBA              = "urn:openid:params:grant-type:ciba"
)

// grantAliases are the short names a rule's grant_type condition accepts for
// the URN grant types.
var grantAliases = map[string]string{
	"device_code":    GrantDeviceCode,
	"jwt_bearer":     GrantJWTBearer,
	"saml2_bearer":   GrantSAML2Bearer,
	"token_exchange": GrantTokenExchange,
	"ciba":           GrantCIBA,
}

// CanonicalGrantType maps a short alias (device_code, jwt_bearer,
// saml2_bearer, token_exchange, ciba) to the grant_type URN clients send;
// any other value is returned unchanged.
func CanonicalGrantType(g string) string {
	if urn, ok := grantAliases[g]; ok {
		return urn
	}
	return g
}

// GrantAliases returns the short grant_type names CanonicalGrantType knows,
// with their URNs, for documentation.
func GrantAliases() map[string]string {
	out := make(map[string]string, len(grantAliases))
	for k, v := range grantAliases {
		out[k] = v
	}
	return out
}
