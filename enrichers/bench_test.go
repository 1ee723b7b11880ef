package enrichers

import (
	"encoding/json"
	"fmt"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// Benchmarks of the whole enrichment (validate, decode, identify, match,
// render, splice) on token responses shaped like the ones real identity
// providers send, plus one benchmark per stage. Run with:
//
//	go test -run '^$' -bench . -benchmem ./enrichers
//
// TestEnrichAllocs pins the allocation counts so that a regression fails the
// ordinary test run; it is not timed.

// benchCase is one realistic response with the configuration that enriches it.
type benchCase struct {
	name string
	body []byte
	req  *tokenRequest
	cfg  Config
	// maxAllocs is the allocation ceiling TestEnrichAllocs holds Run to,
	// besides what reading the token request costs (see parseAllocs). A
	// usual response takes three: the Response (with room for sixteen
	// rules' matches), the token payload's text (the identity keeps it),
	// and the fresh output. The body's members are entries on Run's
	// stack, the token's claims are listed in pooled room that Run gives
	// back when it returns, the body is never copied, and the response's
	// scope is copied only for a token without a scope claim. A large one
	// takes more: a payload too large for the pooled buffer, more than 32
	// claims (their list grows on the heap), a body of more than 12
	// members.
	maxAllocs float64
}

// benchRand gives every run the same "random" signatures and ids.
func benchRand() *rand.Rand { return rand.New(rand.NewPCG(2025, 11)) }

// benchBytes returns n random bytes.
func benchBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// benchB64 returns n random bytes, base64url-encoded as a JWS segment.
func benchB64(r *rand.Rand, n int) string { return testjwt.Segment(benchBytes(r, n)) }

// benchJWT assembles a compact JWS from literal header and payload JSON (kept
// as written, so claim order is the provider's) and a random signature of
// sigLen bytes (256 for RS256, 64 for HS512): tokens of a provider's real
// sizes.
func benchJWT(r *rand.Rand, header, payload string, sigLen int) string {
	return testjwt.Signed([]byte(header), []byte(payload), benchBytes(r, sigLen))
}

// fiveRules is the configuration used for the Auth0 case and by the load
// benchmark (bench/Caddyfile.enrich): two top-level fields and five rules of
// which two match.
func fiveRules() Config {
	return Config{
		Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://api.example.com"},
			{Name: "tenant_id", Value: "{http.token.tenant}"},
		},
		Rules: []RuleConfig{
			{Name: "eu", Tenant: []string{"org_9f8K*"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu.api.example.com"}}},
			{Name: "us", Issuer: []string{"https://*.us.auth0.com/"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://us.api.example.com"}}},
			{Name: "partners", Client: []string{"partner-*", "ext-*"}, Fields: []FieldConfig{{Name: "partner", JSON: json.RawMessage(`true`)}}},
			{Name: "orders", Audience: []string{"https://api.example.com/"}, Scope: []string{"write:orders"},
				Fields: []FieldConfig{{Name: "limits", JSON: json.RawMessage(`{"rps": 100, "burst": 200}`)}}},
			{Name: "gold", Claims: []ClaimCondition{{Name: "https://example.com/plan", Values: []string{"gold", "platinum"}}},
				Fields: []FieldConfig{{Name: "plan", Value: "{http.token.claims.https://example.com/plan}"}}},
		},
	}
}

// auth0Case is an Auth0 client-credentials response (~1 KB, RS256).
func auth0Case() benchCase {
	r := benchRand()
	tok := benchJWT(r, `{"alg":"RS256","typ":"JWT","kid":"Nk3mQ8rT2vX9yB5cD1fG7hJ4"}`,
		`{"iss":"https://acme.eu.auth0.com/","sub":"Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg@clients",`+
			`"aud":"https://api.example.com/","iat":1764288000,"exp":1764374400,`+
			`"scope":"read:orders write:orders read:customers","gty":"client-credentials",`+
			`"azp":"Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg","org_id":"org_9f8KqL2mZx7TnB4c",`+
			`"https://example.com/plan":"gold"}`, 256)
	body := `{"access_token":"` + tok + `","scope":"read:orders write:orders read:customers","expires_in":86400,"token_type":"Bearer"}`
	return benchCase{
		name: "auth0", body: []byte(body), cfg: fiveRules(), maxAllocs: 3,
		req: &tokenRequest{GrantType: "client_credentials", ClientID: "Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg",
			Audiences: valuesOf("https://api.example.com/")},
	}
}

// oktaCase is an Okta custom authorization server client-credentials
// response: scp is an array, the client is in cid.
func oktaCase() benchCase {
	r := benchRand()
	tok := benchJWT(r, `{"kid":"4Xq8mF2nT7vR1zK9pL3sW6yB0cH5jD8g","alg":"RS256"}`,
		`{"ver":1,"jti":"AT.Jx7nq2Wm5Rk9Tz1bVf3Hc8Ld6Ys0Pg4Ue","iss":"https://acme.okta.com/oauth2/default",`+
			`"aud":"api://orders","iat":1764288000,"exp":1764291600,"cid":"0oa8f2kq7xLm3nZ5d697",`+
			`"scp":["orders.read","orders.write"],"sub":"0oa8f2kq7xLm3nZ5d697","tenant":"acme-eu"}`, 256)
	body := `{"token_type":"Bearer","expires_in":3600,"access_token":"` + tok + `","scope":"orders.read orders.write"}`
	return benchCase{
		name: "okta", body: []byte(body), maxAllocs: 3,
		cfg: Config{
			Fields: []FieldConfig{{Name: "tenant_id", Value: "{http.token.tenant}"}},
			Rules: []RuleConfig{
				{Name: "eu", Tenant: []string{"*-eu"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu.api.example.com"}}},
				{Name: "writers", Scope: []string{"orders.write"}, Fields: []FieldConfig{{Name: "can_write", JSON: json.RawMessage(`true`)}}},
			},
		},
		req: &tokenRequest{GrantType: "client_credentials", ClientID: "0oa8f2kq7xLm3nZ5d697", Scope: "orders.read orders.write"},
	}
}

// keycloakCase is a Keycloak authorization-code response: a ~2 KB access
// token with realm and client roles, a refresh token and an id_token.
func keycloakCase() benchCase {
	r := benchRand()
	var roles []string
	for i := range 12 {
		roles = append(roles, fmt.Sprintf(`"orders-role-%02d"`, i))
	}
	at := benchJWT(r, `{"alg":"RS256","typ":"JWT","kid":"pQ7rS2tU9vW4xY1zA6bC3dE8fG5hJ0kL"}`,
		`{"exp":1764288300,"iat":1764288000,"auth_time":1764287990,"jti":"onrtac:5d0b3c1e-8f2a-4b6d-9e7f-1a2b3c4d5e6f",`+
			`"iss":"https://sso.example.com/realms/acme","aud":["orders-api","billing-api","account"],`+
			`"sub":"f3a1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b","typ":"Bearer","azp":"orders-web",`+
			`"sid":"8c7b6a59-4d3e-2f10-a9b8-c7d6e5f4a3b2","acr":"1",`+
			`"allowed-origins":["https://orders.example.com","https://admin.example.com"],`+
			`"realm_access":{"roles":["default-roles-acme","offline_access","uma_authorization","orders-admin"]},`+
			`"resource_access":{"orders-api":{"roles":[`+strings.Join(roles, ",")+`]},`+
			`"billing-api":{"roles":["invoice-read","invoice-write"]},"account":{"roles":["manage-account","view-profile"]}},`+
			`"scope":"openid profile email orders","email_verified":true,"name":"Ada Lovelace",`+
			`"preferred_username":"ada","given_name":"Ada","family_name":"Lovelace","email":"ada@acme.example.com",`+
			`"tenant_id":"acme-eu","groups":["/acme/engineering","/acme/engineering/platform"]}`, 256)
	rt := benchJWT(r, `{"alg":"HS512","typ":"JWT","kid":"b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"}`,
		`{"exp":1764289800,"iat":1764288000,"jti":"7f6e5d4c-3b2a-1908-f7e6-d5c4b3a29180","iss":"https://sso.example.com/realms/acme",`+
			`"aud":"https://sso.example.com/realms/acme","sub":"f3a1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b","typ":"Refresh",`+
			`"azp":"orders-web","sid":"8c7b6a59-4d3e-2f10-a9b8-c7d6e5f4a3b2","scope":"openid profile email orders"}`, 64)
	idt := benchJWT(r, `{"alg":"RS256","typ":"JWT","kid":"pQ7rS2tU9vW4xY1zA6bC3dE8fG5hJ0kL"}`,
		`{"exp":1764288300,"iat":1764288000,"auth_time":1764287990,"jti":"8a9b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d",`+
			`"iss":"https://sso.example.com/realms/acme","aud":"orders-web","sub":"f3a1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b",`+
			`"typ":"ID","azp":"orders-web","nonce":"n-0S6_WzA2Mj","sid":"8c7b6a59-4d3e-2f10-a9b8-c7d6e5f4a3b2",`+
			`"at_hash":"77QmUPtjPfzWtF2AnpK9RQ","acr":"1","email_verified":true,"name":"Ada Lovelace",`+
			`"preferred_username":"ada","given_name":"Ada","family_name":"Lovelace","email":"ada@acme.example.com"}`, 256)
	body := `{"access_token":"` + at + `","expires_in":300,"refresh_expires_in":1800,"refresh_token":"` + rt +
		`","token_type":"Bearer","id_token":"` + idt + `","not-before-policy":0,` +
		`"session_state":"8c7b6a59-4d3e-2f10-a9b8-c7d6e5f4a3b2","scope":"openid profile email orders"}`
	return benchCase{
		name: "keycloak", body: []byte(body), maxAllocs: 3,
		cfg: Config{
			Fields: []FieldConfig{
				{Name: "api-uri", Value: "https://api.example.com"},
				{Name: "tenant_id", Value: "{http.token.tenant}"},
			},
			Rules: []RuleConfig{
				{Name: "eu", Tenant: []string{"*-eu"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu.api.example.com"}}},
				{Name: "platform", Claims: []ClaimCondition{{Name: "groups", Values: []string{"/acme/engineering/platform"}}},
					Fields: []FieldConfig{{Name: "feature_flags", JSON: json.RawMessage(`["beta-ui","fast-export"]`)}}},
				{Name: "billing", Audience: []string{"billing-*"}, Fields: []FieldConfig{{Name: "billing-uri", Value: "https://billing.eu.example.com"}}},
			},
		},
		req: &tokenRequest{GrantType: "authorization_code", ClientID: "orders-web"},
	}
}

// bigCase is an OIDC authorization-code response whose id_token carries a
// 16 KB payload (a user in hundreds of groups) beside a ~1 KB access token,
// with twenty rules of every kind of condition.
func bigCase() benchCase {
	r := benchRand()
	var groups []string
	for i := 0; len(strings.Join(groups, ",")) < 16<<10; i++ {
		groups = append(groups, fmt.Sprintf(`"/acme/departments/dept-%03d/team-%s"`, i, benchB64(r, 6)))
	}
	at := benchJWT(r, `{"alg":"RS256","typ":"at+jwt","kid":"k-2025-11"}`,
		`{"iss":"https://login.example.com/","sub":"user-7d1f2e","aud":["https://api.example.com/","https://login.example.com/userinfo"],`+
			`"iat":1764288000,"exp":1764291600,"scope":"openid profile email offline_access read:orders write:orders",`+
			`"client_id":"web-portal","tenant_id":"org_acme","plan":"gold","region":"eu-west-1","amr":["pwd","mfa"]}`, 256)
	idt := benchJWT(r, `{"alg":"RS256","typ":"JWT","kid":"k-2025-11"}`,
		`{"iss":"https://login.example.com/","sub":"user-7d1f2e","aud":"web-portal","iat":1764288000,"exp":1764291600,`+
			`"nonce":"8f1d0c9b","name":"Ada Lovelace","email":"ada@acme.example.com","groups":[`+strings.Join(groups, ",")+`]}`, 256)
	rt := benchB64(r, 48)
	body := `{"access_token":"` + at + `","id_token":"` + idt + `","refresh_token":"` + rt +
		`","token_type":"Bearer","expires_in":3600,"scope":"openid profile email offline_access read:orders write:orders"}`
	cfg := Config{
		Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://api.example.com"},
			{Name: "tenant_id", Value: "{http.token.tenant}"},
			{Name: "who", Value: "{http.token.client_id}@{http.token.tenant}"},
		},
	}
	// Twenty rules: every condition kind, a few that match, most that do
	// not (the common shape of a per-tenant, per-client routing table).
	for i := range 20 {
		rc := RuleConfig{Name: fmt.Sprintf("r%02d", i), Fields: []FieldConfig{{Name: fmt.Sprintf("rule_%02d", i), JSON: json.RawMessage(`true`)}}}
		switch i % 6 {
		case 0:
			rc.Client = []string{fmt.Sprintf("svc-%02d-*", i), fmt.Sprintf("partner-%02d", i)}
		case 1:
			rc.Tenant = []string{fmt.Sprintf("org_t%02d", i), fmt.Sprintf("org_*_%02d", i)}
		case 2:
			rc.Issuer = []string{fmt.Sprintf("https://*.region%02d.example.com/", i)}
		case 3:
			rc.Audience = []string{fmt.Sprintf("https://api%02d.example.com/*", i)}
		case 4:
			rc.Scope = []string{"read:orders", fmt.Sprintf("admin:%02d", i)}
		case 5:
			rc.Claims = []ClaimCondition{{Name: "plan", Values: []string{fmt.Sprintf("tier-%02d", i)}}}
		}
		cfg.Rules = append(cfg.Rules, rc)
	}
	cfg.Rules = append(cfg.Rules[:17],
		RuleConfig{Name: "eu", Tenant: []string{"org_*"}, Claims: []ClaimCondition{{Name: "region", Values: []string{"eu-*"}}},
			Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu.api.example.com"}}},
		RuleConfig{Name: "web", Client: []string{"web-*"}, Scope: []string{"offline_access"},
			Fields: []FieldConfig{{Name: "session", JSON: json.RawMessage(`{"idle": 1800, "max": 86400}`)}}},
		RuleConfig{Name: "gold", Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}},
			Fields: []FieldConfig{{Name: "limits", JSON: json.RawMessage(`{"rps": 500}`)}}})
	return benchCase{
		name: "oidc-20rules-16KB-id_token", body: []byte(body), cfg: cfg, maxAllocs: 10,
		req: &tokenRequest{GrantType: "authorization_code", ClientID: "web-portal"},
	}
}

func benchCases() []benchCase {
	return []benchCase{auth0Case(), oktaCase(), keycloakCase(), bigCase()}
}

// benchInput is the Input of c, its token request encoded as a client
// sends it, built once so that a benchmark times only Run.
func benchInput(c benchCase) *Input {
	in := &Input{Body: c.body}
	requestInput(in, c.req)
	return in
}

// BenchmarkEnrich is the whole pipeline (Run: read the token request and
// the body, identify, match, plan, render, splice) on one response into a
// fresh output slice (the handler reuses a pooled one, see
// BenchmarkEnrichPooledOutput; a fresh slice is the honest worst case).
// TestEnrichAllocs holds every fixture to its allocation ceiling.
func BenchmarkEnrich(b *testing.B) {
	for _, c := range benchCases() {
		e := mustNew(b, c.cfg)
		in := benchInput(c)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				res := e.Run(nil, in, nil)
				if res.Err != nil || res.Status != StatusEnriched || len(res.Body) <= len(c.body) {
					b.Fatalf("status %v err %v", res.Status, res.Err)
				}
			}
		})
	}
}

// BenchmarkEnrichPooledOutput is the same with the output slice reused, as
// the Caddy handler does.
func BenchmarkEnrichPooledOutput(b *testing.B) {
	for _, c := range benchCases() {
		e := mustNew(b, c.cfg)
		in := benchInput(c)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			var dst []byte
			for b.Loop() {
				res := e.Run(dst[:0], in, nil)
				if res.Status != StatusEnriched {
					b.Fatalf("status %v err %v", res.Status, res.Err)
				}
				dst = res.Body
			}
		})
	}
}

// BenchmarkStage times the stages of the pipeline one by one on the Auth0
// response: read (validate, decode the token, identify), rule matching
// alone, and render (plan, render, splice; the rules matched once before,
// as Run does).
func BenchmarkStage(b *testing.B) {
	c := auth0Case()
	e := mustNew(b, c.cfg)
	req := *c.req
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(c.body)))
		for b.Loop() {
			r := new(Response)
			var room [12]entry
			if _, err := e.read(r, c.body, &req, room[:0], &scratch{}); err != nil || r.Status != StatusUnchanged {
				b.Fatal(err)
			}
		}
	})
	r := new(Response)
	members, err := e.read(r, c.body, &req, nil, &scratch{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("match-5-rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for i := range e.rules {
				if e.rules[i].matches(&r.Identity) {
					n++
				}
			}
			if n != 3 {
				b.Fatalf("%d rules matched", n)
			}
		}
	})
	e.matchRules(r, noHost{}, nil)
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(c.body)))
		var dst []byte
		var in Input
		for b.Loop() {
			var res Result
			dst = e.render(dst[:0], r, c.body, members, nil, &in, &res)
		}
	})
}

