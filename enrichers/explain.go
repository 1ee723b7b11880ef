package enrichers

import (
	"encoding/json"
	"strings"
)

// Explanation says how a token response is enriched: the identity and
// where each of its values came from, every rule and why it matched or
// not, and every field with its value or why it was left out. Run records
// it as it goes (Input.Explain), so it cannot disagree with what Run did.
type Explanation struct {
	Identity []identityValue    `json:"identity"`
	Rules    []ruleExplanation  `json:"rules"`
	Fields   []fieldExplanation `json:"fields"`
}

// identityValue is one value of the identity and where it came from: a
// claim name, a request parameter or the preset's rule; "" when unset.
type identityValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	From  string `json:"from,omitempty"`
}

// ruleExplanation is one rule: matched, or the first condition that
// failed and the value it saw.
type ruleExplanation struct {
	Name    string `json:"name"`
	Matched bool   `json:"matched"`
	Why     string `json:"why,omitempty"`
}

// fieldExplanation is one member a field, a lifted claim or a source
// would write: Added with its JSON Value, or Why it was left out.
type fieldExplanation struct {
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
	whySourceMissed   = "source found nothing: "
	whyNoFields       = "source with fields none: placeholders only"
	whyRuleNotMatched = "rule not matched"
	whyLiftAbsent     = "lifted claim absent or not an object"
	whyTooMany        = "refused: more than 1000 members"
	whyUpstreamKept   = "the upstream already sent it (kept; overwrite off)"
	whyReplaced       = "replaces the upstream's member (overwrite on)"
	whyOverridden     = "overridden by a later "
)

// Describe lists r's identity in the placeholders' vocabulary: client_id,
// audience, tenant, issuer, subject, scope, grant_type, then preset and
// format. Where each value came from is recorded only while Run explains
// a response (Explanation.Identity): here From is empty.
func (r *Response) Describe() []identityValue { return r.describe(&provenance{}) }

// describe is Describe, each value with where it came from as from says.
func (r *Response) describe(from *provenance) []identityValue {
	id := &r.Identity
	claimFrom := func(name string, bit uint8) string {
		if name != "" && from.nested&bit != 0 && id.nested != "" {
			return "claim ext." + name
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
	return []identityValue{
		{"client_id", id.ClientID, claimFrom(from.client, nestedClient)},
		{"audience", strings.Join(id.audiences(), " "), audFrom},
		{"tenant", id.Tenant, claimFrom(from.tenant, nestedTenant)},
		{"issuer", id.Issuer, issuerFrom},
		{"subject", id.Subject, subjectFrom},
		{"scope", id.scope(), scopeFrom},
		{"grant_type", id.GrantType, grantFrom},
		{"preset", id.Preset, from.preset},
		{"format", id.Format.String(), ""},
	}
}

// audiences lists the requested audience and the token's, each once.
func (id *Identity) audiences() []string {
	var auds []string
	id.eachAudience(func(a string) bool {
		// the audience a client asks for is usually the token's too
		if !containsString(auds, a) {
			auds = append(auds, a)
		}
		return true
	})
	return auds
}

// traceOut records a field left out.
func (pl *plan) traceOut(name, label, why string) {
	if pl.trace == nil {
		return
	}
	*pl.trace = append(*pl.trace, fieldExplanation{Name: name, From: label, Rule: pl.rule, Why: why})
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
	*pl.trace = append(t, fieldExplanation{Name: name, From: label, Rule: pl.rule, Added: true, Value: v})
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
