package enrichers

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// globPattern is a compiled glob used by rule conditions. `*` matches any run of
// characters (including none, and including `/` and `.`), `?` matches exactly one
// character, and `\` makes the next character literal. Anything else matches
// itself, case-sensitively. Patterns are compiled once at provision time;
// matching never allocates.
type globPattern struct {
	raw string
	// lit is the pattern with escapes resolved when it has no wildcard.
	lit string
	// toks holds the compiled pattern when it has wildcards: a rune per token,
	// with tokStar and tokAny standing for `*` and `?`.
	toks []rune
	// prefix and suffix are the literal text before the first wildcard and
	// after the last one: a quick rejection test before the full match.
	prefix, suffix string
	// oneStar: the pattern is prefix*suffix, which the quick test decides.
	oneStar bool
}

const (
	tokStar rune = -1
	tokAny  rune = -2
)

// compilePattern compiles a glob. It fails on an empty pattern, a trailing lone
// backslash, invalid UTF-8 and on `[`, which is reserved for character classes
// (write `\[` for a literal bracket).
func compilePattern(s string) (globPattern, error) {
	if s == "" {
		return globPattern{}, errors.New("empty pattern")
	}
	if !utf8.ValidString(s) {
		return globPattern{}, fmt.Errorf("pattern %q is not valid UTF-8", s)
	}
	p := globPattern{raw: s}
	var toks []rune
	wild := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch r {
		case '\\':
			if i >= len(s) {
				return globPattern{}, fmt.Errorf("pattern %q ends with a lone backslash", s)
			}
			r2, n2 := utf8.DecodeRuneInString(s[i:])
			i += n2
			toks = append(toks, r2)
		case '*':
			wild = true
			if len(toks) > 0 && toks[len(toks)-1] == tokStar {
				continue // `**` is the same as `*`
			}
			toks = append(toks, tokStar)
		case '?':
			wild = true
			toks = append(toks, tokAny)
		case '[', ']':
			return globPattern{}, fmt.Errorf("pattern %q: character classes are not supported (escape %q as \\%c)", s, r, r)
		default:
			toks = append(toks, r)
		}
	}
	if wild {
		p.toks = toks
		i := 0
		for i < len(toks) && toks[i] >= 0 {
			i++
		}
		p.prefix = string(toks[:i])
		j := len(toks)
		for j > i && toks[j-1] >= 0 {
			j--
		}
		p.suffix = string(toks[j:])
		if strings.ContainsRune(p.prefix+p.suffix, utf8.RuneError) {
			// the matcher lets U+FFFD stand for an invalid byte; a
			// byte comparison would not
			p.prefix, p.suffix = "", ""
		} else {
			// org_*, *.example.com, https://*.auth0.com/
			p.oneStar = j == i+1 && toks[i] == tokStar
		}
	} else {
		p.lit = string(toks)
	}
	return p, nil
}

// mustCompilePattern is like compilePattern but panics on error. For tests and
// package-level literals.
func mustCompilePattern(s string) globPattern {
	p, err := compilePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as written.
func (p globPattern) String() string { return p.raw }

// Match reports whether s matches the whole pattern.
func (p *globPattern) Match(s string) bool {
	if p.toks == nil {
		return s == p.lit
	}
	if len(s) < len(p.prefix)+len(p.suffix) || s[:len(p.prefix)] != p.prefix || s[len(s)-len(p.suffix):] != p.suffix {
		return false
	}
	if p.oneStar {
		return true
	}
	// Iterative wildcard matching with single-star backtracking: linear in
	// practice, O(len(s)*len(toks)) worst case, no allocation.
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for si < len(s) {
		if ti < len(p.toks) {
			switch t := p.toks[ti]; t {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokAny:
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				ti++
				continue
			default:
				r, n := utf8.DecodeRuneInString(s[si:])
				if r == t {
					si += n
					ti++
					continue
				}
			}
		}
		if starTi < 0 {
			return false
		}
		// backtrack: let the last star swallow one more character
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		si = starSi
		ti = starTi + 1
	}
	for ti < len(p.toks) && p.toks[ti] == tokStar {
		ti++
	}
	return ti == len(p.toks)
}

// compilePatterns compiles a list, naming the offending entry on error.
func compilePatterns(list []string) ([]globPattern, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]globPattern, 0, len(list))
	for _, s := range list {
		p, err := compilePattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// matchAny reports whether s matches any of the patterns.
func matchAny(ps []globPattern, s string) bool {
	for i := range ps {
		if ps[i].Match(s) {
			return true
		}
	}
	return false
}
