package enrichers

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tidwall/gjson"
)

// Config is the complete, uncompiled enrichment configuration.
type Config struct {
	// Preset names the identity provider whose claim names to read: auto
	// (the default, ""), generic, auth0, okta, entra, keycloak, cognito,
	// hydra or rfc9068. See Preset and Detect.
	Preset string
	// Mapping names the claims for client, tenant and scopes; a non-empty
	// list replaces the preset's.
	Mapping ClaimMapping
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
}

// Enricher is a compiled Config. It is safe for concurrent use.
type Enricher struct {
	ids       identifier
	lift      []string
	liftSlots []claimSlot
	fields    []field
	rules     []rule
	overwrite bool
	// names counts the distinct configured field names (field.id).
	names int
}

// Errors returned by Enrich when a response cannot be enriched.
var (
	// ErrNotJSONObject means the body is not valid UTF-8 JSON with an object
	// root (truncated, garbage, array or scalar root).
	ErrNotJSONObject = errors.New("response body is not a valid JSON object")
)

// Status says what Enrich did.
type Status uint8

// Enrich outcomes.
const (
	// StatusNotToken: a valid JSON object without a string access_token;
	// returned unchanged.
	StatusNotToken Status = iota
	// StatusUnchanged: a token response to which nothing applied (no field
	// matched, all rendered empty, or all already present).
	StatusUnchanged
	// StatusEnriched: at least one field was added or replaced.
	StatusEnriched
)

// Outcome reports what Enrich found and did.
type Outcome struct {
	Status Status
	// Identity is who the token is for (zero for StatusNotToken).
	Identity Identity
	// WantNames asks Enrich to list the names it wrote in Added.
	WantNames bool
	// Added lists the names written, when WantNames is set.
	Added []string
	// Kept counts configured fields dropped because the upstream already
	// sent a member of that name (and Overwrite is off).
	Kept int
}

// New compiles a Config, validating every field name, value, JSON value and
// pattern.
func New(cfg Config) (*Enricher, error) {
	ids, err := newIdentifier(cfg.Preset, cfg.Mapping)
	if err != nil {
		return nil, err
	}
	e := &Enricher{ids: ids, lift: cfg.LiftClaims, overwrite: cfg.Overwrite}
	for _, c := range cfg.LiftClaims {
		if c == "" {
			return nil, errors.New("lift_claim: empty claim name")
		}
	}
	for _, fc := range cfg.Fields {
		f, err := compileField(fc)
		if err != nil {
			return nil, err
		}
		e.fields = append(e.fields, f)
	}
	for i, rc := range cfg.Rules {
		r, err := compileRule(i, rc)
		if err != nil {
			return nil, err
		}
		e.rules = append(e.rules, r)
	}
	e.bindClaims()
	return e, nil
}

// bindClaims numbers the configured field names (so that planning finds a
// field already planned without searching) and the claim names the rules,
// templates and lifted claims read (so that Enrich finds them in the claim
// index by slot).
func (e *Enricher) bindClaims() {
	t := &e.ids.slots
	bindFields := func(fs []field) {
		for i := range fs {
			segs := fs[i].tmpl.segs
			for j := range segs {
				if segs[j].tok == keyClaim {
					segs[j].slot = t.add(segs[j].claim)
				}
			}
		}
	}
	ids := map[string]int{}
	number := func(fs []field) {
		for i := range fs {
			id, ok := ids[fs[i].name]
			if !ok {
				id = len(ids)
				ids[fs[i].name] = id
			}
			fs[i].id = id
		}
	}
	number(e.fields)
	for i := range e.rules {
		number(e.rules[i].fields)
	}
	e.names = len(ids)
	e.liftSlots = t.addAll(e.lift)
	bindFields(e.fields)
	for i := range e.rules {
		r := &e.rules[i]
		for j := range r.claims {
			r.claims[j].slot = t.add(r.claims[j].name)
		}
		bindFields(r.fields)
	}
}

