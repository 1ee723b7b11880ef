// Package enrichers is the engine behind the token_enrich Caddy handler. It
// has no Caddy import. One call, Enricher.Run (run.go), runs the whole
// pipeline in its one order, and the caller's Host answers what only the
// caller can (publishing the identity, a rule's request matchers, the
// sources' lookups, other placeholders). The files, in the order data
// flows:
//
//   - run.go: Run, Input, Host and Result: the pipeline in one function.
//   - read.go, jsonread.go, json.go: reading the body in one pass that
//     checks it, bounds its nesting depth and lists its members where
//     they lie, copying nothing of it; fold.go,
//     reserved.go: the standard members, which are never written and which
//     make a body ambiguous when sent twice.
//   - request.go: the identity-relevant parameters of the token request.
//   - jwt.go: the access token's payload (decoded, not verified).
//   - preset.go, identity.go: the table of identity providers, and who a
//     token is for, from its claims and the request.
//   - introspection.go: an RFC 7662 response read as the token's claims.
//   - rule.go, glob.go, grant.go: the rules and their conditions, matched
//     once per response.
//   - source.go: which sources a response needs, and what they found.
//   - split.go: the splits' sticky, weighted buckets.
//   - render.go, plan.go, field.go, template.go: the fields one response
//     gets, their values with placeholders.
//   - splice.go: writing them into the body without disturbing an
//     upstream byte.
//   - explain.go: what Run did, recorded as it does it (Input.Explain).
//   - enricher.go: Config, compiled and validated once by New.
//
// gjson reads claim values and paths. The one hand-written reader,
// scanJSON in jsonread.go, does what gjson does slowly or cannot: it checks
// a body or a token payload and lists its members in one walk, where gjson
// walks every string twice, and it counts levels iteratively, where gjson
// validates recursively, one stack frame per nesting level, so that a body
// of a million `[` would exhaust the goroutine stack and kill the process.
// Everything nested deeper than MaxDepth is refused before gjson sees it.
// splice stays hand-written because sjson reads `.`, `:` and `*` in member
// names as path syntax, where names here are literal.
package enrichers
