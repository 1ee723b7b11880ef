package caddymodule

import "github.com/caddy-token-enrich/caddy-token-enrich/enrichers"

// ambiguityReason says why a response the engine found ambiguous is passed
// on unchanged: a token request that names two clients, or else a standard
// member the body has twice. The request is parsed again: the case is
// rare, and the parse of the usual path keeps no reason for it.
func (x *exchange) ambiguityReason() string {
	if !x.introspection {
		treq := enrichers.ParseTokenRequest(x.paramsType, x.params, x.basicUser)
		if treq.ClientIDConflict != "" {
			return "the token request names two clients (" + treq.ClientIDConflict +
				"); the identity provider may have authenticated either"
		}
	}
	return "a standard member appears twice; clients would disagree on which to read"
}
