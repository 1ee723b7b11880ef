package enrichers

// The single-pass reader of token response bodies and token payloads.
//
// Checked with gjson, a body takes three passes: a depth bound, then
// Valid, then ForEach, the last two walking every string a byte at a time.
// scanJSON does the three jobs in one walk and skips string contents
// eight bytes at a time. On the whole path (an Auth0 body of 982 bytes
// and its token payload of 336), Enrich/auth0 runs 31.1k instructions with
// it and 58.5k with the three passes; the handler's Handler/enriched runs
// 56k and 84k (bench/results/2026-12-07-single-pass-reader.md).
//
// It accepts exactly what encoding/json.Valid accepts on valid UTF-8, no
// deeper than a bound, and lists the members of the root object as gjson's
// ForEach does, as entries: offsets of each name and raw value, which hold
// no pointer. Names are unescaped as gjson unescapes them (encoding/json
// unescapes them the same way, a lone surrogate included). A body's
// entries are read in the caller's bytes and never outlive Run; an object
// kept (a token's claims, a source's object) is its text and its entries
// (json.go). gjson stays the reader of the values themselves.

import (
	"bytes"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanJSON checks that b is one JSON value, valid UTF-8, whose objects and
// arrays nest at most max deep, and returns -1 and nil when it is. Else it
// returns the offset at which it stopped and errTooDeep (at the bracket that
// opens the level deeper than max) or errNotJSONObject (at the first byte
// that is not JSON, or len(b) when b ends too early).
//
// With listing set, it appends the members of the root, which must then be
// an object, to list, as offsets into b.
//
// It runs iteratively with a depth counter, so no input grows the goroutine
// stack: gjson validates recursively, one stack frame per level, and a body
// of a million `[` would otherwise exhaust the stack and kill the process.
func scanJSON[T string | []byte](b T, max int, list []entry, listing bool) (_ []entry, off int, _ error) {
	// open holds one bit per open level: 1 for an object, 0 for an array
	var small [MaxDepth / 64]uint64
	open := small[:]
	if max > 64*len(small) {
		open = make([]uint64, (max+63)/64)
	}
	var (
		n     = len(b)
		depth = 0
		i     = skipSpace(b, 0)
		cur   entry // the root member being read: its name, and where its value starts
		esc   bool  // the last string value read holds escapes
	)
	for {
		// a value begins at i
		if i >= n {
			return list, n, errNotJSONObject
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == max {
				return list, i, errTooDeep
			}
			if c == '{' {
				open[uint(depth)/64] |= 1 << (uint(depth) % 64)
			} else {
				open[uint(depth)/64] &^= 1 << (uint(depth) % 64)
			}
			depth++
			i = skipSpace(b, i+1)
			if i < n && b[i] == c+2 { // `}` or `]`: empty
				depth--
				i++
				break
			}
			if c == '[' {
				continue
			}
			ks, ke, esc, next, ok := readName(b, i)
			if !ok {
				return list, next, errNotJSONObject
			}
			i = next
			if depth == 1 && listing {
				cur = entry{ns: uint32(ks), ne: uint32(ke), vs: uint32(i), esc: esc, last: lastByte(b, ks, ke)}
			}
			continue
		case '"':
			end, e, ok := skipString(b, i)
			if !ok {
				return list, end, errNotJSONObject
			}
			i, esc = end, e
		case 't':
			if !hasLiteral(b, i, "true") {
				return list, i, errNotJSONObject
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return list, i, errNotJSONObject
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return list, i, errNotJSONObject
			}
			i += 4
		default:
			end, ok := skipNumber(b, i)
			if !ok {
				return list, end, errNotJSONObject
			}
			i = end
		}
		// a value ended at i: close the levels it ends, up to the next value
		for {
			if depth == 0 {
				if i = skipSpace(b, i); i < n {
					return list, i, errNotJSONObject
				}
				return list, -1, nil
			}
			if depth == 1 && listing {
				cur.ve, cur.plain = uint32(i), b[cur.vs] == '"' && !esc
				list = append(list, cur)
			}
			if i = skipSpace(b, i); i >= n {
				return list, n, errNotJSONObject
			}
			inObject := open[uint(depth-1)/64]&(1<<(uint(depth-1)%64)) != 0
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if inObject {
					ks, ke, esc, next, ok := readName(b, i)
					if !ok {
						return list, next, errNotJSONObject
					}
					i = next
					if depth == 1 && listing {
						cur = entry{ns: uint32(ks), ne: uint32(ke), vs: uint32(i), esc: esc, last: lastByte(b, ks, ke)}
					}
				}
				break
			}
			if inObject && c != '}' || !inObject && c != ']' {
				return list, i, errNotJSONObject
			}
			depth--
			i++
		}
	}
}

