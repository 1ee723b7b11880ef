package enrichers

import "slices"

// splice writes body with the planned fields onto dst in one pass: upstream
// bytes are copied as they are, members being overwritten get their new
// value in place (every duplicate of them), and the other fields are
// inserted before the closing brace. Every planned value is valid JSON, so
// a valid object in gives a valid object out. sjson is not used because it
// reads `.`, `:` and `*` in names as path syntax; names here are literal.
func splice(dst, body []byte, members []entry, pl *plan) []byte {
	dst = slices.Grow(dst, len(body)+len(pl.vals)+4*len(pl.fields))
	pos := 0
	for i := range members {
		if !pl.replacing {
			break // nothing is replaced: no member needs looking up
		}
		m := &members[i]
		p := pl.find(m.nameIn(body))
		if p == nil || !p.replace {
			continue
		}
		dst = append(dst, body[pos:m.vs]...)
		dst = append(dst, pl.bytes(p.val)...)
		pos = int(m.ve)
	}
	end := closingBrace(body)
	dst = append(dst, body[pos:end]...)
	sep := len(members) > 0
	for i := range pl.fields {
		p := &pl.fields[i]
		if p.drop || p.replace {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, pl.bytes(p.key)...)
		dst = append(dst, ':')
		dst = append(dst, pl.bytes(p.val)...)
	}
	return append(dst, body[end:]...)
}
