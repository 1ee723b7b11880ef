package enrichers

import (
	"testing"

	"github.com/tidwall/gjson"
)

// appendEscaped writes what gjson.AppendJSONString writes between its
// quotes, for every byte and for text around each of them.
func TestAppendEscapedIsGjsonEscaping(t *testing.T) {
	inputs := []string{"", "org_9f8KqL2mZx7TnB4c", "https://eu.api.example.com/v1?a=1&b=<2>", `say "hi"\now`,
		"caf\u00e9 \u2028 \U0001F600", "bad \xff\xfe utf-8", "\x00\x1f\x7f"}
	for c := 0; c < 256; c++ {
		inputs = append(inputs, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"cd")
	}
	for _, s := range inputs {
		want := gjson.AppendJSONString([]byte("prefix"), s)
		want = append(want[:len("prefix")], want[len("prefix")+1:len(want)-1]...)
		if got := appendEscaped([]byte("prefix"), s); string(got) != string(want) {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}

func FuzzAppendEscaped(f *testing.F) {
	f.Add("plain")
	f.Add("<&>\"\\\x01\u2029\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want := gjson.AppendJSONString(nil, s)
		if got := appendEscaped(nil, s); string(got) != string(want[1:len(want)-1]) {
			t.Fatalf("%q: got %q, want %q", s, got, want[1:len(want)-1])
		}
	})
}
