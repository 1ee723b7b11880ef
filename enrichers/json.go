package enrichers

import (
	"bytes"
	"errors"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// MaxDepth is the deepest nesting of objects and arrays the engine reads in
// a token response body or an access token's payload. Real token responses
// nest two or three levels; anything deeper than this is passed on unread.
const MaxDepth = 512

// Errors for a body the engine does not read.
var (
	// errNotJSONObject means the body is not valid UTF-8 JSON with an object
	// root (truncated, garbage, array or scalar root).
	errNotJSONObject = errors.New("response body is not a valid JSON object")
	// errTooDeep means the body nests objects or arrays deeper than
	// MaxDepth. It wraps errNotJSONObject.
	errTooDeep = tooDeepError{}
)

type tooDeepError struct{}

func (tooDeepError) Error() string        { return "response body nests deeper than 512 levels" }
func (tooDeepError) Is(target error) bool { return target == errNotJSONObject }

// DeeperThan returns the offset of the first `{` or `[` of b that opens a
// level deeper than max, or -1. It reads b with the walk readObject reads
// with, so one bound, counted one way, holds for everything the engine
// reads (the sources check what they read with it too). The walk stops at
// the first byte that is not JSON: on such a text DeeperThan reports only
// a level opened before that byte, so it is a bound for a text that is
// valid, checked with encoding/json.Valid before or after.
func DeeperThan[T string | []byte](b T, max int) int {
	// Nesting deeper than max needs more than max opening brackets: with
	// fewer, no level can be too deep, and counting two bytes costs far
	// less than the walk.
	if count(b, "{")+count(b, "[") <= max {
		return -1
	}
	if _, off, err := scanJSON(b, max, nil, false); err == errTooDeep {
		return off
	}
	return -1
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

// member is one member of a JSON object: its unescaped name, the raw JSON
// of its value and the offset of that value in the object's text. Kept
// raw, a member is small, and a list of them costs little to keep; val
// gives it to gjson again.
type member struct {
	name  string
	raw   string
	index int
	// plain: the value is a string without escapes, its text raw unquoted
	plain bool
}

// val returns the member's value. A string without escapes, what most
// claims are, is its raw text unquoted; anything else is parsed again.
func (m *member) val() gjson.Result {
	if m.plain {
		return gjson.Result{Type: gjson.String, Raw: m.raw, Str: m.raw[1 : len(m.raw)-1], Index: m.index}
	}
	v := gjson.Parse(m.raw)
	v.Index = m.index
	return v
}

// text is valueText(m.val()) without building the value for a string
// without escapes, what most claims are.
func (m *member) text() string {
	if m.plain {
		return m.raw[1 : len(m.raw)-1]
	}
	return valueText(m.val())
}

// kind is the JSON type of the member's value, told by its first byte:
// '"' a string, '{' an object, '[' an array, 'n' null, 't' or 'f' a
// boolean, anything else a number.
func (m *member) kind() byte { return m.raw[0] }

// readObject checks that b is a UTF-8 JSON object nested at most MaxDepth
// deep and appends its members, in order, to list. The members' strings
// point into text: b itself when it is a string, else a copy of b, so
// that they never alias a caller's buffer. On error list is returned as
// it was given.
func readObject[T string | []byte](b T, list []member) (text string, _ []member, err error) {
	if !objectRoot(b) {
		return "", list, errNotJSONObject
	}
	text = string(b)
	var room [16]entry
	ents, _, err := scanJSON(text, MaxDepth, room[:0], true)
	if err != nil {
		return "", list, err
	}
	return text, appendMembers(list, text, ents), nil
}

// appendMembers appends to list the members that ents locate in text.
func appendMembers(list []member, text string, ents []entry) []member {
	list = slices.Grow(list, len(ents))
	for i := range ents {
		e := &ents[i]
		list = append(list, member{name: e.name(text), raw: text[e.vs:e.ve], index: e.vs, plain: e.plain})
	}
	return list
}

// readEntries checks that b is a UTF-8 JSON object nested at most
// MaxDepth deep and appends its members, in order, to list as entries:
// nothing of b is copied.
func readEntries(b []byte, list []entry) ([]entry, error) {
	if !objectRoot(b) {
		return list, errNotJSONObject
	}
	all, _, err := scanJSON(b, MaxDepth, list, true)
	if err != nil {
		return list, err
	}
	return all, nil
}

// lastEntry returns the last entry of b named name, or nil.
func lastEntry(b []byte, list []entry, name string) *entry {
	for i := len(list) - 1; i >= 0; i-- {
		if e := &list[i]; e.ne-e.ns >= len(name) && e.isNamed(b, name) {
			return e
		}
	}
	return nil
}

// entryText is the text of the string value of e in b, copied out of b,
// or "" when e is not a string.
func entryText(b []byte, e *entry) string {
	switch {
	case e == nil || b[e.vs] != '"':
		return ""
	case e.plain:
		return string(b[e.vs+1 : e.ve-1])
	}
	return gjson.ParseBytes(b[e.vs:e.ve]).Str
}

// validObject is readObject without the members: nil when b is a UTF-8
// JSON object nested at most MaxDepth deep, else why not.
func validObject[T string | []byte](b T) error {
	if !objectRoot(b) {
		return errNotJSONObject
	}
	_, _, err := scanJSON(b, MaxDepth, nil, false)
	return err
}

// objectRoot reports whether the first byte of b past JSON whitespace
// opens an object.
func objectRoot[T string | []byte](b T) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{'
}

// last returns the value of the last member named name in list: the one
// encoding/json, JSON.parse and JWT libraries keep when a name repeats.
func last(list []member, name string) gjson.Result {
	if m := find(list, name); m != nil {
		return m.val()
	}
	return gjson.Result{}
}

// find returns the last member named name in list, or nil.
func find(list []member, name string) *member {
	if name == "" {
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].name == "" {
				return &list[i]
			}
		}
		return nil
	}
	// Claim names are short and many share a length (iss, sub, aud, azp):
	// a last byte that differs spares the call comparing the rest.
	end := name[len(name)-1]
	for i := len(list) - 1; i >= 0; i-- {
		if n := list[i].name; len(n) == len(name) && n[len(n)-1] == end && n == name {
			return &list[i]
		}
	}
	return nil
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

// eachRawString is eachString on the raw JSON of a value: a string
// without escapes, what scope and aud claims usually are, is read without
// parsing it.
func eachRawString(raw string, fn func(string) bool) bool {
	if s, ok := plainText(raw); ok {
		return !fn(s)
	}
	return eachString(gjson.Parse(raw), fn)
}

// plainText returns the text of raw JSON that is a string without
// escapes.
func plainText(raw string) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && strings.IndexByte(raw, '\\') < 0 {
		return raw[1 : n-1], true
	}
	return "", false
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
