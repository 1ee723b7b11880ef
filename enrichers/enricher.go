package enrichers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Config is the complete, uncompiled enrichment configuration: the one
// schema of the engine's part of the token_enrich handler's JSON config,
// which New validates.
type Config struct {
	// The identity provider whose claim names to read: auto (default),
	// generic, auth0, okta, entra, keycloak, cognito, hydra or rfc9068.
	// auto picks the preset per token from its issuer (*.auth0.com, Okta,
	// Entra ID and Cognito hosts, /realms/ paths for Keycloak), else from
	// an RFC 9068 `typ: at+jwt` header or Hydra's `ext` claim, else the
	// generic names. A preset also derives the tenant from the issuer when
	// no tenant claim is present (Auth0 tenant, Okta authorization server,
	// Entra tenant id, Keycloak realm, Cognito user pool).
	Preset string `json:"preset,omitempty"`

	// Claims naming the client, in priority order; replaces the preset's
	// list. Generic default: client_id, azp, cid, appid.
	ClientClaims []string `json:"client_claims,omitempty"`

	// Claims naming the tenant, in priority order; replaces the preset's
	// list (the preset's issuer fallback still applies). Generic default:
	// org_id, tid, tenant_id, tenant.
	TenantClaims []string `json:"tenant_claims,omitempty"`

	// JSON-object claims whose members are copied to the top level of the
	// response (reserved names skipped).
	LiftClaims []string `json:"lift_claims,omitempty"`

	// Fields added to every enriched response.
	Fields []FieldConfig `json:"fields,omitempty"`

	// Rules, checked in order; every matching rule applies and a later rule
	// wins over an earlier one for the same field. A rule's match is a
	// matcher set of Caddy request matchers (the http.matchers modules, as
	// in a route's match), evaluated once the identity is known: the rule
	// applies only when its token conditions and all its matchers hold.
	Rules []RuleConfig `json:"rules,omitempty"`

	// Allow replacing a non-reserved member the upstream already sent.
	// By default the upstream's value is kept.
	Overwrite bool `json:"overwrite,omitempty"`

	// Weighted, sticky splits assigned to every token response: each key
	// falls in one bucket, the placeholder {http.token.split.<name>}.
	Splits []SplitConfig `json:"splits,omitempty"`

	// Sources declares the metadata sources that fields place and
	// placeholders name. The host fills it from its own source
	// configuration.
	Sources []SourceSpec `json:"-"`
}

// Enricher is a compiled Config. It is safe for concurrent use.
type Enricher struct {
	presets    presetChooser
	lift       []string
	liftLabels []string // "lift:<claim>", what lifted members are counted as
	// liftCounters[i] is the index in labels of liftLabels[i]
	liftCounters []int
	// labels lists what written members are counted as (Labels)
	labels      []string
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

// Labels lists every label Input.Count counts by, in the order of their
// indexes: the names of the configured fields, "lift:<claim>" and
// "source:<name>", once each. They are bounded by the configuration, so a
// host can resolve what it counts them with once, when it loads the
// configuration.
func (e *Enricher) Labels() []string { return slices.Clone(e.labels) }

// indexLabels lists the labels (Labels) and gives each field and lifted
// claim the index of its label, so that a response counts a member by its
// index, with no lookup of its label.
func (e *Enricher) indexLabels() {
	index := map[string]int{}
	at := func(l string) int {
		i, ok := index[l]
		if !ok {
			i = len(e.labels)
			index[l] = i
			e.labels = append(e.labels, l)
		}
		return i
	}
	for _, l := range e.liftLabels {
		e.liftCounters = append(e.liftCounters, at(l))
	}
	number := func(fs []field) {
		for i := range fs {
			fs[i].counter = at(fs[i].countLabel())
		}
	}
	number(e.fields)
	for i := range e.rules {
		number(e.rules[i].fields)
	}
}

// markUnique marks the configured fields whose name no other configured
// field has (field.unique): the plan places such a field without looking
// its name up among the fields planned before it.
func (e *Enricher) markUnique() {
	each := func(do func(f *field)) {
		for i := range e.fields {
			do(&e.fields[i])
		}
		for r := range e.rules {
			for i := range e.rules[r].fields {
				do(&e.rules[r].fields[i])
			}
		}
	}
	named := map[string]int{}
	each(func(f *field) {
		if f.source == "" {
			named[f.name]++
		}
	})
	each(func(f *field) { f.unique = f.source == "" && named[f.name] == 1 })
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
	// status of every token response once read, before it is rendered.
	StatusUnchanged
	// StatusEnriched: at least one field was added or replaced.
	StatusEnriched
	// StatusAmbiguous: a standard member appears twice, in spellings a
	// client would take for the same member (two `access_token`, or
	// `access_token` and `Access_Token`). Clients disagree on which one
	// they read, so the response is passed on unchanged. A token request
	// that names two different clients (tokenRequest.ClientIDConflict)
	// makes its response ambiguous too: whom the token is for is unsure.
	StatusAmbiguous
	// StatusTooDeep: the body nests deeper than MaxDepth; it is not read.
	StatusTooDeep
	// StatusInvalid: the body is not a UTF-8 JSON object.
	StatusInvalid
)

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
	e.indexLabels()
	e.markUnique()
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

// Response is a token response as Run reads it: the body validated and
// its members listed, the identity of its token, which rules apply, what
// the sources found and the splits' buckets. The host's placeholders read
// it (Placeholder) for as long as the request lives.
type Response struct {
	// Status is StatusUnchanged for a token response (or an active
	// introspection response), StatusNotToken or StatusAmbiguous for a
	// body passed on as it is, and StatusEnriched once rendered.
	Status Status
	// Identity is who the token is for (zero unless a token response).
	Identity Identity

	// introspection: an RFC 7662 response, to which render never writes a
	// name isIntrospectionReserved reports
	introspection bool
	// matched[i]: rule i applies, decided once per response (matchRules)
	matched    []bool
	matchedArr [16]bool // matched's room for a usual configuration
	// found is what the sources, the splits and the lifted claims came
	// to; nil for a response without any
	found *found
}

// found is what a response's sources, splits and lifted claims came to.
// It is allocated only for a response that has one: a Response without
// it fits a smaller size class, and it is most of what a token request
// leaves to the collector.
type found struct {
	sources []sourceObject // what the sources' lookups came to
	splits  []splitResult  // the buckets of the splits
	// refused names the sources and lifted claims ("lift:<claim>") whose
	// objects were refused (Result.Rejected)
	refused []string
}

// more is r.found, allocated on the first write.
func (r *Response) more() *found {
	if r.found == nil {
		r.found = new(found)
	}
	return r.found
}

// refuse records that the object of a source or lifted claim was refused.
func (r *Response) refuse(label string) {
	m := r.more()
	m.refused = append(m.refused, label)
}

// refusedNames lists the refused sources and lifted claims.
func (r *Response) refusedNames() []string {
	if r.found == nil {
		return nil
	}
	return r.found.refused
}

// closingBrace is the index of the closing brace of a valid JSON object.
func closingBrace(body []byte) int { return bytes.LastIndexByte(body, '}') }
