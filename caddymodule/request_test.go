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

// Checks of request.go's helpers against the library calls they stand for,
// or against a table of cases.

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

// TestNarrowAcceptEncoding: the codings the upstream may use are those the
// client accepts and the module decodes, in the client's order and
// spelling; `*` stands for the decodable ones the client did not name;
// nothing acceptable (or no header) means identity; a header with nothing
// to drop is left as it is.
func TestNarrowAcceptEncoding(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{nil, []string{"identity"}},
		{[]string{""}, []string{""}},
		{[]string{"gzip"}, []string{"gzip"}},
		{[]string{"gzip, deflate"}, []string{"gzip, deflate"}},
		{[]string{"gzip, deflate, br"}, []string{"gzip, deflate"}},
		{[]string{"br"}, []string{"identity"}},
		{[]string{"*"}, []string{"gzip, zstd, deflate"}},
		{[]string{"*;q=0"}, []string{"identity"}},
		{[]string{"gzip;q=1.0, *;q=0.5"}, []string{"gzip;q=1.0, zstd, deflate"}},
		{[]string{"identity"}, []string{"identity"}},
		{[]string{",gzip,"}, []string{",gzip,"}},
		{[]string{" , ,"}, []string{" , ,"}},
		{[]string{"GZIP", "br, zstd"}, []string{"GZIP, zstd"}},
		{[]string{"gzip, deflate, br, zstd, x-gzip, compress, a, b, c, d, e"}, []string{"gzip, deflate, zstd, x-gzip"}},
		{[]string{"zstd;q=0.9, gzip;q=0.8, deflate;q=0.1, identity;q=0, *;q=0"}, []string{"zstd;q=0.9, gzip;q=0.8, deflate;q=0.1, identity;q=0"}},
	} {
		h := http.Header{}
		if c.in != nil {
			h["Accept-Encoding"] = append([]string(nil), c.in...)
		}
		narrowAcceptEncoding(h)
		if got := strings.Join(h["Accept-Encoding"], "|"); got != strings.Join(c.want, "|") {
			t.Errorf("%q: got %q, want %q", c.in, h["Accept-Encoding"], c.want)
		}
	}
}

// header reads what Header.Get reads for the canonical keys the token
// path asks for, however the upstream or client spelled them when set.
func TestHeaderIsGetForCanonicalKeys(t *testing.T) {
	keys := []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Range"}
	for _, k := range keys {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Fatalf("%q is not canonical (%q)", k, c)
		}
		h := http.Header{}
		if got := header(h, k); got != "" {
			t.Errorf("%s absent: got %q", k, got)
		}
		h.Add(strings.ToLower(k), "first")
		h.Add(strings.ToUpper(k), "second")
		if got, want := header(h, k), h.Get(k); got != want || got != "first" {
			t.Errorf("%s: header %q, Get %q, want first", k, got, want)
		}
	}
}
