package table

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// maxDepth bounds how deeply an entry's object may nest, the same bound the
// token_enrich engine sets on what it reads: an entry nested deeper would
// be loaded but then dropped by the handler at every lookup, so it is
// rejected when the file is loaded, with its position.
const maxDepth = enrichers.MaxDepth

// maxSize is the largest table file read: entries are kept as 32-bit
// offsets into the file's text.
const maxSize = math.MaxUint32

// defaultKey is the key of the entry returned for keys the table lacks.
const defaultKey = "*"

// FileError is a table file that cannot be used. Line and Column locate the
// first problem found (1-based, the column counted in characters); both are
// 0 for a problem with no position, such as a file that cannot be read.
type FileError struct {
	Path   string
	Line   int
	Column int
	Msg    string
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("table file %s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("table file %s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
}

// span locates an entry's object in snapshot.text. Offsets, not a string,
// keep a map slot at 24 bytes instead of 32.
type span struct{ off, end uint32 }

// snapshot is one loaded version of the file. It is never modified once
// built, so lookups read it without locks while the poller builds the next.
//
// Memory: text is the file's only copy; the map's keys are substrings of
// text (gjson does not copy a key without escapes) and its values are
// offsets into it. What a snapshot costs beyond the file's size is the map.
type snapshot struct {
	text       string
	entries    map[string]span
	def        span
	hasDefault bool
}

// object returns a copy of the entry's JSON object: the text is shared by
// every lookup of every request and must stay as loaded, whatever a caller
// does with the result.
func (s *snapshot) object(sp span) []byte {
	return []byte(s.text[sp.off:sp.end])
}

// parse builds a snapshot of text, the contents of the file at path. It
// accepts exactly: UTF-8 JSON whose root is an object and whose every
// member's value is an object nested at most maxDepth deep. Of members that
// share a name the last is kept, as JSON parsers do. It uses no recursion,
// so no input can exhaust the stack.
func parse(path, text string) (*snapshot, error) {
	fail := func(off int, format string, args ...any) error {
		line, col := position(text, off)
		return &FileError{Path: path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	if len(text) > maxSize {
		return nil, &FileError{Path: path, Msg: fmt.Sprintf("larger than %d bytes", maxSize)}
	}
	// encoding/json's scanner is iterative and exact: it is the validator,
	// and the one that reports the offset of a syntax error
	if !json.Valid([]byte(text)) {
		var raw json.RawMessage
		err := json.Unmarshal([]byte(text), &raw)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			// Offset counts the bytes read up to and including the one in
			// error; a file that ends too early is in error at its end
			off := int(syn.Offset) - 1
			if strings.HasPrefix(syn.Error(), "unexpected end") {
				off = len(text)
			}
			return nil, fail(off, "invalid JSON: %v", syn)
		}
		return nil, fail(0, "invalid JSON: %v", err)
	}
	if off := invalidUTF8(text); off >= 0 {
		return nil, fail(off, "not UTF-8")
	}
	// the root counts as one level above the entries' objects
	if off := enrichers.DeeperThan(text, maxDepth+1); off >= 0 {
		return nil, fail(off, "an entry nests deeper than %d levels", maxDepth)
	}
	root := gjson.Parse(text)
	// Parse skips leading whitespace without counting it in Index; the
	// entries' offsets must be offsets in text
	root.Index = len(text) - len(strings.TrimLeft(text, " \t\r\n"))
	if !root.IsObject() {
		return nil, fail(root.Index, "the root must be a JSON object mapping keys to objects")
	}

	n := 0
	root.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	s := &snapshot{text: text, entries: make(map[string]span, n)}
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		if !v.IsObject() {
			err = fail(v.Index, "entry %q: the value must be a JSON object, not %s", k.Str, kind(v))
			return false
		}
		s.entries[k.Str] = span{off: uint32(v.Index), end: uint32(v.Index + len(v.Raw))}
		return true
	})
	if err != nil {
		return nil, err
	}
	s.def, s.hasDefault = s.entries[defaultKey]
	return s, nil
}

// kind names a JSON value's type for an error message.
func kind(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "a string"
	case gjson.Number:
		return "a number"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.Null:
		return "null"
	}
	return "an array"
}

// position converts a byte offset in text to a 1-based line and column,
// the column counted in characters.
func position(text string, off int) (line, col int) {
	off = max(0, min(off, len(text)))
	before := text[:off]
	start := strings.LastIndexByte(before, '\n') + 1
	return strings.Count(before, "\n") + 1, utf8.RuneCountInString(before[start:]) + 1
}

// invalidUTF8 returns the offset of the first byte of text that is not part
// of a valid UTF-8 sequence, or -1.
func invalidUTF8(text string) int {
	if utf8.ValidString(text) {
		return -1
	}
	for i, r := range text {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(text[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}
