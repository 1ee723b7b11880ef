package httpsource

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the source from the tokens the handler hands
// it: the module name, the URL and the source's own subdirectives.
//
// Syntax:
//
//	http <url> {
//	    cache_ttl     <duration>
//	    max_stale     <duration>
//	    negative_ttl  <duration>
//	    cache_size    <entries>
//	    cache_bytes   <size>
//	    max_size      <size>
//	    fetch_timeout <duration>
//	    header        <name> <value>
//	    basic_auth    <username> <password>
//	    oauth2 {
//	        token_url      <url>
//	        client_id      <id>
//	        client_secret  <secret>
//	        scopes         <scope...>
//	        endpoint_param <name> <value...>
//	    }
//	}
//
// header may be repeated; a repeated name takes the last value. basic_auth,
// oauth2 and an Authorization header exclude each other. Values of header,
// basic_auth and oauth2 may hold {env.*} and {file.*} placeholders, rendered
// when the config loads; the URL's placeholders are rendered per request.
func (s *Source) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if !d.NextArg() {
		return d.Errf("http source: missing URL")
	}
	s.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("header: want <name> <value>, got %d arguments", len(args))
			}
			if s.Headers == nil {
				s.Headers = map[string]string{}
			}
			s.Headers[args[0]] = args[1]
		case "basic_auth":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("basic_auth: want <username> <password>, got %d arguments", len(args))
			}
			s.BasicAuth = &BasicAuth{Username: args[0], Password: args[1]}
		case "oauth2":
			if d.NextArg() {
				return d.ArgErr()
			}
			if s.OAuth2 == nil {
				s.OAuth2 = new(OAuth2)
			}
			if err := s.OAuth2.unmarshal(d); err != nil {
				return err
			}
		default:
			if ok, err := s.UnmarshalSubdirective(d); ok {
				if err != nil {
					return err
				}
				continue
			}
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
	}
	return nil
}

func (o *OAuth2) unmarshal(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		args := d.RemainingArgs()
		switch name {
		case "token_url", "client_id", "client_secret":
			if len(args) != 1 {
				return d.Errf("oauth2 %s: want one value, got %d", name, len(args))
			}
			switch name {
			case "token_url":
				o.TokenURL = args[0]
			case "client_id":
				o.ClientID = args[0]
			default:
				o.ClientSecret = args[0]
			}
		case "scopes":
			if len(args) == 0 {
				return d.Errf("oauth2 scopes: want at least one scope")
			}
			o.Scopes = append(o.Scopes, args...)
		case "endpoint_param":
			if len(args) < 2 {
				return d.Errf("oauth2 endpoint_param: want <name> <value...>")
			}
			if o.EndpointParams == nil {
				o.EndpointParams = map[string][]string{}
			}
			o.EndpointParams[args[0]] = append(o.EndpointParams[args[0]], args[1:]...)
		default:
			return d.Errf("unrecognized oauth2 subdirective: %s", name)
		}
	}
	return nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Source)(nil)
