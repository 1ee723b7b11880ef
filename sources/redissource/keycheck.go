package redissource

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// CheckKey accepts a key that starts with the key template's literal
// start: the only keys Lookup reads, as the only keys whose change
// notifications the source hears.
func (s *Source) CheckKey(key string) error {
	if s.b == nil {
		return errors.New("redis source: not started")
	}
	if !strings.HasPrefix(key, s.b.prefix) {
		return fmt.Errorf("redis source: key %q must start with %q, the literal start of the key template (the only keys whose changes the source hears), e.g. %sdefault", sources.Truncate(key), s.b.prefix, s.b.prefix)
	}
	return nil
}

// Interface guard.
var _ sources.KeyChecker = (*Source)(nil)
