package enrichers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// identityOf returns the explained identity as name → [value, from].
func identityOf(x Explanation) map[string][2]string {
	m := map[string][2]string{}
	for _, v := range x.Identity {
		m[v.Name] = [2]string{v.Value, v.From}
	}
	return m
}

// TestExplainProvenance: each identity value names where it came from, the
// claim the preset chose (also inside Hydra's ext), the issuer, the
// request or the response, so an operator can tell why a value is what it
// is.
func TestExplainProvenance(t *testing.T) {
	samples := loadSamples(t)
	cases := []struct {
		sample, preset string
		want           map[string][2]string
	}{
		{"auth0-m2m", "auto", map[string][2]string{
			"client_id":  {"Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg", "claim azp"},
			"tenant":     {"acme", fromIssuer},
			"grant_type": {"client_credentials", "claim gty"},
			"audience":   {"https://api.example.com/", "claim aud"},
			"scope":      {"read:orders write:orders", "claim scope"},
			"issuer":     {"https://acme.eu.auth0.com/", "claim iss"},
			"preset":     {"auth0", "auto: the issuer"},
		}},
		{"auth0-m2m", "generic", map[string][2]string{
			"tenant": {"", ""},
			"preset": {"generic", "configured"},
		}},
		{"hydra-ext-only", "auto", map[string][2]string{
			"client_id":  {"cc-globex", "claim client_id"},
			"tenant":     {"globex", "claim ext.tenant"},
			"grant_type": {"client_credentials", "request: grant_type"},
			"preset":     {"hydra", "auto: the ext claim (Hydra)"},
		}},
	}
	for _, c := range cases {
		t.Run(c.sample+"/"+c.preset, func(t *testing.T) {
			s := samples[c.sample]
			e := mustNew(t, Config{Preset: c.preset})
			x := explain(e, s.body(t), s.request(), nil)
			if x == nil {
				t.Fatal("no explanation")
			}
			got := identityOf(*x)
			for k, w := range c.want {
				if got[k] != w {
					t.Errorf("%s = %q, want %q", k, got[k], w)
				}
			}
		})
	}

	// an opaque token: the client and the scopes come from the request
	e := mustNew(t, Config{})
	req := parseTokenRequest("application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=svc&scope=a+b&audience=api", "")
	x := explain(e, []byte(`{"access_token":"opaque","token_type":"Bearer"}`), &req, nil)
	if x == nil {
		t.Fatal("no explanation")
	}
	got := identityOf(*x)
	want := map[string][2]string{
		"client_id":  {"svc", fromRequest},
		"scope":      {"a b", fromRequestScope},
		"audience":   {"api", "request: audience or resource"},
		"grant_type": {"client_credentials", fromRequestGrant},
		"format":     {"opaque", ""},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("opaque: %s = %q, want %q", k, got[k], w)
		}
	}
}

// explainToken runs, through host, a response whose access token has the
// given claims, with its explanation.
func explainToken(t *testing.T, e *Enricher, claims string, extra string, req *tokenRequest, host Host) (Result, Explanation) {
	t.Helper()
	tok := testjwt.Unsigned([]byte(`{"alg":"RS256","typ":"JWT"}`), []byte(claims))
	res := runInput(e, nil, []byte(`{"access_token":"`+tok+`","token_type":"Bearer"`+extra+`}`), req, host, Input{Explain: true})
	if res.Err != nil || res.Response == nil || res.Explanation == nil {
		t.Fatalf("status %v err %v", res.Status, res.Err)
	}
	return res, *res.Explanation
}

