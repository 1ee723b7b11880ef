package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// addsNothingWarning is logged for a token_enrich that adds no member to any
// token response. Such a handler still sets the {http.token.*} placeholders
// and logs token responses, so it is valid, but it is rarely what was meant.
const addsNothingWarning = "token_enrich has no set, set_json, rule or lift_claim: " +
	"it adds nothing to token responses (it only sets the {http.token.*} placeholders)"

// addsNothing reports whether h adds no member to any token response.
func (h *Handler) addsNothing() bool {
	return len(h.Fields) == 0 && len(h.Rules) == 0 && len(h.LiftClaims) == 0
}

// warnIfAddsNothing logs addsNothingWarning, naming the directive's file and
// line, when h adds nothing. A handler directive cannot return a
// caddyconfig.Warning, so it logs to Caddy's "caddyfile" logger, as Caddy's
// own directives do; `caddy adapt`, `caddy validate` and `caddy run` show it.
func warnIfAddsNothing(h *Handler, file string, line int) {
	if h.addsNothing() {
		caddy.Log().Named("caddyfile").Warn(fmt.Sprintf("%s, at %s:%d", addsNothingWarning, file, line))
	}
}
