package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// claimsUpstream answers every token request with an access token whose
// azp and plan claims are the request's X-Client and X-Plan headers (a
// claim is left out when its header is absent).
func claimsUpstream(t *testing.T) *upstream {
	t.Helper()
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		claims := map[string]any{"azp": r.Header.Get("X-Client"), "org_id": "org_acme"}
		if p := r.Header.Get("X-Plan"); p != "" {
			claims["plan"] = p
		}
		tok := testjwt.Claims(t, claims)
		serveJSON(200, `{"access_token":"`+tok+`","token_type":"Bearer"}`)(w, r)
	})
}

// postToken sends a token request with the given headers (name, value
// pairs) and returns the decoded response.
func postToken(t *testing.T, url string, hdr ...string) map[string]any {
	t.Helper()
	resp, body := testhttp.Post(t, url+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", hdr...)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got["access_token"] == nil {
		t.Fatalf("%v: status %d, %v, %s", hdr, resp.StatusCode, err, body)
	}
	return got
}

// checkFields asserts that each named member is present with the given
// value, or absent when the value is "".
func checkFields(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		g, present := got[k]
		if v == "" && present {
			t.Errorf("%s: %s = %v, want it absent", what, k, g)
		}
		if v != "" && g != v {
			t.Errorf("%s: %s = %v, want %q", what, k, g, v)
		}
	}
}

// TestRuleMatchRequestMatchers: a rule's match block holds Caddy request
// matchers; the rule applies exactly when its token conditions and every
// matcher of the set hold. The test client connects from 127.0.0.1, so
// remote_ip 127.0.0.0/8 matches and 10.0.0.0/8 does not; an expression
// reads a token claim through {http.token.claims.plan}, which it can only
// do because the set is evaluated after the identity is published.
func TestRuleMatchRequestMatchers(t *testing.T) {
	base := startCaddy(t, `
	token_enrich {
		set always yes
		rule internal {
			client svc-*
			match {
				remote_ip 127.0.0.0/8
				header X-Region eu-*
			}
			set network internal
		}
		rule private {
			match {
				remote_ip 10.0.0.0/8
			}
			set network private
		}
		rule premium {
			match {
				expression {http.token.claims.plan} in ["gold", "platinum"]
			}
			set tier premium
		}
		rule eu-gold {
			claim plan gold
			match `+"`{http.request.header.X-Region}.startsWith(\"eu-\")`"+`
			set slot green
		}
	}
	reverse_proxy {UPSTREAM}
`, claimsUpstream(t))
	cases := []struct {
		name string
		hdr  []string
		want map[string]string
	}{
		{"all hold", []string{"X-Client", "svc-eu", "X-Region", "eu-west", "X-Plan", "gold"},
			map[string]string{"always": "yes", "network": "internal", "tier": "premium", "slot": "green"}},
		// eu-gold's claim condition holds, its matcher does not
		{"header does not match", []string{"X-Client", "svc-eu", "X-Region", "us-east", "X-Plan", "gold"},
			map[string]string{"always": "yes", "network": "", "tier": "premium", "slot": ""}},
		{"no header", []string{"X-Client", "svc-eu", "X-Plan", "silver"},
			map[string]string{"always": "yes", "network": "", "tier": "", "slot": ""}},
		// the matchers hold, the rule's client condition does not
		{"token condition fails", []string{"X-Client", "web-app", "X-Region", "eu-west", "X-Plan", "platinum"},
			map[string]string{"always": "yes", "network": "", "tier": "premium", "slot": ""}},
		// the expression holds, the rule's claim condition does not
		{"claim condition fails", []string{"X-Client", "svc-eu", "X-Region", "eu-north", "X-Plan", "platinum"},
			map[string]string{"network": "internal", "tier": "premium", "slot": ""}},
		{"no plan claim", []string{"X-Client", "svc-eu", "X-Region", "eu-west"},
			map[string]string{"network": "internal", "tier": "", "slot": ""}},
	}
	for _, c := range cases {
		checkFields(t, c.name, postToken(t, base, c.hdr...), c.want)
	}
}

// TestRuleMatchGeographyFromTrustedProxy: the region from the client's
// network behind a proxy. client_ip reads the client's address from
// X-Forwarded-For only when the connection comes from a trusted proxy
// (the servers' trusted_proxies); remote_ip always reads the connection's
// own address. Without trusted_proxies, a client cannot choose its region
// by sending the header.
func TestRuleMatchGeographyFromTrustedProxy(t *testing.T) {
	up := claimsUpstream(t)
	block := strings.ReplaceAll(`
	token_enrich {
		rule apac {
			match {
				client_ip 203.0.113.0/24
			}
			set region apac
		}
		rule eu {
			match {
				client_ip 198.51.100.0/24
			}
			set region eu
		}
		rule by-connection {
			match {
				remote_ip 203.0.113.0/24
			}
			set connection apac
		}
	}
	reverse_proxy {UPSTREAM}
`, "{UPSTREAM}", up.addr)
	urls := startSites(t, hsGlobal+"\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}", block)
	for xff, region := range map[string]string{
		"203.0.113.7":   "apac",
		"198.51.100.20": "eu",
		"192.0.2.1":     "",
		"":              "",
	} {
		hdr := []string{"X-Client", "svc-eu"}
		if xff != "" {
			hdr = append(hdr, "X-Forwarded-For", xff)
		}
		checkFields(t, "trusted proxy, X-Forwarded-For "+xff, postToken(t, urls[0], hdr...), map[string]string{"region": region, "connection": ""})
	}

	urls = startSites(t, hsGlobal, block)
	got := postToken(t, urls[0], "X-Client", "svc-eu", "X-Forwarded-For", "203.0.113.7")
	checkFields(t, "untrusted X-Forwarded-For", got, map[string]string{"region": "", "connection": ""})
}