// BenchmarkMatchRules shows rule matching is linear in the number of rules
// and allocation-free.
func BenchmarkMatchRules(b *testing.B) {
	c := bigCase()
	for _, n := range []int{1, 5, 20, 80} {
		var rules []RuleConfig
		for len(rules) < n {
			rules = append(rules, c.cfg.Rules...)
		}
		e := mustNew(b, Config{Rules: rules[:n]})
		id, _ := identifyBody(e, c.body, c.req)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range e.rules {
					e.rules[i].matches(&id)
				}
			}
		})
	}
}

func gjsonString(t testing.TB, body []byte, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[key].(string)
	return s
}

// TestEnrichAllocs holds Enrich to its allocation budget (see the comment on
// BenchmarkEnrich for where each one goes) and checks that the benchmark
// fixtures are enriched as intended. Not a timed test.
func TestEnrichAllocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, c := range benchCases() {
		e := mustNew(t, c.cfg)
		in := benchInput(c)
		budget := c.maxAllocs + parseAllocs(in)
		var first []byte
		n := testing.AllocsPerRun(200, func() {
			res := e.Run(nil, in, nil)
			if res.Err != nil || res.Status != StatusEnriched {
				t.Fatalf("%s: status %v err %v", c.name, res.Status, res.Err)
			}
			first = res.Body
		})
		decodeObject(t, first)
		t.Logf("%s: %d bytes, %.0f allocs/op", c.name, len(c.body), n)
		if n > budget {
			t.Errorf("%s: %.1f allocs/op, budget %.0f (%.0f and %.0f reading the token request)", c.name, n, budget, c.maxAllocs, budget-c.maxAllocs)
		}
	}
	// the non-matching case of the handler never reaches Run; a token
	// response to which no rule applies must not cost more than one that is
	// enriched
	e := mustNew(t, Config{Rules: []RuleConfig{{Client: []string{"nobody"}, Fields: []FieldConfig{{Name: "x", Value: "y"}}}}})
	in := benchInput(auth0Case())
	budget := 6 + parseAllocs(in)
	if n := testing.AllocsPerRun(200, func() {
		if res := e.Run(nil, in, nil); res.Status != StatusUnchanged {
			t.Fatalf("unchanged response: status %v err %v", res.Status, res.Err)
		}
	}); n > budget {
		t.Errorf("unchanged response: %.1f allocs/op, want at most %.0f (6 and %.0f reading the token request)", n, budget, budget-6)
	}
}

