package caddymodule

// Bounded decoding of compressed upstream bodies: every coding
// round-trips, a bomb stops at the limit without inflating past it, and a
// truncated, corrupt or mislabelled stream is an error that leaves dst as it
// was, so the caller can pass the raw bytes on.

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testbomb"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
)

// encoders are the codings decodeBody must understand, keyed by a name for
// the test, with the Content-Encoding value to send.
func encoders(t testing.TB) []struct {
	name, coding string
	enc          func([]byte) []byte
} {
	return []struct {
		name, coding string
		enc          func([]byte) []byte
	}{
		{"gzip", "gzip", func(b []byte) []byte { return testcompress.Gzip(t, b) }},
		{"x-gzip", "x-gzip", func(b []byte) []byte { return testcompress.Gzip(t, b) }},
		{"gzip upper case", " GZIP ", func(b []byte) []byte { return testcompress.Gzip(t, b) }},
		{"deflate (zlib)", "deflate", func(b []byte) []byte { return testcompress.Zlib(t, b) }},
		{"deflate (raw)", "deflate", func(b []byte) []byte { return testcompress.Deflate(t, b) }},
		{"zstd", "zstd", func(b []byte) []byte { return testcompress.Zstd(t, b) }},
		{"identity", "identity", func(b []byte) []byte { return b }},
		{"none", "", func(b []byte) []byte { return b }},
	}
}

func TestDecodeBodyRoundTripAndExactLimit(t *testing.T) {
	plain := []byte(`{"access_token":"` + strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 200) + `","token_type":"Bearer"}`)
	for _, c := range encoders(t) {
		raw := c.enc(plain)
		keep := bytes.Clone(raw)
		got, err := decodeBody([]byte("dst:"), c.coding, raw, int64(len(plain)))
		if err != nil || string(got) != "dst:"+string(plain) {
			t.Errorf("%s at the exact limit: err=%v got %d bytes", c.name, err, len(got))
		}
		got, err = decodeBody([]byte("dst:"), c.coding, raw, int64(len(plain))-1)
		if !errors.Is(err, errTooLarge) || string(got) != "dst:" {
			t.Errorf("%s one byte over: err=%v got %q", c.name, err, got)
		}
		if !bytes.Equal(raw, keep) {
			t.Errorf("%s: raw bytes modified", c.name)
		}
	}
}

func TestDecodeBodyConcatenatedGzipMembers(t *testing.T) {
	raw := append(testcompress.Gzip(t, []byte(`{"access_token":`)), testcompress.Gzip(t, []byte(`"a"}`))...)
	got, err := decodeBody(nil, "gzip", raw, 1<<10)
	if err != nil || string(got) != `{"access_token":"a"}` {
		t.Fatalf("multistream: err=%v got %q", err, got)
	}
}

func TestCanDecode(t *testing.T) {
	yes := []string{"", "identity", "gzip", "x-gzip", "deflate", "zstd", "GZIP", " gzip ", "Zstd"}
	no := []string{"br", "compress", "x-compress", "gzip, br", "gzip, gzip", "gzip;q=1", "aes128gcm", "exi", "pack200-gzip", "*", "dcb", "dcz"}
	for _, c := range yes {
		if !canDecode(c) {
			t.Errorf("canDecode(%q) = false", c)
		}
	}
	for _, c := range no {
		if canDecode(c) {
			t.Errorf("canDecode(%q) = true", c)
		}
		if got, err := decodeBody([]byte("dst"), c, []byte("\x1b\x00\x00"), 1<<20); err == nil || string(got) != "dst" ||
			!strings.Contains(err.Error(), "unsupported content coding") {
			t.Errorf("decodeBody(%q): err=%v got %q", c, err, got)
		}
	}
	for _, c := range decodableCodings {
		if !canDecode(c) || c == "br" {
			t.Errorf("offered coding %q", c)
		}
	}
}

// bomb returns coding-compressed data that inflates to head, mib MiB of
// spaces, then tail (see internal/testbomb; zstd decodes a run of frames as one
// stream, so repeating one compressed MiB works there too).
func bomb(t testing.TB, coding, head, tail string, mib int) []byte {
	t.Helper()
	switch coding {
	case "zstd":
		out := testcompress.Zstd(t, []byte(head))
		out = append(out, bytes.Repeat(testcompress.Zstd(t, bytes.Repeat([]byte(" "), 1<<20)), mib)...)
		return append(out, testcompress.Zstd(t, []byte(tail))...)
	case "deflate (raw)":
		return testbomb.Deflate(head, tail, mib)
	case "gzip":
		return testbomb.Gzip(head, tail, mib)
	case "deflate (zlib)":
		return testbomb.Zlib(head, tail, mib)
	}
	t.Fatalf("bomb: coding %q", coding)
	return nil
}

