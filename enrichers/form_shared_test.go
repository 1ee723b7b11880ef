package enrichers

import (
	"bytes"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// Tests for ParseTokenRequestShared and the scratch memory it parses into:
// it must give what ParseTokenRequest gives, without allocating for a
// typical request.

// sharedRequests are token requests (Content-Type, body, Basic user).
var sharedRequests = [][3]string{
	{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg" +
		"&client_secret=" + strings.Repeat("s3cr3t", 10) + "&audience=" + url.QueryEscape("https://api.example.com/"), ""},
	{"application/x-www-form-urlencoded", "grant_type=client_credentials&audience=a%2Fb&audience=c+d&resource=r%3A1&resource=r2&scope=read+write", "svc%3Aeu+one"},
	{"application/x-www-form-urlencoded", "audience=" + strings.Repeat("%41", 30) + "&audience=" + strings.Repeat("%42", 30) +
		"&scope=" + strings.Repeat("a+", 40) + "&client_id=%zz&client_id=c%20d", strings.Repeat("u+", 40)},
	{"application/x-www-form-urlencoded", "grant%5Ftype=password&client_id=x;y&client_id=%E9&scope=%", "bad%zz"},
	{"application/json", `{"client_id":"svc-us","audience":["a","b","c"],"resource":"r","grant_type":"client_credentials","scope":"s\u0020t"}`, ""},
	{"application/json", `{"audience":"x","audience":["y"],"resource":["r1"],"resource":"r2"}`, "b%20c"},
	{"text/plain", "grant_type=client_credentials", "svc"},
	{"", "", ""},
}

func TestParseTokenRequestSharedMatches(t *testing.T) {
	for _, c := range sharedRequests {
		checkShared(t, c[0], []byte(c[1]), c[2])
	}
	for _, q := range formCorpus {
		checkShared(t, "application/x-www-form-urlencoded", []byte(q), "")
	}
}

func checkShared(t *testing.T, ctype string, body []byte, basic string) {
	t.Helper()
	want := ParseTokenRequest(ctype, body, basic)
	orig := bytes.Clone(body)
	var s RequestScratch
	got := ParseTokenRequestShared(ctype, body, basic, &s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseTokenRequestShared(%q, %.80q, %q)\n got  %#v\n want %#v", ctype, body, basic, got, want)
	}
	if !bytes.Equal(body, orig) {
		t.Fatalf("ParseTokenRequestShared(%q, %.80q) modified its input", ctype, body)
	}
}

func TestParseTokenRequestSharedDoesNotAllocate(t *testing.T) {
	c := sharedRequests[0]
	body := []byte(c[1])
	var tr TokenRequest
	s := new(RequestScratch) // in the handler, part of its per-request allocation
	allocs := testing.AllocsPerRun(100, func() {
		*s = RequestScratch{}
		tr = ParseTokenRequestShared(c[0], body, c[2], s)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations parsing a client-credentials request", allocs)
	}
	if tr.Audience() != "https://api.example.com/" || tr.ClientID != "Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg" {
		t.Errorf("parsed %+v", tr)
	}
}

func FuzzParseTokenRequestShared(f *testing.F) {
	for _, c := range sharedRequests {
		f.Add(c[0], []byte(c[1]), c[2])
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte, basic string) {
		checkShared(t, ctype, body, basic)
		var s RequestScratch
		s.used = max(0, len(s.decoded)-len(basic)) // just enough room, if it fits
		got, gerr := s.unescape(basic)
		want, werr := url.QueryUnescape(basic)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("unescape(%q) = %q, %v; want %q, %v", basic, got, gerr, want, werr)
		}
	})
}

func BenchmarkParseTokenRequest(b *testing.B) {
	c := sharedRequests[0]
	body := []byte(c[1])
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = ParseTokenRequest(c[0], body, c[2])
		}
	})
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		s := new(RequestScratch)
		for b.Loop() {
			*s = RequestScratch{}
			_ = ParseTokenRequestShared(c[0], body, c[2], s)
		}
	})
}
