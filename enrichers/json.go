package enrichers

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// MaxDepth is the deepest nesting of objects and arrays the engine reads in
// a token response body or an access token's payload. Real token responses
// nest two or three levels; anything deeper than this is passed on unread.
const MaxDepth = 512

// Errors for a body the engine does not read.
var (
	// ErrNotJSONObject means the body is not valid UTF-8 JSON with an object
	// root (truncated, garbage, array or scalar root).
	ErrNotJSONObject = errors.New("response body is not a valid JSON object")
	// ErrTooDeep means the body nests objects or arrays deeper than
	// MaxDepth. It wraps ErrNotJSONObject.
	ErrTooDeep = tooDeepError{}
)

type tooDeepError struct{}

func (tooDeepError) Error() string        { return "response body nests deeper than 512 levels" }
func (tooDeepError) Is(target error) bool { return target == ErrNotJSONObject }

// withinDepth reports whether b never nests objects and arrays deeper than
// max. It is the one pass gjson cannot do for us: gjson validates
// recursively, one Go stack frame per level, so an input of a million `[`
// would grow the goroutine stack to its limit and kill the process. This
// pass keeps a counter instead, runs in time linear in len(b), and must run
// before any gjson call on untrusted bytes. It does not validate: bytes it
// accepts still go through gjson.ValidBytes.
func withinDepth[T string | []byte](b T, max int) bool { return DeeperThan(b, max) < 0 }

// DeeperThan returns the offset of the first `{` or `[` of b that opens a
// level deeper than max, or -1: withinDepth for callers that report where
// (the sources check what they read with it too, so that one bound, counted
// one way, holds for everything the engine reads).
func DeeperThan[T string | []byte](b T, max int) int {
	// Nesting deeper than max needs more than max opening brackets: with
	// fewer, as in every usual token response and payload, no level can be
	// too deep, and counting two bytes costs far less than the pass below.
	if count(b, "{")+count(b, "[") <= max {
		return -1
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i+1)
		case '{', '[':
			if depth++; depth > max {
				return i
			}
		case '}', ']':
			depth--
		}
	}
	return -1
}

// stringEnd returns the index of the quote that ends the string whose
// contents start at i, or len(b) when it is unterminated. Strings are most
// of a token response (the tokens themselves), so they are skipped with
// bytes.IndexByte rather than a byte at a time.
func stringEnd[T string | []byte](b T, i int) int {
	for {
		j := indexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		i += j
		// the quote is escaped when an odd number of backslashes precede it
		k := i
		for k > 0 && b[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 0 {
			return i
		}
		i++
	}
}

// count is bytes.Count or strings.Count, as b is.
func count[T string | []byte](b T, sep string) int {
	switch v := any(b).(type) {
	case []byte:
		return bytes.Count(v, []byte(sep))
	case string:
		return strings.Count(v, sep)
	}
	return 0
}

// indexByte is bytes.IndexByte or strings.IndexByte, as b is.
func indexByte[T string | []byte](b T, c byte) int {
	switch v := any(b).(type) {
	case []byte:
		return bytes.IndexByte(v, c)
	case string:
		return strings.IndexByte(v, c)
	}
	return -1
}

// member is one member of a JSON object: its unescaped name, the raw JSON
// of its value and the offset of that value in the object's text. Kept
// raw, a member is small, and a list of them costs little to keep; val
// gives it to gjson again.
type member struct {
	name  string
	raw   string
	index int
}

// val returns the member's value. A string without escapes, what most
// claims are, is its raw text unquoted; anything else is parsed again.
func (m *member) val() gjson.Result {
	if n := len(m.raw); n >= 2 && m.raw[0] == '"' && strings.IndexByte(m.raw, '\\') < 0 {
		return gjson.Result{Type: gjson.String, Raw: m.raw, Str: m.raw[1 : n-1], Index: m.index}
	}
	v := gjson.Parse(m.raw)
	v.Index = m.index
	return v
}

// readObject checks that b is a UTF-8 JSON object nested at most MaxDepth
// deep and appends its members, in order, to list. The members' strings
// point into text: b itself when it is a string, else a copy of b, so
// that they never alias a caller's buffer.
func readObject[T string | []byte](b T, list []member) (text string, _ []member, err error) {
	if !withinDepth(b, MaxDepth) {
		return "", list, ErrTooDeep
	}
	if !validUTF8(b) || !validJSON(b) {
		return "", list, ErrNotJSONObject
	}
	text = string(b)
	root := gjson.Parse(text)
	if !root.IsObject() {
		return "", list, ErrNotJSONObject
	}
	// Parse skips leading whitespace without counting it in Index; the
	// members' offsets must be offsets in text
	root.Index = len(text) - len(root.Raw)
	root.ForEach(func(k, v gjson.Result) bool {
		list = append(list, member{name: k.Str, raw: v.Raw, index: v.Index})
		return true
	})
	return text, list, nil
}

// validUTF8 is utf8.Valid or utf8.ValidString, as b is.
func validUTF8[T string | []byte](b T) bool {
	switch v := any(b).(type) {
	case []byte:
		return utf8.Valid(v)
	case string:
		return utf8.ValidString(v)
	}
	return false
}

// validJSON is gjson.ValidBytes or gjson.Valid, as b is.
func validJSON[T string | []byte](b T) bool {
	switch v := any(b).(type) {
	case []byte:
		return gjson.ValidBytes(v)
	case string:
		return gjson.Valid(v)
	}
	return false
}

// last returns the value of the last member named name in list: the one
// encoding/json, JSON.parse and JWT libraries keep when a name repeats.
func last(list []member, name string) gjson.Result {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].name == name {
			return list[i].val()
		}
	}
	return gjson.Result{}
}

// lastOf returns the value of the last member named name of object obj.
func lastOf(obj gjson.Result, name string) gjson.Result {
	var out gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == name {
			out = v
		}
		return true
	})
	return out
}

// eachString calls fn for a string value or for each string of an array
// until fn returns false; it reports whether fn returned false.
func eachString(v gjson.Result, fn func(string) bool) bool {
	switch {
	case v.Type == gjson.String:
		return !fn(v.Str)
	case v.IsArray():
		stopped := false
		v.ForEach(func(_, e gjson.Result) bool {
			if e.Type == gjson.String && !fn(e.Str) {
				stopped = true
			}
			return !stopped
		})
		return stopped
	}
	return false
}

// valueText renders a JSON value as placeholder text: a string unescaped, null
// or absent as "", anything else as its JSON.
func valueText(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Null:
		return ""
	}
	return v.Raw
}
