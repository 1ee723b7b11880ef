package enrichers

// grant_type values of the standard grants (RFC 6749 §4, RFC 8628, RFC 7523,
// RFC 8693, OpenID CIBA).
const (
	grantAuthorizationCode = "authorization_code"
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
	grantPassword          = "password"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	grantSAML2Bearer       = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantCIBA              = "urn:openid:params:grant-type:ciba"
)

// grantAliases are the short names a rule's grant_type condition accepts for
// the URN grant types.
var grantAliases = map[string]string{
	"device_code":    grantDeviceCode,
	"jwt_bearer":     grantJWTBearer,
	"saml2_bearer":   grantSAML2Bearer,
	"token_exchange": grantTokenExchange,
	"ciba":           grantCIBA,
}

// canonicalGrantType maps a short alias (device_code, jwt_bearer,
// saml2_bearer, token_exchange, ciba) to the grant_type URN clients send;
// any other value is returned unchanged.
func canonicalGrantType(g string) string {
	if urn, ok := grantAliases[g]; ok {
		return urn
	}
	return g
}
