package enrichers

// splice writes body with the planned fields onto dst in one pass: upstream
// bytes are copied as they are, replaced members get their new value in
// place, and the remaining fields are inserted before the closing brace at
// closeIdx. Every planned value is already valid JSON, so a valid object in
// gives a valid object out.
func splice(dst, body []byte, closeIdx int, s *scratch) []byte {
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
