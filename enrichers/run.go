package enrichers

// Input is one token-endpoint response for Run, and the token request it
// answers.
type Input struct {
	// Body is the response body, without content coding. Run keeps
	// nothing of it: the caller may reuse it once Run returns.
	Body []byte
	// RequestType and Request are the token request's Content-Type and
	// body (form or JSON parameters; "" when it was not read), BasicUser
	// the user of its HTTP Basic credentials, still form-encoded. The
	// identity's request parameters point into Request.
	RequestType string
	Request     string
	BasicUser   string
	// Introspection reads Body as an RFC 7662 introspection response:
	// only an active one is enriched, and RFC 7662 members are never
	// written to it.
	Introspection bool
	// Names asks for Result.Added, and Values for Result.Values too.
	Names, Values bool
	// Explain asks for Result.Explanation.
	Explain bool
	// Count, when set, is called once per member written with where it
	// came from, as an index into Enricher.Labels: the configured field's
	// name, "lift:<claim>" or "source:<name>". Those are bounded by the
	// configuration, so they can label a metric; the names a claim or a
	// source brings cannot.
	Count func(label int)
}

// Host does for Run what only the caller can. Run calls it in the order of
// the pipeline, each method at most once per response, and only for a
// token response.
type Host interface {
	// Publish is called as soon as the identity is known, before
	// anything else reads a placeholder: values the host computes from
	// the identity (Caddy's map and vars) can then feed rule matchers,
	// source keys, split keys and fields.
	Publish(r *Response)
	// MatchRule reports whether the matcher set of rule i
	// (RuleConfig.Match) matches the request. It is asked only for the
	// rules that have one.
	MatchRule(i int) bool
	// LookUp looks up the named sources, all at once, and reports what
	// each lookup came to, in any order.
	LookUp(names []string) []Found
	// Resolve resolves a placeholder outside PlaceholderPrefix ({env.*},
	// {http.request.host}, a map's output), reporting false for an
	// unknown one.
	Resolve(key string) (string, bool)
}

// Found is what a host's lookup of one source came to.
type Found struct {
	// Source names the source.
	Source string
	// Object is the JSON object found; nil when there is none to use.
	Object []byte
	// State says how the lookup went, for Explain: "hit", "stale",
	// "miss: …", "timed out after 300ms", "unreachable: …" (connection
	// refused or failed, host not found), "error: …", "not looked up: …".
	State string
}

// Result is what Run made of a response.
type Result struct {
	// Status is what happened to the response; Body is set only for
	// StatusEnriched.
	Status Status
	// Err says why a body is StatusInvalid or StatusTooDeep.
	Err error
	// Ambiguity says what makes a StatusAmbiguous response ambiguous.
	Ambiguity string
	// Body is dst with the enriched body appended.
	Body []byte
	// Response is the response as read, with its identity, what the
	// sources found and the splits' buckets; nil when the body is not a
	// JSON object. The host's placeholders read it.
	Response *Response
	// Added lists the names written (Input.Names), Values their JSON
	// (Input.Values), in the same order.
	Added, Values []string
	// Kept counts configured fields dropped because the upstream already
	// sent a member of that name (and Overwrite is off).
	Kept int
	// Rejected names the sources whose object was not a JSON object
	// nested at most MaxDepth deep of at most 1000 members, and the lifted
	// claims ("lift:<claim>") of more than 1000 members: they are left out.
	Rejected []string
	// Explanation is set when Input.Explain asks for it.
	Explanation *Explanation
}

// Run runs the whole pipeline on one response, in its one order: read the
// body and the token (validate, decode, identify), publish the identity,
// match every rule once, look up the sources the matched fields need,
// assign the splits, then plan, render and splice the fields onto dst.
// host may be nil: no rule with a matcher set matches, no source is found,
// and placeholders outside PlaceholderPrefix render as written.
func (e *Enricher) Run(dst []byte, in *Input, host Host) Result {
	if host == nil {
		host = noHost{}
	}
	r := &Response{}
	// the token request's parameters the identity keeps point into it
	req := parseTokenRequest(in.RequestType, in.Request, in.BasicUser)
	// the body's members, for as long as Run reads the body: room for a
	// usual token response's members, which do not leave Run
	var room [12]entry
	var members []entry
	var err error
	var s scratch
	defer s.release(r)
	if in.Introspection {
		members, err = e.readIntrospection(r, in.Body, &req, room[:0], &s)
	} else {
		members, err = e.read(r, in.Body, &req, room[:0], &s)
	}
	res := Result{Status: r.Status, Response: r}
	var x *Explanation
	if in.Explain {
		x = &Explanation{Rules: []ruleExplanation{}, Fields: []fieldExplanation{}}
		res.Explanation = x
	}
	switch {
	case err != nil:
		res.Status, res.Err, res.Response = StatusInvalid, err, nil
		if err == errTooDeep {
			res.Status = StatusTooDeep
		}
		return res
	case r.Status == StatusAmbiguous:
		res.Ambiguity = "a standard member appears twice; clients would disagree on which to read"
		if !in.Introspection && req.ClientIDConflict != "" {
			res.Ambiguity = "the token request names two clients (" + req.ClientIDConflict +
				"); the identity provider may have authenticated either"
		}
		return res
	case r.Status != StatusUnchanged:
		return res
	}
	if x != nil {
		x.Identity = r.describe(&s.from)
	}
	host.Publish(r)
	e.matchRules(r, host, x)
	if names := e.sources(r); len(names) > 0 {
		for _, f := range host.LookUp(names) {
			if !r.setSource(f) {
				r.refuse(f.Source)
			}
		}
	}
	resolve := host.Resolve
	e.split(r, resolve)
	res.Body = e.render(dst, r, in.Body, members, resolve, in, &res)
	res.Status, res.Rejected = r.Status, r.refusedNames()
	return res
}

// noHost is the Host of a caller without one.
type noHost struct{}

func (noHost) Publish(*Response)             {}
func (noHost) MatchRule(int) bool            { return false }
func (noHost) LookUp([]string) []Found       { return nil }
func (noHost) Resolve(string) (string, bool) { return "", false }

// matchRules decides once which rules apply to r: a rule applies when its
// matcher set (asked of the host) and all its token conditions hold. The
// sources, the splits and the plan all read r.matched. With x, each rule's
// explanation is recorded.
func (e *Enricher) matchRules(r *Response, host Host, x *Explanation) {
	if len(e.rules) == 0 {
		return
	}
	if r.matched = r.matchedArr[:0]; len(e.rules) > len(r.matchedArr) {
		r.matched = make([]bool, 0, len(e.rules))
	}
	r.matched = r.matched[:len(e.rules)]
	for i := range e.rules {
		ru := &e.rules[i]
		var why *string
		var re ruleExplanation
		if x != nil {
			re.Name = ru.name
			why = &re.Why
		}
		switch {
		case ru.external && !host.MatchRule(i):
			if why != nil {
				*why = "match: its matcher set did not match the request"
			}
		default:
			r.matched[i] = ru.check(&r.Identity, why)
		}
		if x != nil {
			re.Matched = r.matched[i]
			x.Rules = append(x.Rules, re)
		}
	}
}
