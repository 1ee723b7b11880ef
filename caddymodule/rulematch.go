package caddymodule

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// rawRuleMatch holds one rule's matcher set for ctx.LoadModule, which
// finds the namespace of the modules to load in the field's tag.
type rawRuleMatch struct {
	Sets caddyhttp.RawMatcherSets `caddy:"namespace=http.matchers"`
}

// provisionRuleMatchers loads and provisions the matcher set of each rule
// that has one (RuleConfig.Match), loaded from the http.matchers namespace
// like the matchers of a Caddy route. The engine asks for them, through
// the exchange's MatchRule, once the identity is published, so that an
// expression reads {http.token.*}.
func (h *Handler) provisionRuleMatchers(ctx caddy.Context) error {
	h.ruleMatchers = make([]caddyhttp.MatcherSet, len(h.Rules))
	for i := range h.Rules {
		if m := h.Rules[i].Match; len(m) == 0 || string(m) == "null" {
			continue
		}
		var mm caddy.ModuleMap
		if err := json.Unmarshal(h.Rules[i].Match, &mm); err != nil {
			return fmt.Errorf("rules[%d].match: expected an object of matchers by name: %w", i, err)
		}
		for _, name := range slices.Sorted(maps.Keys(mm)) {
			if _, err := caddy.GetModule("http.matchers." + name); err != nil {
				return fmt.Errorf("rules[%d].match: rule %s: match: unknown Caddy request matcher %q (a module of http.matchers)",
					i, ruleLabel(i, h.Rules[i].Name), name)
			}
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
		h.ruleMatchers[i] = sets[0]
	}
	return nil
}

// ruleLabel names rule i as errors do: by its name, else by its number.
func ruleLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("#%d", i+1)
	}
	return name
}
