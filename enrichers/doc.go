// Package enrichers is the engine behind the token_enrich Caddy handler. It
// has no Caddy import. It works in stages, one file each, in the order data
// flows:
//
//   - jsonread.go, json.go: reading a JSON object in one pass that checks
//     it, bounds its nesting depth and lists its members (see below).
//   - request.go: the identity-relevant parameters of a token request.
//   - jwt.go: the access token's payload (decoded, not verified).
//   - preset.go: the table of identity providers: where each names the
//     client, tenant, scopes and audiences, and how auto recognises it.
//   - identity.go: who a token is for, from its claims and the request.
//   - enricher.go: Read (validate, identify) and Render (plan, render,
//     splice), with Enrich running both at once.
//   - template.go, field.go, rule.go, glob.go: field values with
//     placeholders, fields, rules and their patterns, compiled by New.
//   - plan.go, splice.go: the fields one response gets, and writing them
//     into the body without disturbing an upstream byte.
//   - reserved.go: the standard members never written, in any spelling a
//     client would take for them.
//   - encoding.go: bounded decoding of compressed upstream bodies.
//
// Between Read and Render the caller may publish the identity and compute
// values from it (the Caddy handler sets its {http.token.*} placeholders
// there, so that Caddy's map and vars can feed the fields).
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
