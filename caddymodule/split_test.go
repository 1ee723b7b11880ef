package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

const splitBlock = `
	header >X-Slot {http.token.split.slot}
	token_enrich {
		split slot {http.token.client_id} {
			green 10
			blue  90
		}
		set api-uri https://{http.token.split.slot}.api.example.com
		rule acme {
			tenant org_acme
			split cohort {http.token.client_id} {
				a 50
				b 50
			}
			set cohort {http.token.split.cohort}
		}
		EXTRA
	}
	reverse_proxy {UPSTREAM}
`

// TestSplitThroughCaddy: every client gets one bucket, the same on every
// request and across a config reload; the bucket reaches the fields and
// other handlers; a split in a rule is assigned only to the rule's tokens.
func TestSplitThroughCaddy(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(200, auth0Body(r.Header.Get("X-Client"), r.Header.Get("X-Org")))(w, r)
	})
	port := testcaddy.FreePort(t)
	load := func(extra string) string {
		block := strings.ReplaceAll(strings.ReplaceAll(splitBlock, "{UPSTREAM}", up.addr), "EXTRA", extra)
		return testcaddy.LoadSite(t, port, block)
	}
	base := load("")
	buckets := func(org string) map[string]string {
		out := map[string]string{}
		for i := range 40 {
			client := fmt.Sprintf("client-%d", i)
			resp, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
				"X-Client", client, "X-Org", org)
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %v %s", client, err, body)
			}
			slot := resp.Header.Get("X-Slot")
			if (slot != "green" && slot != "blue") || got["api-uri"] != "https://"+slot+".api.example.com" {
				t.Fatalf("%s: X-Slot %q, api-uri %v", client, slot, got["api-uri"])
			}
			cohort, _ := got["cohort"].(string)
			if (org == "org_acme") != (cohort == "a" || cohort == "b") {
				t.Fatalf("%s of %s: cohort %q", client, org, cohort)
			}
			out[client] = slot + "/" + cohort
		}
		return out
	}
	first := buckets("org_acme")
	if again := buckets("org_acme"); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("buckets changed between requests:\n%v\n%v", first, again)
	}
	seen := map[string]bool{}
	for _, b := range first {
		seen[strings.Split(b, "/")[0]] = true
	}
	if !seen["green"] || !seen["blue"] {
		t.Fatalf("40 clients all in one bucket: %v", first)
	}
	_ = buckets("org_other")
	load("set reloaded yes")
	if after := buckets("org_acme"); fmt.Sprint(after) != fmt.Sprint(first) {
		t.Fatalf("buckets changed across a reload:\n%v\n%v", first, after)
	}
}

func TestSplitCaddyfile(t *testing.T) {
	cf := ":8080 {\n" + strings.ReplaceAll(strings.ReplaceAll(splitBlock, "{UPSTREAM}", "127.0.0.1:9"), "EXTRA", "") + "}\n"
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"splits":[{"buckets":[{"name":"green","weight":10},{"name":"blue","weight":90}],"key":"{http.token.client_id}","name":"slot"}]`,
		`"splits":[{"buckets":[{"name":"a","weight":50},{"name":"b","weight":50}],"key":"{http.token.client_id}","name":"cohort"}]`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s\n%s", want, out)
		}
	}
	for bad, want := range map[string]string{
		"split slot": "split: expected <name> <key>",
		"split slot {http.token.client_id} {\n\t\t\tgreen\n\t\t}":    "bucket green: expected a weight",
		"split slot {http.token.client_id} {\n\t\t\tgreen x\n\t\t}":  `weight "x" is not a number`,
		"split slot {http.token.client_id} {\n\t\t\tgreen -1\n\t\t}": `splits[0].buckets[0]: split slot: bucket "green": a bucket needs a name of its own and a positive weight, at Caddyfile:4`,
		"split slot {http.token.client_id}":                          "expected a block of <bucket> <weight> lines",
		"split slot {http.token.bogus} {\n\t\t\ta 1\n\t\t}":          "unknown placeholder",
	} {
		cf := ":8080 {\n\ttoken_enrich {\n\t\t" + bad + "\n\t}\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: %v, want %q with the file and line", bad, err, want)
		}
	}
}
