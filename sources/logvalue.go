package sources

import (
	"strconv"
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
