package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// TestSourceKeysNeedEveryPlaceholder: a key is looked up only when every
// placeholder in it renders non-empty, whatever literal text surrounds
// them: a tenant withheld for a control character does not get the "*"
// entry of a table keyed "t-{tenant}", and an empty request header does not
// read the key "tenant:". Values are escaped so that a composite key reads
// one tuple of values only.
func TestSourceKeysNeedEveryPlaceholder(t *testing.T) {
	file := t.TempDir() + "/tenants.json"
	if err := os.WriteFile(file, []byte(`{"t-org_acme":{"plan":"gold"},"*":{"plan":"default"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		client, org := "svc", r.Header.Get("X-Org")
		switch org {
		case "ctl":
			org = "org\x01acme"
		case "split":
			client, org = "billing:svc", "acme"
		}
		serveJSON(200, auth0Body(client, org))(w, r)
	})
	base := startCaddy(t, `
	token_enrich {
		source tenants table `+file+` {
			key t-{http.token.tenant}
		}
		source redisish mem {
			key tenant:{http.request.header.X-Tenant}
			entry tenant: `+"`"+`{"empty_key":"read"}`+"`"+`
		}
		source pairs mem {
			key {http.token.tenant}:{http.token.client_id}
			entry acme:billing:svc `+"`"+`{"pair":"acme:billing + svc"}`+"`"+`
		}
	}
	reverse_proxy {UPSTREAM}
`, up)
	get := func(org string) map[string]any {
		t.Helper()
		_, body := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials", "X-Org", org)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %s", err, body)
		}
		return got
	}
	if got := get("org_acme"); got["plan"] != "gold" {
		t.Fatalf("a tenant's entry: %v", got)
	}
	if got := get("org_other"); got["plan"] != "default" {
		t.Fatalf("the default entry for a tenant the table lacks: %v", got)
	}
	if got := get("org_acme"); got["empty_key"] != nil {
		t.Errorf("the key \"tenant:\" was looked up for an empty X-Tenant: %v", got)
	}
	if got := get("ctl"); got["plan"] != nil {
		t.Errorf("a withheld tenant was looked up as \"t-\": %v", got)
	}
	if got := get("split"); got["pair"] != nil {
		t.Errorf("tenant acme with client billing:svc read the key of tenant acme:billing with client svc: %v", got)
	}
}
