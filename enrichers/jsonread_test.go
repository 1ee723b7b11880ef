package enrichers

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// The reader is held to three oracles: encoding/json.Valid (with valid
// UTF-8 and an object root) for what it accepts, gjson's ForEach for the
// members it lists, and a plain bracket counter for the depth it reports.

// testMember is one member of an object as the oracles see it: its
// unescaped name, its value's raw JSON and offset, and whether that value
// is a string without escapes.
type testMember struct {
	name, raw string
	index     int
	plain     bool
}

// membersOf lists the members of o as testMembers.
func membersOf(o object) []testMember {
	var list []testMember
	for i := range o.members {
		e := &o.members[i]
		list = append(list, testMember{name: o.name(i), raw: o.raw(e), index: int(e.vs), plain: e.plain})
	}
	return list
}

// gjsonMembers lists the members of a valid JSON object text with gjson, as
// the engine read them before it had its own reader.
func gjsonMembers(text string) []testMember {
	root := gjson.Parse(text)
	root.Index = len(text) - len(root.Raw)
	var list []testMember
	root.ForEach(func(k, v gjson.Result) bool {
		// plain: a string value holding no escapes
		plain := v.Type == gjson.String && !strings.Contains(v.Raw, `\`)
		list = append(list, testMember{name: k.Str, raw: v.Raw, index: v.Index, plain: plain})
		return true
	})
	return list
}

// bracketDepth returns the offset of the first `{` or `[` of b that opens a
// level deeper than max, or -1, counting brackets outside strings without
// reading anything else.
func bracketDepth(b []byte, max int) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
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

// checkReader holds readObject, validObject and DeeperThan on b to the
// oracles.
func checkReader(t *testing.T, b []byte) {
	t.Helper()
	strict := hdStrictObject(b)
	o, err := readObject(b, nil)
	so, serr := readObject(string(b), nil)
	text, list := o.text, membersOf(o)
	if serr != err || so.text != text || !reflect.DeepEqual(membersOf(so), list) {
		t.Fatalf("%q: read from a string differs: %v %v", b, serr, err)
	}
	if verr := validObject(b); verr != err {
		t.Fatalf("%q: validObject %v, readObject %v", b, verr, err)
	}
	switch {
	case err == nil:
		if !strict {
			t.Fatalf("%q: accepted, encoding/json refuses it", b)
		}
		if !strings.HasPrefix(text, string(b)) {
			t.Fatalf("%q: text %q", b, text)
		}
		if want := gjsonMembers(text); !reflect.DeepEqual(list, want) {
			t.Fatalf("%q: members\n got %+v\nwant %+v (gjson)", b, list, want)
		}
		want := hdMembers(t, b)
		if len(want) != len(list) {
			t.Fatalf("%q: %d members, encoding/json reads %d", b, len(list), len(want))
		}
		for i, m := range want {
			if list[i].name != m.name || list[i].raw != m.rawVal {
				t.Fatalf("%q: member %d is %q: %s, encoding/json reads %q: %s", b, i, list[i].name, list[i].raw, m.name, m.rawVal)
			}
		}
	case err == errTooDeep:
		if !errors.Is(err, errNotJSONObject) {
			t.Fatal("errTooDeep does not wrap errNotJSONObject")
		}
		if bracketDepth(b, MaxDepth) < 0 {
			t.Fatalf("%q: errTooDeep, no level deeper than %d", b, MaxDepth)
		}
	case err == errNotJSONObject:
		if strict && hdDepth(b) <= MaxDepth {
			t.Fatalf("%q: refused, encoding/json accepts it", b)
		}
		if strict {
			t.Fatalf("%q: %d deep, refused with %v, want errTooDeep", b, hdDepth(b), err)
		}
	default:
		t.Fatalf("%q: error %v", b, err)
	}
	if json.Valid(b) && utf8.Valid(b) {
		for _, max := range []int{0, 1, 2, 3, MaxDepth} {
			if got, want := DeeperThan(b, max), bracketDepth(b, max); got != want {
				t.Fatalf("%q: DeeperThan(%d) = %d, want %d", b, max, got, want)
			}
		}
	}
}

func TestReadObjectAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	for _, s := range []string{
		`{}`, ` {} `, "\t\r\n{\n}\n", `{"a":1}`, `{"a":-0}`, `{"a":-0.5e+3}`, `{"a":1E-2}`, `{"a":10.25}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":0x1}`, `{"a":1.5.2}`,
		`{"a":true,"b":false,"c":null}`, `{"a":tru}`, `{"a":nul}`, `{"a":falsey}`, `{"a":True}`,
		`{"a":"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"}`, `{"a":"\x"}`, `{"a":"\u12g4"}`, `{"a":"\u12"}`, `{"a":"\'"}`,
		"{\"a\":\"\x01\"}", "{\"a\":\"\x1f\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"\t\"}", `{"a":"\u0000"}`,
		"{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
		"\xef\xbb\xbf{}", "{\"\xff\":1}", "{\"a\":1}\xff",
		`{"a" 1}`, `{"a":1,}`, `{,}`, `{"a":1 "b":2}`, `{"a"::1}`, `{a:1}`, `{'a':1}`, `{"a":1,"b"}`,
		`{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":{]}`, `{"a":[}`, `{"a":[1}]`, `{"a":{"b":1]}`,
		`{"a":1}}`, `{"a":1} x`, `{"a":1}{`, `{"a":1`, `{"a":"x`, `{"a":"x\"}`, `{"a":`, `{"a"`, `{"`, `{`, ``, ` `,
		`[]`, `[{}]`, `"s"`, `1`, `null`, `true`,
		`{"a":[],"b":{},"c":[[]],"d":[{}],"e":{"f":[1,{"g":null}]}}`,
		`{"a":"[{\"]"}`, `{"a\"b":1,"a\\":2,"":3}`, `{"a":1,"a":2}`,
		`{"a":"` + strings.Repeat(`x`, 100) + `\"` + strings.Repeat(`y`, 17) + `"}`,
		`{"a":"` + strings.Repeat(`é`, 40) + "\x01" + `"}`,
		`{"a":"` + strings.Repeat(`\\`, 9) + `"}`,
		`{"a":"` + strings.Repeat(`\\`, 8) + `"}`,
	} {
		checkReader(t, []byte(s))
	}
	// a backslash, a control character or a multi-byte character at every
	// offset of two steps of the eight bytes the reader skips at once, and past the
	// sixty-four after which a string is read thirty-two bytes at a time
	// (plainRest), with a tail shorter than that or not
	var offsets []int
	for k := range 17 {
		offsets = append(offsets, k, 62+k, 94+k, 126+k)
	}
	for _, k := range offsets {
		pad := strings.Repeat("x", k)
		for _, v := range []string{`\"`, `\\`, `\n`, `\u00e9`, `\x`, `\u00g9`, "\x01", "\x7f", "é", "😀", "\xe9", "\xf0\x9f\x98", "\x85", "\x9f\x80"} {
			checkReader(t, []byte(`{"a":"`+pad+v+strings.Repeat("y", 16)+`","b":1}`))
			checkReader(t, []byte(`{"a":"`+pad+v+`","b":1}`))
			checkReader(t, []byte(`{"a":"`+pad+v+strings.Repeat("y", 40)+`"}`))
			checkReader(t, []byte(`{"`+pad+v+strings.Repeat("y", 16)+`":1,"b":1}`))
		}
	}
}

// TestReadObjectNames: names are unescaped as gjson (and encoding/json)
// unescape them, lone surrogates included.
func TestReadObjectNames(t *testing.T) {
	body := `{"caf\u00e9":1,"\ud83d\ude00":2,"\ud800":3,"\udc00\ud800":4,"\ud800\u0041":5,"\udc00\udc00":10,` +
		`"a\/b\\c\"d\n\t\r\b\f":6,"\uD83D\uDE00x":7,"\ud800\ud83d\ude00":8,"plain":9}`
	want := []string{"café", "😀", "\ufffd", "\ufffd\ufffd", "\ufffdA", "\ufffd\ufffd", "a/b\\c\"d\n\t\r\b\f", "😀x", "\ufffd😀", "plain"}
	o, err := readObject(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range membersOf(o) {
		names = append(names, m.name)
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	checkReader(t, []byte(body))
}

// TestReadObjectUsesListRoom: the members are listed in the room of the
// list given, from its start, and a refused object lists nothing.
func TestReadObjectUsesListRoom(t *testing.T) {
	buf := make([]entry, 1, 8)
	o, err := readObject(` {"a": [1, 2] , "b":"x"}`, buf)
	want := []testMember{{name: "a", raw: "[1, 2]", index: 7}, {name: "b", raw: `"x"`, index: 20, plain: true}}
	if err != nil || !reflect.DeepEqual(membersOf(o), want) || &o.members[0] != &buf[0] {
		t.Fatalf("err %v, members %+v", err, membersOf(o))
	}
	if o, err = readObject(`{"a":1,"b":}`, buf); err != errNotJSONObject || o.members != nil || o.text != "" {
		t.Fatalf("err %v, object %+v", err, o)
	}
}

// TestReadEntriesRefusesTextPastOffsets: an object too long for an
// entry's offsets is refused as not JSON, on its length alone (the pages
// of the zeroed text are never touched).
func TestReadEntriesRefusesTextPastOffsets(t *testing.T) {
	b := make([]byte, maxListedText+1)
	b[0], b[len(b)-1] = '{', '}'
	if list, err := readEntries(b, nil); err != errTooLong || !errors.Is(err, errNotJSONObject) || list != nil {
		t.Fatalf("%d bytes: list %v, err %v", len(b), list, err)
	}
	if uint64(maxListedText)*2 > math.MaxUint32 {
		t.Fatalf("an object kept may double its text: %d bytes overflow uint32 offsets", 2*maxListedText)
	}
}

// TestReadObjectDepth: MaxDepth levels (the root included) are read, one
// more is errTooDeep at its bracket; and nothing grows the stack with the
// depth, even with no bound in the way.
func TestReadObjectDepth(t *testing.T) {
	nest := func(depth int) string {
		return `{"a":` + strings.Repeat(`[`, depth-1) + strings.Repeat(`]`, depth-1) + `}`
	}
	if o, err := readObject(nest(MaxDepth), nil); err != nil || len(o.members) != 1 {
		t.Fatalf("%d deep: %v", MaxDepth, err)
	}
	deep := nest(MaxDepth + 1)
	if _, err := readObject(deep, nil); err != errTooDeep || !errors.Is(err, errNotJSONObject) {
		t.Fatalf("%d deep: %v", MaxDepth+1, err)
	}
	if off := DeeperThan(deep, MaxDepth); off != 5+MaxDepth-1 {
		t.Fatalf("DeeperThan = %d, want %d", off, 5+MaxDepth-1)
	}
	if off := DeeperThan([]byte(`{"a":"[[[[","b":[[1]]}`), 2); off != 17 {
		t.Fatalf("DeeperThan = %d, want 17", off)
	}
	// a syntax error before the deep level ends the walk; it is the
	// caller's validation that refuses such a text
	if off := DeeperThan(`{"a":x,"b":[[[1]]]}`, 2); off != -1 {
		t.Fatalf("DeeperThan past a syntax error = %d", off)
	}
	huge := strings.Repeat("[", 1<<20)
	if _, err := readObject("{\"a\":"+huge, nil); err != errTooDeep {
		t.Fatalf("2^20 deep: %v", err)
	}
	// with a bound above the depth, the walk goes all the way down on a
	// stack limited to 1 MiB: one frame per level would need far more
	defer debug.SetMaxStack(debug.SetMaxStack(1 << 20))
	if _, off, err := scanJSON(huge, 1<<21, nil, false); err != errNotJSONObject || off != len(huge) {
		t.Fatalf("2^20 deep, unbounded: %d %v", off, err)
	}
}

// FuzzReadObject: readObject accepts exactly the UTF-8 JSON objects
// encoding/json accepts, nested at most MaxDepth deep, refusing deeper ones
// with errTooDeep, and lists their members as gjson's ForEach does; from a
// string or from bytes alike. DeeperThan agrees with a bracket counter on
// every valid text.
func FuzzReadObject(f *testing.F) {
	for _, s := range fuzzReaderSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkReader(t, b)
	})
}

// fuzzReaderSeeds are the JSON texts of testdata/claims (each file, its
// header, claims and token response) and of the benchmarks' bodies.
func fuzzReaderSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/claims/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no claim samples: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range loadSamples(t) {
		out = append(out, s.Header, s.Claims, s.body(t))
	}
	for _, c := range benchCases() {
		out = append(out, c.body)
	}
	return append(out,
		[]byte(`{"caf\u00e9":1,"\ud800\u0041":2,"\udc00":[{"\"":"\\"}],"n":-1.5e-7}`),
		[]byte(` { "a" : [ true , false , null ] } `),
		[]byte(`{"a":"[{\"]"}`),
	)
}

// TestLast: last finds the last member of a name, the empty name too, and
// never one that differs from it in a byte other than the last.
func TestLast(t *testing.T) {
	o, err := readObject(`{"iss":1,"isx":2,"axs":3,"":4,"iss":5,"a":6}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"iss": "5", "isx": "2", "axs": "3", "": "4", "a": "6", "ixs": "", "is": "", "b": ""} {
		if got := o.last(name).Raw; got != want {
			t.Errorf("last(%q) = %q, want %q", name, got, want)
		}
	}
	first := object{text: o.text, members: o.members[:3]}
	if (&object{}).last("").Exists() || first.last("").Exists() {
		t.Error("found an empty name that is not there")
	}
	// with escaped names, each name is compared unescaped
	e, err := readObject(`{"i\u0073s":1,"isx":2,"\u0069ss":3,"a\/b":4}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"iss": "3", "isx": "2", "a/b": "4", "a\\/b": "", "": ""} {
		if got := e.last(name).Raw; got != want {
			t.Errorf("escaped: last(%q) = %q, want %q", name, got, want)
		}
	}
}
