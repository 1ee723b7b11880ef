package enrichers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// Config is the complete, uncompiled enrichment configuration.
type Config struct {
	// Preset names the identity provider whose claim names to read: "auto"
	// (the default, "") or one of PresetNames. See Preset and Detect.
	Preset string
	// ClientClaims and TenantClaims, when not empty, replace the preset's
	// lists of the claims naming the client and the tenant.
	ClientClaims, TenantClaims []string
	// LiftClaims are JSON-object claims whose members are copied to the top
	// level of the response (reserved names are skipped).
	LiftClaims []string
	// Fields are added to every enriched response.
	Fields []FieldConfig
	// Rules are checked in order; every matching rule applies and a later
	// rule wins over an earlier one for the same field.
	Rules []RuleConfig
	// Overwrite allows replacing a non-reserved member the upstream already
	// sent. By default the upstream's member is kept.
	Overwrite bool
	// Sources declares the metadata sources that fields place and
	// placeholders name.
	Sources []SourceSpec
	// Splits are assigned to every token response (rules have their own).
	Splits []SplitConfig
}

// Enricher is a compiled Config. It is safe for concurrent use.
type Enricher struct {
	presets     presetChooser
	lift        []string
	liftLabels  []string // "lift:<claim>", what lifted members are counted as
	fields      []field
	rules       []rule
	overwrite   bool
	sourceSpecs map[string]SourceSpec
	// sourceRules lists the rules that place a source, the only ones
	// Sources must match
	sourceRules []int
	splits      []split
	// hasSplits: a split at the top level or in a rule
	hasSplits bool
}

// Status says what the engine made of a response.
type Status uint8

// Response statuses.
const (
	// StatusNotToken: a valid JSON object without a string access_token;
	// passed on unchanged.
	StatusNotToken Status = iota
	// StatusUnchanged: a token response to which nothing applied (no field
	// matched, all rendered empty, or all already present). It is also the
	// status Read gives every token response, before Render.
	StatusUnchanged
	// StatusEnriched: at least one field was added or replaced.
	StatusEnriched
	// StatusAmbiguous: a standard member appears twice, in spellings a
	// client would take for the same member (two `access_token`, or
	// `access_token` and `Access_Token`). Clients disagree on which one
	// they read, so the response is passed on unchanged. A token request
	// that names two different clients (TokenRequest.ClientIDConflict)
	// makes its response ambiguous too: whom the token is for is unsure.
	StatusAmbiguous
)

// Outcome reports what Render (or Enrich) did.
type Outcome struct {
	Status Status
	// Identity is who the token is for (zero unless a token response);
	// set by Enrich.
	Identity Identity
	// WantNames asks Render to list the names it wrote in Added.
	WantNames bool
	// Added lists the names written, when WantNames is set.
	Added []string
	// WantValues asks Render to list, with WantNames, the JSON value of
	// each name in Added, in Values.
	WantValues bool
	// Values holds the JSON values written, in the order of Added.
	Values []string
	// Count, when set, is called once per member written with where it
	// came from: the configured field's name, "lift:<claim>" or
	// "source:<name>". Those are bounded by the configuration, so they
	// can label a metric; the names a claim or a source brings cannot.
	Count func(label string)
	// Kept counts configured fields dropped because the upstream already
	// sent a member of that name (and Overwrite is off).
	Kept int
}

// New compiles a Config, validating every field name, value, JSON value and
// pattern. Errors name the configuration path of the offending value, as
// in JSON config: `rules[2].fields[0].name`.
func New(cfg Config) (*Enricher, error) {
	p, err := newPresetChooser(cfg.Preset, cfg.ClientClaims, cfg.TenantClaims)
	if err != nil {
		return nil, err
	}
	e := &Enricher{presets: p, lift: cfg.LiftClaims, overwrite: cfg.Overwrite}
	for i, c := range cfg.LiftClaims {
		if c == "" {
			return nil, &ConfigError{Path: fmt.Sprintf("lift_claims[%d]", i), Err: errors.New("empty claim name")}
		}
		e.liftLabels = append(e.liftLabels, "lift:"+c)
	}
	if e.fields, err = compileFields(cfg.Fields); err != nil {
		return nil, err
	}
	if e.sourceSpecs, err = compileSources(&cfg); err != nil {
		return nil, err
	}
	for i, rc := range cfg.Rules {
		r, err := compileRule(i, rc)
		if err != nil {
			return nil, inRule(i, rc.Name, err)
		}
		e.rules = append(e.rules, r)
	}
	e.sourceRules = rulesWithSources(e.rules)
	if e.splits, err = compileSplits("", cfg.Splits); err != nil {
		return nil, err
	}
	e.hasSplits = len(e.splits) > 0
	for i := range e.rules {
		e.hasSplits = e.hasSplits || len(e.rules[i].splits) > 0
	}
	return e, nil
}

