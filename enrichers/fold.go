package enrichers

import (
	"strings"
	"unicode/utf8"
)

// pairsUpTo is the length of a member list up to which foldedTwice
// compares every pair: a usual body has a handful of members, and a pair
// costs one comparison where the other way costs one per reserved name.
const pairsUpTo = 16

// foldedTwice reports whether a reserved name (isReserved, or
// isIntrospectionReserved for an introspection response) appears more
// than once among the entries of b in spellings encoding/json folds
// together (strings.EqualFold, an equivalence). Past pairsUpTo members it
// keeps one spelling of each reserved name it meets: a new reserved
// member is compared with those alone, and as there are only so many
// reserved names, the work grows with the members and never with their
// square, whatever a hostile body of 100,000 members holds.
func foldedTwice(b []byte, list []entry, introspection bool) bool {
	if len(list) <= pairsUpTo {
		for i := range list {
			x := &list[i]
			for j := i + 1; j < len(list); j++ {
				y := &list[j]
				if x.esc || y.esc || mayFold(b[x.ns:x.ne], b[y.ns:y.ne]) {
					if a := x.nameIn(b); strings.EqualFold(a, y.nameIn(b)) && reserved(a, introspection) {
						return true
					}
				}
			}
		}
		return false
	}
	var seenArr [16]string
	seen := seenArr[:0]
	for i := range list {
		name := list[i].nameIn(b)
		if !reserved(name, introspection) {
			continue
		}
		work(len(seen))
		for _, s := range seen {
			if strings.EqualFold(s, name) {
				return true
			}
		}
		seen = append(seen, name)
	}
	return false
}

// reserved is isIntrospectionReserved for an introspection response, else
// isReserved: called directly, neither keeps the name, so a name compared
// is never allocated.
func reserved(name string, introspection bool) bool {
	if introspection {
		return isIntrospectionReserved(name)
	}
	return isReserved(name)
}

// mayFold is false when a and b cannot be equal under strings.EqualFold
// because their first bytes are ASCII and differ in more than the case
// bit: ASCII folds only to ASCII and to multi-byte characters (K to the
// Kelvin sign, s to the long s), whose first byte is not ASCII. Most pairs
// of member names differ so, and are told apart without the call.
func mayFold[T string | []byte](a, b T) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	x, y := a[0], b[0]
	return x >= utf8.RuneSelf || y >= utf8.RuneSelf || x|0x20 == y|0x20
}