// readName reads a member's name at i and the colon after it. It returns
// the span of the name's contents, whether they hold escapes, and the
// offset of the value after the colon; or ok == false and where it failed.
func readName[T string | []byte](b T, i int) (ks, ke int, esc bool, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, i, false
	}
	end, esc, ok := skipString(b, i)
	if !ok {
		return 0, 0, false, end, false
	}
	next = skipSpace(b, end)
	if next >= len(b) || b[next] != ':' {
		return 0, 0, false, next, false
	}
	return i + 1, end - 1, esc, skipSpace(b, next+1), true
}

// entry is one member of the root object as scanJSON finds it: where the
// contents of its name and the raw text of its value lie in the text read,
// whether the name holds escapes, and whether the value is a string
// without escapes. It holds no pointer, so a list of entries keeps no
// text alive: the text can be a caller's buffer, reused once the list is
// done with, and the collector never scans the list. Offsets are uint32,
// half the room of int: readEntries lists no text longer than
// maxListedText, so every offset fits, even in an object's text grown by
// its unescaped names (newObject). last is the last byte of the name as
// it lies in the text (0 for an empty name): most names a lookup passes
// over are told apart by it, and it fits the room the struct's alignment
// leaves.
type entry struct {
	ns, ne, vs, ve uint32
	esc, plain     bool
	last           byte
}

// nameIn returns the entry's name in b, unescaped as gjson unescapes it.
// Kept small enough to inline, so that a caller that only compares the
// name does not allocate it.
func (e *entry) nameIn(b []byte) string {
	if e.esc {
		return unescapeName(string(b[e.ns:e.ne]))
	}
	return string(b[e.ns:e.ne])
}

