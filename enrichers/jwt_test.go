package enrichers

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strings"
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
	if !ok || decodeJWTHeaderType([]byte(h)) != "at+jwt" {
		t.Fatalf("typ = %q", decodeJWTHeaderType([]byte(h)))
	}
	if decodeJWTHeaderType([]byte("!!")) != "" {
		t.Fatal("garbage header gave a type")
	}
}

// base64Agree fails t unless decodeSegment and encoding/base64's RawURLEncoding
// both refuse src, or both decode it to the same bytes. The offset a
// refusal names is not compared: nothing reads it.
func base64Agree(t testing.TB, src []byte) {
	t.Helper()
	want := make([]byte, base64.RawURLEncoding.DecodedLen(len(src)))
	wn, werr := base64.RawURLEncoding.Decode(want, src)
	got := make([]byte, base64URL.DecodedLen(len(src)))
	gn, gerr := decodeSegment(got, src)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("decode %q: err %v, encoding/base64 says %v", src, gerr, werr)
	}
	if gerr == nil && (gn != wn || !bytes.Equal(got[:gn], want[:wn])) {
		t.Fatalf("decode %q = %q, encoding/base64 says %q", src, got[:gn], want[:wn])
	}
}

// TestBase64URLAgreesWithStd holds the payload decoder to encoding/base64
// where the two could part: inputs long enough for its 32-character steps
// (45 and up), with a byte that is not base64url (or a newline, which
// encoding/base64 skips) in every position, and cut at every length.
func TestBase64URLAgreesWithStd(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	odd := []byte{'=', '\n', '\r', '+', '/', '.', ' ', '"', '\\', 0, 0x7f, 0x80, 0xff, '-', '_', 'A', 'z', '9'}
	for _, size := range []int{0, 1, 2, 3, 30, 33, 34, 35, 36, 47, 48, 96, 150, 400} {
		raw := make([]byte, size)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		enc := []byte(base64.RawURLEncoding.EncodeToString(raw))
		base64Agree(t, enc)
		for cut := range len(enc) {
			base64Agree(t, enc[:cut])
		}
		for i := range enc {
			for _, c := range odd {
				mut := bytes.Clone(enc)
				mut[i] = c
				base64Agree(t, mut)
			}
		}
		// trailing bits that are not zero, which encoding/base64 accepts
		if len(enc)%4 != 0 {
			mut := bytes.Clone(enc)
			mut[len(mut)-1] = '_'
			base64Agree(t, mut)
		}
	}
}

// FuzzBase64URL: the payload decoder accepts, refuses and decodes as
// encoding/base64's RawURLEncoding does.
func FuzzBase64URL(f *testing.F) {
	for _, s := range []string{
		"",
		"QQ",
		strings.Repeat("eyJzdWIiOiJhYmMifQ", 4),
		strings.Repeat("A", 45) + "\n" + strings.Repeat("B", 40),
		strings.Repeat("-_", 40) + "=",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		base64Agree(t, src)
		base64Agree(t, bytes.Repeat(src, 8))
	})
}
