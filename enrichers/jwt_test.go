package enrichers

import (
	"encoding/base64"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func TestDecodeJWT(t *testing.T) {
	good := testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"sub": "abc", "aud": []string{"x", "y"}})
	if _, p, ok := decodeJWT(good); !ok || string(p) != `{"aud":["x","y"],"sub":"abc"}` {
		t.Fatalf("good token: ok=%v payload=%s", ok, p)
	}
	b64 := testjwt.Segment
	padded := b64([]byte(`{}`)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"a":1}`)) + ".sig"
	if _, p, ok := decodeJWT(padded); !ok || string(p) != `{"a":1}` {
		t.Fatalf("padded payload: ok=%v payload=%s", ok, p)
	}
	bad := map[string]string{
		"opaque":            "2YotnFZFEjr1zCsicMWpAA",
		"two parts":         b64([]byte(`{}`)) + "." + b64([]byte(`{"a":1}`)),
		"four parts":        "a." + b64([]byte(`{"a":1}`)) + ".c.d",
		"JWE five parts":    "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		"bad base64":        "a.!!!notbase64!!!.c",
		"payload not JSON":  "a." + b64([]byte(`hello`)) + ".c",
		"payload array":     "a." + b64([]byte(`[1,2]`)) + ".c",
		"payload truncated": "a." + b64([]byte(`{"a":`)) + ".c",
		"invalid UTF-8":     "a." + b64([]byte("{\"a\":\"\xff\"}")) + ".c",
		"empty payload":     "a..c",
		"leading dot":       ".a.b",
	}
	for name, tok := range bad {
		if _, _, ok := decodeJWT(tok); ok {
			t.Errorf("%s: decoded, want opaque", name)
		}
	}
}

func TestDecodeJWTHeaderType(t *testing.T) {
	tok := testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{})
	h, _, ok := decodeJWT(tok)
	if !ok || decodeJWTHeaderType(h) != "at+jwt" {
		t.Fatalf("typ = %q", decodeJWTHeaderType(h))
	}
	if decodeJWTHeaderType("!!") != "" {
		t.Fatal("garbage header gave a type")
	}
}
