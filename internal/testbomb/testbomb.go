// Package testbomb builds decompression bombs for tests: small compressed
// bodies that inflate to head, mib MiB of spaces, then tail, with valid
// checksums. One compressed MiB of spaces is repeated instead of compressing
// them all, which would take the race detector minutes: each DEFLATE piece
// ends on a sync flush and refers back only within itself.
package testbomb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
)

// Deflate returns a raw DEFLATE stream (Content-Encoding deflate without
// the zlib wrapper).
func Deflate(head, tail string, mib int) []byte {
	stream := piece([]byte(head), false)
	stream = append(stream, bytes.Repeat(piece(spaces(), false), mib)...)
	return append(stream, piece([]byte(tail), true)...)
}

// Gzip returns a gzip member.
func Gzip(head, tail string, mib int) []byte {
	crc := crc32.ChecksumIEEE([]byte(head))
	sp := spaces()
	for i := 0; i < mib; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, sp)
	}
	crc = crc32.Update(crc, crc32.IEEETable, []byte(tail))
	out := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, Deflate(head, tail, mib)...)
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(len(head)+mib<<20+len(tail)))
}

// Zlib returns a zlib stream (Content-Encoding deflate as RFC 9110 means it).
func Zlib(head, tail string, mib int) []byte {
	// Adler-32 of head, then of mib MiB of one byte in closed form
	const mod = 65521
	a, b := uint64(1), uint64(0)
	add := func(p []byte) {
		for _, c := range p {
			a = (a + uint64(c)) % mod
			b = (b + a) % mod
		}
	}
	add([]byte(head))
	n := uint64(mib) << 20
	b = (b + n%mod*a + uint64(' ')*(n*(n+1)/2%mod)) % mod
	a = (a + n%mod*uint64(' ')) % mod
	add([]byte(tail))
	out := append([]byte{0x78, 0xda}, Deflate(head, tail, mib)...)
	return binary.BigEndian.AppendUint32(out, uint32(b<<16|a))
}

// spaces is one MiB of spaces.
func spaces() []byte { return bytes.Repeat([]byte(" "), 1<<20) }

// piece compresses data into DEFLATE blocks ending on a sync flush, or on
// the final block.
func piece(data []byte, final bool) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = w.Write(data)
	if final {
		_ = w.Close()
	} else {
		_ = w.Flush()
	}
	return b.Bytes()
}