// parseAllocs is what reading in's token request costs Run: its text, and
// the parameters that need unescaping or a list. The handler used to read
// it before the engine ran, so the engine's own budget leaves it out.
func parseAllocs(in *Input) float64 {
	return testing.AllocsPerRun(200, func() {
		_ = parseTokenRequest(in.RequestType, in.Request, in.BasicUser)
	})
}

// TestClaimLookupAllocs holds reading a claim after Enrich (what a
// {http.token.claims.*} placeholder in a later handler does) to no
// allocation: Run has given the room of the claims' list back by then, and
// the payload is read again into room on the stack.
func TestClaimLookupAllocs(t *testing.T) {
	if testenv.RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	c := auth0Case()
	e := mustNew(t, c.cfg)
	var out runOutcome
	if _, err := enrich(e, nil, c.body, c.req, nil, &out); err != nil || out.Status != StatusEnriched {
		t.Fatalf("status %v err %v", out.Status, err)
	}
	for _, name := range []string{"https://example.com/plan", "org_id", "iat", "absent"} {
		if n := testing.AllocsPerRun(100, func() { _ = out.Identity.claim(name) }); n != 0 {
			t.Errorf("Claim(%q): %.1f allocs, want 0", name, n)
		}
	}
	if got, _ := out.Identity.placeholder("claims.https://example.com/plan"); got != "gold" {
		t.Errorf("plan claim = %q, want gold", got)
	}
}

