package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("token_enrich", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("token_enrich", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var handler Handler
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return &handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	token_enrich [<matcher>] {
//	    paths        <path...>
//	    introspection_paths <path...>
//	    max_body     <size>
//	    on_error     pass|fail
//	    overwrite
//	    dry_run
//	    preset       auto|generic|auth0|okta|entra|keycloak|cognito|hydra|rfc9068
//	    tenant_claim <claim...>
//	    client_claim <claim...>
//	    lift_claim   <claim>
//	    set          <field> <value>
//	    set_json     <field> <json>
//	    source <name> <module> [<args...>] {
//	        key     <template>
//	        timeout <duration>
//	        fields  all|none
//	        <the module's own subdirectives>
//	    }
//	    split <name> <key> {
//	        <bucket> <weight>
//	    }
//	    rule [<name>] {
//	        client     <pattern...>
//	        audience   <pattern...>
//	        tenant     <pattern...>
//	        issuer     <pattern...>
//	        grant_type <value...>
//	        scope      <scope...>
//	        claim      <name> <pattern...>
//	        set        <field> <value>
//	        set_json   <field> <json>
//	        source     <name> <module> ...
//	        split      <name> <key> { ... }
//	        match {
//	            <Caddy request matcher> <args...>
//	        }
//	    }
//	}
//
// paths defaults to /oauth/token and takes Caddy path matcher patterns.
// introspection_paths (none by default) takes the same patterns for RFC 7662
// introspection endpoints: only a response with "active": true is enriched,
// its members standing for the token's claims, and RFC 7662 members are
// never written to it.
// max_body (default 1MiB) is the largest upstream body buffered; larger ones
// pass through untouched. on_error pass (default) sends a response that
// cannot be enriched unchanged; fail answers 502 with a JSON error. overwrite
// lets configured fields replace non-reserved members the upstream sent.
// preset names the identity provider whose claim names to read (default
// auto: chosen per token from its issuer). tenant_claim and client_claim name
// the claims to read, first present wins; they replace the preset's lists.
// lift_claim copies every member of a JSON-object claim to the top level.
// set adds a string value (placeholders allowed; omitted when it renders
// empty); set_json adds a typed JSON value as one token (use backticks for
// objects). source looks up metadata with a source module (table, http, or a
// third party's) once the identity is known, by a key rendered from
// placeholders, at most for timeout (default 300ms); the members of what it
// finds are added where it stands (unless fields none) and are placeholders
// {http.token.source.<name>.<member>}. A rule's match block takes any Caddy
// request matchers (remote_ip, client_ip, header, query, expression, a third
// party's), written as in a named matcher; they are evaluated once the
// identity is known, so an expression can read {http.token.*}, and the rule
// applies only when they all match as well as its token conditions. Field names are literal. Patterns are globs: `*` matches any run
// of characters, `?` one character. Rules are checked in order; every matching
// rule applies and a later rule wins over an earlier one for the same field.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	d.Next() // consume directive name
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	pos := positions{}
	defer func() {
		if err != nil {
			return
		}
		// the one validation of the config, run now so that its errors
		// name their lines
		if _, err = h.compile(); err != nil {
			err = pos.place(err)
			return
		}
		warnIfAddsNothing(h, file, line)
	}()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "paths":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Paths = append(h.Paths, args...)
		case "introspection_paths":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.IntrospectionPaths = append(h.IntrospectionPaths, args...)
		case "max_body":
			if !d.NextArg() {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(d.Val())
			if err != nil {
				return d.Errf("max_body: %q is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB", d.Val())
			}
			if size == 0 || size > maxMaxBody {
				// the size as written, which compile cannot name
				return d.Errf("max_body: size %q out of range: give a size from 1B to 1TiB, e.g. 1MiB", d.Val())
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			h.MaxBody = int64(size)
		case "on_error":
			if !d.NextArg() {
				return d.ArgErr()
			}
			pos.at("on_error", d.File(), d.Line())
			h.OnError = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "overwrite":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Overwrite = true
		case "dry_run":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.DryRun = true
		case "preset":
			if !d.NextArg() {
				return d.ArgErr()
			}
			pos.at("preset", d.File(), d.Line())
			h.Preset = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		case "tenant_claim", "client_claim":
			dir := d.Val()
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if dir == "tenant_claim" {
				pos.at("tenant_claims", d.File(), d.Line())
				h.TenantClaims = append(h.TenantClaims, args...)
			} else {
				pos.at("client_claims", d.File(), d.Line())
				h.ClientClaims = append(h.ClientClaims, args...)
			}
		case "lift_claim":
			if !d.NextArg() {
				return d.ArgErr()
			}
			pos.at(fmt.Sprintf("lift_claims[%d]", len(h.LiftClaims)), d.File(), d.Line())
			h.LiftClaims = append(h.LiftClaims, d.Val())
			if d.NextArg() {
				return d.ArgErr()
			}
		case "set", "set_json":
			pos.at(fmt.Sprintf("fields[%d]", len(h.Fields)), d.File(), d.Line())
			f, err := parseField(d)
			if err != nil {
				return err
			}
			h.Fields = append(h.Fields, f)
		case "rule":
			r, err := parseRule(d, h, pos, fmt.Sprintf("rules[%d].", len(h.Rules)))
			if err != nil {
				return err
			}
			h.Rules = append(h.Rules, r)
		case "source":
			pos.at(fmt.Sprintf("fields[%d]", len(h.Fields)), d.File(), d.Line())
			f, err := parseSource(d, h, pos)
			if err != nil {
				return err
			}
			h.Fields = append(h.Fields, f)
		case "split":
			sp, err := parseSplit(d, pos, fmt.Sprintf("splits[%d]", len(h.Splits)))
			if err != nil {
				return err
			}
			h.Splits = append(h.Splits, sp)
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
	}
	return nil
}

// parseField parses `set <field> <value>` or `set_json <field> <json>`.
// The name, the placeholders and the JSON are checked by compile.
func parseField(d *caddyfile.Dispenser) (enrichers.FieldConfig, error) {
	dir := d.Val()
	args := d.RemainingArgs()
	if dir == "set_json" && len(args) > 2 {
		// the Caddyfile splits an unquoted JSON object at its spaces
		return enrichers.FieldConfig{}, d.Errf("set_json %s: expected one JSON value, got %d tokens: "+
			"wrap a JSON object or array in backticks, e.g. set_json limits `{\"rps\": 100}`", args[0], len(args)-1)
	}
	if len(args) != 2 {
		return enrichers.FieldConfig{}, d.Errf("%s: expected <field> <value>, got %d argument(s)", dir, len(args))
	}
	name, value := args[0], args[1]
	if dir == "set" {
		return enrichers.FieldConfig{Name: name, Value: value}, nil
	}
	// the adapted config holds the value compacted; one that is not JSON
	// is kept as written, for compile to refuse
	var compact bytes.Buffer
	if json.Compact(&compact, []byte(value)) == nil {
		value = compact.String()
	}
	return enrichers.FieldConfig{Name: name, JSONText: value}, nil
}

// parseRule parses a rule block, recording in pos where its parts stand
// under the path prefix at; the sources it places are declared in h.
func parseRule(d *caddyfile.Dispenser, h *Handler, pos positions, at string) (enrichers.RuleConfig, error) {
	var r enrichers.RuleConfig
	pos.at(strings.TrimSuffix(at, "."), d.File(), d.Line())
	if d.NextArg() {
		r.Name = d.Val()
		if d.NextArg() {
			return r, d.ArgErr()
		}
	}
	patterns := func(what string) ([]string, error) {
		pos.at(at+what, d.File(), d.Line())
		args := d.RemainingArgs()
		if len(args) == 0 {
			return nil, d.ArgErr()
		}
		return args, nil
	}
	sawBlock := false
	sawMatch := false
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sawBlock = true
		var err error
		var list []string
		switch sub := d.Val(); sub {
		case "client", "audience", "tenant", "issuer":
			if list, err = patterns(sub); err != nil {
				return r, err
			}
			switch sub {
			case "client":
				r.Client = append(r.Client, list...)
			case "audience":
				r.Audience = append(r.Audience, list...)
			case "tenant":
				r.Tenant = append(r.Tenant, list...)
			case "issuer":
				r.Issuer = append(r.Issuer, list...)
			}
		case "grant_type", "scope":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return r, d.ArgErr()
			}
			if sub == "grant_type" {
				r.GrantType = append(r.GrantType, args...)
			} else {
				r.Scope = append(r.Scope, args...)
			}
		case "claim":
			if !d.NextArg() {
				return r, d.ArgErr()
			}
			name := d.Val()
			if list, err = patterns(fmt.Sprintf("claims[%d]", len(r.Claims))); err != nil {
				return r, err
			}
			r.Claims = append(r.Claims, enrichers.ClaimCondition{Name: name, Values: list})
		case "set", "set_json":
			pos.at(fmt.Sprintf("%sfields[%d]", at, len(r.Fields)), d.File(), d.Line())
			f, err := parseField(d)
			if err != nil {
				return r, err
			}
			r.Fields = append(r.Fields, f)
		case "source":
			pos.at(fmt.Sprintf("%sfields[%d]", at, len(r.Fields)), d.File(), d.Line())
			f, err := parseSource(d, h, pos)
			if err != nil {
				return r, err
			}
			r.Fields = append(r.Fields, f)
		case "split":
			sp, err := parseSplit(d, pos, fmt.Sprintf("%ssplits[%d]", at, len(r.Splits)))
			if err != nil {
				return r, err
			}
			r.Splits = append(r.Splits, sp)
		case "match":
			if sawMatch {
				return r, d.Errf("rule %s: match: a rule takes one match block; put all its matchers in it", r.Name)
			}
			sawMatch = true
			if r.Match, err = parseRuleMatch(d, r.Name); err != nil {
				return r, err
			}
		default:
			return r, d.Errf("rule %s: unrecognized subdirective: %s", r.Name, d.Val())
		}
	}
	if !sawBlock {
		return r, d.Errf("rule %s: expected a block with conditions and set/set_json lines", strings.TrimSpace(r.Name))
	}
	return r, nil
}

// parseSplit parses `split <name> <key> { <bucket> <weight>... }`,
// recording in pos where it and its buckets stand, under the path at.
func parseSplit(d *caddyfile.Dispenser, pos positions, at string) (enrichers.SplitConfig, error) {
	var sp enrichers.SplitConfig
	pos.at(at, d.File(), d.Line())
	args := d.RemainingArgs()
	if len(args) != 2 {
		return sp, d.Errf("split: expected <name> <key>, e.g. split slot {http.token.client_id} { green 10; blue 90 }")
	}
	sp.Name, sp.Key = args[0], args[1]
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		bucket := d.Val()
		pos.at(fmt.Sprintf("%s.buckets[%d]", at, len(sp.Buckets)), d.File(), d.Line())
		if !d.NextArg() {
			return sp, d.Errf("split %s: bucket %s: expected a weight", sp.Name, bucket)
		}
		w, err := strconv.ParseFloat(d.Val(), 64)
		if err != nil {
			return sp, d.Errf("split %s: bucket %s: weight %q is not a number", sp.Name, bucket, d.Val())
		}
		if d.NextArg() {
			return sp, d.ArgErr()
		}
		sp.Buckets = append(sp.Buckets, enrichers.Bucket{Name: bucket, Weight: w})
	}
	if len(sp.Buckets) == 0 {
		return sp, d.Errf("split %s: expected a block of <bucket> <weight> lines", sp.Name)
	}
	return sp, nil
}

