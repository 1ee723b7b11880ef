package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
)

// CheckObject returns nil when b is one UTF-8 JSON object nested at most
// enrichers.MaxDepth deep, and an error wrapping ErrNotObject otherwise. The
// depth is counted first, without recursion, so that no input can exhaust
// the stack of a recursive reader later. Sources that read objects from an
// origin check them with it before handing them to the engine.
func CheckObject(b []byte) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return ErrNotObject
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not valid UTF-8", ErrNotObject)
	}
	if enrichers.DeeperThan(b, enrichers.MaxDepth) >= 0 {
		return fmt.Errorf("%w: nests deeper than %d levels", ErrNotObject, enrichers.MaxDepth)
	}
	if !json.Valid(b) {
		return fmt.Errorf("%w: not valid JSON", ErrNotObject)
	}
	return nil
}
