package enrichers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// RuleConfig selects tokens and names the fields to add to their responses.
// Every condition that is set must hold (AND); within one condition any listed
// pattern may match (OR), except Scope where the token must carry all of them.
// A rule with no condition matches every token response.
type RuleConfig struct {
	// An optional name, used in logs and error messages.
	Name string `json:"name,omitempty"`

	// Client id patterns (`*` and `?` globs).
	Client []string `json:"client,omitempty"`

	// Audience patterns; a rule matches if the requested audience or any of
	// the token's audiences matches.
	Audience []string `json:"audience,omitempty"`

	// Tenant patterns.
	Tenant []string `json:"tenant,omitempty"`

	// Issuer patterns.
	Issuer []string `json:"issuer,omitempty"`

	// Exact grant_type values, e.g. client_credentials or
	// urn:ietf:params:oauth:grant-type:device_code. The short names
	// device_code, jwt_bearer, saml2_bearer, token_exchange and ciba stand
	// for their URNs.
	GrantType []string `json:"grant_type,omitempty"`

	// Scopes the token must all carry.
	Scope []string `json:"scope,omitempty"`

	// Claim conditions: a top-level claim name and patterns its value must
	// match (a string, each string of an array, or the JSON text of other
	// types). All listed claims must match.
	Claims []ClaimCondition `json:"claims,omitempty"`

	// Fields to add when the rule matches, in order.
	Fields []FieldConfig `json:"fields,omitempty"`

	// Splits assigned only to the tokens the rule matches.
	Splits []SplitConfig `json:"splits,omitempty"`

	// A matcher set the host evaluates on the request once the identity
	// is known (the Caddy handler: any module of the http.matchers
	// namespace, remote_ip, header, expression, ...). The engine carries
	// it; the rule matches only when the host reports that it matched
	// (Response.SetRuleMatch).
	Match json.RawMessage `json:"match,omitempty"`
}

// ClaimCondition is one `claim <name> <pattern...>` condition.
type ClaimCondition struct {
	// The claim's literal top-level name.
	Name string `json:"name"`
	// Patterns any of which the claim value must match.
	Values []string `json:"values"`
}

type claimMatcher struct {
	name     string
	patterns []globPattern
}

// rule is a compiled RuleConfig.
type rule struct {
	name      string
	client    []globPattern
	audience  []globPattern
	tenant    []globPattern
	issuer    []globPattern
	grantType []string
	scope     []string
	claims    []claimMatcher
	fields    []field
	splits    []split
	// external: the rule has a matcher set the host evaluates
	external bool
}

func compileRule(i int, rc RuleConfig) (rule, error) {
	label := rc.Name
	if label == "" {
		label = fmt.Sprintf("#%d", i+1)
	}
	r := rule{name: label, scope: rc.Scope}
	if len(rc.Fields) == 0 && len(rc.Splits) == 0 {
		return rule{}, errors.New("sets no field")
	}
	for _, g := range rc.GrantType {
		r.grantType = append(r.grantType, canonicalGrantType(g))
	}
	var err error
	lists := []struct {
		what string
		in   []string
		out  *[]globPattern
	}{
		{"client", rc.Client, &r.client},
		{"audience", rc.Audience, &r.audience},
		{"tenant", rc.Tenant, &r.tenant},
		{"issuer", rc.Issuer, &r.issuer},
	}
	for _, l := range lists {
		if *l.out, err = compilePatterns(l.in); err != nil {
			return rule{}, &ConfigError{Path: l.what, Err: err}
		}
	}
	for j, cc := range rc.Claims {
		if cc.Name == "" {
			return rule{}, &ConfigError{Path: fmt.Sprintf("claims[%d].name", j), Err: errors.New("claim condition without a claim name")}
		}
		if len(cc.Values) == 0 {
			return rule{}, &ConfigError{Path: fmt.Sprintf("claims[%d].values", j), Err: fmt.Errorf("claim %q needs at least one pattern", cc.Name)}
		}
		ps, err := compilePatterns(cc.Values)
		if err != nil {
			return rule{}, &ConfigError{Path: fmt.Sprintf("claims[%d].values", j), Err: fmt.Errorf("claim %q: %w", cc.Name, err)}
		}
		r.claims = append(r.claims, claimMatcher{name: cc.Name, patterns: ps})
	}
	if r.fields, err = compileFields(rc.Fields); err != nil {
		return rule{}, err
	}
	if r.splits, err = compileSplits("", rc.Splits); err != nil {
		return rule{}, err
	}
	r.external = len(rc.Match) > 0 && string(rc.Match) != "null"
	return r, nil
}

// matches reports whether the identity satisfies every condition of the rule.
func (r *rule) matches(id *Identity) bool { return r.check(id, nil) }

// check is matches, and, when why is not nil and a condition fails, says
// in *why which one and on what value. matches is check without why, so
// that Explain can never disagree with the handler.
func (r *rule) check(id *Identity, why *string) bool {
	// fail is called only with why set (why != nil && fail(...)), so
	// that matches boxes no argument
	fail := func(format string, args ...any) bool {
		*why = fmt.Sprintf(format, args...)
		return false
	}
	if r.client != nil && !matchAny(r.client, id.ClientID) {
		return why != nil && fail("client %q matches none of %v", id.ClientID, r.client)
	}
	if r.tenant != nil && !matchAny(r.tenant, id.Tenant) {
		return why != nil && fail("tenant %q matches none of %v", id.Tenant, r.tenant)
	}
	if r.issuer != nil && !matchAny(r.issuer, id.Issuer) {
		return why != nil && fail("issuer %q matches none of %v", id.Issuer, r.issuer)
	}
	if r.grantType != nil && !containsString(r.grantType, id.GrantType) {
		return why != nil && fail("grant_type %q is none of %v", id.GrantType, r.grantType)
	}
	for _, s := range r.scope {
		if !id.hasScope(s) {
			return why != nil && fail("scope %q missing (token scopes %q)", s, id.scope())
		}
	}
	if r.audience != nil {
		if !id.eachAudience(func(a string) bool { return !matchAny(r.audience, a) }) {
			return why != nil && fail("audiences %q: none matches any of %v", id.audiences(), r.audience)
		}
	}
	for i := range r.claims {
		c := &r.claims[i]
		v := id.claim(c.name)
		if !v.Exists() || v.Type == gjson.Null {
			return why != nil && fail("claim %s absent", c.name)
		}
		var ok bool
		if v.IsArray() {
			ok = eachString(v, func(s string) bool { return !matchAny(c.patterns, s) })
		} else {
			ok = matchAny(c.patterns, valueText(v))
		}
		if !ok {
			return why != nil && fail("claim %s %s matches none of %v", c.name, v.Raw, c.patterns)
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
