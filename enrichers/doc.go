// Package enrichers is the engine behind the token_enrich Caddy handler. It is a
// small, dependency-light library with no Caddy import: it learns who an OAuth 2.0
// token response is for (from the access token's JWT claims and from the token
// request), decides which fields to add (rules, patterns, value templates) and
// splices them into the response JSON without disturbing a single upstream byte.
//
// The pieces, one file each:
//
//   - reserved.go: the standard OAuth 2.0 response members that are never written.
//   - jsonscan.go: the one-pass JSON object validator and member scanner.
//   - claims.go: numbered claim names and the per-token index of where they are.
//   - form.go: allocation-free form and media-type parsing for token requests.
//   - preset.go, grant.go: per-IdP claim mappings, issuer detection, grant names.
//   - glob.go: compiled `*`/`?` patterns used by rules.
//   - jwt.go: decoding of a JWS compact access token's payload (no verification).
//   - request.go: the identity-relevant parameters of a token request.
//   - identity.go: who a token is for, merged from claims and request.
//   - template.go: field values with {placeholders}.
//   - field.go: a field to add and its pre-encoded JSON.
//   - rule.go: conditions that select fields for a token.
//   - enricher.go: the compiled configuration and the Enrich entry point.
//   - splice.go: the single-pass JSON splice.
//   - encoding.go: bounded decoding of compressed upstream bodies.
package enrichers
