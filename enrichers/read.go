package enrichers

// read validates a token response body and identifies its token into r.
// It returns errNotJSONObject when body is not a UTF-8 JSON object, and
// errTooDeep when it nests deeper than MaxDepth.
func (e *Enricher) read(r *Response, body string, req *tokenRequest) error {
	*r = Response{Status: StatusNotToken, body: body}
	// room for the members of a usual body (10) and the claims of its
	// token (14), in one allocation: a list that outgrows its part moves
	// out of it. Under load, each kilobyte allocated per request costs a
	// point or two of the proxy's CPU in collection, so the room is what
	// Auth0, Okta, Cognito and Hydra responses need, not Keycloak's or
	// Entra's twenty-odd claims.
	lists := make([]member, 0, 24)
	_, list, err := readObject(body, lists[:0:10])
	if err != nil {
		return err
	}
	r.members = list
	if ambiguous(list) || req != nil && req.ClientIDConflict != "" {
		r.Status = StatusAmbiguous
		return nil
	}
	tok := find(list, "access_token")
	if tok == nil || tok.kind() != '"' {
		return nil
	}
	r.Status = StatusUnchanged
	// A JWT needs no escapes, so its text is read in place in body.
	token := tok.text()
	header, claims, isJWT := readClaims(token, lists[10:10])
	p, why := e.presets.choose(isJWT, claims, header)
	r.Identity = identify(p, isJWT, claims, stringMember(list, "scope"), stringMember(list, "issued_token_type"), req)
	if r.Identity.Preset == presetHydra && p == &e.presets.fallback {
		why = "auto: the ext claim (Hydra)"
	}
	r.Identity.from.preset = why
	return nil
}

// ambiguous reports whether a reserved member appears more than once in
// spellings encoding/json folds together (foldedTwice).
func ambiguous(list []member) bool { return foldedTwice(list, isReserved) }

// stringMember returns the text of the last member named name when it is a
// string, else "".
func stringMember(list []member, name string) string {
	if v := last(list, name); v.Raw != "" && v.Raw[0] == '"' {
		return v.Str
	}
	return ""
}