func TestBombBuilderIsValid(t *testing.T) {
	// a 3 MiB bomb inflates, checksums included, with the standard decoders
	const head, tail = `{"access_token":"x","pad":"`, `"}`
	want := head + strings.Repeat(" ", 3<<20) + tail
	readers := map[string]func([]byte) (io.Reader, error){
		"gzip":           func(b []byte) (io.Reader, error) { return gzip.NewReader(bytes.NewReader(b)) },
		"deflate (zlib)": func(b []byte) (io.Reader, error) { return zlib.NewReader(bytes.NewReader(b)) },
		"deflate (raw)":  func(b []byte) (io.Reader, error) { return flate.NewReader(bytes.NewReader(b)), nil },
		"zstd":           func(b []byte) (io.Reader, error) { return zstd.NewReader(bytes.NewReader(b)) },
	}
	for coding, open := range readers {
		r, err := open(bomb(t, coding, head, tail, 3))
		if err != nil {
			t.Fatalf("%s: %v", coding, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != want {
			t.Fatalf("%s: err=%v, %d bytes, want %d", coding, err, len(got), len(want))
		}
	}
}

func TestDecodeBodyBombStopsAtLimit(t *testing.T) {
	// 256 MiB of a JSON-looking body compressed to at most a few hundred
	// kilobytes; the limit is 1 MiB. Decoding must stop there, allocating a
	// small multiple of the limit (the race detector doubles some), far
	// from what inflating it would take.
	const mib, limit = 256, 1 << 20
	for _, coding := range []string{"gzip", "deflate (zlib)", "deflate (raw)", "zstd"} {
		raw := bomb(t, coding, `{"access_token":"x","pad":"`, `"}`, mib)
		if len(raw) > 512<<10 {
			t.Fatalf("%s: bomb is %d bytes compressed", coding, len(raw))
		}
		header, _, _ := strings.Cut(coding, " ")
		var got []byte
		var err error
		alloc := testenv.AllocDuring(func() { got, err = decodeBody(nil, header, raw, limit) })
		if !errors.Is(err, errTooLarge) || len(got) != 0 {
			t.Errorf("%s: err=%v, %d bytes returned", coding, err, len(got))
		}
		t.Logf("%s: %d compressed bytes, %d bytes allocated", coding, len(raw), alloc)
		if alloc > 16<<20 {
			t.Errorf("%s: allocated %d bytes decoding a %d MiB bomb with a %d byte limit", coding, alloc, mib, limit)
		}
	}
}

func TestDecodeBodyZstdHugeWindowRefused(t *testing.T) {
	// A frame that declares a 64 MiB window would make the decoder reserve
	// it; the decoder's 8 MiB window cap refuses it up front.
	body := bytes.Repeat([]byte(`{"pad":"0123456789abcdef"}`), 8<<20/25)
	raw := testcompress.ZstdOptions(t, body, zstd.WithWindowSize(64<<20), zstd.WithSingleSegment(false))
	var err error
	alloc := testenv.AllocDuring(func() { _, err = decodeBody(nil, "zstd", raw, 64<<20) })
	t.Logf("err %v, %d bytes allocated", err, alloc)
	if err == nil || err.Error() != "zstd: window size exceeded" {
		t.Fatalf("err = %v", err)
	}
	if alloc > 16<<20 {
		t.Fatalf("allocated %d bytes refusing a 64 MiB window", alloc)
	}
}

func TestDecodeBodyTruncatedAndCorrupt(t *testing.T) {
	plain := []byte(`{"access_token":"` + strings.Repeat("abcdefgh", 512) + `","token_type":"Bearer"}`)
	gz, zl, fl, zs := testcompress.Gzip(t, plain), testcompress.Zlib(t, plain), testcompress.Deflate(t, plain), testcompress.Zstd(t, plain)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x55; return c }
	cases := []struct {
		name, coding string
		raw          []byte
		errPrefix    string
	}{
		{"gzip empty", "gzip", nil, "gzip: "},
		{"gzip header only", "gzip", gz[:10], "gzip: "},
		{"gzip mid-stream", "gzip", gz[:len(gz)/2], "gzip: "},
		{"gzip without its trailer", "gzip", gz[:len(gz)-8], "gzip: "},
		{"gzip without the last byte", "gzip", gz[:len(gz)-1], "gzip: "},
		{"gzip bad crc", "gzip", flip(gz, len(gz)-6), "gzip: "},
		{"gzip bad magic", "gzip", flip(gz, 0), "gzip: "},
		{"gzip then garbage", "gzip", append(bytes.Clone(gz), "garbage"...), "gzip: "},
		{"zlib mid-stream", "deflate", zl[:len(zl)/2], "deflate: "},
		{"raw deflate mid-stream", "deflate", fl[:len(fl)/2], "deflate: "},
		{"deflate empty", "deflate", nil, "deflate: "},
		{"zstd mid-stream", "zstd", zs[:len(zs)/2], "zstd: "},
		{"zstd without the last byte", "zstd", zs[:len(zs)-1], "zstd: "},
		{"zstd empty", "zstd", nil, ""},
		// a Content-Encoding that lies
		{"plain JSON labelled gzip", "gzip", plain, "gzip: "},
		{"plain JSON labelled deflate", "deflate", plain, "deflate: "},
		{"plain JSON labelled zstd", "zstd", plain, "zstd: "},
		{"gzip labelled zstd", "zstd", gz, "zstd: "},
		{"gzip labelled deflate", "deflate", gz, "deflate: "},
		{"zstd labelled gzip", "gzip", zs, "gzip: "},
	}
	for _, c := range cases {
		keep := bytes.Clone(c.raw)
		dst := make([]byte, 4, 1<<16) // spare capacity a decoder must not leave garbage in
		copy(dst, "dst:")
		got, err := decodeBody(dst, c.coding, c.raw, 1<<20)
		if c.name == "zstd empty" {
			// an empty zstd body is a valid empty stream
			if err != nil || string(got) != "dst:" {
				t.Errorf("%s: err=%v got %q", c.name, err, got)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.errPrefix) || errors.Is(err, errTooLarge) || string(got) != "dst:" {
			t.Errorf("%s: err=%v got %q", c.name, err, got)
		}
		if !bytes.Equal(c.raw, keep) {
			t.Errorf("%s: raw bytes modified", c.name)
		}
	}
	// the pooled decoders recover after a failure
	for _, c := range []struct {
		coding string
		raw    []byte
	}{{"gzip", gz}, {"zstd", zs}, {"deflate", zl}} {
		got, err := decodeBody(nil, c.coding, c.raw, 1<<20)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s after failures: err=%v", c.coding, err)
		}
	}
}

// FuzzDecodeBody: never panics, never returns more than the limit, leaves
// dst as it was on error, agrees with compress/gzip, and does not depend on
// what the pooled decoders saw before.
func FuzzDecodeBody(f *testing.F) {
	plain := []byte(`{"access_token":"abc","token_type":"Bearer"}`)
	gz := testcompress.Gzip(f, plain)
	for i, raw := range [][]byte{gz, gz[:len(gz)/2], testcompress.Zlib(f, plain), testcompress.Deflate(f, plain), testcompress.Zstd(f, plain), plain, nil} {
		f.Add(uint8(i), raw, uint16(len(plain)))
	}
	codings := []string{"gzip", "gzip", "deflate", "deflate", "zstd", "", "identity", "x-gzip", "br", "ZSTD"}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte, limit uint16) {
		coding := codings[int(which)%len(codings)]
		orig := bytes.Clone(raw)
		got, err := decodeBody([]byte("dst"), coding, raw, int64(limit))
		if !bytes.Equal(raw, orig) {
			t.Fatal("decodeBody modified its input")
		}
		if !bytes.HasPrefix(got, []byte("dst")) {
			t.Fatalf("dst lost: %q", got)
		}
		if err != nil && len(got) != 3 {
			t.Fatalf("error %v but %d bytes appended", err, len(got)-3)
		}
		if len(got)-3 > int(limit) {
			t.Fatalf("%d bytes decoded, limit %d", len(got)-3, limit)
		}
		again, err2 := decodeBody(nil, coding, raw, int64(limit))
		if (err == nil) != (err2 == nil) || !bytes.Equal(again, got[3:]) {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
		if strings.EqualFold(coding, "gzip") || coding == "x-gzip" {
			var want []byte
			zr, zerr := gzip.NewReader(bytes.NewReader(raw))
			if zerr == nil {
				want, zerr = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
			}
			switch {
			case zerr == nil && len(want) <= int(limit):
				if err != nil || !bytes.Equal(got[3:], want) {
					t.Fatalf("gzip: err=%v, differs from compress/gzip", err)
				}
			case zerr == nil:
				if !errors.Is(err, errTooLarge) {
					t.Fatalf("gzip over the limit: err=%v", err)
				}
			case err == nil:
				t.Fatalf("gzip: compress/gzip fails (%v) but DecodeBody succeeds", zerr)
			}
		}
	})
}
