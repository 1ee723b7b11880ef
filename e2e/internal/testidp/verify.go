package testidp

import (
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// VerifyJWT checks an access token's signature, made with one of algs,
// against a JSON Web Key Set, as a resource server would, and returns its
// claims. Tests use it to prove that a token passed through token_enrich
// untouched is still the provider's.
func VerifyJWT(jwksJSON []byte, token string, algs ...jose.SignatureAlgorithm) (map[string]any, error) {
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &jwks); err != nil {
		return nil, fmt.Errorf("JWKS: %w: %s", err, jwksJSON)
	}
	jws, err := jose.ParseSigned(token, algs)
	if err != nil {
		return nil, fmt.Errorf("access token is not a signed JWT: %w", err)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := jwks.Key(kid)
	if len(keys) != 1 {
		return nil, fmt.Errorf("JWKS has %d keys with kid %q", len(keys), kid)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return claims, nil
}
