package enrichers

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// A single-pass JSON object scanner: it validates a document and reports its
// top-level members in the same pass. It accepts exactly what
// gjson.ValidBytes does when the root is an object and the text is valid
// UTF-8 (RFC 8259; jsonscan_test.go checks the equivalence), but reads long
// strings, which is what token responses are made of, eight bytes at a time.
// gjson validates one byte at a time, utf8.Valid is a second pass and a
// gjson ForEach a third, which together cost ~5 ns per byte of token.

// jsonMember is one top-level member of a scanned object, as offsets into
// the scanned text b: no pointers, so that lists of members need neither
// write barriers nor GC scanning.
type jsonMember struct {
	// b[keyStart:keyEnd] is the raw key, quotes included.
	keyStart, keyEnd int
	// b[valStart:valEnd] is the raw value.
	valStart, valEnd int
	// keyEsc and valEsc say the key, or a string value, has escapes.
	keyEsc, valEsc bool
}

// name returns the unescaped key. Only an escaped key allocates.
func (m *jsonMember) name(b []byte) string {
	if m.keyEsc {
		return gjson.Parse(stringOf(b[m.keyStart:m.keyEnd])).Str
	}
	return stringOf(b[m.keyStart+1 : m.keyEnd-1])
}

// hasName reports whether the unescaped key is name, without allocating
// for a key without escapes.
func (m *jsonMember) hasName(b []byte, name string) bool {
	if m.keyEsc {
		return m.name(b) == name
	}
	return stringOf(b[m.keyStart+1:m.keyEnd-1]) == name
}

// isString reports whether the value is a JSON string.
func (m *jsonMember) isString(b []byte) bool { return b[m.valStart] == '"' }

// str returns a string value unescaped. Only an escaped value allocates.
func (m *jsonMember) str(b []byte) string {
	if m.valEsc {
		return gjson.Parse(stringOf(b[m.valStart:m.valEnd])).Str
	}
	return stringOf(b[m.valStart+1 : m.valEnd-1])
}

// result returns the value as gjson.Result, as gjson's ForEach would.
func (m *jsonMember) result(b []byte) gjson.Result {
	var r gjson.Result
	val := stringOf(b[m.valStart:m.valEnd])
	switch val[0] {
	case '"':
		r = gjson.Result{Type: gjson.String, Raw: val, Str: m.str(b)}
	case '{', '[':
		r = gjson.Result{Type: gjson.JSON, Raw: val}
	default:
		if n, ok := smallUint(val); ok {
			// what gjson.Parse gives, without strconv.ParseFloat
			r = gjson.Result{Type: gjson.Number, Raw: val, Num: float64(n)}
		} else {
			r = gjson.Parse(val)
		}
	}
	r.Index = m.valStart
	return r
}