// Identify learns who a token response is for without changing it. It is
// what Enrich does first; exposed for callers that only need placeholders.
func (e *Enricher) Identify(body []byte, req *TokenRequest) (Identity, error) {
	var out Outcome
	s := getScratch()
	defer putScratch(s)
	_, _, err := e.scan(s, body, req, &out)
	return out.Identity, err
}

// Enrich adds the configured fields to the token response body and appends
// the result to dst. When nothing applies (or the body is a JSON object but
// not a token response) it appends body unchanged. It returns
// ErrNotJSONObject, and appends nothing, when body is not a JSON object.
//
// Upstream members keep their bytes and order; new members follow them in
// configuration order (lifted claims, then top-level fields, then rules). A
// field set by several sources keeps the position of the first and the value
// of the last.
func (e *Enricher) Enrich(dst, body []byte, req *TokenRequest, resolve Resolver, out *Outcome) ([]byte, error) {
	s := getScratch()
	defer putScratch(s)
	closeIdx, ok, err := e.scan(s, body, req, out)
	if err != nil {
		return dst, err
	}
	if !ok {
		out.Status = StatusNotToken
		return append(dst, body...), nil
	}
	id := &out.Identity
	if id.claims.Exists() {
		// claim lookups while planning read the index built by scan;
		// it lives in s, so it is unhooked before s is recycled
		id.index = &s.claims
		defer func() { id.index = nil }()
	}
	e.plan(s, id, resolve)
	if !e.resolveCollisions(s, out) {
		out.Status = StatusUnchanged
		return append(dst, body...), nil
	}
	out.Status = StatusEnriched
	if out.WantNames {
		for i := range s.plan {
			if !s.plan[i].drop {
				out.Added = append(out.Added, s.plan[i].name)
			}
		}
	}
	return splice(dst, body, closeIdx, s), nil
}

// scan validates body, collects its top-level members and builds the
// identity. ok is false for a JSON object without a string access_token.
func (e *Enricher) scan(s *scratch, body []byte, req *TokenRequest, out *Outcome) (closeIdx int, ok bool, err error) {
	// One pass validates the body and lists its members; strings are
	// views into body unless they hold escapes.
	var valid bool
	if s.raw, valid = appendMembers(s.raw[:0], body); !valid {
		return 0, false, ErrNotJSONObject
	}
	var token, scope, issuedType string
	for i := range s.raw {
		m := &s.raw[i]
		name := m.name(body)
		s.members = append(s.members, member{name: name, valStart: m.valStart, valEnd: m.valEnd})
		if !m.isString(body) {
			continue
		}
		switch name {
		case "access_token":
			if token == "" {
				token, ok = m.str(body), true
			}
		case "scope":
			if scope == "" {
				scope = m.str(body)
			}
		case "issued_token_type":
			if issuedType == "" {
				issuedType = m.str(body)
			}
		}
	}
	closeIdx = len(body) - 1
	for body[closeIdx] != '}' {
		closeIdx--
	}
	if !ok {
		return closeIdx, false, nil
	}
	header, payload, isJWT := decodeJWT(token, &s.claims, &e.ids.slots)
	if !isJWT {
		header, payload = "", nil
		s.claims.reset()
	}
	e.ids.identify(&out.Identity, header, payload, &s.claims, scope, issuedType, req)
	return closeIdx, true, nil
}

// plan collects the fields to write, in order, deduplicated by name.
func (e *Enricher) plan(s *scratch, id *Identity, resolve Resolver) {
	s.pos = slices.Grow(s.pos[:0], e.names)[:e.names]
	clear(s.pos)
	for i, name := range e.lift {
		c := id.claim(e.liftSlots[i], name)
		if !c.IsObject() {
			continue
		}
		c.ForEach(func(k, v gjson.Result) bool {
			if IsReserved(k.Str) || k.Str == "" {
				return true
			}
			s.put(k.Str, bytesOf(k.Raw), bytesOf(v.Raw))
			return true
		})
	}
	s.lifted = len(s.plan)
	s.addFields(e.fields, id, resolve)
	for i := range e.rules {
		if e.rules[i].matches(id) {
			s.addFields(e.rules[i].fields, id, resolve)
		}
	}
}

