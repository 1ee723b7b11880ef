package caddymodule

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
	"github.com/klauspost/compress/zstd"
)

// decodableCodings are the HTTP content codings decodeBody understands, in
// the order they are offered upstream.
var decodableCodings = []string{"gzip", "zstd", "deflate"}

// canDecode reports whether coding (a Content-Encoding value) is one that
// decodeBody handles. The empty string and "identity" mean no coding.
func canDecode(coding string) bool {
	// as upstreams send it, else lowered and trimmed
	return decodable(coding) || decodable(strings.ToLower(strings.TrimSpace(coding)))
}

// decodable reports whether coding, spelled as decodeBody reads it, is
// one decodeBody handles.
func decodable(coding string) bool {
	switch coding {
	case "", "identity", "gzip", "x-gzip", "zstd", "deflate":
		return true
	}
	return false
}

// errTooLarge is returned when a decoded body would exceed the limit.
var errTooLarge = errors.New("decoded body exceeds the size limit")

// decodeBody decodes raw according to the Content-Encoding coding and
// appends the result to dst, never producing more than limit bytes: a
// compression bomb stops at the limit with errTooLarge. A truncated or corrupt
// stream gives an error; raw is never modified, so the caller can pass it on.
func decodeBody(dst []byte, coding string, raw []byte, limit int64) ([]byte, error) {
	c := strings.ToLower(strings.TrimSpace(coding))
	switch c {
	case "", "identity":
		if int64(len(raw)) > limit {
			return dst, errTooLarge
		}
		return append(dst, raw...), nil
	case "gzip", "x-gzip":
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(raw))
		} else {
			err = zr.Reset(bytes.NewReader(raw))
		}
		if err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		dst, err = readLimited(dst, zr, limit)
		gzipPool.Put(zr)
		if err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		return dst, nil
	case "deflate":
		// RFC 9110 §8.4.1.2: "deflate" is zlib-wrapped; some servers send
		// raw deflate, so fall back to that.
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err == nil {
			out, err2 := readLimited(dst, zr, limit)
			zr.Close()
			if err2 == nil || errors.Is(err2, errTooLarge) {
				return out, err2
			}
		}
		fr := flate.NewReader(bytes.NewReader(raw))
		defer fr.Close()
		out, err := readLimited(dst, fr, limit)
		if err != nil {
			return dst, fmt.Errorf("deflate: %w", err)
		}
		return out, nil
	case "zstd":
		d, _ := zstdPool.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(8<<20))
			if err != nil {
				return dst, fmt.Errorf("zstd: %w", err)
			}
		}
		defer zstdPool.Put(d)
		if err := d.Reset(bytes.NewReader(raw)); err != nil {
			return dst, fmt.Errorf("zstd: %w", err)
		}
		out, err := readLimited(dst, d, limit)
		if err != nil {
			return dst, fmt.Errorf("zstd: %w", err)
		}
		return out, nil
	}
	return dst, fmt.Errorf("unsupported content coding %q", coding)
}

var (
	gzipPool sync.Pool
	zstdPool sync.Pool
)

// readLimited appends all of r to dst, failing once more than limit bytes
// would be produced.
func readLimited(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	out, err := sources.ReadAtMost(r, limit, -1)
	if errors.Is(err, sources.ErrTooLarge) {
		return dst, errTooLarge
	}
	if err != nil {
		return dst, err
	}
	if len(dst) == 0 {
		return out, nil // nothing to append to: no second copy
	}
	return append(dst, out...), nil
}