// ConfigError is a configuration value New refuses, with the path of the
// value in JSON config (`rules[2].fields[0].name`).
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// inRule puts the error of rule i, named name, under its path.
func inRule(i int, name string, err error) error {
	label := name
	if label == "" {
		label = fmt.Sprintf("#%d", i+1)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return &ConfigError{Path: fmt.Sprintf("rules[%d]", i), Err: fmt.Errorf("rule %s: %w", label, err)}
	}
	return &ConfigError{Path: fmt.Sprintf("rules[%d].%s", i, ce.Path), Err: fmt.Errorf("rule %s: %w", label, ce.Err)}
}

// Response is a token response after the first stage of the pipeline: the
// body validated and its members listed, and the identity of the token
// learnt from the access token and the token request. Between Read and
// Render the caller may publish the identity (Caddy's placeholders) and
// compute values from it that Render's field templates then read.
type Response struct {
	// Status is StatusUnchanged for a token response (or an active
	// introspection response, see ReadIntrospection), StatusNotToken or
	// StatusAmbiguous for a body Render passes on as it is.
	Status Status
	// Identity is who the token is for (zero unless a token response).
	Identity Identity

	body string // the text of the upstream body
	// introspection: read by ReadIntrospection; Render then never writes
	// a name IsIntrospectionReserved reports
	introspection bool
	members       []member       // the body's top-level members, in order
	sources       []sourceObject // the objects sources found
	splits        []splitResult  // the buckets of the splits
	// hostMatched[i]: the host reported rule i's matcher set matched
	hostMatched []bool
	// all is the list that members and claims begin: the members of the
	// sources' objects go on after them, in buf while it has room
	all []member
	// buf holds the members of a usual body and the claims of its token,
	// so that a response costs one allocation for both
	buf [24]member
}

