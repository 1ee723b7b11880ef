package caddymodule_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
)

// TestClientInputWarnings: loading a configuration warns, once each, of a
// split keyed on client-controlled request input (a header, a query
// parameter) and of a rule whose only condition is a matcher on it, naming
// the split or rule and the input; splits keyed on the token and rules
// with a token condition or a matcher on the connection are not warned of.
func TestClientInputWarnings(t *testing.T) {
	const src = `http://localhost:9080 {
	token_enrich {
		split slot {header.X-Slot} {
			a 1
			b 1
		}
		split fair {http.token.client_id} {
			a 1
			b 1
		}
		rule beta {
			match {
				header X-Beta 1
			}
			set beta on
		}
		rule gold {
			client svc-gold
			match {
				header X-Beta 1
			}
			set gold on
		}
		rule internal {
			match {
				remote_ip 10.0.0.0/8
			}
			set internal yes
		}
		rule shop {
			tenant org_*
			split bucket {query.b} {
				x 1
				y 1
			}
			set shop yes
		}
		rule region {
			match ` + "`{http.request.header.X-Region}.startsWith(\"eu-\")`" + `
			set region eu
		}
		rule mixed {
			match ` + "`{http.request.header.X-Region} == \"eu\" && {http.token.tenant} == \"acme\"`" + `
			set region eu
		}
		rule {
			match {
				query tier=gold
				vars {http.request.cookie.tier} gold
			}
			set tier gold
		}
	}
	reverse_proxy 127.0.0.1:9
}
`
	cfg, _, err := testcaddy.AdaptCaddyfile([]byte(src), "Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	warnings, err := testcaddy.ValidateWarnings(t, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		if strings.Contains(w, "client-controlled") {
			got = append(got, w)
		}
	}
	want := []string{
		"split slot is keyed on client-controlled request input {http.request.header.X-Slot}",
		"split bucket of rule shop is keyed on client-controlled request input {http.request.uri.query.b}",
		"rule beta matches on client-controlled request input only (header X-Beta)",
		"rule #7 matches on client-controlled request input only (query tier, vars {http.request.cookie.tier})",
		"rule region matches on client-controlled request input only (expression {http.request.header.X-Region})",
	}
	if len(got) != len(want) {
		t.Fatalf("%d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("no warning %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
