package enrichers

import "strings"

// pairsUpTo is the length of a member list up to which foldedTwice
// compares every pair: a usual body has a handful of members, and a pair
// costs one comparison where the other way costs one per reserved name.
const pairsUpTo = 16

// foldedTwice reports whether a name reserved reports appears more than
// once in list in spellings encoding/json folds together (strings.EqualFold,
// an equivalence). Past pairsUpTo members it keeps one spelling of each
// reserved name it meets: a new reserved member is compared with those
// alone, and as there are only so many reserved names, the work grows
// with the members and never with their square, whatever a hostile body
// of 100,000 members holds.
func foldedTwice(list []member, reserved func(string) bool) bool {
	if len(list) <= pairsUpTo {
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				if strings.EqualFold(list[i].name, list[j].name) && reserved(list[i].name) {
					return true
				}
			}
		}
		return false
	}
	var seenArr [16]string
	seen := seenArr[:0]
	for i := range list {
		name := list[i].name
		if !reserved(name) {
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