// TestExplainRules: every rule is listed; a matching one says matched, a
// failing one names the first condition that failed and the value it saw.
func TestExplainRules(t *testing.T) {
	f := []FieldConfig{{Name: "x", Value: "1"}}
	e := mustNew(t, Config{Rules: []RuleConfig{
		{Name: "all", Fields: f},
		{Name: "client", Client: []string{"web-*"}, Fields: f},
		{Name: "tenant", Tenant: []string{"globex"}, Fields: f},
		{Name: "issuer", Issuer: []string{"https://other/*"}, Fields: f},
		{Name: "grant", GrantType: []string{"password"}, Fields: f},
		{Name: "scope", Scope: []string{"read", "admin"}, Fields: f},
		{Name: "audience", Audience: []string{"https://billing/*"}, Fields: f},
		{Name: "claim-absent", Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}}, Fields: f},
		{Name: "claim-value", Claims: []ClaimCondition{{Name: "org", Values: []string{"initech"}}}, Fields: f},
		{Name: "match", Match: json.RawMessage(`{"remote_ip":{}}`), Fields: f},
		{Name: "ok", Client: []string{"svc-*"}, Tenant: []string{"acme"}, Scope: []string{"read"}, Fields: f},
	}})
	req := parseTokenRequest("application/x-www-form-urlencoded", "grant_type=client_credentials", "")
	claims := `{"iss":"https://idp/","client_id":"svc-1","org_id":"acme","org":"acme","aud":["https://api/a","https://api/b"],"scope":"read write"}`
	host := &testHost{}
	res, x := explainToken(t, e, claims, "", &req, host)
	want := map[string]string{
		"all":          "",
		"client":       `client "svc-1" matches none of [web-*]`,
		"tenant":       `tenant "acme" matches none of [globex]`,
		"issuer":       `issuer "https://idp/" matches none of [https://other/*]`,
		"grant":        `grant_type "client_credentials" is none of [password]`,
		"scope":        `scope "admin" missing (token scopes "read write")`,
		"audience":     `audiences ["https://api/a" "https://api/b"]: none matches any of [https://billing/*]`,
		"claim-absent": "claim plan absent",
		"claim-value":  `claim org "acme" matches none of [initech]`,
		"match":        "match: its matcher set did not match the request",
		"ok":           "",
	}
	if len(x.Rules) != len(want) {
		t.Fatalf("%d rules explained, want %d", len(x.Rules), len(want))
	}
	for i, re := range x.Rules {
		if re.Why != want[re.Name] || re.Matched != (want[re.Name] == "") {
			t.Errorf("rule %s: matched %v why %q, want why %q", re.Name, re.Matched, re.Why, want[re.Name])
		}
		// the explanation agrees with what render applies: the rule's
		// decision, and its field planned or left out as not matched
		if re.Matched != res.Response.matched[i] {
			t.Errorf("rule %s: explained %v, matched %v", re.Name, re.Matched, res.Response.matched[i])
		}
		for _, f := range x.Fields {
			if f.Rule == re.Name && (f.Why == whyRuleNotMatched) == re.Matched {
				t.Errorf("rule %s: explained %v, its field %+v", re.Name, re.Matched, f)
			}
		}
	}
	// the host is asked about the one matcher set only
	if len(host.matchAsked) != 1 || host.matchAsked[0] != 9 {
		t.Errorf("MatchRule asked for %v, want [9]", host.matchAsked)
	}
	// once the host says the matcher set matched, so does the explanation
	if _, x := explainToken(t, e, claims, "", &req, &testHost{match: map[int]bool{9: true}}); !x.Rules[9].Matched {
		t.Errorf("rule match when the host matches: %+v", x.Rules[9])
	}
}

// fieldsOf returns the explained fields as "name/from[/rule]" → added value
// or why.
func fieldsOf(x Explanation) map[string]string {
	m := map[string]string{}
	for _, f := range x.Fields {
		k := f.Name + "/" + f.From
		if f.Rule != "" {
			k += "/" + f.Rule
		}
		if f.Added {
			m[k] = "= " + string(f.Value)
			if f.Why != "" {
				m[k] += " " + f.Why
			}
		} else {
			m[k] = f.Why
		}
	}
	return m
}

// TestExplainFields: every field is listed with its value, or the reason it
// is left out: empty, reserved, kept from the upstream, a source that
// missed or was not wanted, a rule that did not match, a later value.
func TestExplainFields(t *testing.T) {
	cfg := Config{
		LiftClaims: []string{"meta", "absent"},
		Sources:    []SourceSpec{{Name: "found"}, {Name: "missed"}, {Name: "quiet", NoFields: true}},
		Fields: []FieldConfig{
			{Name: "tenant", Value: "{http.token.tenant}"},
			{Name: "empty", Value: "{http.token.claims.nothing}"},
			{Name: "region", Value: "eu"},
			{Name: "api", Value: "https://api"},
			{Source: "found"},
			{Source: "missed"},
			{Source: "quiet"},
		},
		Rules: []RuleConfig{
			{Name: "acme", Tenant: []string{"acme"}, Fields: []FieldConfig{{Name: "region", Value: "us"}}},
			{Name: "other", Tenant: []string{"other"}, Fields: []FieldConfig{{Name: "tier", JSON: json.RawMessage(`1`)}, {Source: "found"}}},
		},
	}
	e := mustNew(t, cfg)
	tok := testjwt.Unsigned([]byte(`{"alg":"RS256"}`), []byte(`{"client_id":"svc","org_id":"acme","meta":{"lifted":true,"expires_in":1}}`))
	body := []byte(`{"access_token":"` + tok + `","api":"upstream"}`)
	host := &testHost{found: map[string][]byte{"found": []byte(`{"plan":"gold","token_type":"x"}`)}}
	x := explain(e, body, nil, host)
	if x == nil {
		t.Fatal("no explanation")
	}
	got := fieldsOf(*x)
	want := map[string]string{
		"lifted/lift:meta":                "= true",
		"expires_in/lift:meta":            whyReserved,
		"lift:absent/lift:absent":         whyLiftAbsent,
		"tenant/tenant":                   `= "acme"`,
		"empty/empty":                     whyEmpty,
		"region/region":                   whyOverridden + "region (rule acme)",
		"region/region/acme":              `= "us"`,
		"api/api":                         whyUpstreamKept,
		"plan/source:found":               `= "gold"`,
		"token_type/source:found":         whyReserved,
		"source:missed/source:missed":     whySourceMissed + "miss",
		"source:quiet/source:quiet":       whyNoFields,
		"tier/tier/other":                 whyRuleNotMatched,
		"source:found/source:found/other": whyRuleNotMatched,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("explained %d fields, want %d: %v", len(got), len(want), got)
	}

	// with overwrite on, the upstream's member is replaced, and said so
	cfg.Overwrite = true
	e = mustNew(t, cfg)
	if got := fieldsOf(*explain(e, body, nil, host))["api/api"]; got != `= "https://api" `+whyReplaced {
		t.Errorf("api with overwrite: %q", got)
	}
}

