package sources

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
)

// MaxLogValue is the most bytes of one value that a log line or an error
// carries when the value can come from a token, a key, a URL or a source's
// answer: a claim or a stored value of megabytes must not make a log line
// of megabytes.
const MaxLogValue = 256

// Truncate returns s cut to at most MaxLogValue bytes, on a UTF-8 boundary,
// followed by "…(N bytes)" with N the length of s, when s is longer. It is
// the one way the sources, and the handler's source logging, shorten such
// values.
func Truncate(s string) string {
	if len(s) <= MaxLogValue {
		return s
	}
	cut := MaxLogValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// LogString is zap.String with the value shortened by Truncate.
func LogString(key, value string) zap.Field {
	return zap.String(key, Truncate(value))
}

// LogError is zap.Error with the error's message shortened by Truncate:
// errors from the sources name keys and URLs.
func LogError(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("error", Truncate(err.Error()))
}

// LiteralSecret reports whether a configured secret is written as text
// rather than as a placeholder rendered at load ({env.*}, {file.*}). A
// literal secret is part of the config, and Caddy shows the config: in
// GET /config/ on its admin endpoint, and in its debug log of the loaded
// config. A Caddyfile's {$VAR} is replaced when the Caddyfile is adapted,
// so it is literal in the config too.
func LiteralSecret(v string) bool {
	return v != "" && !strings.Contains(v, "{env.") && !strings.Contains(v, "{file.")
}
