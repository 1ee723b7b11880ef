package httpsource

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Origin is the host and port of the URL template, without its user info;
// ok is false when the host holds a placeholder, so that it is known only
// per request.
func (s *Source) Origin() (string, bool) {
	host := s.tmpl.host
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" || strings.ContainsAny(host, `{\`) {
		return "", false
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "80"
		if strings.EqualFold(s.tmpl.scheme, "https://") {
			port = "443"
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	return host, true
}

// Probe resolves the origin's host and opens a TCP connection to it, then
// closes it. It sends no request, so no credentials and no URL leave the
// process: it checks that the service can be reached, not what it answers.
func (s *Source) Probe(ctx context.Context) error {
	origin, ok := s.Origin()
	if !ok {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", origin)
	if err != nil {
		return fmt.Errorf("http source: connecting to %s: %w", origin, err)
	}
	return conn.Close()
}

// Interface guard.
var _ sources.Prober = (*Source)(nil)