// isNamed reports whether the entry of b is named name, without making
// a string of a name that needs no unescaping.
func (e *entry) isNamed(b []byte, name string) bool {
	if e.esc {
		return unescapeName(string(b[e.ns:e.ne])) == name
	}
	return string(b[e.ns:e.ne]) == name
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func skipSpace[T string | []byte](b T, i int) int {
	for i < len(b) {
		if c := b[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i++
	}
	return i
}

// hasLiteral reports whether the literal w is at b[i:].
func hasLiteral[T string | []byte](b T, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}

// skipNumber returns the end of the JSON number at i, or where it is not
// one: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func skipNumber[T string | []byte](b T, i int) (int, bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

// skipDigits returns the offset of the first byte at or after i that is not
// an ASCII digit.
func skipDigits[T string | []byte](b T, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Masks for testing eight bytes at once.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// skipString returns the offset just past the string whose opening quote is
// at i, and whether it holds escapes; or ok == false and where it is not a
// JSON string of valid UTF-8. It reads eight bytes at a time, and looks at
// one byte at a time only at a quote, a backslash, a control character or
// a byte of a multi-byte character.
func skipString[T string | []byte](b T, i int) (end int, esc, ok bool) {
	i++
	long := i + 64 // past this, a plain string is read by plainRest
	for {
		// eight bytes at a time up to the first special one; found: i is
		// at it (the lowest bit special sets is exact)
		found := false
		for ; i+8 <= len(b); i += 8 {
			if i == long && !esc {
				if end, ok := plainRest(b, i); ok {
					return end, false, true
				}
			}
			w := b[i : i+8]
			if s := special(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56); s != 0 {
				i += bits.TrailingZeros64(s) / 8
				found = true
				break
			}
		}
		for !found && i < len(b) && b[i] >= ' ' && b[i] < utf8.RuneSelf && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return len(b), esc, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return len(b), esc, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		case c < ' ':
			return i, esc, false
		default:
			r, size := decodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, esc, false
			}
			i += size
		}
	}
}

// plainRest returns the offset just past a string whose contents from i
// on hold no escape and only bytes from 0x20 to 0x7f, as the long strings
// of a token response do (base64url tokens); else ok == false. Its closing
// quote is then the first quote at or after i, which IndexByte finds many
// bytes at a time, and the bytes before it are checked thirty-two at a
// time. Neither search reads past that quote, so a string costs at most
// two more passes over itself. IndexByte costs more than the loop of
// skipString on a short string, so skipString calls it only once a
// string has shown itself long.
func plainRest[T string | []byte](b T, i int) (end int, ok bool) {
	q := indexByte(b[i:], '"')
	if q < 0 {
		return 0, false
	}
	s := b[i : i+q]
	if indexByte(s, '\\') >= 0 {
		return 0, false
	}
	// a byte below 0x20 borrows into its high bit, a byte above 0x7f has
	// it: with every byte in 0x20..0x7f, no high bit is set
	var acc uint64
	j := 0
	for ; j+32 <= len(s); j += 32 {
		w := s[j : j+32]
		x0 := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		x1 := uint64(w[8]) | uint64(w[9])<<8 | uint64(w[10])<<16 | uint64(w[11])<<24 |
			uint64(w[12])<<32 | uint64(w[13])<<40 | uint64(w[14])<<48 | uint64(w[15])<<56
		x2 := uint64(w[16]) | uint64(w[17])<<8 | uint64(w[18])<<16 | uint64(w[19])<<24 |
			uint64(w[20])<<32 | uint64(w[21])<<40 | uint64(w[22])<<48 | uint64(w[23])<<56
		x3 := uint64(w[24]) | uint64(w[25])<<8 | uint64(w[26])<<16 | uint64(w[27])<<24 |
			uint64(w[28])<<32 | uint64(w[29])<<40 | uint64(w[30])<<48 | uint64(w[31])<<56
		acc |= (x0 - ' '*ones) | x0 | (x1 - ' '*ones) | x1 | (x2 - ' '*ones) | x2 | (x3 - ' '*ones) | x3
	}
	for ; j < len(s); j++ {
		acc |= (uint64(s[j]) - ' ') | uint64(s[j])
	}
	if acc&highs != 0 {
		return 0, false
	}
	return i + q + 1, true
}

// indexByte is strings.IndexByte or bytes.IndexByte, as b is.
func indexByte[T string | []byte](b T, c byte) int {
	switch v := any(b).(type) {
	case []byte:
		return bytes.IndexByte(v, c)
	case string:
		return strings.IndexByte(v, c)
	}
	return -1
}

// special returns the high bit of each of the eight bytes of x (the first
// in the lowest bits) that is below 0x20 or above 0x7f, or is a quote or a
// backslash (x^q or x^bs is then 0, and 0-1 borrows); maybe also of some
// bytes after such a byte. The lowest bit set is exact: below the first
// such byte every byte is in 0x20..0x7f, its x, x^q and x^bs are in
// 0x01..0x7f, and none of the subtractions borrows or sets a high bit.
func special(x uint64) uint64 {
	q, bs := x^('"'*ones), x^('\\'*ones)
	return ((x - ' '*ones) | x | (q - ones) | (bs - ones)) & highs
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// decodeRune is utf8.DecodeRune or utf8.DecodeRuneInString, as b is.
func decodeRune[T string | []byte](b T) (rune, int) {
	switch v := any(b).(type) {
	case []byte:
		return utf8.DecodeRune(v)
	case string:
		return utf8.DecodeRuneInString(v)
	}
	return utf8.RuneError, 1
}

// unescapeName unescapes the contents of a JSON string that holds escapes,
// as gjson does: a \u escape of a high surrogate followed by one of a low
// surrogate is the pair's character, and any other surrogate is U+FFFD
// (encoding/json reads them the same way).
func unescapeName(s string) string {
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r := hex4(s[i+1:])
			i += 4
			if utf16.IsSurrogate(r) && r < 0xdc00 && len(s)-i >= 7 && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2 := hex4(s[i+3:]); r2 >= 0xdc00 && r2 < 0xe000 {
					r = utf16.DecodeRune(r, r2)
					i += 6
				}
			}
			out.WriteRune(r) // a lone surrogate is written as U+FFFD
		default: // '"', '\\', '/'
			out.WriteByte(s[i])
		}
	}
	return out.String()
}

// hex4 is the value of the four hexadecimal digits s begins with.
func hex4(s string) rune {
	var r rune
	for _, c := range []byte(s[:4]) {
		d := rune(c|0x20) - 'a' + 10
		if c <= '9' {
			d = rune(c) - '0'
		}
		r = r<<4 | d
	}
	return r
}

// lastByte is the last byte of b[ks:ke], 0 when it is empty.
func lastByte[T string | []byte](b T, ks, ke int) byte {
	if ke > ks {
		return b[ke-1]
	}
	return 0
}
