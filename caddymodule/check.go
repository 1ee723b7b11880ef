package caddymodule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// maxMaxBody is the largest max_body accepted: 1 TiB.
const maxMaxBody = 1 << 40

// compile checks the whole configuration and compiles the engine: the one
// validation of the config, whichever adapter wrote it. Provision runs it,
// and the Caddyfile adapter runs it as soon as a block is parsed, so that
// its errors name their file and line (caddyfile.go). Its errors are
// enrichers.ConfigError values naming the path of the value at fault in
// JSON config, e.g. `rules[2].fields[0].name`. It loads no module and
// changes nothing: a zero value stands for its default.
func (h *Handler) compile() (*enrichers.Enricher, error) {
	if h.MaxBody < 0 || h.MaxBody > maxMaxBody {
		return nil, invalid("max_body", "size %d out of range: give a size from 1B to 1TiB, e.g. 1MiB", h.MaxBody)
	}
	switch h.OnError {
	case "", "pass", "fail":
	default:
		return nil, invalid("on_error", "expected pass or fail, got %q", h.OnError)
	}
	for i := range h.Sources {
		s := &h.Sources[i]
		at := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.LookupRaw == nil:
			return nil, invalid(at+".lookup", "source %s: no source module", s.Name)
		case s.Fields != "" && s.Fields != "all" && s.Fields != "none":
			return nil, invalid(at+".fields", "source %s: fields: expected all or none, got %q", s.Name, s.Fields)
		case s.Timeout < 0:
			return nil, invalid(at+".timeout", "source %s: timeout: %s is negative: give a duration, e.g. 300ms", s.Name, time.Duration(s.Timeout))
		case strings.ContainsAny(s.Default, "{}"):
			return nil, invalid(at+".default", "source %s: default %q: the default key is looked up as written and may hold no placeholders or braces: give the literal key of the default entry, e.g. tenant:default", s.Name, s.Default)
		}
		if s.Key != "" {
			if _, err := sources.ParseKeyTemplate(s.Key); err != nil {
				return nil, invalid(at+".key", "source %s: key: %v", s.Name, err)
			}
		}
	}
	cfg := h.Config
	cfg.Sources = h.sourceSpecs()
	return enrichers.New(cfg)
}

// withDefaults fills in the defaults of the settings left zero.
func (h *Handler) withDefaults() {
	if len(h.Paths) == 0 {
		h.Paths = []string{DefaultPath}
	}
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.OnError == "" {
		h.OnError = "pass"
	}
	for i := range h.Sources {
		if h.Sources[i].Timeout == 0 {
			h.Sources[i].Timeout = caddy.Duration(DefaultSourceTimeout)
		}
	}
}

// invalid is a configuration error at path.
func invalid(path, format string, args ...any) error {
	return &enrichers.ConfigError{Path: path, Err: fmt.Errorf(format, args...)}
}

// positions records where, in a Caddyfile, each part of a handler's
// configuration was written, by its path in JSON config ("rules[1]",
// "rules[1].fields[0]"), so that an error of compile names its line.
type positions map[string]string

// at records path as written at file:line.
func (p positions) at(path, file string, line int) { p[path] = fmt.Sprintf("%s:%d", file, line) }

// place adds to err the position of the longest recorded path that err's
// path lies in, as the Caddyfile adapter's own errors name theirs.
func (p positions) place(err error) error {
	var ce *enrichers.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	best, where := "", ""
	for path, pos := range p {
		inside := ce.Path == path || strings.HasPrefix(ce.Path, path+".") || strings.HasPrefix(ce.Path, path+"[")
		if inside && len(path) >= len(best) {
			best, where = path, pos
		}
	}
	if where == "" {
		return err
	}
	return fmt.Errorf("%w, at %s", err, where)
}