// parseRuleMatch parses a rule's `match { <matcher> <args...> ... }` block
// the way Caddy parses a named matcher, into the JSON of a matcher set
// (http.matchers modules by name). Its errors name their line.
func parseRuleMatch(d *caddyfile.Dispenser, rule string) (json.RawMessage, error) {
	file, line := d.File(), d.Line()
	seg := d.NextSegment()
	// Caddy names the end of the block when a matcher is unknown: name the
	// matcher's own line instead
	md := caddyfile.NewDispenser(seg)
	md.Next()
	for nesting := md.Nesting(); md.NextArg() || md.NextBlock(nesting); {
		if !md.Token().Quoted() {
			if _, err := caddy.GetModule("http.matchers." + md.Val()); err != nil {
				return nil, md.Errf("rule %s: match: unknown Caddy request matcher %q (a module of http.matchers)", rule, md.Val())
			}
		}
		md.NextSegment()
	}
	md = caddyfile.NewDispenser(seg)
	md.Next()
	set, err := caddyhttp.ParseCaddyfileNestedMatcherSet(md)
	if err != nil {
		if strings.Contains(err.Error(), ", at "+file) {
			// a matcher's own error, which names its line
			return nil, fmt.Errorf("rule %s: match: %w", rule, err)
		}
		return nil, fmt.Errorf("rule %s: match: %w, at %s:%d", rule, err, file, line)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("rule %s: match: no matcher in the block, at %s:%d", rule, file, line)
	}
	return json.Marshal(set)
}

