package enrichers

import (
	"encoding/base64"
	"encoding/binary"
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
	return decodeJWT(token, nil, nil)
}

// decodeJWT is DecodeJWT, indexing the payload's claims in idx (when not
// nil) with the names of slots as it validates them.
func decodeJWT(token string, idx *claimIndex, slots *claimSlots) (headerB64 string, payload []byte, ok bool) {
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
	// two bytes of slack let decodeB64URL store eight bytes at a time to
	// the end
	payload = make([]byte, base64.RawURLEncoding.DecodedLen(len(seg))+2)
	n, err := decodeB64URL(payload, bytesOf(seg))
	if err != nil {
		return "", nil, false
	}
	payload = payload[:n]
	if idx == nil {
		ok = isJSONObject(payload)
	} else {
		ok = idx.scan(payload, slots)
	}
	if !ok {
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

// b64Table maps a base64url character to its six bits; 0xffffffff marks a
// character outside the alphabet, which still sets bits above 24 once
// shifted into place.
var b64Table = func() (t [256]uint32) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for c := range t {
		t[c] = 0xffffffff
	}
	for v := range len(alphabet) {
		t[alphabet[v]] = uint32(v)
	}
	return t
}()

// b64Quad decodes four characters into the low 24 bits; a result of 1<<24 or
// more means one was invalid.
func b64Quad(t *[256]uint32, s []byte) uint32 {
	_ = s[3]
	return t[s[0]]<<18 | t[s[1]]<<12 | t[s[2]]<<6 | t[s[3]]
}

// decodeB64URL is base64.RawURLEncoding.Decode, several times faster on the
// common input (only alphabet characters, a valid length): eight characters
// give six bytes with eight table lookups and one store. Anything else
// (newlines, which the standard decoder skips, invalid characters, a stray
// length) is handed to the standard decoder, so results and errors are the
// same.
func decodeB64URL(dst, src []byte) (int, error) {
	if len(src)%4 == 1 || len(dst) < base64.RawURLEncoding.DecodedLen(len(src)) {
		return base64.RawURLEncoding.Decode(dst, src)
	}
	t := &b64Table
	n, s := 0, src
	for len(s) >= 8 && len(dst)-n >= 8 {
		a, b := b64Quad(t, s), b64Quad(t, s[4:])
		if a|b >= 1<<24 {
			return base64.RawURLEncoding.Decode(dst, src)
		}
		binary.BigEndian.PutUint64(dst[n:], uint64(a)<<40|uint64(b)<<16)
		n, s = n+6, s[8:]
	}
	for len(s) >= 4 {
		v := b64Quad(t, s)
		if v >= 1<<24 {
			return base64.RawURLEncoding.Decode(dst, src)
		}
		d := dst[n : n+3 : n+3]
		d[0], d[1], d[2] = byte(v>>16), byte(v>>8), byte(v)
		n, s = n+3, s[4:]
	}
	switch len(s) {
	case 2:
		v := t[s[0]]<<18 | t[s[1]]<<12
		if v >= 1<<24 {
			return base64.RawURLEncoding.Decode(dst, src)
		}
		dst[n] = byte(v >> 16)
		n++
	case 3:
		v := t[s[0]]<<18 | t[s[1]]<<12 | t[s[2]]<<6
		if v >= 1<<24 {
			return base64.RawURLEncoding.Decode(dst, src)
		}
		dst[n], dst[n+1] = byte(v>>16), byte(v>>8)
		n += 2
	}
	return n, nil
}
