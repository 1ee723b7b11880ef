package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

// provisionSources loads the source modules.
func (h *Handler) provisionSources(ctx caddy.Context) error {
	h.sources = map[string]*SourceConfig{}
	for i := range h.Sources {
		s := &h.Sources[i]
		if s.LookupRaw == nil {
			return fmt.Errorf("sources[%d] (%s): no source module", i, s.Name)
		}
		mod, err := ctx.LoadModule(s, "LookupRaw")
		if err != nil {
			return fmt.Errorf("sources[%d] (%s): loading its module: %w", i, s.Name, err)
		}
		src, ok := mod.(sources.Source)
		if !ok {
			return fmt.Errorf("sources[%d] (%s): module %T is not a source", i, s.Name, mod)
		}
		s.source = src
		if _, renders := src.(sources.KeyRenderer); s.Key == "" && !renders {
			return fmt.Errorf("sources[%d] (%s): no key to look up", i, s.Name)
		}
		if s.Key != "" {
			if s.tmpl, err = sources.ParseKeyTemplate(s.Key); err != nil {
				return fmt.Errorf("sources[%d] (%s): %w", i, s.Name, err)
			}
		}
		switch s.Fields {
		case "", "all", "none":
		default:
			return fmt.Errorf("sources[%d] (%s): fields must be all or none, got %q", i, s.Name, s.Fields)
		}
		if s.Timeout <= 0 {
			s.Timeout = caddy.Duration(DefaultSourceTimeout)
		}
		if ku, ok := src.(sources.KeyTemplateUser); ok && s.Key != "" {
			if err := ku.UseKeyTemplate(s.Name, s.Key); err != nil {
				return fmt.Errorf("sources[%d] (%s): %w", i, s.Name, err)
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
		specs = append(specs, enrichers.SourceSpec{Name: s.Name, NoFields: s.Fields == "none"})
	}
	return specs
}

// lookUp runs the sources resp needs, all at once, each bounded by its
// timeout and by the request's context, and gives resp what they found.
// It returns when the last has answered or given up: never later than the
// longest timeout. A lookup that does not return in time is abandoned: its
// goroutine finishes on its own, and its answer is dropped.
func (h *Handler) lookUp(ctx context.Context, repl *caddy.Replacer, resp *enrichers.Response) {
	names := h.enricher.Sources(resp)
	if len(names) == 0 {
		return
	}
	type pending struct {
		s      *SourceConfig
		ctx    context.Context
		cancel context.CancelFunc
		done   chan lookupAnswer
	}
	started := make([]pending, 0, len(names))
	for _, name := range names {
		s := h.sources[name]
		key, ok := s.key(repl)
		if !ok {
			countLookup(name, "miss")
			continue
		}
		p := pending{s: s, done: make(chan lookupAnswer, 1)}
		p.ctx, p.cancel = context.WithTimeout(ctx, time.Duration(s.Timeout))
		go func() {
			res, err := s.source.Lookup(p.ctx, key)
			p.done <- lookupAnswer{res, err}
		}()
		started = append(started, p)
	}
	for _, p := range started {
		var a lookupAnswer
		select {
		case a = <-p.done:
		case <-p.ctx.Done():
			a.err = p.ctx.Err()
		}
		p.cancel()
		object := h.judge(p.s, a)
		if object == nil {
			continue
		}
		if err := resp.SetSource(p.s.Name, object); err != nil {
			countLookup(p.s.Name, "error")
			h.logger.Warn("source lookup left out", zap.String("source", p.s.Name), sources.LogError(err))
		}
	}
}

// lookupAnswer is what a source's Lookup returned.
type lookupAnswer struct {
	res sources.Result
	err error
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

// judge counts a lookup's answer and returns the object to use, or nil
// when the source's fields are left out.
func (h *Handler) judge(s *SourceConfig, a lookupAnswer) []byte {
	switch {
	case errors.Is(a.err, context.DeadlineExceeded):
		countLookup(s.Name, "timeout")
		h.debug("source lookup timed out; its fields are left out", zap.String("source", s.Name), zap.Duration("timeout", time.Duration(s.Timeout)))
		return nil
	case a.err != nil:
		countLookup(s.Name, "error")
		h.debug("source lookup failed; its fields are left out", zap.String("source", s.Name), sources.LogError(a.err))
		return nil
	case a.res.Object == nil:
		countLookup(s.Name, "miss")
		return nil
	case a.res.Stale:
		countLookup(s.Name, "stale")
	default:
		countLookup(s.Name, "hit")
	}
	return a.res.Object
}
