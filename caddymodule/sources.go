package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// DefaultSourceTimeout bounds a source lookup when no timeout is set.
const DefaultSourceTimeout = 300 * time.Millisecond

// SourceConfig is a metadata source: a guest module that looks up one JSON
// object by a key rendered from placeholders. Its members become fields
// where a field places the source ({"source": "<name>"}) and placeholders
// {http.token.source.<name>.<member>}. A lookup that fails or takes longer
// than the timeout leaves the source's fields out; the token response is
// never failed or held back for it.
type SourceConfig struct {
	// The source's name, used by field references and placeholders:
	// letters, digits, `_` and `-`.
	Name string `json:"name"`

	// The key to look up, with placeholders, e.g. tenant:{http.token.tenant}.
	// A key is looked up only when every placeholder in it renders
	// non-empty; in a key of two or more placeholders, '%' and the key's
	// separators are percent-encoded in each value (see
	// sources.KeyTemplate). A module that renders its own key (the http
	// source, from its URL) needs none.
	Key string `json:"key,omitempty"`

	// The key of the default entry: when nothing is stored for the
	// rendered key (a miss), the source is looked up once more with this
	// key, as written (no placeholders), within the same timeout; its
	// object stands for the request's. It starts like the keys the source
	// renders: tenant:default under the key tenant:{http.token.tenant}; for
	// the http source, a URL that starts like its URL template, e.g.
	// https://meta.example.com/tenants/default. The table source's "*"
	// entry is its built-in default, found without a second lookup.
	// Empty (default): a miss leaves the source's fields out.
	Default string `json:"default,omitempty"`

	// The longest a lookup may take before the response is sent without
	// it. Default: 300ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// "all" (default): the object's members are added as fields where the
	// source is placed; "none": placeholders only.
	Fields string `json:"fields,omitempty"`

	// The source module, by its name in the namespace
	// http.handlers.token_enrich.sources: table, http, or a third party's.
	LookupRaw json.RawMessage `json:"lookup,omitempty" caddy:"namespace=http.handlers.token_enrich.sources inline_key=source"`

	source sources.Source
	tmpl   *sources.KeyTemplate // Key, compiled
	// failures lets a failed lookup be logged once per
	// sources.ReportInterval and counts the others.
	failures *sources.Throttle
}

// provisionSources loads the source modules.
func (h *Handler) provisionSources(ctx caddy.Context) error {
	h.sources = map[string]*SourceConfig{}
	for i := range h.Sources {
		s := &h.Sources[i]
		mod, err := ctx.LoadModule(s, "LookupRaw")
		if err != nil {
			return fmt.Errorf("sources[%d] (%s): loading its module: %w", i, s.Name, err)
		}
		src, ok := mod.(sources.Source)
		if !ok {
			return fmt.Errorf("sources[%d] (%s): module %T is not a source", i, s.Name, mod)
		}
		s.source = src
		s.failures = &sources.Throttle{Interval: sources.ReportInterval}
		if _, renders := src.(sources.KeyRenderer); s.Key == "" && !renders {
			return fmt.Errorf("sources[%d] (%s): no key to look up", i, s.Name)
		}
		if s.Key != "" {
			// compile checked it
			s.tmpl, _ = sources.ParseKeyTemplate(s.Key)
		}
		if ku, ok := src.(sources.KeyTemplateUser); ok && s.Key != "" {
			if err := ku.UseKeyTemplate(s.Name, s.Key); err != nil {
				return fmt.Errorf("sources[%d] (%s): %w", i, s.Name, err)
			}
		}
		if kc, ok := src.(sources.KeyChecker); ok && s.Default != "" {
			if err := kc.CheckKey(s.Default); err != nil {
				// the source's error names the default as its logs
				// show it: an http source's URL without credentials
				return invalid(fmt.Sprintf("sources[%d].default", i), "source %s: default: %v", s.Name, err)
			}
		}
		h.sources[s.Name] = s
	}
	return nil
}

// sourceSpecs declares the sources to the engine.
func (h *Handler) sourceSpecs() []enrichers.SourceSpec {
	var specs []enrichers.SourceSpec
	for _, s := range h.Sources {
		specs = append(specs, enrichers.SourceSpec{Name: s.Name, NoFields: s.Fields == "none", Key: s.Key})
	}
	return specs
}

// key renders the key to look up (see sources.KeyTemplate); ok is false
// when a placeholder in it renders empty.
func (s *SourceConfig) key(repl *caddy.Replacer) (string, bool) {
	if s.tmpl == nil {
		if kr, ok := s.source.(sources.KeyRenderer); ok && repl != nil {
			return kr.RenderKey(repl)
		}
		return "", false
	}
	return s.tmpl.Render(repl)
}

// judge counts a lookup's answer and says how it went: the object to use
// (nil when the source's fields are left out) and, for explain, the state.
// A lookup that failed is logged at warn, the first and then at most one
// per sources.ReportInterval and source, with the count of the others.
func (h *Handler) judge(s *SourceConfig, a lookupAnswer) ([]byte, string) {
	switch {
	case errors.Is(a.err, context.DeadlineExceeded):
		countLookup(s.Name, "timeout")
		state := "timed out after " + time.Duration(s.Timeout).String()
		h.lookupFailed(s, state, a.err)
		return nil, state
	case a.err != nil:
		countLookup(s.Name, "error")
		state := "error: " + sources.Truncate(a.err.Error())
		if unreachable(a.err) {
			state = "unreachable: " + sources.Truncate(a.err.Error())
		}
		h.lookupFailed(s, state, a.err)
		return nil, state
	case a.res.Object == nil:
		countLookup(s.Name, "miss")
		if a.defaulted {
			return nil, "miss: nothing stored for the key, nor for the default " + strconv.Quote(s.Default)
		}
		return nil, "miss: nothing stored for the key"
	case a.res.Stale:
		countLookup(s.Name, "stale")
		return a.res.Object, "stale: served from the cache, the origin unreachable" + a.viaDefault()
	default:
		countLookup(s.Name, "hit")
		return a.res.Object, "hit" + a.viaDefault()
	}
}

// lookupFailed logs the failed lookup of s unless s's throttle holds it back.
func (h *Handler) lookupFailed(s *SourceConfig, state string, err error) {
	held, ok := s.failures.Pass(time.Now())
	if !ok || h.logger == nil {
		return
	}
	h.logger.Warn("source lookup failed; its fields are left out (one line per 10s per source at most)",
		zap.String("source", s.Name), sources.LogString("state", state), sources.LogError(err),
		zap.Int("failures_not_logged", held))
}

// unreachable reports whether err says that the origin could not be
// reached: a connection refused or failed, or a host name that does not
// resolve.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) ||
		(errors.As(err, &op) && op.Op == "dial")
}

// reportRejected counts and warns of what the engine refused: a source's
// object that is not a JSON object within 512 levels and 1000 members, a
// lifted claim ("lift:<claim>") of more than 1000 members.
func (h *Handler) reportRejected(rejected []string) {
	for _, name := range rejected {
		if claim, ok := strings.CutPrefix(name, "lift:"); ok {
			countLifted(claim)
			h.logger.Warn("lifted claim left out: more than 1000 members", zap.String("claim", claim))
			continue
		}
		countLookup(name, "error")
		h.logger.Warn("source lookup left out: not a JSON object within 512 levels and 1000 members", zap.String("source", name))
	}
}
