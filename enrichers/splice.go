package enrichers

import "slices"

// splice writes body with the planned fields onto dst in one pass: upstream
// bytes are copied as they are, replaced members get their new value in
// place, and the remaining fields are inserted before the closing brace at
// closeIdx. Every planned value is already valid JSON, so a valid object in
// gives a valid object out.
func splice(dst, body []byte, closeIdx int, s *scratch) []byte {
	dst = slices.Grow(dst, spliceLen(body, s))
	pos := 0
	for i := range s.members {
		m := &s.members[i]
		if m.replaceWith == 0 {
			continue
		}
		dst = append(dst, body[pos:m.valStart]...)
		dst = append(dst, s.plan[m.replaceWith-1].val...)
		pos = m.valEnd
	}
	dst = append(dst, body[pos:closeIdx]...)
	sep := len(s.members) > 0
	for i := range s.plan {
		p := &s.plan[i]
		if p.drop || p.replace {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, p.key...)
		dst = append(dst, ':')
		dst = append(dst, p.val...)
	}
	return append(dst, body[closeIdx:]...)
}

// spliceLen is the exact length splice will write, so that the output is
// allocated once, at its final size, when dst is too small.
func spliceLen(body []byte, s *scratch) int {
	n := len(body)
	for i := range s.members {
		if m := &s.members[i]; m.replaceWith != 0 {
			n += len(s.plan[m.replaceWith-1].val) - (m.valEnd - m.valStart)
		}
	}
	for i := range s.plan {
		if p := &s.plan[i]; !p.drop && !p.replace {
			n += 1 + len(p.key) + 1 + len(p.val) // ,"key":val
		}
	}
	return n
}
