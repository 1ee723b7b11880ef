package caddymodule

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// Input a client chooses freely, request by request, unlike the token's
// identity, which the identity provider vouches for, or the connection's
// address. A rule that reads nothing else applies to any client that asks
// for it, and a split keyed on any of it lets a client pick its bucket.
// The request's path, host and method are left out: they choose the
// identity provider's endpoint, which authenticates the client.
var (
	// clientPlaceholderPrefixes: placeholders of request headers,
	// cookies and query parameters
	clientPlaceholderPrefixes = []string{"http.request.header.", "http.request.cookie.", "http.request.uri.query."}
	// clientPlaceholders: whole parts of the request a client writes
	clientPlaceholders = []string{"http.request.uri", "http.request.uri.query", "http.request.body"}
	// clientMatchers: Caddy request matchers that read only headers or
	// the query
	clientMatchers = []string{"header", "header_regexp", "query"}
	// placeholderMatchers: matchers whose keys are placeholders (vars
	// {http.request.header.X} gold)
	placeholderMatchers = []string{"vars", "vars_regexp"}
)

// warnClientInput logs one warning for each split keyed on client-chosen
// input and for each rule whose every condition is client-chosen: the
// configuration is valid, but a client can pick the bucket, or the
// fields, it gets.
func (h *Handler) warnClientInput() {
	for _, s := range h.Splits {
		h.warnSplitKey(s, "")
	}
	for i, r := range h.Rules {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		for _, s := range r.Splits {
			h.warnSplitKey(s, name)
		}
		if input := clientOnlyMatch(r); input != "" {
			h.logger.Warn(fmt.Sprintf("rule %s matches on client-controlled request input only (%s): "+
				"any client gets its fields by sending it; add a condition on the token (client, tenant, issuer, scope, claim)", name, input),
				zap.String("rule", name), zap.String("input", input))
		}
	}
}

// warnSplitKey warns when split s (of rule, "" for a top-level split)
// has a client-controlled placeholder in its key.
func (h *Handler) warnSplitKey(s enrichers.SplitConfig, rule string) {
	for _, p := range placeholders(s.Key) {
		if !clientPlaceholder(p) {
			continue
		}
		where := "split " + s.Name
		if rule != "" {
			where += " of rule " + rule
		}
		h.logger.Warn(fmt.Sprintf("%s is keyed on client-controlled request input {%s}: "+
			"a client picks its bucket by choosing that value; key it on the token, e.g. {http.token.client_id}", where, p),
			zap.String("split", s.Name), zap.String("rule", rule), zap.String("placeholder", "{"+p+"}"))
		return
	}
}

// clientOnlyMatch describes the client-controlled input rule r's matcher
// set reads, when r has no token condition and every matcher of its set
// reads client-controlled input alone; "" otherwise.
func clientOnlyMatch(r enrichers.RuleConfig) string {
	if len(r.Client)+len(r.Audience)+len(r.Tenant)+len(r.Issuer)+len(r.GrantType)+len(r.Scope)+len(r.Claims) > 0 {
		return ""
	}
	var set map[string]json.RawMessage
	if len(r.Match) == 0 || json.Unmarshal(r.Match, &set) != nil || len(set) == 0 {
		return ""
	}
	var inputs []string
	for name, raw := range set {
		if name == "expression" {
			ps := clientExpression(raw)
			if ps == nil {
				return ""
			}
			for _, p := range ps {
				inputs = append(inputs, "expression {"+p+"}")
			}
			continue
		}
		var keys map[string]json.RawMessage
		if json.Unmarshal(raw, &keys) != nil || len(keys) == 0 {
			return ""
		}
		switch {
		case slices.Contains(clientMatchers, name):
			for k := range keys {
				inputs = append(inputs, name+" "+k)
			}
		case slices.Contains(placeholderMatchers, name):
			for k := range keys {
				p, ok := strings.CutPrefix(k, "{")
				p, ok2 := strings.CutSuffix(p, "}")
				if !ok || !ok2 || !clientPlaceholder(p) {
					return ""
				}
				inputs = append(inputs, name+" "+k)
			}
		default:
			return ""
		}
	}
	slices.Sort(inputs)
	return strings.Join(inputs, ", ")
}

// serverCall finds a call of a CEL matcher function that reads input the
// client does not choose (the connection, variables, files) or that
// negates.
var serverCall = regexp.MustCompile(`\b(remote_ip|client_ip|vars|vars_regexp|file|tls|not|path|path_regexp|host|method|protocol)\(`)

// clientExpression returns the placeholders of an expression matcher (a
// CEL string, or an object with its expr) when it has some, every one
// client-controlled, and calls no matcher function that reads anything
// else; nil otherwise.
func clientExpression(raw json.RawMessage) []string {
	var expr string
	if json.Unmarshal(raw, &expr) != nil {
		var obj struct {
			Expr string `json:"expr"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return nil
		}
		expr = obj.Expr
	}
	ps := placeholders(expr)
	if len(ps) == 0 || serverCall.MatchString(expr) || !slices.ContainsFunc(ps, clientPlaceholder) ||
		slices.ContainsFunc(ps, func(p string) bool { return !clientPlaceholder(p) }) {
		return nil
	}
	return ps
}

// placeholders lists the names of the placeholders of a template, without
// their braces.
func placeholders(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+j])
		s = s[i+j+1:]
	}
}

// clientPlaceholder reports whether placeholder p (without braces) reads
// client-controlled request input.
func clientPlaceholder(p string) bool {
	if slices.Contains(clientPlaceholders, p) {
		return true
	}
	for _, prefix := range clientPlaceholderPrefixes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
