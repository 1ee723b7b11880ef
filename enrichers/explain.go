package enrichers

import (
	"encoding/json"
	"strings"
)

// Explanation says how a token response is enriched: the identity and
// where each of its values came from, every rule and why it matched or
// not, and every field with its value or why it was left out. Explain
// derives it with the code the handler runs (identify, the rules'
// checks, the plan Render writes), so the two cannot disagree.
type Explanation struct {
	// Status is the response's status before Render: a body that is not
	// a token response (or is ambiguous) is never enriched.
	Status   string             `json:"status"`
	Identity []IdentityValue    `json:"identity"`
	Rules    []RuleExplanation  `json:"rules"`
	Fields   []FieldExplanation `json:"fields"`
}

// IdentityValue is one value of the identity and where it came from: a
// claim name, a request parameter or the preset's rule; "" when unset.
type IdentityValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	From  string `json:"from,omitempty"`
}

// RuleExplanation is one rule: matched, or the first condition that
// failed and the value it saw.
type RuleExplanation struct {
	Name    string `json:"name"`
	Matched bool   `json:"matched"`
	Why     string `json:"why,omitempty"`
}

// FieldExplanation is one member a field, a lifted claim or a source
// would write: Added with its JSON Value, or Why it was left out.
type FieldExplanation struct {
	// Name is the member's name; a source that wrote nothing is named
	// "source:<name>", a lifted claim that is absent "lift:<claim>".
	Name string `json:"name"`
	// From is where it comes from: the field's name, "lift:<claim>" or
	// "source:<name>".
	From string `json:"from"`
	// Rule names the rule that sets it; "" for a top-level field.
	Rule  string          `json:"rule,omitempty"`
	Added bool            `json:"added"`
	Value json.RawMessage `json:"value,omitempty"`
	Why   string          `json:"why,omitempty"`
}

// Why a field is left out (or replaces the upstream's member).
const (
	whyEmpty          = "empty: the value renders empty"
	whyReserved       = "reserved: a standard OAuth member is never written"
	whySourceMissed   = "source missed: the lookup found nothing (miss, error, timeout or empty key)"
	whyNoFields       = "source with fields none: placeholders only"
	whyRuleNotMatched = "rule not matched"
	whyLiftAbsent     = "lifted claim absent or not an object"
	whyUpstreamKept   = "the upstream already sent it (kept; overwrite off)"
	whyReplaced       = "replaces the upstream's member (overwrite on)"
	whyOverridden     = "overridden by a later "
)

// Explain explains r, after the host's middle stage (rule matches,
// sources, splits), with the resolve Render is given. It does not change r.
func (e *Enricher) Explain(r *Response, resolve Resolver) Explanation {
	x := Explanation{Status: statusText(r.Status), Rules: []RuleExplanation{}, Fields: []FieldExplanation{}}
	id := &r.Identity
	from := &id.from
	claimFrom := func(name string, bit uint8) string {
		if name != "" && from.nested&bit != 0 && e.presetNested(id) != "" {
			return "claim " + e.presetNested(id) + "." + name
		}
		switch name {
		case "", fromIssuer, fromRequest, fromRequestGrant, fromRequestScope, fromResponseScope:
			return name
		}
		return "claim " + name
	}
	audFrom := claimFrom(from.audience, nestedAudience)
	if id.RequestedAudience != "" {
		audFrom = "request: audience or resource"
	}
	scopeFrom := claimFrom(from.scope, nestedScope)
	if from.perms != "" {
		scopeFrom += "; permissions from " + claimFrom(from.perms, nestedPerms)
	}
	issuerFrom, subjectFrom := "", ""
	if id.Issuer != "" {
		issuerFrom = "claim iss"
	}
	if id.Subject != "" {
		subjectFrom = "claim sub"
	}
	grantFrom := from.grant
	if grantFrom == "gty" || strings.HasPrefix(grantFrom, "idtyp") {
		grantFrom = "claim " + grantFrom
	}
	x.Identity = []IdentityValue{
		{"client", id.ClientID, claimFrom(from.client, nestedClient)},
		{"audiences", strings.Join(id.audiences(), " "), audFrom},
		{"tenant", id.Tenant, claimFrom(from.tenant, nestedTenant)},
		{"issuer", id.Issuer, issuerFrom},
		{"subject", id.Subject, subjectFrom},
		{"scopes", id.Scope(), scopeFrom},
		{"grant", id.GrantType, grantFrom},
		{"preset", id.Preset, from.preset},
		{"format", id.Format.String(), ""},
	}
	if r.Status != StatusUnchanged {
		return x
	}
	for i := range e.rules {
		ru := &e.rules[i]
		re := RuleExplanation{Name: ru.name}
		if ru.external && (i >= len(r.hostMatched) || !r.hostMatched[i]) {
			re.Why = "match: its matcher set did not match the request"
		} else {
			re.Matched = ru.check(id, &re.Why)
		}
		x.Rules = append(x.Rules, re)
	}
	pl := getPlan()
	defer putPlan(pl)
	pl.trace = &x.Fields
	e.plan(pl, r, resolve)
	var out Outcome
	pl.resolveCollisions(r.members, e.overwrite, &out)
	return x
}

// audiences lists the requested audience and the token's.
func (id *Identity) audiences() []string {
	var auds []string
	id.EachAudience(func(a string) bool { auds = append(auds, a); return true })
	return auds
}

// presetNested names the nested claims object of id, "" if none.
func (e *Enricher) presetNested(id *Identity) string {
	if id.nested == "" {
		return ""
	}
	return "ext"
}

func statusText(s Status) string {
	switch s {
	case StatusNotToken:
		return "not a token response (no string access_token): passed through unchanged"
	case StatusAmbiguous:
		return "ambiguous (a standard member appears twice, or the token request names two clients): passed through unchanged"
	case StatusEnriched:
		return "enriched"
	}
	return "token response"
}

// traceOut records a field left out.
func (pl *plan) traceOut(name, label, why string) {
	if pl.trace == nil {
		return
	}
	*pl.trace = append(*pl.trace, FieldExplanation{Name: name, From: label, Rule: pl.rule, Why: why})
}

// tracePut records a field planned, and that it overrides an earlier one.
func (pl *plan) tracePut(name, label string, val span) {
	t := *pl.trace
	if i, ok := pl.traced[name]; ok && t[i].Added {
		t[i].Added = false
		t[i].Why = whyOverridden + label
		if pl.rule != "" {
			t[i].Why += " (rule " + pl.rule + ")"
		}
	}
	if pl.traced == nil {
		pl.traced = map[string]int{}
	}
	pl.traced[name] = len(t)
	v := append(json.RawMessage(nil), pl.bytes(val)...)
	*pl.trace = append(t, FieldExplanation{Name: name, From: label, Rule: pl.rule, Added: true, Value: v})
}

// traceCollision records that p collides with an upstream member.
func (pl *plan) traceCollision(p *planned) {
	if pl.trace == nil {
		return
	}
	t := *pl.trace
	if i, ok := pl.traced[p.name]; ok && t[i].Added {
		if p.drop {
			t[i].Added, t[i].Why = false, whyUpstreamKept
		} else {
			t[i].Why = whyReplaced
		}
	}
}