// smallUint parses a number token made of at most 15 digits (iat, exp),
// which float64 holds exactly, so float64(n) is what strconv.ParseFloat
// returns for it.
func smallUint(s string) (n uint64, ok bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// appendMembers validates b as a JSON object (surrounding whitespace allowed,
// strings valid UTF-8) and appends its top-level members to ms in order. On
// false, what was appended is to be discarded. Collecting into a list rather
// than calling back per member keeps the scanner's loop free of indirect
// calls; the members of a token response or payload fit in pooled scratch.
// (The list is passed and returned by value: a store through a pointer would
// make escape analysis move a caller's stack buffer to the heap.)
func appendMembers(ms []jsonMember, b []byte) ([]jsonMember, bool) {
	return scanObject(b, ms, true, nil)
}

// isJSONObject reports whether b is valid JSON (including valid UTF-8) whose
// root is an object: appendMembers without the list, the same verdict as
// gjson.ValidBytes plus utf8.Valid in one pass.
func isJSONObject(b []byte) bool {
	_, ok := scanObject(b, nil, false, nil)
	return ok
}

// scanObject is appendMembers (collect) or isJSONObject (not). A stop name
// (not nil) ends the scan, successfully, after the first member of that
// name: for lookups in an object already known to be valid.
func scanObject(b []byte, ms []jsonMember, collect bool, stop *string) ([]jsonMember, bool) {
	i := skipWS(b, 0)
	if i == len(b) || b[i] != '{' {
		return ms, false
	}
	i, ms, ok := scanMembers(b, i+1, ms, collect, stop)
	if !ok {
		return ms, false
	}
	return ms, stop != nil || skipWS(b, i) == len(b)
}

// eachMember calls fn for each top-level member of b, an object already known
// to be valid, until fn returns false.
func eachMember(b []byte, fn func(m jsonMember) bool) {
	var buf [16]jsonMember
	ms, _ := appendMembers(buf[:0], b)
	for _, m := range ms {
		if !fn(m) {
			return
		}
	}
}

// forEachMember is gjson's Result.ForEach for a valid JSON object, with the
// key unescaped, but several times faster: it skips values instead of
// parsing them and builds a Result only for the members fn is given. obj
// must come from a validated document (claims from DecodeJWT do).
func forEachMember(obj gjson.Result, fn func(k string, v gjson.Result) bool) {
	if obj.Type != gjson.JSON || len(obj.Raw) == 0 || obj.Raw[0] != '{' {
		obj.ForEach(func(k, v gjson.Result) bool { return fn(k.Str, v) })
		return
	}
	b := bytesOf(obj.Raw)
	eachMember(b, func(m jsonMember) bool {
		v := m.result(b)
		v.Index += obj.Index
		return fn(m.name(b), v)
	})
}

// lookupMember returns the member of a valid JSON object named name
// (literally), as gjson's ForEach would find it, building a Result only for
// that member.
func lookupMember(obj gjson.Result, name string) gjson.Result {
	var out gjson.Result
	if obj.Type != gjson.JSON || len(obj.Raw) == 0 || obj.Raw[0] != '{' {
		obj.ForEach(func(k, v gjson.Result) bool {
			if k.Str == name {
				out = v
				return false
			}
			return true
		})
		return out
	}
	b := bytesOf(obj.Raw)
	var buf [16]jsonMember
	// the scan stops at the first member so named: the last it collected
	ms, _ := scanObject(b, buf[:0], true, &name)
	if n := len(ms); n > 0 && ms[n-1].hasName(b, name) {
		out = ms[n-1].result(b)
		out.Index += obj.Index
	}
	return out
}

// scanMembers scans an object's members after its `{`, appending them to ms
// when collect is set, and returns the index past its `}` (with stop set,
// past the first member named stop, if there is one).
func scanMembers(b []byte, i int, ms []jsonMember, collect bool, stop *string) (int, []jsonMember, bool) {
	i = skipWS(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, ms, true
	}
	var m jsonMember
	for {
		if i == len(b) || b[i] != '"' {
			return i, ms, false
		}
		m.keyStart = i
		var ok bool
		if i, m.keyEsc, ok = scanString(b, i+1); !ok {
			return i, ms, false
		}
		m.keyEnd = i
		i = skipWS(b, i)
		if i == len(b) || b[i] != ':' {
			return i, ms, false
		}
		i = skipWS(b, i+1)
		m.valStart = i
		m.valEsc = false
		if i < len(b) && b[i] == '"' {
			i, m.valEsc, ok = scanString(b, i+1)
		} else {
			i, ok = scanValue(b, i)
		}
		if !ok {
			return i, ms, false
		}
		if collect {
			m.valEnd = i
			ms = append(ms, m)
			if stop != nil && m.hasName(b, *stop) {
				return i, ms, true
			}
		}
		i = skipWS(b, i)
		if i == len(b) {
			return i, ms, false
		}
		switch b[i] {
		case '}':
			return i + 1, ms, true
		case ',':
			i = skipWS(b, i+1)
		default:
			return i, ms, false
		}
	}
}

// scanValue validates one value starting at b[i] (no leading whitespace) and
// returns the index past it.
func scanValue(b []byte, i int) (int, bool) {
	if i == len(b) {
		return i, false
	}
	switch c := b[i]; c {
	case '{':
		i, _, ok := scanMembers(b, i+1, nil, false, nil)
		return i, ok
	case '[':
		return scanArray(b, i+1)
	case '"':
		i, _, ok := scanString(b, i+1)
		return i, ok
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return scanNumber(b, i)
		}
	}
	return i, false
}

func scanArray(b []byte, i int) (int, bool) {
	i = skipWS(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = scanValue(b, i); !ok {
			return i, false
		}
		i = skipWS(b, i)
		if i == len(b) {
			return i, false
		}
		switch b[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipWS(b, i+1)
		default:
			return i, false
		}
	}
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i >= len(lit) && stringOf(b[i:i+len(lit)]) == lit {
		return i + len(lit), true
	}
	return i, false
}

// scanNumber validates an RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	if i == len(b) || !isDigit(b[i]) {
		return i, false
	}
	if b[i] == '0' {
		i++
	} else {
		i = skipDigits(b, i)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || !isDigit(b[i]) {
			return i, false
		}
		i = skipDigits(b, i)
	}
	return i, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// skipWS returns the index of the first byte at or after b[i] that is not
