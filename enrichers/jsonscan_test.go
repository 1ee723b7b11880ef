package enrichers

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// gjsonObject is the reference the scanner (appendMembers) must agree with: gjson's validator,
// an object root and valid UTF-8.
func gjsonObject(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i < len(b) && b[i] == '{' && gjson.ValidBytes(b) && utf8.Valid(b)
}

var scanCorpus = []string{
	``, ` `, `{`, `}`, `{}`, ` {} `, "\t{\r\n}\n", `{}x`, `{} {}`, `[]`, `"s"`, `1`, `null`, `{,}`,
	`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{'a':1}`, `{"a":1 "b":2}`, `{"a":1,"a":2}`,
	`{"a":-}`, `{"a":-0}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1.5e}`, `{"a":1.5e+}`, `{"a":1.5E-07}`,
	`{"a":-1.25e+10}`, `{"a":+1}`, `{"a":1e5.5}`, `{"a":0x10}`, `{"a":Infinity}`, `{"a":NaN}`,
	`{"a":true}`, `{"a":tru}`, `{"a":truex}`, `{"a":false}`, `{"a":fals}`, `{"a":null}`, `{"a":nul}`,
	`{"a":[]}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":[[[]]]}`, `{"a":[{"b":[1,{"c":null}]}]}`,
	`{"a":{"b":{"c":{}}}}`, `{"a":{"b":}}`, `{"a":{"b":1}`, `{"a":[}`, `{"a":]}`,
	`{"a":"\""}`, `{"a":"\\"}`, `{"a":"\/"}`, `{"a":"\b\f\n\r\t"}`, `{"a":"\u00e9\uD83D\uDE00"}`,
	`{"a":"\u00"}`, `{"a":"\u00g0"}`, `{"a":"\x"}`, `{"a":"\'"}`, `{"a":"\`, `{"a":"abc`, `{"a":"abcdefghijklmnop`,
	"{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}", "{\"a\":\"\x00\"}", "{\"a\":\"\x1f\"}", "{\"a\":\"\x7f\"}",
	`{"é":"ü","日本":"語","emoji":"😀"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc3\x28\"}",
	"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xef\xbf\xbd\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe0\x80\xaf\"}",
	"{\"a\":1}\xff", "\xef\xbb\xbf{}", `{"a":"0123456789abcdef0123456789abcdef\"0123456789"}`,
	`{"a\"b":1,"c\\":2,"\u0061":3}`,
	`{"iat":1764288000,"d15":123456789012345,"d16":1234567890123456,"d19":9999999999999999999,"z":0,"neg":-5,"nz":-0,"f":1.5,"e":1e3}`, `{"a":"x"}` + strings.Repeat(" ", 20),
	`{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln","token_type":"Bearer","expires_in":3600}`,
}

func TestScanObjectMatchesGjson(t *testing.T) {
	for _, s := range scanCorpus {
		checkScan(t, []byte(s))
		// every prefix: truncated documents are the common corruption
		for n := 0; n < len(s); n++ {
			checkScan(t, []byte(s[:n]))
		}
	}
}

// checkScan compares validity with the reference and, for valid objects, the
// members with gjson's ForEach (names, raw values, offsets, types, strings).
func checkScan(t *testing.T, b []byte) {
	t.Helper()
	var got []gjson.Result
	var names []string
	ms, ok := appendMembers(nil, b)
	for _, m := range ms {
		names = append(names, m.name(b))
		got = append(got, m.result(b))
	}
	if want := gjsonObject(b); ok != want {
		t.Fatalf("appendMembers(%q) = %v, reference says %v", b, ok, want)
	}
	if ok != isJSONObject(b) {
		t.Fatalf("isJSONObject(%q) disagrees with appendMembers", b)
	}
	if !ok {
		return
	}
	i := 0
	gjson.ParseBytes(b).ForEach(func(k, v gjson.Result) bool {
		if i >= len(got) {
			t.Fatalf("%q: gjson sees more members than %d", b, len(got))
		}
		g := got[i]
		if names[i] != k.Str || g.Raw != v.Raw || g.Index != v.Index || g.Type != v.Type || g.Str != v.Str ||
			g.String() != v.String() || g.IsArray() != v.IsArray() || g.IsObject() != v.IsObject() {
			t.Fatalf("%q member %d: got %q=%+v, gjson %q=%+v", b, i, names[i], g, k.Str, v)
		}
		i++
		return true
	})
	if i != len(got) {
		t.Fatalf("%q: %d members, gjson %d", b, len(got), i)
	}
	// the gjson-shaped helpers built on the scanner
	root := gjson.ParseBytes(b)
	i = 0
	forEachMember(root, func(k string, v gjson.Result) bool {
		if k != names[i] || !sameResult(v, got[i]) {
			t.Fatalf("%q: forEachMember %d: %q=%+v", b, i, k, v)
		}
		i++
		return true
	})
	var tab claimSlots
	for _, name := range names {
		tab.add(name)
	}
	var idx claimIndex
	if !idx.scan(b, &tab) {
		t.Fatalf("%q: the index rejects a valid object", b)
	}
	for _, name := range append(names, "absent") {
		if g, w := idx.get(noSlot, name), lookupMember(root, name); !sameResult(g, w) {
			t.Fatalf("%q: index lookup(%q) = %+v, lookupMember %+v", b, name, g, w)
		}
		var want gjson.Result
		root.ForEach(func(k, v gjson.Result) bool {
			if k.Str == name {
				want = v
				return false
			}
			return true
		})
		if g := lookupMember(root, name); !sameResult(g, want) {
			t.Fatalf("%q: lookupMember(%q) = %+v, gjson %+v", b, name, g, want)
		}
	}
}

func TestEachMemberStops(t *testing.T) {
	n := 0
	b := []byte(`{"a":1,"b":2,"c":3}`)
	eachMember(b, func(m jsonMember) bool {
		n++
		return m.name(b) != "b"
	})
	if n != 2 {
		t.Fatalf("visited %d members, want 2", n)
	}
}

func TestScanStringLongRuns(t *testing.T) {
	// special bytes at every position of the eight-byte window, before and
	// after the switch to vectorised searches at longStringRun
	for pos := 0; pos < longStringRun+40; pos++ {
		for _, c := range []string{`"`, `\n`, `\u0041`, "\x01", "\x7f", "é", "\xff", `\`, "\x80"} {
			s := `{"k":"` + strings.Repeat("a", pos) + c + strings.Repeat("b", 17) + `"}`
			checkScan(t, []byte(s))
			checkScan(t, []byte(s[:len(s)-2]))
			// and a second special byte further on
			s2 := `{"k":"` + strings.Repeat("a", pos) + c + strings.Repeat("b", 70) + `\n` + c + `x"}`
			checkScan(t, []byte(s2))
		}
	}
}

func FuzzScanObject(f *testing.F) {
	for _, s := range scanCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScan(t, b)
	})
}

func BenchmarkScanObject(b *testing.B) {
	body := auth0Case().body
	b.Run("scanObject", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !isJSONObject(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("gjson+utf8", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !gjsonObject(body) {
				b.Fatal("invalid")
			}
		}
	})
}

func sameResult(a, b gjson.Result) bool {
	return a.Type == b.Type && a.Raw == b.Raw && a.Str == b.Str && a.Index == b.Index &&
		(a.Num == b.Num || a.Num != a.Num && b.Num != b.Num) && len(a.Indexes) == 0 && len(b.Indexes) == 0
}
