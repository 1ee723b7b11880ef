package enrichers

import (
	"bytes"
	"errors"
	"fmt"
	"math"
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
	// errTooLong means the object is longer than maxListedText, past
	// what an entry's offsets hold.
	errTooLong = fmt.Errorf("%w: longer than %d bytes", errNotJSONObject, maxListedText)
)

// maxListedText is the longest object whose members are listed: an
// entry's uint32 offsets must hold its text, which newObject may grow by
// the unescaped names (never longer than the names escaped). Bodies are
// bounded by max_body far below it.
const maxListedText = math.MaxUint32 / 2

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

// object is a JSON object read once: its text, and its members located
// in it as entries. Kept raw, an object is small: its text and a
// pointer-free list that the collector never scans. val gives a member's
// value to gjson again.
type object struct {
	// text is the object's JSON text, followed by the names of its
	// members that hold escapes, unescaped: every member's name is
	// text[ns:ne]
	text    string
	members []entry
}

// newObject is the object whose members, located in text, are members.
// A name holding escapes is unescaped once, here, so that looking a
// member up never allocates.
func newObject(text string, members []entry) object {
	var b strings.Builder
	for i := range members {
		e := &members[i]
		if !e.esc {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(text)
		}
		name := unescapeName(text[e.ns:e.ne])
		e.ns = uint32(b.Len())
		b.WriteString(name)
		e.ne, e.esc = uint32(b.Len()), false
		e.last = lastByte(name, 0, len(name))
	}
	if b.Len() > 0 {
		text = b.String()
	}
	return object{text: text, members: members}
}

// readObject checks that b is a UTF-8 JSON object nested at most MaxDepth
// deep and lists its members, in order, in the room of list. The
// object's text is b itself when b is a string, else a copy of b, so that
// it never aliases a caller's buffer.
func readObject[T string | []byte](b T, list []entry) (object, error) {
	members, err := readEntries(b, list[:0])
	if err != nil {
		return object{}, err
	}
	return newObject(string(b), members), nil
}

// name returns the unescaped name of member i.
func (o *object) name(i int) string {
	e := &o.members[i]
	return o.text[e.ns:e.ne]
}

// raw returns the raw JSON of member e's value.
func (o *object) raw(e *entry) string { return o.text[e.vs:e.ve] }

// val returns member e's value. A string without escapes, what most
// claims are, is its raw text unquoted; anything else is parsed again.
func (o *object) val(e *entry) gjson.Result {
	raw := o.text[e.vs:e.ve]
	if e.plain {
		return gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1], Index: int(e.vs)}
	}
	v := gjson.Parse(raw)
	v.Index = int(e.vs)
	return v
}

// valText is valueText(o.val(e)) without building the value for a string
// without escapes, what most claims are.
func (o *object) valText(e *entry) string {
	if e.plain {
		return o.text[e.vs+1 : e.ve-1]
	}
	return valueText(o.val(e))
}

// kind is the JSON type of member e's value, told by its first byte:
// '"' a string, '{' an object, '[' an array, 'n' null, 't' or 'f' a
// boolean, anything else a number.
func (o *object) kind(e *entry) byte { return o.text[e.vs] }

// find returns the last member named name, and whether there is one. An
// object without its list (a token's claims once Run has given their room
// back) is read again into room on the stack: its text is then the object
// alone.
func (o *object) find(name string) (entry, bool) {
	members := o.members
	if members == nil && len(o.text) > len("{}") {
		var room [32]entry
		members, _ = readEntries(o.text, room[:0])
	}
	// Claim names are short and many share a length (iss, sub, aud, azp):
	// the entry's last byte tells most of them apart before the length
	// and the name are compared.
	var last byte
	if name != "" {
		last = name[len(name)-1]
	}
	for i := len(members) - 1; i >= 0; i-- {
		e := &members[i]
		if e.last != last || int(e.ne-e.ns) != len(name) {
			continue
		}
		if o.text[e.ns:e.ne] == name {
			return *e, true
		}
	}
	return entry{}, false
}

// last returns the value of the last member named name: the one
// encoding/json, JSON.parse and JWT libraries keep when a name repeats.
func (o *object) last(name string) gjson.Result {
	if e, ok := o.find(name); ok {
		return o.val(&e)
	}
	return gjson.Result{}
}

// readEntries checks that b is a UTF-8 JSON object nested at most
// MaxDepth deep and appends its members, in order, to list as entries:
// nothing of b is copied.
func readEntries[T string | []byte](b T, list []entry) ([]entry, error) {
	if len(b) > maxListedText {
		return list, errTooLong
	}
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
		if e := &list[i]; int(e.ne-e.ns) >= len(name) && e.isNamed(b, name) {
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
