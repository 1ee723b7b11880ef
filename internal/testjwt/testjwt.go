// Package testjwt builds compact JWS tokens for tests. token_enrich reads a
// token's claims without verifying its signature, so the tests need no keys:
// the signature is a fixed placeholder (the e2e suite uses real signed
// tokens). It imports nothing of this module, so that every test package,
// the engine's own included, can use it.
package testjwt

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

const (
	// Header is the JOSE header of a provider's usual access token (Auth0,
	// Hydra): a typ that selects no preset by itself.
	Header = `{"alg":"RS256","typ":"JWT"}`
	// HeaderAT is the header of an RFC 9068 access token: typ at+jwt, which
	// auto detection reads when the issuer is unknown.
	HeaderAT = `{"alg":"RS256","typ":"at+jwt","kid":"k1"}`
	// Signature is the placeholder signature segment ("sig").
	Signature = "c2ln"
)

// Segment is b base64url-encoded without padding, as a JWS segment.
func Segment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Signed assembles header.payload.signature from the bytes of each part,
// kept as written: they need not be valid JSON.
func Signed(header, payload, sig []byte) string {
	return Segment(header) + "." + Segment(payload) + "." + Segment(sig)
}

// Unsigned assembles a token from literal header and payload bytes, with
// the placeholder signature.
func Unsigned(header, payload []byte) string {
	return Segment(header) + "." + Segment(payload) + "." + Signature
}

// Payload is a token with Header around a literal payload, which need not
// be valid JSON.
func Payload(payload string) string {
	return Unsigned([]byte(Header), []byte(payload))
}

// Claims is a token with Header whose payload is claims marshalled to JSON.
func Claims(t testing.TB, claims any) string {
	t.Helper()
	return ClaimsHeader(t, Header, claims)
}

// ClaimsHeader is a token with the literal header whose payload is claims
// marshalled to JSON.
func ClaimsHeader(t testing.TB, header string, claims any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return Unsigned([]byte(header), p)
}