// TestRuleMatchGeographyFromCDNHeader: the region from a header that a
// CDN in front sets, here Cloudflare's CF-IPCountry: header_regexp for a
// list of countries, header lines for the same field (any of them).
func TestRuleMatchGeographyFromCDNHeader(t *testing.T) {
	base := startCaddy(t, `
	token_enrich {
		rule dach {
			match {
				header_regexp CF-IPCountry ^(DE|AT|CH)$
			}
			set region dach
		}
		rule nordics {
			match {
				header CF-IPCountry SE
				header CF-IPCountry NO
				header CF-IPCountry DK
			}
			set region nordics
		}
	}
	reverse_proxy {UPSTREAM}
`, claimsUpstream(t))
	for country, region := range map[string]string{"DE": "dach", "AT": "dach", "CH": "dach", "NO": "nordics", "DK": "nordics", "FR": "", "DEU": "", "": ""} {
		hdr := []string{"X-Client", "svc-eu"}
		if country != "" {
			hdr = append(hdr, "CF-IPCountry", country)
		}
		checkFields(t, "CF-IPCountry "+country, postToken(t, base, hdr...), map[string]string{"region": region})
	}
}

// TestRuleMatchJSONConfig: in JSON, a rule's match is a matcher set as in
// a route's match: matcher module names and their configurations. Errors
// loading it name the rule.
func TestRuleMatchJSONConfig(t *testing.T) {
	startCaddy(t, "respond ok", nil) // make sure the in-process Caddy runs
	port := testcaddy.FreePort(t)
	ok := `{"handler":"token_enrich","paths":["/token"],"rules":[
		{"fields":[{"name":"x","value":"y"}]},
		{"match":{"remote_ip":{"ranges":["127.0.0.0/8"]},"header":{"X-Region":["eu-*"]}},"fields":[{"name":"region","value":"eu"}]}]}`
	if code, body := testcaddy.PostLoad(t, "application/json", jsonConfig(port, ok)); code != 200 {
		t.Fatalf("valid JSON config refused: %d %s", code, body)
	}
	for hdr, want := range map[string]string{"eu-west": "eu", "us-east": ""} {
		resp, body := testhttp.Post(t, fmt.Sprintf("http://127.0.0.1:%d/token", port), "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Region", hdr)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v %s", resp.StatusCode, err, body)
		}
		checkFields(t, "X-Region "+hdr, got, map[string]string{"x": "y", "region": want})
	}
	bad := map[string]string{
		`{"handler":"token_enrich","rules":[{"fields":[{"name":"x","value":"y"}]},{"match":{"bogus":{}},"fields":[{"name":"x","value":"y"}]}]}`: `rules[1].match: `,
		`{"handler":"token_enrich","rules":[{"match":{"remote_ip":{"ranges":["not-a-range"]}},"fields":[{"name":"x","value":"y"}]}]}`:           `rules[0].match: `,
		`{"handler":"token_enrich","rules":[{"match":{"expression":"{http.token.claims.plan} in"},"fields":[{"name":"x","value":"y"}]}]}`:       `rules[0].match: `,
		`{"handler":"token_enrich","rules":[{"match":["remote_ip"],"fields":[{"name":"x","value":"y"}]}]}`:                                      `rules[0].match: expected an object of matchers by name`,
	}
	for h, want := range bad {
		code, body := testcaddy.PostLoad(t, "application/json", jsonConfig(port, h))
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("config %s\nstatus %d body %s\nwant it to contain %s", h, code, body, want)
		}
	}
}

// TestRuleMatchAdapts: `caddy adapt` shows a rule's match block as the
// matcher set of the JSON config, which loads and behaves the same.
func TestRuleMatchAdapts(t *testing.T) {
	src := "http://127.0.0.1:8080 {\n\ttoken_enrich {\n\t\trule internal {\n\t\t\tmatch {\n\t\t\t\tremote_ip 10.0.0.0/8\n\t\t\t\theader X-Region eu-*\n\t\t\t}\n\t\t\tset api-uri https://internal.api.example.com\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:8081\n}\n"
	out, warnings, err := testcaddy.AdaptCaddyfile([]byte(src), "Caddyfile")
	if err != nil || len(warnings) != 0 {
		t.Fatalf("adapt: %v, warnings %q", err, warnings)
	}
	want := `"rules":[{"fields":[{"name":"api-uri","value":"https://internal.api.example.com"}],"match":{"header":{"X-Region":["eu-*"]},"remote_ip":{"ranges":["10.0.0.0/8"]}},"name":"internal"}]`
	if !strings.Contains(string(out), want) {
		t.Fatalf("adapted config\n%s\nwant it to contain\n%s", out, want)
	}
}