// benchHost is a Host whose lookups find the same objects every time, at
// no cost of its own.
type benchHost struct{ found []Found }

func (benchHost) Publish(*Response)             {}
func (benchHost) MatchRule(int) bool            { return false }
func (h benchHost) LookUp([]string) []Found     { return h.found }
func (benchHost) Resolve(string) (string, bool) { return "", false }

// BenchmarkSourceEnrichment is what a source adds to an enrichment besides
// its lookup: the Auth0 response read, given a source's object of a few
// members, and rendered with them, against the same without a source.
func BenchmarkSourceEnrichment(b *testing.B) {
	c := auth0Case()
	object := []byte(`{"api-uri":"https://eu.api.example.com","region":"eu-west-1","plan":"enterprise"}`)
	withSource := c.cfg
	withSource.Sources = []SourceSpec{{Name: "tenants"}}
	withSource.Fields = append([]FieldConfig{{Source: "tenants"}}, withSource.Fields...)
	host := benchHost{found: []Found{{Source: "tenants", Object: object, State: "hit"}}}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"without", c.cfg}, {"with-source", withSource}} {
		e := mustNew(b, bc.cfg)
		in := benchInput(c)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				res := e.Run(dst[:0], in, host)
				if res.Err != nil || res.Status != StatusEnriched || len(res.Rejected) > 0 {
					b.Fatalf("status %v err %v rejected %v", res.Status, res.Err, res.Rejected)
				}
				dst = res.Body
			}
		})
	}
}