// JSON whitespace. The first test settles the usual case, a byte above the
// space (compact JSON has no whitespace at all).
func skipWS(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// scanString validates a string whose opening quote is at b[i-1] and returns
// the index past its closing quote and whether it holds escapes. Control
// characters, bad escapes and invalid UTF-8 fail.
//
// The first bytes are checked eight at a time for any byte that ends a plain
// run (swar8), which finishes keys and short values in a few steps. Past
// longStringRun bytes (a token), bytes.IndexByte (vectorised) finds the next
// quote and backslash and plainPrefix checks the run before them. Both
// positions are remembered, so every byte is searched once and a string full
// of escapes stays linear.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	// the common case first: a plain string closed within longStringRun
	start := i
	for lim := min(len(b), i+longStringRun); lim-i >= 8; i += 8 {
		if m := swar8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if b[i] == '"' {
				return i + 1, false, true
			}
			break
		}
	}
	return scanStringRest(b, i, start)
}

// scanStringRest is scanString from b[i] on, for a string that started at
// b[start]: escapes, non-ASCII, long runs and the last few bytes.
func scanStringRest(b []byte, i, start int) (end int, esc, ok bool) {
	q, bs := -1, -1 // long strings: next `"` at or after i; next `\` in [i, q), else q
	for {
		if i-start < longStringRun {
			if len(b)-i >= 8 {
				m := swar8(binary.LittleEndian.Uint64(b[i:]))
				if m == 0 {
					i += 8
					continue
				}
				i += bits.TrailingZeros64(m) >> 3
			}
		} else {
			if q < i {
				if q = bytes.IndexByte(b[i:], '"'); q < 0 {
					return len(b), esc, false
				}
				q += i
				bs = -1
			}
			if bs < i {
				if bs = bytes.IndexByte(b[i:q], '\\'); bs < 0 {
					bs = q
				} else {
					bs += i
				}
			}
			i += plainPrefix(b[i:bs])
		}
		// b[i] ends the plain run, or fewer than 8 bytes are left
		if i == len(b) {
			return i, esc, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			i++
			if i == len(b) {
				return i, esc, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return i, esc, false
				}
				i += 5
			default:
				return i, esc, false
			}
		case c < 0x20:
			return i, esc, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return i, esc, false
			}
			i += n
		default:
			i++ // a plain byte of the last few
		}
	}
}

// longStringRun is where scanString switches from eight-byte steps to
// vectorised searches: below it the searches' calls cost more than they save.
const longStringRun = 64

// swar8 flags, in bit 7 of each byte, the bytes of x (eight bytes, little
// endian) that end a plain string run: below 0x20, `"`, `\` or non-ASCII.
// Only the lowest flag is exact (a borrow travels up from a flagged byte),
// which is the one needed.
func swar8(x uint64) uint64 {
	q := x ^ (lsb8 * '"')
	s := x ^ (lsb8 * '\\')
	return ((x - lsb8*0x20) | ((q - lsb8) & ^q) | ((s - lsb8) & ^s) | x) & msb8
}

// plainPrefix returns the length of the leading run of s made of printable
// ASCII (0x20 to 0x7f). Bit 7 of a byte of m is set when the byte is below
// 0x20 or above 0x7f; only the lowest flag is exact (a borrow travels up from
// a flagged byte), which is the one needed. Reslicing rather than indexing
// keeps bounds checks out of the loop.
func plainPrefix(s []byte) int {
	n := len(s)
	for len(s) >= 32 {
		a, b := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
		c, d := binary.LittleEndian.Uint64(s[16:]), binary.LittleEndian.Uint64(s[24:])
		if ((a-lsb8*0x20)|a|(b-lsb8*0x20)|b|(c-lsb8*0x20)|c|(d-lsb8*0x20)|d)&msb8 != 0 {
			break
		}
		s = s[32:]
	}
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		if m := ((x - lsb8*0x20) | x) & msb8; m != 0 {
			return n - len(s) + bits.TrailingZeros64(m)>>3
		}
		s = s[8:]
	}
	for len(s) > 0 && s[0] >= 0x20 && s[0] < utf8.RuneSelf {
		s = s[1:]
	}
	return n - len(s)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// jsonPlain marks the bytes gjson.AppendJSONString copies as they are
// whatever its HTML-escaping setting: printable ASCII but `"`, `\`, `<`,
// `>` and `&`.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendJSONString is gjson.AppendJSONString, with a fast path for the
// common value that needs no escaping (a URL, a tenant id).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			return gjson.AppendJSONString(dst, s)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