// Read validates a token response body and identifies its token. It
// returns ErrNotJSONObject when body is not a UTF-8 JSON object, and
// ErrTooDeep (which is also ErrNotJSONObject) when it nests deeper than
// MaxDepth. The Response keeps a copy of body, the text gjson reads.
func (e *Enricher) Read(body []byte, req *TokenRequest) (*Response, error) {
	r := new(Response)
	if err := e.ReadInto(r, string(body), req); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadInto is Read of the text of a body into r, which it overwrites. A
// caller that holds per-request state anyway can keep the Response there
// and make the text in an allocation it makes anyway, instead of Read
// allocating both: the Response points into text, as Read's points into
// its copy. r must not be copied once read: its lists point into it.
func (e *Enricher) ReadInto(r *Response, body string, req *TokenRequest) error {
	*r = Response{Status: StatusNotToken, body: body}
	_, list, err := readObject(body, r.buf[:0])
	if err != nil {
		return err
	}
	r.members = list
	if ambiguous(list) || req != nil && req.ClientIDConflict != "" {
		r.Status = StatusAmbiguous
		return nil
	}
	tok := last(list, "access_token")
	if tok.Type != gjson.String {
		return nil
	}
	r.Status = StatusUnchanged
	// The token's claims go to the same array, after the body's members.
	// A JWT needs no escapes, so its text is read in place in body.
	token := body[tok.Index+1 : tok.Index+len(tok.Raw)-1]
	if strings.IndexByte(token, '\\') >= 0 {
		token = tok.Str
	}
	header, all, isJWT := readClaims(token, list)
	r.members = all[:len(list):len(list)]
	claims := all[len(list):len(all):len(all)]
	r.all = all
	p, why := e.presets.choose(isJWT, claims, header)
	r.Identity = identify(p, isJWT, claims, stringMember(list, "scope"), stringMember(list, "issued_token_type"), req)
	if r.Identity.Preset == PresetHydra && p == &e.presets.fallback {
		why = "auto: the ext claim (Hydra)"
	}
	r.Identity.from.preset = why
	return nil
}

// ambiguous reports whether a reserved member appears more than once in
// spellings encoding/json folds together (foldedTwice).
func ambiguous(list []member) bool { return foldedTwice(list, IsReserved) }

// stringMember returns the text of the last member named name when it is a
// string, else "".
func stringMember(list []member, name string) string {
	if v := last(list, name); v.Raw != "" && v.Raw[0] == '"' {
		return v.Str
	}
	return ""
}

// Identify learns who a token response is for without changing it: Read's
// identity, zero for a body that is not a token response.
func (e *Enricher) Identify(body []byte, req *TokenRequest) (Identity, error) {
	r, err := e.Read(body, req)
	if err != nil {
		return Identity{}, err
	}
	return r.Identity, nil
}

// Enrich runs the whole pipeline at once, for callers with nothing to do
// between Read and Render: it adds the configured fields to the token
// response body and appends the result to dst. When nothing applies (or the
// body is a JSON object but not a token response) it appends body
// unchanged. It returns ErrNotJSONObject, and appends nothing, when body is
// not a JSON object.
func (e *Enricher) Enrich(dst, body []byte, req *TokenRequest, resolve Resolver, out *Outcome) ([]byte, error) {
	r, err := e.Read(body, req)
	if err != nil {
		return dst, err
	}
	if r.Status == StatusUnchanged {
		out.Identity = r.Identity
	}
	return e.Render(dst, r, resolve, out), nil
}

// Render is the last stage: it plans the fields for r's identity (lifted
// claims, then top-level fields, then matching rules; later wins), renders
// their values, resolving non-identity placeholders with resolve, and
// appends the spliced body to dst. Upstream members keep their bytes and
// order; new members follow them. A field set several times keeps the
// position of the first and the value of the last. When nothing applies,
// or r is not a token response, it appends the body unchanged.
func (e *Enricher) Render(dst []byte, r *Response, resolve Resolver, out *Outcome) []byte {
	out.Status = r.Status
	if r.Status != StatusUnchanged {
		return append(dst, r.body...)
	}
	pl := getPlan()
	defer putPlan(pl)
	e.plan(pl, r, resolve)
	if r.introspection {
		pl.dropIntrospectionReserved()
	}
	if !pl.resolveCollisions(r.members, e.overwrite, out) {
		return append(dst, r.body...)
	}
	out.Status = StatusEnriched
	if out.Count != nil {
		for i := range pl.fields {
			if !pl.fields[i].drop {
				out.Count(pl.fields[i].label)
			}
		}
	}
	if out.WantNames {
		for i := range pl.fields {
			if !pl.fields[i].drop {
				out.Added = append(out.Added, pl.fields[i].name)
				if out.WantValues {
					out.Values = append(out.Values, string(pl.bytes(pl.fields[i].val)))
				}
			}
		}
	}
	return splice(dst, r.body, r.members, pl)
}

// plan collects the fields to write, in order, one per name.
func (e *Enricher) plan(pl *plan, r *Response, resolve Resolver) {
	id := &r.Identity
	for li, name := range e.lift {
		c := id.Claim(name)
		if !c.IsObject() {
			pl.traceOut(e.liftLabels[li], e.liftLabels[li], whyLiftAbsent)
			continue
		}
		label := e.liftLabels[li]
		c.ForEach(func(k, v gjson.Result) bool {
			if k.Str != "" && !IsReserved(k.Str) {
				// the upstream's own encoding of name and value
				pl.put(k.Str, label, func() span { return pl.add(k.Raw) }, pl.add(v.Raw))
			} else {
				pl.traceOut(k.Str, label, whyReserved)
			}
			return true
		})
	}
	e.addFields(pl, e.fields, r, resolve)
	for i := range e.rules {
		if pl.trace != nil {
			pl.rule = e.rules[i].name
		}
		if e.ruleMatches(i, r) {
			e.addFields(pl, e.rules[i].fields, r, resolve)
		} else if pl.trace != nil {
			for _, f := range e.rules[i].fields {
				name := f.name
				if f.source != "" {
					name = f.label
				}
				pl.traceOut(name, name, whyRuleNotMatched)
			}
		}
	}
}

// ExternalRules lists the rules with a matcher set for the host to
// evaluate (RuleConfig.Match), by index in Config.Rules.
func (e *Enricher) ExternalRules() []int {
	var out []int
	for i := range e.rules {
		if e.rules[i].external {
			out = append(out, i)
		}
	}
	return out
}

// SetRuleMatch records whether rule i's matcher set matched the request.
// A rule with a matcher set matches only once the host has said so.
func (r *Response) SetRuleMatch(i int, matched bool) {
	if i >= len(r.hostMatched) {
		r.hostMatched = append(r.hostMatched, make([]bool, i+1-len(r.hostMatched))...)
	}
	r.hostMatched[i] = matched
}

// ruleMatches reports whether rule i matches r: its token conditions and,
// if it has one, its matcher set as the host evaluated it.
func (e *Enricher) ruleMatches(i int, r *Response) bool {
	ru := &e.rules[i]
	if ru.external && (i >= len(r.hostMatched) || !r.hostMatched[i]) {
		return false
	}
	return ru.matches(&r.Identity)
}

// NeedsResolver reports whether any field has a placeholder other than the
// engine's own ({env.*}, {http.request.*}, a map's output), so that Render
// needs a Resolver. Without one, a caller may pass nil.
func (e *Enricher) NeedsResolver() bool {
	external := func(fs []field) bool {
		for i := range fs {
			if fs[i].dynamic && fs[i].tmpl.external() {
				return true
			}
		}
		return false
	}
	splitExternal := func(ss []split) bool {
		for i := range ss {
			if ss[i].key.external() {
				return true
			}
		}
		return false
	}
	if external(e.fields) || splitExternal(e.splits) {
		return true
	}
	for i := range e.rules {
		if external(e.rules[i].fields) || splitExternal(e.rules[i].splits) {
			return true
		}
	}
	return false
}

// String describes the compiled configuration for debugging.
func (e *Enricher) String() string {
	return fmt.Sprintf("enricher{fields: %d, rules: %d, lift: %v, overwrite: %v}", len(e.fields), len(e.rules), e.lift, e.overwrite)
}

// closingBrace is the index of the closing brace of a valid JSON object.
func closingBrace(body string) int { return strings.LastIndexByte(body, '}') }
