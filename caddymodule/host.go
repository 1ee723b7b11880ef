package caddymodule

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// The exchange is the engine's Host: it answers what only Caddy can, for
// the one request it belongs to.
var _ enrichers.Host = (*exchange)(nil)

// Publish makes the identity the {http.token.*} placeholders' values.
func (x *exchange) Publish(r *enrichers.Response) {
	x.kept.resp = r
	// an introspection request's client is the resource server asking,
	// which differs from the token's as a rule
	if id := &r.Identity; !x.introspection && id.RequestClientID != "" && id.ClientID != id.RequestClientID {
		x.h.debug("client id in token differs from request; using the token's",
			sources.LogString("token_client", id.ClientID), sources.LogString("request_client", id.RequestClientID))
	}
}

// MatchRule evaluates rule i's matcher set on the request. A matcher that
// fails leaves its rule out.
func (x *exchange) MatchRule(i int) bool {
	set := x.h.ruleMatchers[i]
	if set == nil {
		return false
	}
	ok, err := set.MatchWithError(x.r)
	if err != nil {
		x.h.debug("rule matcher failed; the rule does not apply",
			zap.Int("rule", i), zap.String("name", x.h.Rules[i].Name), zap.Error(err))
		return false
	}
	return ok
}

// Resolve resolves a placeholder through the request's replacer.
func (x *exchange) Resolve(key string) (string, bool) {
	if x.repl == nil {
		return "", false
	}
	return x.repl.GetString(key)
}

// LookUp runs the named sources, all at once, each bounded by its timeout
// and by the request's context. It returns when the last has answered or
// given up: never later than the longest timeout. A lookup that does not
// return in time is abandoned: its goroutine finishes on its own, and its
// answer is dropped.
func (x *exchange) LookUp(names []string) []enrichers.Found {
	type pending struct {
		s      *SourceConfig
		ctx    context.Context
		cancel context.CancelFunc
		done   chan lookupAnswer
	}
	found := make([]enrichers.Found, 0, len(names))
	started := make([]pending, 0, len(names))
	for _, name := range names {
		s := x.h.sources[name]
		key, ok := s.key(x.repl)
		if !ok {
			countLookup(name, "miss")
			found = append(found, enrichers.Found{Source: name, State: "not looked up: its key renders empty"})
			continue
		}
		p := pending{s: s, done: make(chan lookupAnswer, 1)}
		p.ctx, p.cancel = context.WithTimeout(x.r.Context(), time.Duration(s.Timeout))
		go func() {
			res, err := s.source.Lookup(p.ctx, key)
			defaulted := false
			if err == nil && res.Object == nil && s.Default != "" && key != s.Default && p.ctx.Err() == nil {
				// a miss: the default entry stands for the key, found
				// within what is left of the same timeout
				countLookup(s.Name, "miss")
				defaulted = true
				res, err = s.source.Lookup(p.ctx, s.Default)
			}
			if err == nil && p.ctx.Err() != nil {
				// answered after its timeout (a source that ignores its
				// context): dropped like a timeout, whenever the answer
				// is looked at, so that no work is done on it
				res, err = sources.Result{}, p.ctx.Err()
			}
			p.done <- lookupAnswer{res: res, err: err, defaulted: defaulted}
		}()
		started = append(started, p)
	}
	for _, p := range started {
		var a lookupAnswer
		select {
		case a = <-p.done:
		case <-p.ctx.Done():
			// an answer here too came in time (a late one carries the
			// error): a slower source was waited for first
			select {
			case a = <-p.done:
			default:
				a.err = p.ctx.Err()
			}
		}
		p.cancel()
		object, state := x.h.judge(p.s, a)
		found = append(found, enrichers.Found{Source: p.s.Name, Object: object, State: state})
	}
	return found
}

// lookupAnswer is what a source's Lookup returned.
type lookupAnswer struct {
	res sources.Result
	err error
	// defaulted: the key was a miss, and res and err are the default
	// entry's lookup
	defaulted bool
}

// viaDefault is the note a state carries when the object is the default
// entry's.
func (a lookupAnswer) viaDefault() string {
	if a.defaulted {
		return ": the default entry, nothing stored for the key"
	}
	return ""
}
