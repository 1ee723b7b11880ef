package enrichers

import "strings"

// reservedFields are the members of RFC 6749 §5.1/§5.2 (and RFC 8693's
// issued_token_type, plus OpenID Connect's id_token) that this library never
// writes, whatever the configuration, the token's claims or a source say.
var reservedFields = [...]string{
	"access_token",
	"token_type",
	"expires_in",
	"refresh_token",
	"scope",
	"id_token",
	"issued_token_type",
	"error",
	"error_description",
	"error_uri",
}

// isReserved reports whether name is a standard OAuth 2.0 token response
// member, in any spelling a client would take for it. encoding/json, and so
// golang.org/x/oauth2, matches member names to struct fields
// case-insensitively with Unicode simple folding (`Access_Token`, and
// `acceſs_token` with U+017F) and keeps the last match; strings.EqualFold
// is that same folding. A name this reports must never be added or
// overwritten.
func isReserved(name string) bool {
	if !mayFoldToReserved(name) {
		return false
	}
	for _, r := range reservedFields {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// mayFoldToReserved is false for a name that cannot fold to a reserved
// name because of its first byte: the reserved names begin with a, t, e,
// r, s or i, and the only runes that fold to those are their upper cases
// and ſ (U+017F, a multibyte rune, like every non-ASCII one, which this
// leaves to EqualFold). A source object or a lifted claim can bring tens
// of thousands of names, and this spares most of them ten comparisons.
func mayFoldToReserved(name string) bool {
	if name == "" || name[0] >= 0x80 {
		return true
	}
	switch name[0] | 0x20 { // ASCII lower case
	case 'a', 't', 'e', 'r', 's', 'i':
		return true
	}
	return false
}
