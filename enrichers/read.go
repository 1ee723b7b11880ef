package enrichers

// read validates a token response body and identifies its token into r,
// recording where the identity's values came from in s.from and listing
// the token's claims in the room s lends. It returns the body's members,
// appended to ents, and errNotJSONObject when body is not a UTF-8 JSON
// object, errTooDeep when it nests deeper than MaxDepth. Nothing of body
// is kept: the values the identity keeps (the response's scope, the
// token's claims) are copies.
func (e *Enricher) read(r *Response, body []byte, req *tokenRequest, ents []entry, s *scratch) ([]entry, error) {
	*r = Response{Status: StatusNotToken}
	list, err := readEntries(body, ents)
	if err != nil {
		return ents, err
	}
	if ambiguous(body, list) || req != nil && req.ClientIDConflict != "" {
		r.Status = StatusAmbiguous
		return list, nil
	}
	tok := lastEntry(body, list, "access_token")
	if tok == nil || body[tok.vs] != '"' {
		return list, nil
	}
	r.Status = StatusUnchanged
	// A JWT needs no escapes, so its text is read in place in body.
	token := body[tok.vs+1 : tok.ve-1]
	if !tok.plain {
		token = []byte(entryText(body, tok))
	}
	header, claims, isJWT := readClaims(token, &s.room)
	// the issuer places the token's preset and is part of its identity
	iss := topText(claims, "iss")
	p, why := e.presets.choose(isJWT, iss, header)
	// the response's scope is copied out of body only when the token has
	// no scope claim
	scope := func() string { return entryText(body, lastEntry(body, list, "scope")) }
	r.Identity = identify(p, isJWT, claims, iss, scope, entryText(body, lastEntry(body, list, "issued_token_type")), req, &s.from)
	if r.Identity.Preset == presetHydra && p == &e.presets.fallback {
		why = "auto: the ext claim (Hydra)"
	}
	s.from.preset = why
	return list, nil
}

// ambiguous reports whether a reserved member appears more than once in
// spellings encoding/json folds together (foldedTwice).
func ambiguous(body []byte, list []entry) bool { return foldedTwice(body, list, false) }

// scratch is what Run lends the reading of a response, on its stack, for
// as long as Run runs: where the identity's values came from, which only
// an explanation reads, and the pooled room the token's claims are listed
// in.
type scratch struct {
	from provenance
	room *payloadRoom
}

// release gives the room back once Run is done with r. A claim read
// after that (a placeholder in an access log) reads the payload again.
func (s *scratch) release(r *Response) {
	if s.room == nil {
		return
	}
	if c := &r.Identity.claims; inRoom(c.members, s.room) {
		c.members = nil
	}
	payloadRooms.Put(s.room)
	s.room = nil
}
