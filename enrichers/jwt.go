package enrichers

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/asm/base64"
)

// base64URL decodes the base64url segments of a JWT, through
// decodeSegment. segmentio/asm decodes 32 characters a step with AVX2
// (NEON on arm64), and hands what is left (the tail, a block holding
// anything else than the alphabet, every input on another CPU or in a
// purego build) to encoding/base64. Decoding an Auth0 token's payload was
// the largest single cost of reading a token response: on Enrich/auth0 it
// takes 1.1k instructions where encoding/base64 took 5.0k, about 1% of a
// proxied token request.
var base64URL = base64.RawURLEncoding

// errNotBase64URL refuses a segment holding + or /.
var errNotBase64URL = errors.New("not base64url: + or / of the standard alphabet")

// decodeSegment decodes the base64url src into dst, which has room for
// base64URL.DecodedLen(len(src)) bytes. It accepts, refuses and decodes
// exactly what encoding/base64's RawURLEncoding does
// (TestBase64URLAgreesWithStd and FuzzBase64URL hold it to that): the
// AVX2 steps of base64URL read the standard alphabet's + and / as - and
// _, which encoding/base64 refuses, so a segment holding either is
// refused before it is decoded.
func decodeSegment(dst, src []byte) (int, error) {
	if bytes.IndexByte(src, '+') >= 0 || bytes.IndexByte(src, '/') >= 0 {
		return 0, errNotBase64URL
	}
	return base64URL.Decode(dst, src)
}

// decodeSegmentNew is decodeSegment into a new slice.
func decodeSegmentNew(src []byte) ([]byte, error) {
	dst := make([]byte, base64URL.DecodedLen(len(src)))
	n, err := decodeSegment(dst, src)
	return dst[:n], err
}

// tokenFormat says what an access token looked like.
type tokenFormat uint8

// Token formats recognised in an access_token value.
const (
	// tokenOpaque is anything that is not a decodable JWS JWT: a random
	// string, a JWE (five parts), or a malformed JWT. Identity then comes
	// from the token request alone.
	tokenOpaque tokenFormat = iota
	// tokenJWT is a JWS compact serialisation whose payload is a JSON object.
	tokenJWT
	// tokenIntrospected: the identity comes from an RFC 7662 introspection
	// response's members (ReadIntrospection), whatever the token's format.
	tokenIntrospected
)

// String names the format for logs.
func (f tokenFormat) String() string {
	switch f {
	case tokenJWT:
		return "jwt"
	case tokenIntrospected:
		return "introspection"
	}
	return "opaque"
}

// decodeJWT splits a JWS compact token (header.payload.signature) and decodes
// its payload, which must be a UTF-8 JSON object nested at most MaxDepth
// deep. It returns the raw header segment (still base64url) so that callers
// needing `typ` can decode it on demand.
//
// The signature is deliberately not verified: the token was just minted by the
// trusted upstream and arrives on the upstream connection, so its claims are
// read as the upstream's own statement about the token. A JWE (five parts), a
// token with two or four parts, bad base64 or a payload that is not a JSON
// object yields ok == false and the token is treated as opaque.
func decodeJWT(token string) (headerB64 string, payload []byte, ok bool) {
	header, seg, ok := splitJWT(token)
	if !ok {
		return "", nil, false
	}
	payload, err := decodeSegmentNew([]byte(seg))
	if err != nil {
		return "", nil, false
	}
	if err := validObject(payload); err != nil {
		return "", nil, false
	}
	return header, payload, true
}

// splitJWT returns the header and the payload segment (padding trimmed)
// of a token with exactly three parts and a non-empty header and payload.
func splitJWT[T string | []byte](token T) (header, payload T, ok bool) {
	h := indexByte(token, '.')
	if h <= 0 {
		return header, payload, false
	}
	rest := token[h+1:]
	p := indexByte(rest, '.')
	if p <= 0 || indexByte(rest[p+1:], '.') >= 0 {
		return header, payload, false // two parts, a JWE, or garbage
	}
	seg := rest[:p]
	for len(seg) > 0 && seg[len(seg)-1] == '=' {
		seg = seg[:len(seg)-1]
	}
	return token[:h], seg, true
}

// payloadRoom is the room a usual payload is decoded into and its claims
// listed in. base64URL decodes through a function value, so room on
// readClaims' stack would escape to the heap: one more allocation of 2 KB
// per token.
type payloadRoom struct {
	text   [2048]byte
	claims [32]entry
}

var payloadRooms = sync.Pool{New: func() any { return new(payloadRoom) }}

// readClaims decodes a JWS access token's payload and lists its top-level
// claims. ok is false for anything decodeJWT refuses. A usual payload is
// decoded into pooled room: only the claims' text is allocated, since the
// identity keeps it. With lend, the list of claims may stay in the room,
// which *lend then holds until the caller gives it back (scratch.release);
// otherwise, or when the list does not fit the room or a name holds an
// escape, the list is copied out at its length.
func readClaims(token []byte, lend **payloadRoom) (header []byte, claims object, ok bool) {
	header, seg, ok := splitJWT(token)
	if !ok {
		return nil, claims, false
	}
	room := payloadRooms.Get().(*payloadRoom)
	dst := room.text[:]
	if n := base64URL.DecodedLen(len(seg)); n > len(dst) {
		dst = make([]byte, n)
	}
	n, err := decodeSegment(dst, seg)
	if err != nil {
		payloadRooms.Put(room)
		return nil, claims, false
	}
	members, err := readEntries(dst[:n], room.claims[:0])
	if err != nil {
		payloadRooms.Put(room)
		return nil, claims, false
	}
	claims = newObject(string(dst[:n]), members)
	if inRoom(members, room) {
		// newObject appends unescaped names to the text: such a text is
		// not read again (object.find), so its list is kept
		if lend != nil && len(claims.text) == n {
			*lend = room
			return header, claims, true
		}
		claims.members = slices.Clone(members)
	}
	payloadRooms.Put(room)
	return header, claims, true
}

// inRoom reports whether list is in room's list of claims, which
// readEntries leaves for the heap past 32 claims.
func inRoom(list []entry, room *payloadRoom) bool {
	return cap(list) > 0 && &list[:1][0] == &room.claims[0]
}

// decodeJWTHeaderType returns the `typ` member of a base64url JWT header
// segment, or "" when it is absent or undecodable.
func decodeJWTHeaderType(headerB64 []byte) string {
	b, err := decodeSegmentNew(bytes.TrimRight(headerB64, "="))
	if err != nil {
		return ""
	}
	o, err := readObject(b, nil)
	if err != nil {
		return ""
	}
	return o.last("typ").String()
}

// isATJWT reports whether a JWT header says `typ: at+jwt` (RFC 9068 §2.1;
// the media type form `application/at+jwt` too).
func isATJWT(headerB64 []byte) bool {
	typ := decodeJWTHeaderType(headerB64)
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}
