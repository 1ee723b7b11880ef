package sources

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func replWith(vals map[string]any) *caddy.Replacer {
	r := caddy.NewReplacer()
	for k, v := range vals {
		r.Set(k, v)
	}
	return r
}

func TestKeyTemplateRender(t *testing.T) {
	for _, c := range []struct {
		tmpl string
		vals map[string]any
		want string // "" for no lookup
	}{
		{"{t}", map[string]any{"t": "acme"}, "acme"},
		{"tenant:{t}", map[string]any{"t": "acme"}, "tenant:acme"},
		// every placeholder must render non-empty, whatever surrounds it
		{"tenant:{t}", map[string]any{"t": ""}, ""},
		{"tenant:{t}", nil, ""},
		{"t-{t}", map[string]any{}, ""},
		{"{t}:{c}", map[string]any{"t": "acme"}, ""},
		{"{t}:{c}", map[string]any{"t": "acme", "c": ""}, ""},
		{"{t}:{c}", map[string]any{"c": "svc"}, ""},
		// literal separators and '%' are escaped inside values
		{"{t}:{c}", map[string]any{"t": "acme:billing", "c": "svc"}, "acme%3Abilling:svc"},
		{"{t}:{c}", map[string]any{"t": "acme", "c": "billing:svc"}, "acme:billing%3Asvc"},
		{"{t}:{c}", map[string]any{"t": "a%3Ab", "c": "c"}, "a%253Ab:c"},
		// a key of one placeholder holds its value as it is
		{"tenant:{t}", map[string]any{"t": "a%3Ab:c"}, "tenant:a%3Ab:c"},
		{"cell-{t}", map[string]any{"t": "svc-eu"}, "cell-svc-eu"},
		{"tenant:{t}", map[string]any{"t": "org_acme"}, "tenant:org_acme"},
		// letters of the literal text stay as they are, except the first
		// of a separator between two placeholders
		{"tenant{t}x{c}", map[string]any{"t": "axe", "c": "tnx"}, "tenanta%78extn%78"},
		// escaped braces are literal text, and so escaped in values
		{`k\{{t}\}:{c}`, map[string]any{"t": "a}b{", "c": "x"}, "k{a%7Db%7B}:x"},
		{"static", nil, "static"},
		{"", nil, ""},
		{"{t}", map[string]any{"t": 42}, "42"},
	} {
		k, err := ParseKeyTemplate(c.tmpl)
		if err != nil {
			t.Fatalf("ParseKeyTemplate(%q): %v", c.tmpl, err)
		}
		got, ok := k.Render(replWith(c.vals))
		if c.want == "" {
			if ok {
				t.Errorf("%q with %v rendered %q; want no lookup", c.tmpl, c.vals, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("%q with %v = %q, %v; want %q", c.tmpl, c.vals, got, ok, c.want)
		}
	}
}

func TestKeyTemplateParse(t *testing.T) {
	for _, c := range []struct {
		tmpl, prefix string
		n            int
		err          string
	}{
		{"tenant:{http.token.tenant}", "tenant:", 1, ""},
		{"{http.token.tenant}", "", 1, ""},
		{"{a}-{b}", "", 2, ""},
		{"k", "k", 0, ""},
		{"{a}{b}", "", 0, "two placeholders with nothing between them"},
		{"x:{a}{b}:y", "", 0, "two placeholders with nothing between them"},
		{"a\x00{b}", "", 0, "NUL"},
	} {
		k, err := ParseKeyTemplate(c.tmpl)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseKeyTemplate(%q) error = %v; want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseKeyTemplate(%q): %v", c.tmpl, err)
		}
		if k.Prefix() != c.prefix || k.Placeholders() != c.n || k.String() != c.tmpl {
			t.Errorf("%q: prefix %q, %d placeholders; want %q, %d", c.tmpl, k.Prefix(), k.Placeholders(), c.prefix, c.n)
		}
	}
}

func TestKeyTemplateWithEscape(t *testing.T) {
	k, err := ParseKeyTemplate("/t/{t}", WithEscape(func(v string) (string, bool) {
		return strings.ToUpper(v), v != ".."
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := k.Render(replWith(map[string]any{"t": "a:b"})); !ok || got != "/t/A:B" {
		t.Errorf("Render = %q, %v", got, ok)
	}
	if got, ok := k.Render(replWith(map[string]any{"t": ".."})); ok {
		t.Errorf("a refused value rendered %q", got)
	}
	if got, ok := k.Render(replWith(map[string]any{"t": ""})); ok {
		t.Errorf("an empty value rendered %q", got)
	}
}

// FuzzKeyTemplateInjective: two tuples of non-empty values render the same
// key only when they are the same tuple.
func FuzzKeyTemplateInjective(f *testing.F) {
	f.Add("{a}:{b}", "acme:billing", "svc", "acme", "billing:svc")
	f.Add("t-{a}.{b}-", "x.y", "z", "x", "y.z")
	f.Add("{a}x{b}", "1x2", "3", "1", "2x3")
	f.Add("{a}%{b}", "1%2", "3", "1", "2%3")
	f.Fuzz(func(t *testing.T, tmpl, a1, b1, a2, b2 string) {
		if strings.ContainsAny(tmpl, `\`) || strings.Count(tmpl, "{a}") != 1 || strings.Count(tmpl, "{b}") != 1 ||
			strings.Count(tmpl, "{") != 2 || strings.Count(tmpl, "}") != 2 {
			return
		}
		if a1 == "" || b1 == "" || a2 == "" || b2 == "" || (a1 == a2 && b1 == b2) {
			return
		}
		k, err := ParseKeyTemplate(tmpl)
		if err != nil {
			return
		}
		k1, ok1 := k.Render(replWith(map[string]any{"a": a1, "b": b1}))
		k2, ok2 := k.Render(replWith(map[string]any{"a": a2, "b": b2}))
		if !ok1 || !ok2 {
			t.Fatalf("non-empty values not rendered: %q %v, %q %v", k1, ok1, k2, ok2)
		}
		if k1 == k2 {
			t.Fatalf("%q: (%q, %q) and (%q, %q) both render %q", tmpl, a1, b1, a2, b2, k1)
		}
	})
}