// parseSource parses `source <name> <module> [<args...>] [{ ... }]`: the
// handler's own subdirectives (key, timeout, fields) are read here, the
// module's arguments and other subdirectives go to the module's
// UnmarshalCaddyfile, so its errors name their lines too. It declares the
// source in h and returns the field that places it.
func parseSource(d *caddyfile.Dispenser, h *Handler, pos positions) (enrichers.FieldConfig, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return enrichers.FieldConfig{}, d.Errf("source: expected <name> <module> [<args...>], e.g. source tenants table /etc/caddy/tenants.json")
	}
	name, module := args[0], args[1]
	at := fmt.Sprintf("sources[%d]", len(h.Sources))
	pos.at(at, d.File(), d.Line())
	sc := SourceConfig{Name: name}
	start := d.Token()
	tokens := []caddyfile.Token{{File: start.File, Line: start.Line, Text: module}}
	for _, a := range args[2:] {
		tokens = append(tokens, caddyfile.Token{File: start.File, Line: start.Line, Text: a})
	}
	var block []caddyfile.Token
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key":
			if !d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
			pos.at(at+".key", d.File(), d.Line())
			sc.Key = d.Val()
			if d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
		case "timeout":
			if !d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
			pos.at(at+".timeout", d.File(), d.Line())
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return enrichers.FieldConfig{}, d.Errf("source %s: timeout: %q is not a duration, e.g. 300ms", name, d.Val())
			}
			sc.Timeout = caddy.Duration(dur)
			if d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
		case "default":
			if !d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
			pos.at(at+".default", d.File(), d.Line())
			sc.Default = d.Val()
			if d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
		case "fields":
			pos.at(at+".fields", d.File(), d.Line())
			if !d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
			sc.Fields = d.Val()
			if d.NextArg() {
				return enrichers.FieldConfig{}, d.ArgErr()
			}
		default:
			block = append(block, d.NextSegment()...)
		}
	}
	if len(block) > 0 {
		tokens = append(tokens, caddyfile.Token{File: start.File, Line: start.Line, Text: "{"})
		tokens = append(tokens, block...)
		// on a line of its own, or the module would read it as an argument
		last := block[len(block)-1]
		tokens = append(tokens, caddyfile.Token{File: start.File, Line: last.Line + last.NumLineBreaks() + 1, Text: "}"})
	}
	// UnmarshalModule reads the segment at the cursor: the module's name
	md := caddyfile.NewDispenser(tokens)
	md.Next()
	mod, err := caddyfile.UnmarshalModule(md, sources.Namespace+"."+module)
	if err != nil {
		return enrichers.FieldConfig{}, err
	}
	var warnings []caddyconfig.Warning
	sc.LookupRaw = caddyconfig.JSONModuleObject(mod, "source", module, &warnings)
	h.Sources = append(h.Sources, sc)
	return enrichers.FieldConfig{Source: name}, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
