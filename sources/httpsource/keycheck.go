package httpsource

import (
	"fmt"
	"strings"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// CheckKey accepts a URL that starts like the URL template: the only keys
// Lookup fetches, so that the credentials go to the configured service.
func (s *Source) CheckKey(key string) error {
	if !strings.HasPrefix(key, s.tmpl.prefix) {
		return fmt.Errorf("http source: %q is not a URL of this source: it must start with %q, the URL template's literal part", redact(key), redact(s.tmpl.prefix))
	}
	return nil
}

// Interface guard.
var _ sources.KeyChecker = (*Source)(nil)