// resolveCollisions marks planned fields the upstream already has: dropped
// unless overwriting. It reports whether anything is left to write.
func (e *Enricher) resolveCollisions(s *scratch, out *Outcome) bool {
	left := 0
	for i := range s.plan {
		p := &s.plan[i]
		for j := range s.members {
			if s.members[j].name == p.name {
				if e.overwrite {
					p.replace = true
					s.members[j].replaceWith = i + 1
				} else {
					p.drop = true
				}
			}
		}
		if p.drop {
			out.Kept++
		} else {
			left++
		}
	}
	return left > 0
}

// member is one top-level member of the upstream body.
type member struct {
	name             string
	valStart, valEnd int
	// replaceWith is 1 + the plan index whose value replaces this member's.
	replaceWith int
}

// planned is one field to write.
type planned struct {
	name string
	key  []byte // quoted JSON name, no colon
	val  []byte // JSON value
	// drop: the upstream has it and overwrite is off.
	drop bool
	// replace: the upstream has it and it is overwritten in place.
	replace bool
}

// scratch is per-call working memory, pooled.
type scratch struct {
	raw     []jsonMember // the body's members as scanned
	members []member
	claims  claimIndex // the access token's top-level claims
	plan    []planned
	// pos holds, per configured field name (field.id), 1 + its index in
	// plan; 0: not planned yet.
	pos []int32
	// lifted counts the entries of plan that are lifted claims (the first).
	lifted int
	text   []byte // rendered template text
	vals   []byte // JSON-encoded rendered values
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{raw: make([]jsonMember, 0, 16), members: make([]member, 0, 16), plan: make([]planned, 0, 16),
		text: make([]byte, 0, 256), vals: make([]byte, 0, 1024)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.vals) > 64<<10 || cap(s.members) > 1024 || cap(s.claims.members) > 1024 {
		return // don't keep outliers
	}
	s.raw, s.members = s.raw[:0], s.members[:0]
	s.claims.reset()
	clear(s.plan)
	s.plan, s.lifted = s.plan[:0], 0
	s.text = s.text[:0]
	s.vals = s.vals[:0]
	scratchPool.Put(s)
}

// putField adds configured field f with value val, or replaces the value
// of the field of that name planned before.
func (s *scratch) putField(f *field, val []byte) {
	if p := s.pos[f.id]; p != 0 {
		s.plan[p-1].val = val
		return
	}
	for i := range s.plan[:s.lifted] {
		if s.plan[i].name == f.name {
			s.plan[i].val = val
			s.pos[f.id] = int32(i + 1)
			return
		}
	}
	s.plan = append(s.plan, planned{name: f.name, key: f.key[:len(f.key)-1], val: val})
	s.pos[f.id] = int32(len(s.plan))
}

// put adds or replaces a planned field by name.
func (s *scratch) put(name string, key, val []byte) {
	for i := range s.plan {
		if s.plan[i].name == name {
			s.plan[i].val = val
			return
		}
	}
	s.plan = append(s.plan, planned{name: name, key: key, val: val})
}

// addFields renders and plans fields; rendered values are JSON-encoded into
// s.vals.
func (s *scratch) addFields(fs []field, id *Identity, resolve Resolver) {
	for i := range fs {
		f := &fs[i]
		if !f.dynamic {
			if f.value != nil {
				s.putField(f, f.value)
			}
			continue
		}
		s.text = f.tmpl.appendText(s.text[:0], id, resolve)
		if len(s.text) == 0 {
			continue
		}
		start := len(s.vals)
		s.vals = appendJSONString(s.vals, stringOf(s.text))
		// Later appends never touch these bytes: they either write past
		// them or move to a new array, leaving this one intact.
		s.putField(f, s.vals[start:len(s.vals):len(s.vals)])
	}
}

// cloneString copies s so it does not alias a recyclable buffer.
func cloneString(s string) string {
	if s == "" {
		return ""
	}
	return string(bytesOf(s))
}

// String describes the compiled configuration for debugging.
func (e *Enricher) String() string {
	return fmt.Sprintf("enricher{fields: %d, rules: %d, lift: %v, overwrite: %v}", len(e.fields), len(e.rules), e.lift, e.overwrite)
}
