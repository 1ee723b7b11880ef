package caddymodule

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// Equivalence checks for the allocation-free versions of request.go's
// helpers: each is compared with the straightforward code it replaced.

// Errors come at a position of the stream (iotest.TimeoutReader, which fails
// the second call whatever was read, would only measure buffer sizes).
func TestReadAtMostMatchesLimitReader(t *testing.T) {
	boom := errors.New("boom")
	data := []byte(strings.Repeat("grant_type=client_credentials&", 40))
	readers := map[string]func([]byte) io.Reader{
		"plain":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one-byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"data-err": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"err-after": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b), iotest.ErrReader(boom))
		},
	}
	for name, mk := range readers {
		for _, size := range []int{0, 1, 100, 511, 512, 513, 1000, len(data)} {
			for _, limit := range []int64{1, 50, 512, 1000, 5000} {
				for _, cl := range []int64{-1, 0, int64(size), int64(size) + 7, int64(size) / 2} {
					var b bytes.Buffer
					_, wantErr := b.ReadFrom(io.LimitReader(mk(data[:size]), limit))
					got, err := readAtMost(mk(data[:size]), limit, cl, make([]byte, 0, 64))
					if !bytes.Equal(got, b.Bytes()) || !errors.Is(err, wantErr) && err != wantErr {
						t.Fatalf("%s size %d limit %d cl %d: got %d bytes, %v; want %d bytes, %v",
							name, size, limit, cl, len(got), err, b.Len(), wantErr)
					}
				}
			}
		}
	}
}

func TestIsJSONMediaTypeMatchesMime(t *testing.T) {
	for _, v := range []string{
		"application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8",
		"application/json;\tcharset=utf-8", "application/json ; charset=utf-8", "application/json; charset=utf-8; x=1",
		"application/json; charset=utf-8; charset=latin1", "application/json;", "application/jſon", "text/json",
		"application/json; charset", "", "application/json\u212a", "application/json;\u00a0charset=utf-8",
	} {
		mt, _, err := mime.ParseMediaType(v)
		if enrichers.IsJSONMediaType(v) && (mt != "application/json" || err != nil) {
			t.Errorf("IsJSONMediaType(%q) but mime says %q, %v", v, mt, err)
		}
		if v == "application/json" || v == "application/json; charset=utf-8" {
			if !enrichers.IsJSONMediaType(v) {
				t.Errorf("IsJSONMediaType(%q) = false: the fast path is missed", v)
			}
		}
	}
}

// narrowAcceptEncodingSplit is narrowAcceptEncoding as first written.
func narrowAcceptEncodingSplit(h http.Header) {
	vals := h.Values("Accept-Encoding")
	if len(vals) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	var keep []string
	changed, star := false, false
	seen := map[string]bool{}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "*" {
				changed = true
				if !rejected(params) {
					star = true
				}
				continue
			}
			if coding != "identity" && !enrichers.CanDecode(coding) {
				changed = true
				continue
			}
			seen[coding] = true
			keep = append(keep, part)
		}
	}
	if star {
		for _, c := range enrichers.DecodableCodings {
			if !seen[c] {
				keep = append(keep, c)
			}
		}
	}
	if !changed {
		return
	}
	if len(keep) == 0 {
		h.Set("Accept-Encoding", "identity")
		return
	}
	h.Set("Accept-Encoding", strings.Join(keep, ", "))
}

func TestNarrowAcceptEncodingUnchanged(t *testing.T) {
	cases := [][]string{
		nil, {""}, {"gzip"}, {"gzip, deflate"}, {"gzip, deflate, br"}, {"br"}, {"*"}, {"*;q=0"}, {"gzip;q=1.0, *;q=0.5"},
		{"identity"}, {",gzip,"}, {" , ,"}, {"GZIP", "br, zstd"}, {"gzip, deflate, br, zstd, x-gzip, compress, a, b, c, d, e"},
		{"zstd;q=0.9, gzip;q=0.8, deflate;q=0.1, identity;q=0, *;q=0"},
	}
	for _, vals := range cases {
		a, b := http.Header{}, http.Header{}
		if vals != nil {
			a["Accept-Encoding"] = append([]string(nil), vals...)
			b["Accept-Encoding"] = append([]string(nil), vals...)
		}
		narrowAcceptEncoding(a)
		narrowAcceptEncodingSplit(b)
		if strings.Join(a.Values("Accept-Encoding"), "|") != strings.Join(b.Values("Accept-Encoding"), "|") {
			t.Errorf("%q: got %q, want %q", vals, a.Values("Accept-Encoding"), b.Values("Accept-Encoding"))
		}
	}
}
