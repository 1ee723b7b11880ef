package enrichers

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func auth0Claims() map[string]any {
	return map[string]any{
		"iss":                      "https://acme.eu.auth0.com/",
		"sub":                      "svc-eu@clients",
		"aud":                      "https://api.example.com/",
		"iat":                      1700000000,
		"exp":                      1700086400,
		"scope":                    "read:orders write:orders",
		"gty":                      "client-credentials",
		"azp":                      "svc-eu",
		"org_id":                   "org_acme",
		"https://example.com/plan": "gold",
	}
}

func mustEnrich(t *testing.T, e *Enricher, body []byte, req *tokenRequest) ([]byte, runOutcome) {
	t.Helper()
	out := runOutcome{WantNames: true}
	res, err := enrich(e, nil, body, req, nil, &out)
	if err != nil {
		t.Fatalf("Enrich: %v", err)
	}
	return res, out
}

func TestEnrichAuth0ClientCredentials(t *testing.T) {
	e := mustNew(t, Config{
		Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://eu.api.example.com"},
			{Name: "tenant_id", Value: "{http.token.tenant}"},
		},
		Rules: []RuleConfig{{Name: "gold", Claims: []ClaimCondition{{Name: "https://example.com/plan", Values: []string{"gold"}}},
			Fields: []FieldConfig{{Name: "limits", JSON: json.RawMessage(`{ "rps" : 100, "burst": [1, 2] }`)}}}},
	})
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, auth0Claims()))
	got, out := mustEnrich(t, e, body, &tokenRequest{GrantType: "client_credentials", ClientID: "svc-eu"})
	want := string(body[:len(body)-1]) + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","limits":{"rps":100,"burst":[1,2]}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if out.Status != StatusEnriched || strings.Join(out.Added, ",") != "api-uri,tenant_id,limits" {
		t.Fatalf("outcome %+v", out)
	}
	id := out.Identity
	if id.ClientID != "svc-eu" || id.Tenant != "org_acme" || id.Issuer != "https://acme.eu.auth0.com/" ||
		id.audience() != "https://api.example.com/" || id.GrantType != "client_credentials" ||
		id.Subject != "svc-eu@clients" || id.scope() != "read:orders write:orders" || id.Format != tokenJWT {
		t.Fatalf("identity %+v", id)
	}
}

func TestEnrichKeepsUpstreamBytesAndOrder(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "x", Value: "1"}}})
	body := []byte("{ \"token_type\" : \"Bearer\",\n  \"access_token\":\"opaque\\u0041\",\"n\":1.50e3 ,\"o\":{\"a\":[ 1 ]}\n}\n")
	got, _ := mustEnrich(t, e, body, nil)
	if !bytes.HasPrefix(got, body[:bytes.LastIndexByte(body, '}')]) || !bytes.HasSuffix(got, []byte(",\"x\":\"1\"}\n")) {
		t.Fatalf("upstream bytes changed: %q", got)
	}
	decodeObject(t, got)
}

func TestEnrichEmptyObjectAndNotToken(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "x", Value: "1"}}})
	for _, body := range []string{`{}`, `{"token_type":"Bearer"}`, `{"access_token":123}`, `{"access_token":null}`} {
		got, out := mustEnrich(t, e, []byte(body), nil)
		if string(got) != body || out.Status != StatusNotToken {
			t.Errorf("%s: got %s status %v", body, got, out.Status)
		}
	}
}

func TestEnrichRejectsNonObjects(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "x", Value: "1"}}})
	for _, body := range []string{``, `[]`, `"s"`, `42`, `{"access_token":"a"`, `{"access_token":"a"}}`,
		"{\"access_token\":\"\xff\"}", `<html>`, `{"access_token":"a",}`} {
		var out runOutcome
		dst := []byte("prefix")
		got, err := enrich(e, dst, []byte(body), nil, nil, &out)
		if !errors.Is(err, errNotJSONObject) || string(got) != "prefix" {
			t.Errorf("%q: err=%v got=%q", body, err, got)
		}
	}
}