// TestExplainAgreesWithRender feeds every claim sample, under every preset
// case, through an explained Run and a plain one with the same
// configuration: the members the explanation says are added, with their
// values, are exactly the ones the plain Run writes, and its matched rules
// exactly the ones that Run applies.
func TestExplainAgreesWithRender(t *testing.T) {
	var rules []RuleConfig
	for i, rc := range []RuleConfig{
		{Client: []string{"*"}}, {Tenant: []string{"acme", "globex", "*-*"}}, {GrantType: []string{"client_credentials"}},
		{Scope: []string{"openid"}}, {Audience: []string{"https://*"}}, {Issuer: []string{"https://*.okta.com/*"}},
		{Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}}}, {Claims: []ClaimCondition{{Name: "typ", Values: []string{"Bearer"}}}},
	} {
		rc.Name = fmt.Sprint("r", i)
		rc.Fields = []FieldConfig{{Name: "rule", Value: rc.Name}, {Name: rc.Name, Value: "{http.token.client_id}"}, {Name: "token_type_hint", Value: "{http.token.tenant}"}}
		rules = append(rules, rc)
	}
	// the comparison covers both outcomes of rules and fields
	var matched, unmatched, added, left int
	defer func() {
		if matched == 0 || unmatched == 0 || added == 0 || left == 0 {
			t.Errorf("vacuous: %d rules matched, %d not, %d fields added, %d left out", matched, unmatched, added, left)
		}
	}()
	for name, s := range loadSamples(t) {
		for _, c := range s.Cases {
			for _, overwrite := range []bool{false, true} {
				e := mustNew(t, Config{Preset: c.Preset, TenantClaims: c.TenantClaims, ClientClaims: c.ClientClaims, Overwrite: overwrite,
					LiftClaims: []string{"ext", "realm_access"}, Fields: []FieldConfig{{Name: "tenant", Value: "{http.token.tenant}"}, {Name: "expires_at", Value: "x"}}, Rules: rules})
				// two runs: one explained, one rendering as the
				// handler does without an explanation
				x := explain(e, s.body(t), s.request(), nil)
				if x == nil {
					t.Fatal("no explanation")
				}
				res := runInput(e, nil, s.body(t), s.request(), nil, Input{Names: true, Values: true})
				if res.Err != nil || res.Response == nil {
					t.Fatalf("status %v err %v", res.Status, res.Err)
				}
				out := runOutcome{Added: res.Added, Values: res.Values}
				var names, values []string
				for _, f := range x.Fields {
					if f.Added {
						names, values = append(names, f.Name), append(values, string(f.Value))
						added++
					} else {
						left++
					}
				}
				slices.Sort(names)
				added := slices.Clone(out.Added)
				slices.Sort(added)
				if !slices.Equal(names, added) {
					t.Errorf("%s/%s: explained %v, rendered %v", name, c.Preset, names, added)
				}
				for i, n := range out.Added {
					for _, f := range x.Fields {
						if f.Added && f.Name == n && string(f.Value) != out.Values[i] {
							t.Errorf("%s/%s: %s explained %s, rendered %s", name, c.Preset, n, f.Value, out.Values[i])
						}
					}
				}
				for i, re := range x.Rules {
					if re.Matched {
						matched++
					} else {
						unmatched++
					}
					if re.Matched != res.Response.matched[i] || re.Matched != (re.Why == "") || strings.HasPrefix(re.Why, "match") {
						t.Errorf("%s/%s: rule %s explained %+v, matched %v", name, c.Preset, re.Name, re, res.Response.matched[i])
					}
				}
			}
		}
	}
}
