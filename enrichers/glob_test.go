package enrichers

import "testing"

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*", "", true},
		{"*", "anything/at.all", true},
		{"svc-*", "svc-eu", true},
		{"svc-*", "svc", false},
		{"*-eu", "svc-eu", true},
		{"*-eu", "svc-us", false},
		{"https://api.*.example.com/*", "https://api.eu.example.com/v1/orders", true},
		{"https://api.*.example.com/*", "https://api.example.com/v1", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"a*a*a", "aaaa", true},
		{"?bc", "ébc", true},
		{"??", "é", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\?`, "a?", true},
		{"**x", "yyx", true},
		{"org_*", "org_ACME", true},
		{"ORG_*", "org_acme", false},
	}
	for _, c := range cases {
		p, err := compilePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := p.Match(c.s); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	for _, s := range []string{"", `abc\`, "a[bc]", "x]", "\xff"} {
		if _, err := compilePattern(s); err == nil {
			t.Errorf("compilePattern(%q) succeeded, want error", s)
		}
	}
}

func TestPatternMatchDoesNotAllocate(t *testing.T) {
	p := mustCompilePattern("https://api.*.example.com/*")
	n := testing.AllocsPerRun(100, func() { p.Match("https://api.eu.example.com/v1/orders") })
	if n != 0 {
		t.Fatalf("Match allocated %v times", n)
	}
}

// TestPatternQuickRejectAgrees checks the prefix/suffix quick rejection
// against the full matcher alone, over patterns and strings built from a
// small alphabet (so that matches are frequent) including multi-byte runes
// and an invalid byte.
func TestPatternQuickRejectAgrees(t *testing.T) {
	alpha := []string{"a", "b", ".", "é", "\ufffd", "*", "?"}
	subj := []string{"", "a", "b", ".", "é", "\ufffd", "\xff", "ab", "a.b", "ba", "éa", "aé", "a\xffb"}
	var patterns []string
	var gen func(p string, n int)
	gen = func(p string, n int) {
		if p != "" {
			patterns = append(patterns, p)
		}
		if n == 0 {
			return
		}
		for _, a := range alpha {
			gen(p+a, n-1)
		}
	}
	gen("", 4)
	var strs []string
	for _, a := range subj {
		for _, b := range subj {
			strs = append(strs, a+b, a+b+a)
		}
	}
	for _, ps := range patterns {
		p := mustCompilePattern(ps)
		full := p
		full.prefix, full.suffix, full.oneStar = "", "", false
		for _, s := range strs {
			if got, want := p.Match(s), full.Match(s); got != want {
				t.Fatalf("%q.Match(%q) = %v, full matcher says %v", ps, s, got, want)
			}
		}
	}
}