func TestReservedFieldsRejected(t *testing.T) {
	for _, name := range reservedFields {
		if _, err := New(Config{Fields: []FieldConfig{{Name: name, Value: "x"}}}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("top-level %s: err = %v", name, err)
		}
		_, err := New(Config{Rules: []RuleConfig{{Name: "r1", Fields: []FieldConfig{{Name: name, JSON: json.RawMessage(`1`)}}}}})
		if err == nil || !strings.Contains(err.Error(), "rule r1") || !strings.Contains(err.Error(), name) {
			t.Errorf("rule %s: err = %v", name, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]Config{
		"empty field name":   {Fields: []FieldConfig{{Name: "", Value: "x"}}},
		"bad json":           {Fields: []FieldConfig{{Name: "x", JSON: json.RawMessage(`{"a":`)}}},
		"value and json":     {Fields: []FieldConfig{{Name: "x", Value: "v", JSON: json.RawMessage(`1`)}}},
		"json and json_text": {Fields: []FieldConfig{{Name: "x", JSONText: "2", JSON: json.RawMessage(`1`)}}},
		"bad json_text":      {Fields: []FieldConfig{{Name: "x", JSONText: "{"}}},
		"unknown token key":  {Fields: []FieldConfig{{Name: "x", Value: "{http.token.nope}"}}},
		"bad glob":           {Rules: []RuleConfig{{Client: []string{"a[b"}}}},
		"empty claim name":   {Rules: []RuleConfig{{Claims: []ClaimCondition{{Values: []string{"a"}}}}}},
		"claim without vals": {Rules: []RuleConfig{{Claims: []ClaimCondition{{Name: "a"}}}}},
		"empty lift":         {LiftClaims: []string{""}},
	}
	for name, cfg := range cases {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLiteralFieldNames(t *testing.T) {
	names := []string{"api-uri", "a.b", "https://example.com/tenant", ":colon", "with space", `quo"te`, "é", "*?#@|"}
	var fs []FieldConfig
	for _, n := range names {
		fs = append(fs, FieldConfig{Name: n, Value: "v:" + n})
	}
	e := mustNew(t, Config{Fields: fs})
	got, _ := mustEnrich(t, e, []byte(`{"access_token":"t"}`), nil)
	m := decodeObject(t, got)
	for _, n := range names {
		var v string
		if err := json.Unmarshal(m[n], &v); err != nil || v != "v:"+n {
			t.Errorf("field %q = %s", n, m[n])
		}
	}
}

func TestRulesOrderAndPrecedence(t *testing.T) {
	e := mustNew(t, Config{
		Fields: []FieldConfig{{Name: "api-uri", Value: "https://default"}, {Name: "slot", Value: "blue"}},
		Rules: []RuleConfig{
			{Name: "eu", Client: []string{"svc-eu*"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu"}, {Name: "region", Value: "eu"}}},
			{Name: "nomatch", Client: []string{"other"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://wrong"}}},
			{Name: "green", Tenant: []string{"org_*"}, Scope: []string{"write:orders", "read:orders"}, Fields: []FieldConfig{{Name: "slot", Value: "green"}, {Name: "api-uri", Value: "https://eu-green"}}},
		},
	})
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, auth0Claims()))
	got, _ := mustEnrich(t, e, body, nil)
	if !bytes.HasSuffix(got, []byte(`"api-uri":"https://eu-green","slot":"green","region":"eu"}`)) {
		t.Fatalf("got %s", got)
	}
}

func TestRuleConditions(t *testing.T) {
	claims := auth0Claims()
	claims["aud"] = []string{"https://api.example.com/", "https://acme.eu.auth0.com/userinfo"}
	claims["groups"] = []string{"admins", "ops"}
	claims["level"] = 3
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, claims))
	req := &tokenRequest{GrantType: "client_credentials"}
	cases := []struct {
		name string
		rule RuleConfig
		want bool
	}{
		{"no conditions", RuleConfig{}, true},
		{"client", RuleConfig{Client: []string{"nope", "svc-*"}}, true},
		{"client miss", RuleConfig{Client: []string{"nope"}}, false},
		{"audience any", RuleConfig{Audience: []string{"*/userinfo"}}, true},
		{"audience miss", RuleConfig{Audience: []string{"https://other/"}}, false},
		{"tenant", RuleConfig{Tenant: []string{"org_acme"}}, true},
		{"issuer", RuleConfig{Issuer: []string{"https://*.eu.auth0.com/"}}, true},
		{"grant", RuleConfig{GrantType: []string{"password", "client_credentials"}}, true},
		{"grant miss", RuleConfig{GrantType: []string{"password"}}, false},
		{"scope all", RuleConfig{Scope: []string{"read:orders", "write:orders"}}, true},
		{"scope missing one", RuleConfig{Scope: []string{"read:orders", "admin"}}, false},
		{"claim array", RuleConfig{Claims: []ClaimCondition{{Name: "groups", Values: []string{"ops"}}}}, true},
		{"claim number", RuleConfig{Claims: []ClaimCondition{{Name: "level", Values: []string{"3"}}}}, true},
		{"claim absent", RuleConfig{Claims: []ClaimCondition{{Name: "nope", Values: []string{"*"}}}}, false},
		{"all must hold", RuleConfig{Client: []string{"svc-eu"}, Tenant: []string{"org_other"}}, false},
	}
	for _, c := range cases {
		c.rule.Fields = []FieldConfig{{Name: "hit", JSON: json.RawMessage(`true`)}}
		e := mustNew(t, Config{Rules: []RuleConfig{c.rule}})
		got, _ := mustEnrich(t, e, body, req)
		if hit := bytes.Contains(got, []byte(`"hit":true`)); hit != c.want {
			t.Errorf("%s: matched=%v want %v", c.name, hit, c.want)
		}
	}
}

func TestUpstreamFieldKeptUnlessOverwrite(t *testing.T) {
	body := []byte(`{"access_token":"t","api-uri":"https://upstream","api-uri":"https://dup","token_type":"Bearer"}`)
	cfg := Config{Fields: []FieldConfig{{Name: "api-uri", Value: "https://mine"}, {Name: "new", Value: "n"}}}
	got, out := mustEnrich(t, mustNew(t, cfg), body, nil)
	if want := `{"access_token":"t","api-uri":"https://upstream","api-uri":"https://dup","token_type":"Bearer","new":"n"}`; string(got) != want || out.Kept != 1 {
		t.Fatalf("keep: got %s kept %d", got, out.Kept)
	}
	cfg.Overwrite = true
	got, _ = mustEnrich(t, mustNew(t, cfg), body, nil)
	if want := `{"access_token":"t","api-uri":"https://mine","api-uri":"https://mine","token_type":"Bearer","new":"n"}`; string(got) != want {
		t.Fatalf("overwrite: got %s", got)
	}
	only := Config{Fields: []FieldConfig{{Name: "api-uri", Value: "x"}}}
	got, out = mustEnrich(t, mustNew(t, only), body, nil)
	if string(got) != string(body) || out.Status != StatusUnchanged {
		t.Fatalf("nothing to add: got %s status %v", got, out.Status)
	}
}

func TestPlaceholdersRenderAndEscape(t *testing.T) {
	claims := map[string]any{
		"client_id": "svc",
		"nasty":     "a\"b\\c\nd</script>\u2028",
		"obj":       map[string]any{"k": []int{1}},
		"num":       12.5,
		"nul":       nil,
	}
	e := mustNew(t, Config{Fields: []FieldConfig{
		{Name: "nasty", Value: "{http.token.claims.nasty}"},
		{Name: "obj", Value: "{http.token.claims.obj}"},
		{Name: "num", Value: "n={http.token.claims.num}"},
		{Name: "nul", Value: "{http.token.claims.nul}"},
		{Name: "missing", Value: "{http.token.claims.missing}"},
		{Name: "mixed", Value: `{http.token.client_id}@{env.REGION}/{unknown.key} \{literal\}`},
		{Name: "aud", Value: "{http.token.audience}"},
		{Name: "grant", Value: "{http.token.grant_type}"},
	}})
	resolve := func(key string) (string, bool) {
		if key == "env.REGION" {
			return "eu", true
		}
		return "", false
	}
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, claims))
	var out runOutcome
	got, err := enrich(e, nil, body, &tokenRequest{Audiences: valuesOf("https://aud"), GrantType: "client_credentials"}, resolve, &out)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, got)
	str := func(k string) string {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			t.Fatalf("%s: %s", k, m[k])
		}
		return s
	}
	if str("nasty") != "a\"b\\c\nd</script>\u2028" || bytes.Contains(m["nasty"], []byte("</script>")) {
		t.Errorf("nasty = %s", m["nasty"])
	}
	if str("obj") != `{"k":[1]}` || str("num") != "n=12.5" || str("mixed") != "svc@eu/{unknown.key} {literal}" {
		t.Errorf("obj=%s num=%s mixed=%s", m["obj"], m["num"], m["mixed"])
	}
	if _, ok := m["nul"]; ok {
		t.Error("null claim rendered a field")
	}
	if _, ok := m["missing"]; ok {
		t.Error("empty render was not omitted")
	}
	if str("aud") != "https://aud" || str("grant") != "client_credentials" {
		t.Errorf("aud=%s grant=%s", m["aud"], m["grant"])
	}
}

