package enrichers

import (
	"encoding/base64"
	"strings"

	"github.com/tidwall/gjson"
)

// TokenFormat says what an access token looked like.
type TokenFormat uint8

// Token formats recognised in an access_token value.
const (
	// TokenOpaque is anything that is not a decodable JWS JWT: a random
	// string, a JWE (five parts), or a malformed JWT. Identity then comes
	// from the token request alone.
	TokenOpaque TokenFormat = iota
	// TokenJWT is a JWS compact serialisation whose payload is a JSON object.
	TokenJWT
)

// String names the format for logs.
func (f TokenFormat) String() string {
	if f == TokenJWT {
		return "jwt"
	}
	return "opaque"
}

// DecodeJWT splits a JWS compact token (header.payload.signature) and decodes
// its payload, which must be a JSON object. It returns the raw header segment
// (still base64url) so that callers needing `typ` can decode it on demand.
//
// The signature is deliberately not verified: the token was just minted by the
// trusted upstream and arrives on the upstream connection, so its claims are
// read as the upstream's own statement about the token. A JWE (five parts), a
// token with two or four parts, bad base64 or a payload that is not a JSON
// object yields ok == false and the token is treated as opaque.
//
// The decoded payload is freshly allocated (one allocation); the identity
// strings taken from it by Identity point into it.
func DecodeJWT(token string) (headerB64 string, payload []byte, ok bool) {
	dot1 := strings.IndexByte(token, '.')
	if dot1 <= 0 {
		return "", nil, false
	}
	rest := token[dot1+1:]
	dot2 := strings.IndexByte(rest, '.')
	if dot2 <= 0 {
		return "", nil, false
	}
	if strings.IndexByte(rest[dot2+1:], '.') >= 0 {
		return "", nil, false // JWE or garbage
	}
	seg := strings.TrimRight(rest[:dot2], "=")
	payload = make([]byte, base64.RawURLEncoding.DecodedLen(len(seg)))
	n, err := base64.RawURLEncoding.Decode(payload, bytesOf(seg))
	if err != nil {
		return "", nil, false
	}
	payload = payload[:n]
	if !isJSONObject(payload) {
		return "", nil, false
	}
	return token[:dot1], payload, true
}

// DecodeJWTHeaderType returns the `typ` member of a base64url JWT header
// segment, or "" when it is absent or undecodable.
func DecodeJWTHeaderType(headerB64 string) string {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(headerB64, "="))
	if err != nil || !isJSONObject(b) {
		return ""
	}
	return gjson.GetBytes(b, "typ").String()
}

// isJSONObject reports whether b is valid JSON (including valid UTF-8) whose
// root is an object.
func isJSONObject(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return false
	}
	return gjson.ValidBytes(b) && validUTF8(b)
}
