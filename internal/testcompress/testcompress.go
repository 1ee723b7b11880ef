// Package testcompress encodes bodies in the content codings token_enrich
// decodes (RFC 9110 §8.4.1), for tests that play a compressing upstream,
// and decodes gzip for tests that read a compressed response. Each encoder
// writes a complete, valid stream at the library's default level; the
// bombs of internal/testbomb are for bodies too large to compress whole.
package testcompress

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Gzip is b as one gzip member (Content-Encoding gzip).
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	return finish(t, &buf, gzip.NewWriter(&buf), b)
}

// Zlib is b as a zlib stream (Content-Encoding deflate as RFC 9110 means it).
func Zlib(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	return finish(t, &buf, zlib.NewWriter(&buf), b)
}

// Deflate is b as a raw DEFLATE stream, without the zlib wrapper: what some
// servers send as Content-Encoding deflate.
func Deflate(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	return finish(t, &buf, zw, b)
}

// Zstd is b as one zstd frame (Content-Encoding zstd).
func Zstd(t testing.TB, b []byte) []byte {
	t.Helper()
	return ZstdOptions(t, b)
}

// ZstdOptions is Zstd with encoder options, such as a window larger than a
// decoder accepts.
func ZstdOptions(t testing.TB, b []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// Gunzip is the content of the gzip stream b; the test fails if b is not
// one.
func Gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v (%q)", err, b)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// finish writes b through zw, closes it so that the stream is complete
// (trailer and checksum included), and returns what buf holds.
func finish(t testing.TB, buf *bytes.Buffer, zw io.WriteCloser, b []byte) []byte {
	t.Helper()
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