func TestLiftClaim(t *testing.T) {
	claims := map[string]any{
		"client_id": "svc",
		"ext": map[string]any{
			"region":       "eu",
			"limits":       map[string]any{"rps": 5},
			"access_token": "smuggled",
			"expires_in":   1,
			"scope":        "admin",
		},
		"notobj": "x",
	}
	tok := testjwt.ClaimsHeader(t, testjwt.HeaderAT, claims)
	// an escaped key must not smuggle a reserved member either
	tok2 := testjwt.ClaimsHeader(t, testjwt.HeaderAT, json.RawMessage(`{"ext":{"access\u005ftoken":"smuggled","ok":true}}`))
	e := mustNew(t, Config{LiftClaims: []string{"ext", "notobj", "absent"}, Fields: []FieldConfig{{Name: "region", Value: "override"}}})
	body := tokenResponse(t, tok)
	got, _ := mustEnrich(t, e, body, nil)
	m := decodeObject(t, got)
	if string(m["region"]) != `"override"` || string(m["limits"]) != `{"rps":5}` || string(m["access_token"]) != `"`+tok+`"` ||
		string(m["expires_in"]) != "86400" || string(m["scope"]) != `"read:orders write:orders"` {
		t.Fatalf("lift: %s", got)
	}
	if bytes.Count(got, []byte(`"access_token"`)) != 1 || bytes.Count(got, []byte(`"expires_in"`)) != 1 {
		t.Fatalf("reserved member duplicated: %s", got)
	}
	// the configured field replaces the lifted member of its name: one
	// member, though no other configured field has the name
	if bytes.Count(got, []byte(`"region"`)) != 1 {
		t.Fatalf("region written twice: %s", got)
	}
	got, _ = mustEnrich(t, e, tokenResponse(t, tok2), nil)
	if bytes.Contains(got, []byte("smuggled")) || !bytes.Contains(got, []byte(`"ok":true`)) {
		t.Fatalf("escaped smuggle: %s", got)
	}
}

