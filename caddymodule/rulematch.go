package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// ruleMatcher is the matcher set of one rule (RuleConfig.Match), loaded
// from the http.matchers namespace like the matchers of a Caddy route.
type ruleMatcher struct {
	// index of the rule in Handler.Rules and in the enricher
	index int
	set   caddyhttp.MatcherSet
}

// rawRuleMatch holds one rule's matcher set for ctx.LoadModule, which
// finds the namespace of the modules to load in the field's tag.
type rawRuleMatch struct {
	Sets caddyhttp.RawMatcherSets `caddy:"namespace=http.matchers"`
}

// provisionRuleMatchers loads and provisions the matcher set of each rule
// the enricher leaves to the host (external), so that the rules evaluated
// per request are exactly the ones the enricher waits for.
func (h *Handler) provisionRuleMatchers(ctx caddy.Context, external []int) error {
	h.ruleMatchers = h.ruleMatchers[:0]
	for _, i := range external {
		var mm caddy.ModuleMap
		if err := json.Unmarshal(h.Rules[i].Match, &mm); err != nil {
			return fmt.Errorf("rules[%d].match: expected an object of matchers by name: %w", i, err)
		}
		raw := rawRuleMatch{Sets: caddyhttp.RawMatcherSets{mm}}
		mods, err := ctx.LoadModule(&raw, "Sets")
		if err != nil {
			return fmt.Errorf("rules[%d].match: %w", i, err)
		}
		var sets caddyhttp.MatcherSets
		if err := sets.FromInterface(mods); err != nil {
			return fmt.Errorf("rules[%d].match: %w", i, err)
		}
		h.ruleMatchers = append(h.ruleMatchers, ruleMatcher{index: i, set: sets[0]})
	}
	return nil
}

// matchRules evaluates the rules' matcher sets on the request and tells
// resp which matched. It runs once the identity is published, so that an
// expression reads {http.token.*} from the request's replacer, and before
// the sources are looked up, since the sources a rule places are looked up
// only when the rule matches. A matcher that fails leaves its rule out.
func (h *Handler) matchRules(r *http.Request, resp *enrichers.Response) {
	// last rule first: the response sizes its record of host matches once
	for k := len(h.ruleMatchers) - 1; k >= 0; k-- {
		m := &h.ruleMatchers[k]
		ok, err := m.set.MatchWithError(r)
		if err != nil {
			h.debug("rule matcher failed; the rule does not apply",
				zap.Int("rule", m.index), zap.String("name", h.Rules[m.index].Name), zap.Error(err))
			ok = false
		}
		resp.SetRuleMatch(m.index, ok)
	}
}
