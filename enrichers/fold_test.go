package enrichers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// mayFold is never false for two names strings.EqualFold holds equal:
// every pair of first characters that fold together, ASCII or not.
func TestMayFoldKeepsEveryFoldedPair(t *testing.T) {
	var firsts []string
	for r := rune(0); r < 0x3000; r++ {
		if utf8.ValidRune(r) {
			firsts = append(firsts, string(r))
		}
	}
	firsts = append(firsts, "")
	// mayFold is true whenever either first byte is not ASCII, so the
	// pairs to check have an ASCII (or no) first character on one side
	for _, a := range firsts {
		for _, b := range firsts[:128] {
			for _, p := range [][2]string{{a, b}, {b, a}, {a, ""}, {"", a}} {
				x, y := p[0]+"cope", p[1]+"cope"
				if strings.EqualFold(x, y) && !mayFold(x, y) {
					t.Fatalf("mayFold(%q, %q) is false; EqualFold holds them equal", x, y)
				}
			}
		}
	}
	if mayFold("scope", "access_token") || !mayFold("Scope", "scope") || !mayFold("\u017fcope", "scope") {
		t.Fatal("mayFold does not tell names apart by their first byte")
	}
}