func TestOpaqueTokenIdentityFromRequest(t *testing.T) {
	e := mustNew(t, Config{Rules: []RuleConfig{{Client: []string{"svc-eu"}, GrantType: []string{"client_credentials"},
		Audience: []string{"https://api.example.com/"}, Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://eu"}, {Name: "c", Value: "{http.token.claims.org_id}"}, {Name: "s", Value: "{http.token.scope}"}}}}})
	body := []byte(`{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","scope":"read"}`)
	req := &tokenRequest{GrantType: "client_credentials", ClientID: "svc-eu", Audiences: valuesOf("https://api.example.com/"), Scope: "ignored"}
	got, out := mustEnrich(t, e, body, req)
	if want := `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","scope":"read","api-uri":"https://eu","s":"read"}`; string(got) != want {
		t.Fatalf("got %s", got)
	}
	if out.Identity.Format != tokenOpaque || out.Identity.ClientID != "svc-eu" {
		t.Fatalf("identity %+v", out.Identity)
	}
}

func TestTokenClaimsWinOverRequest(t *testing.T) {
	e := mustNew(t, Config{})
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"azp": "from-token", "scp": []string{"a", "b"}}))
	id, err := identifyBody(e, body, &tokenRequest{ClientID: "from-basic", Scope: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if id.ClientID != "from-token" || id.RequestClientID != "from-basic" || id.scope() != "a b" || !id.hasScope("b") || id.hasScope("x") {
		t.Fatalf("identity %+v scope %q", id, id.scope())
	}
}

func TestClaimMappingOverride(t *testing.T) {
	e := mustNew(t, Config{ClientClaims: []string{"appid"}, TenantClaims: []string{"realm"}})
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"client_id": "generic", "appid": "entra-app", "realm": 7, "org_id": "o"}))
	id, _ := identifyBody(e, body, nil)
	if id.ClientID != "entra-app" || id.Tenant != "7" {
		t.Fatalf("identity %+v", id)
	}
}

func TestEnrichConcurrentNoCrossTalk(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "who", Value: "{http.token.client_id}/{http.token.tenant}"}}})
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			client := strings.Repeat(string(rune('a'+g)), g+1)
			body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"client_id": client, "tenant": client + "-t"}))
			for i := 0; i < 500; i++ {
				var out runOutcome
				got, err := enrich(e, nil, body, nil, nil, &out)
				if err != nil || !bytes.HasSuffix(got, []byte(`"who":"`+client+"/"+client+`-t"}`)) {
					done <- errors.New(string(got))
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
