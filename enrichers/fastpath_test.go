package enrichers

// Equivalence checks for the allocation-free or faster versions of
// standard library calls on the hot path: each must give what the call it
// replaces gives.

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"mime"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

var formCorpus = []string{
	"", "&", "&&", "=", "==", "grant_type", "grant_type=", "grant_type=client_credentials",
	"grant_type=client_credentials&client_id=svc&client_secret=s&audience=https%3A%2F%2Fapi%2F",
	"grant_type=a&grant_type=b", "grant_type=&grant_type=b", "client_id=a+b&client_id=c",
	"audience=a&audience=b&resource=r1&audience=c&resource=r2", "audience=&audience=x",
	"scope=read%20write+admin", "scope=%zz&scope=ok", "scope=%&scope=ok", "scope=%4&scope=ok",
	"grant%5Ftype=password", "grant_type%=x&grant_type=y", "grant_type=x;y&grant_type=z", "a;b=c&scope=s",
	"client_assertion=eyJ.eyJ.sig&client_assertion_type=urn%3Aietf", "client_id=%C3%A9&client_id=%FF",
	"=value&grant_type=x", "grant_type==x", "grant_type=x=y", "&grant_type=x&", "GRANT_TYPE=x",
	"resource=https%3A%2F%2Fr%2F&resource", "audience", "audience&audience=a",
	strings.Repeat("&", maxFormParams) + "grant_type=x", strings.Repeat("&", maxFormParams-2) + "grant_type=x",
	strings.Repeat("&", maxFormParams-1) + "grant_type=x",
}

func TestParseFormMatchesParseQuery(t *testing.T) {
	for _, q := range formCorpus {
		checkForm(t, q)
	}
}

func checkForm(t *testing.T, q string) {
	t.Helper()
	form, _ := url.ParseQuery(q)
	got := parseForm(q)
	want := formParams{grantType: form.Get("grant_type"), clientID: form.Get("client_id"), scope: form.Get("scope"),
		assertion: form.Get("client_assertion"), audiences: form["audience"], resources: form["resource"]}
	if got.grantType != want.grantType || got.clientID != want.clientID || got.scope != want.scope ||
		got.assertion != want.assertion || !slices.Equal(got.audiences, want.audiences) ||
		!slices.Equal(got.resources, want.resources) || (got.audiences == nil) != (want.audiences == nil) ||
		(got.resources == nil) != (want.resources == nil) {
		t.Fatalf("parseForm(%.80q)\n got  %+v\n want %+v", q, got, want)
	}
}

var mediaCorpus = []string{
	"", "application/json", "APPLICATION/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8",
	"application/json;\tcharset=utf-8", "application/json ; charset=utf-8", " application/json", "application/json ",
	"application/json; charset=utf-8; charset=utf-8", "application/json; charset=utf-8; charset=latin1",
	"application/json; charset", "application/json;", "application/json; ;", "application/jſon", "application/json\u212a",
	"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8",
	"Application/X-WWW-Form-Urlencoded", "application/problem+json", "text/html", "application", "/json",
	"application/json; charset=\"utf-8\"", "application/json;\u00a0charset=utf-8", "application/json;\vcharset=utf-8",
}

func TestMediaTypeMatchesMime(t *testing.T) {
	for _, v := range mediaCorpus {
		checkMediaType(t, v)
	}
}

func checkMediaType(t *testing.T, v string) {
	t.Helper()
	want, _, err := mime.ParseMediaType(v)
	if got := mediaType(v); got != want {
		t.Fatalf("mediaType(%q) = %q, mime says %q", v, got, want)
	}
	for _, typ := range []string{"application/json", "application/x-www-form-urlencoded"} {
		if isMediaType(v, typ) && (want != typ || err != nil) {
			t.Fatalf("isMediaType(%q, %q) but mime says %q, %v", v, typ, want, err)
		}
	}
}

func FuzzParseForm(f *testing.F) {
	for _, q := range formCorpus {
		if len(q) < 1000 {
			f.Add(q)
		}
	}
	for _, v := range mediaCorpus {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkForm(t, s)
		checkMediaType(t, s)
		got, gerr := queryUnescape(s)
		want, werr := url.QueryUnescape(s)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("queryUnescape(%q) = %q, %v; want %q, %v", s, got, gerr, want, werr)
		}
	})
}

func checkB64(t *testing.T, src []byte) {
	t.Helper()
	want := make([]byte, base64.RawURLEncoding.DecodedLen(len(src))+4)
	got := make([]byte, len(want))
	wn, werr := base64.RawURLEncoding.Decode(want, src)
	gn, gerr := decodeB64URL(got, src)
	if gn != wn || !bytes.Equal(got, want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("decodeB64URL(%q) = %d, %v (%x); want %d, %v (%x)", src, gn, gerr, got[:gn], wn, werr, want[:wn])
	}
}

func TestDecodeB64URLMatchesStdlib(t *testing.T) {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(1, 2))
	extra := []byte("+/=\r\n .\x00\xff")
	for n := 0; n < 70; n++ {
		for trial := 0; trial < 50; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = alpha[r.IntN(len(alpha))]
			}
			if trial%3 == 1 && n > 0 {
				b[r.IntN(n)] = extra[r.IntN(len(extra))]
			}
			checkB64(t, b)
		}
	}
	// every byte value in every position of a group and of the tails
	for c := range 256 {
		for pos := range 7 {
			b := []byte("QUJDREVG")[:7]
			b[pos] = byte(c)
			for _, n := range []int{4, 5, 6, 7} {
				checkB64(t, b[:n])
			}
		}
	}
}

func FuzzDecodeB64URL(f *testing.F) {
	f.Add([]byte("eyJzdWIiOiJhIn0"))
	f.Add([]byte("eyJz\ndWIiOiJhIn0"))
	f.Fuzz(func(t *testing.T, b []byte) { checkB64(t, b) })
}

func TestAppendJSONStringMatchesGjson(t *testing.T) {
	defer gjson.SetEscapeHTML(true) // the default
	for _, html := range []bool{true, false} {
		gjson.SetEscapeHTML(html)
		for c := range 256 {
			for _, s := range []string{string(rune(c)), string([]byte{byte(c)}), "ab" + string([]byte{byte(c)}) + "cd", "https://eu.api.example.com", ""} {
				if got, want := appendJSONString([]byte("x"), s), gjson.AppendJSONString([]byte("x"), s); !bytes.Equal(got, want) {
					t.Fatalf("escapeHTML=%v %q: got %s want %s", html, s, got, want)
				}
			}
		}
	}
}
