package enrichers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// claimSample is one file of testdata/claims: an access token's header and
// claims as an identity provider issues them (with the source they follow),
// the rest of the token response, the token request, and what each preset
// configuration should make of it.
type claimSample struct {
	Source   string          `json:"source"`
	Note     string          `json:"note"`
	Header   json.RawMessage `json:"header"`
	Claims   json.RawMessage `json:"claims"`
	Response json.RawMessage `json:"response"`
	Request  *struct {
		ContentType string `json:"content_type"`
		Basic       string `json:"basic"`
		Body        string `json:"body"`
	} `json:"request"`
	Cases []struct {
		Preset       string                     `json:"preset"`
		TenantClaims []string                   `json:"tenant_claims"`
		ClientClaims []string                   `json:"client_claims"`
		NoRequest    bool                       `json:"no_request"`
		Want         map[string]json.RawMessage `json:"want"`
	} `json:"cases"`
}

func loadSamples(t testing.TB) map[string]claimSample {
	t.Helper()
	files, err := filepath.Glob("testdata/claims/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no claim samples: %v", err)
	}
	out := map[string]claimSample{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s claimSample
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Source == "" || len(s.Cases) == 0 || len(s.Claims) == 0 || len(s.Header) == 0 {
			t.Fatalf("%s: needs source, header, claims and cases", f)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = s
	}
	return out
}

// body builds the token response: access_token first, then the sample's
// other members in their order.
func (s *claimSample) body(t testing.TB) []byte {
	t.Helper()
	tok, _ := json.Marshal(testjwt.Unsigned(s.Header, s.Claims))
	b := append([]byte(`{"access_token":`), tok...)
	rest := bytes.TrimSpace(s.Response)
	if len(rest) > 2 {
		b = append(append(b, ','), rest[1:]...)
	} else {
		b = append(b, '}')
	}
	return b
}

func (s *claimSample) request() *tokenRequest {
	if s.Request == nil {
		return nil
	}
	body := s.Request.Body
	// {ASSERTION:client} stands for a private_key_jwt client assertion
	// naming that client.
	if i := strings.Index(body, "{ASSERTION:"); i >= 0 {
		j := strings.IndexByte(body[i:], '}')
		client := body[i+len("{ASSERTION:") : i+j]
		a := testjwt.Unsigned([]byte(`{"alg":"RS256"}`), []byte(`{"iss":"`+client+`","sub":"`+client+`","aud":"https://login.example/token","jti":"1","exp":1}`))
		body = body[:i] + a + body[i+j+1:]
	}
	tr := parseTokenRequest(s.Request.ContentType, body, s.Request.Basic)
	return &tr
}

// TestClaimSamples runs every sample claim set through Identify under each
// of its preset configurations.
func TestClaimSamples(t *testing.T) {
	for name, s := range loadSamples(t) {
		for i, c := range s.Cases {
			t.Run(fmt.Sprintf("%s/%d-%s", name, i, c.Preset), func(t *testing.T) {
				e := mustNew(t, Config{Preset: c.Preset, TenantClaims: c.TenantClaims, ClientClaims: c.ClientClaims})
				req := s.request()
				if c.NoRequest {
					req = nil
				}
				body := s.body(t)
				id, err := identifyBody(e, body, req)
				if err != nil {
					t.Fatal(err)
				}
				if id.Format != tokenJWT {
					t.Fatalf("not decoded as a JWT: %s", body)
				}
				checkIdentity(t, &id, c.Want)
				// Enrich agrees with Identify, and placeholders render the same
				out := runOutcome{}
				e2 := mustNew(t, Config{Preset: c.Preset, TenantClaims: c.TenantClaims, ClientClaims: c.ClientClaims,
					Fields: []FieldConfig{{Name: "x-tenant", Value: "{http.token.tenant}"}}})
				got, err := enrich(e2, nil, body, req, nil, &out)
				if err != nil {
					t.Fatal(err)
				}
				if out.Identity.Tenant != id.Tenant || out.Identity.ClientID != id.ClientID {
					t.Fatalf("Enrich identity %+v differs from Identify %+v", out.Identity, id)
				}
				m := decodeObject(t, got)
				if id.Tenant != "" && string(m["x-tenant"]) != fmt.Sprintf("%q", id.Tenant) {
					t.Fatalf("x-tenant = %s, want %q", m["x-tenant"], id.Tenant)
				}
			})
		}
	}
}

func checkIdentity(t *testing.T, id *Identity, want map[string]json.RawMessage) {
	t.Helper()
	str := func(k string) string {
		var s string
		if err := json.Unmarshal(want[k], &s); err != nil {
			t.Fatalf("want.%s: %v", k, err)
		}
		return s
	}
	list := func(k string) []string {
		var l []string
		if err := json.Unmarshal(want[k], &l); err != nil {
			t.Fatalf("want.%s: %v", k, err)
		}
		return l
	}
	for k := range want {
		var got, w string
		switch k {
		case "preset":
			got, w = id.Preset, str(k)
		case "client_id":
			got, w = id.ClientID, str(k)
		case "request_client_id":
			got, w = id.RequestClientID, str(k)
		case "tenant":
			got, w = id.Tenant, str(k)
		case "scope":
			got, w = id.scope(), str(k)
		case "grant_type":
			got, w = id.GrantType, str(k)
		case "audience":
			got, w = id.audience(), str(k)
		case "has_scope", "lacks_scope":
			for _, s := range list(k) {
				if id.hasScope(s) != (k == "has_scope") {
					t.Errorf("HasScope(%q) = %v", s, id.hasScope(s))
				}
			}
			continue
		case "claims":
			var cs map[string]string
			if err := json.Unmarshal(want[k], &cs); err != nil {
				t.Fatal(err)
			}
			for name, v := range cs {
				if got, _ := id.placeholder("claims." + name); got != v {
					t.Errorf("{http.token.claims.%s} = %q, want %q", name, got, v)
				}
			}
			continue
		default:
			t.Fatalf("unknown want key %q", k)
		}
		if got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

func TestDetect(t *testing.T) {
	cases := map[string]string{
		"https://acme.auth0.com/":                                 "auth0",
		"https://acme.eu.auth0.com/":                              "auth0",
		"HTTPS://ACME.US.AUTH0.COM/":                              "auth0",
		"https://acme.okta.com/oauth2/default":                    "okta",
		"https://acme.okta.com":                                   "okta",
		"https://acme.oktapreview.com/oauth2/aus1a2b3c4":          "okta",
		"https://acme.okta-emea.com/oauth2/default":               "okta",
		"https://login.microsoftonline.com/2b7f4c1e/v2.0":         "entra",
		"https://sts.windows.net/2b7f4c1e/":                       "entra",
		"https://login.microsoftonline.us/2b7f4c1e/v2.0":          "entra",
		"https://2b7f4c1e.ciamlogin.com/2b7f4c1e/v2.0":            "entra",
		"https://contoso.b2clogin.com/2b7f4c1e/v2.0/":             "entra",
		"https://sso.example.com/realms/acme":                     "keycloak",
		"http://localhost:8080/auth/realms/master":                "keycloak",
		"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x": "cognito",
		"https://cognito-idp.cn-north-1.amazonaws.com.cn/pool":    "cognito",
		"https://auth.example.com/":                               "generic",
		"http://127.0.0.1:4444/":                                  "generic",
		"https://auth0.com.evil.example/":                         "generic",
		"https://evil.example/acme.auth0.com/":                    "generic",
		"https://evil.example/?x=/realms/a":                       "generic",
		"https://evil.example#/realms/a":                          "generic",
		"https://acme.auth0.com?x=/realms/a":                      "auth0",
		"https://sso.example.com/realms/acme#x":                   "keycloak",
		"https://notokta.com/oauth2/default":                      "generic",
		"acme.auth0.com":                                          "generic",
		"":                                                        "generic",
		"https://acme.auth0.com:443/":                             "auth0",
		"https://user@acme.okta.com/":                             "okta",
	}
	for iss, want := range cases {
		if got := detectIssuer(iss).Name; got != want {
			t.Errorf("detectIssuer(%q) = %s, want %s", iss, got, want)
		}
	}
}

// TestSplitIssuer: the host loses its user and port, the path its query
// and fragment, whichever of them come first.
func TestSplitIssuer(t *testing.T) {
	cases := []struct{ iss, host, path string }{
		{"https://acme.eu.auth0.com/", "acme.eu.auth0.com", "/"},
		{"https://acme.okta.com", "acme.okta.com", ""},
		{"HTTP://sso.example.com/realms/acme", "sso.example.com", "/realms/acme"},
		{"https://user:pw@acme.okta.com:8443/oauth2/default?x=1#f", "acme.okta.com", "/oauth2/default"},
		{"https://a@b@host/", "host", "/"},
		{"https://[::1]:8443/realms/a", "[::1]", "/realms/a"},
		{"https://[::1]/realms/a", "[::1]", "/realms/a"},
		{"https://host?x=/realms/a", "host", ""},
		{"https://host#/realms/a", "host", ""},
		{"https://host/p#a?b", "host", "/p"},
		{"https://host/p?a#b/c", "host", "/p"},
		{"https://host#a?b/c", "host", ""},
		{"https://host:/p", "host", "/p"},
		{"https://", "", ""},
		{"ftp://host/", "", ""},
		{"host/realms/a", "", ""},
	}
	for _, c := range cases {
		if host, path := splitIssuer(c.iss); host != c.host || path != c.path {
			t.Errorf("splitIssuer(%q) = %q, %q, want %q, %q", c.iss, host, path, c.host, c.path)
		}
	}
}

func TestTenantFromIssuer(t *testing.T) {
	cases := []struct{ preset, iss, want string }{
		{"auth0", "https://acme.auth0.com/", "acme"},
		{"auth0", "https://acme.eu.auth0.com/", "acme"},
		{"auth0", "https://login.example.com/", "login.example.com"},
		{"okta", "https://acme.okta.com/oauth2/default", "default"},
		{"okta", "https://acme.okta.com/oauth2/aus8xk2lq7QbTbs4M5d7/", "aus8xk2lq7QbTbs4M5d7"},
		{"okta", "https://acme.okta.com", "acme.okta.com"},
		{"okta", "https://id.example.com/oauth2/default", "default"},
		{"entra", "https://login.microsoftonline.com/2b7f4c1e-3a9d/v2.0", "2b7f4c1e-3a9d"},
		{"entra", "https://sts.windows.net/2b7f4c1e-3a9d/", "2b7f4c1e-3a9d"},
		{"keycloak", "https://sso.example.com/realms/acme", "acme"},
		{"keycloak", "https://sso.example.com/auth/realms/acme/", "acme"},
		{"keycloak", "https://sso.example.com/", ""},
		{"cognito", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E", "us-east-1_Ab12Cd34E"},
		{"cognito", "not a url", ""},
	}
	for _, c := range cases {
		p, _ := lookupPreset(c.preset)
		if got := p.TenantFromIssuer(c.iss); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.preset, c.iss, got, c.want)
		}
	}
	for _, name := range []string{"generic", "hydra", "rfc9068"} {
		if p, _ := lookupPreset(name); p.TenantFromIssuer != nil {
			t.Errorf("%s derives a tenant from the issuer", name)
		}
	}
}

func TestPresetNames(t *testing.T) {
	want := "auto generic auth0 okta entra keycloak cognito hydra rfc9068"
	if got := strings.Join(presetNames(), " "); got != want {
		t.Fatalf("presetNames = %s", got)
	}
	for _, n := range presetNames()[1:] {
		p, ok := lookupPreset(n)
		if !ok || p.Name != n || len(p.Client) == 0 || len(p.Scope) == 0 || len(p.Audience) == 0 {
			t.Errorf("lookupPreset(%s) = %+v, %v", n, p, ok)
		}
		if _, err := New(Config{Preset: n}); err != nil {
			t.Errorf("New with preset %s: %v", n, err)
		}
	}
	if _, ok := lookupPreset("auto"); ok {
		t.Error("auto is not a preset")
	}
	_, err := New(Config{Preset: "Auth0"})
	if err == nil || !strings.Contains(err.Error(), `unknown preset "Auth0"`) || !strings.Contains(err.Error(), "keycloak") {
		t.Fatalf("unknown preset: %v", err)
	}
	// the returned preset is a copy
	p, _ := lookupPreset("okta")
	p.Client[0] = "changed"
	if q, _ := lookupPreset("okta"); q.Client[0] != "cid" {
		t.Fatal("lookupPreset shares its lists")
	}
}

func TestClaimOverridesWinOverPreset(t *testing.T) {
	s := loadSamples(t)["auth0-rfc9068-org-rbac"]
	body := s.body(t)
	e := mustNew(t, Config{Preset: "auth0", ClientClaims: []string{"sub"}, TenantClaims: []string{"jti"}})
	id, _ := identifyBody(e, body, nil)
	if id.ClientID != "auth0|6571a0c2e8f1d2b3c4d5e6f7" || id.Tenant != "73WakrfVbNJBaAmhQtEeDv" {
		t.Fatalf("identity %+v", id)
	}
	// an override that is absent falls back to the issuer, not to the preset's claims
	e = mustNew(t, Config{Preset: "auth0", TenantClaims: []string{"nope"}})
	if id, _ = identifyBody(e, body, nil); id.Tenant != "globex" {
		t.Fatalf("tenant %q", id.Tenant)
	}
}

// TestOpaqueAndEncryptedTokens: an opaque or JWE access token gives no
// claims; identity comes from the request, rules on client, grant and
// audience still match, claim placeholders render empty.
func TestOpaqueAndEncryptedTokens(t *testing.T) {
	jwe := "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ"
	cfg := Config{
		Fields: []FieldConfig{{Name: "plan", Value: "{http.token.claims.plan}"}, {Name: "who", Value: "{http.token.client_id}"}},
		Rules: []RuleConfig{
			{Name: "eu", Client: []string{"svc-eu"}, GrantType: []string{"device_code"}, Audience: []string{"https://api.example.com/"},
				Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu"}}},
			{Name: "tenant", Tenant: []string{"?*"}, Fields: []FieldConfig{{Name: "tenanted", JSON: json.RawMessage(`true`)}}},
			{Name: "claim", Claims: []ClaimCondition{{Name: "plan", Values: []string{"*"}}}, Fields: []FieldConfig{{Name: "claimed", JSON: json.RawMessage(`true`)}}},
		},
	}
	req := parseTokenRequest("application/x-www-form-urlencoded",
		"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS&client_id=svc-eu&audience=https%3A%2F%2Fapi.example.com%2F", "")
	for _, preset := range []string{"auto", "auth0", "hydra"} {
		e := mustNew(t, cfg)
		if preset != "auto" {
			c := cfg
			c.Preset = preset
			e = mustNew(t, c)
		}
		for name, tok := range map[string]string{"opaque": "ory_at_x1Tq0iZ.5dXcvYz", "jwe": jwe} {
			body := []byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":300}`)
			got, out := mustEnrich(t, e, body, &req)
			want := string(body[:len(body)-1]) + `,"who":"svc-eu","api-uri":"https://eu"}`
			if string(got) != want {
				t.Errorf("%s %s:\ngot  %s\nwant %s", preset, name, got, want)
			}
			if id := out.Identity; id.Format != tokenOpaque || id.Tenant != "" || id.Issuer != "" || id.ClientID != "svc-eu" ||
				id.GrantType != grantDeviceCode || id.audience() != "https://api.example.com/" {
				t.Errorf("%s %s: identity %+v", preset, name, id)
			}
		}
	}
}

func TestGrantTypes(t *testing.T) {
	rule := func(g ...string) Config {
		return Config{Rules: []RuleConfig{{GrantType: g, Fields: []FieldConfig{{Name: "hit", JSON: json.RawMessage(`true`)}}}}}
	}
	hit := func(e *Enricher, body string, req *tokenRequest) bool {
		got, _ := mustEnrich(t, e, []byte(body), req)
		return bytes.Contains(got, []byte(`"hit":true`))
	}
	opaque := `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer"}`
	form := func(body string) *tokenRequest {
		r := parseTokenRequest("application/x-www-form-urlencoded", body, "")
		return &r
	}
	cases := []struct {
		name  string
		rule  []string
		body  string
		req   *tokenRequest
		match bool
	}{
		{"device_code alias", []string{"device_code"}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x&client_id=tv"), true},
		{"device_code urn", []string{grantDeviceCode}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"), true},
		{"jwt_bearer alias", []string{"jwt_bearer"}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJ"), true},
		{"token_exchange alias", []string{"token_exchange"}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"), true},
		{"token exchange from issued_token_type", []string{"token_exchange"},
			`{"access_token":"2YotnFZFEjr1zCsicMWpAA","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"N_A"}`, nil, true},
		{"request wins over issued_token_type", []string{"token_exchange"},
			`{"access_token":"x","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`, form("grant_type=password"), false},
		{"password", []string{"password"}, opaque, form("grant_type=password&username=u&password=p&client_id=c"), true},
		{"refresh_token", []string{"refresh_token"}, opaque, form("grant_type=refresh_token&refresh_token=r"), true},
		{"alias is not a prefix", []string{"device"}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"), false},
		{"ciba", []string{"ciba"}, opaque, form("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=1"), true},
		{"saml2_bearer", []string{"saml2_bearer"}, opaque, form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Asaml2-bearer&assertion=PHNhbWw"), true},
	}
	for _, c := range cases {
		if got := hit(mustNew(t, rule(c.rule...)), c.body, c.req); got != c.match {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.match)
		}
	}
	if canonicalGrantType("client_credentials") != "client_credentials" || canonicalGrantType("token_exchange") != grantTokenExchange {
		t.Fatal("canonicalGrantType")
	}
	if a := grantAliases; len(a) != 5 || a["jwt_bearer"] != grantJWTBearer {
		t.Fatalf("grantAliases = %v", a)
	}
}

// TestClientAuthentication: whatever way the client authenticated, the
// request names it; a token claim naming another client wins and the
// disagreement stays visible in RequestClientID.
func TestClientAuthentication(t *testing.T) {
	assertion := testjwt.Unsigned([]byte(`{"alg":"PS256","kid":"k"}`), []byte(`{"iss":"svc-jwt","sub":"svc-jwt","aud":"https://idp/token","jti":"j","exp":1}`))
	hmacAssertion := testjwt.Unsigned([]byte(`{"alg":"HS256"}`), []byte(`{"iss":"svc-hmac","aud":"https://idp/token","exp":1}`))
	cases := []struct {
		name, ctype, body, basic, want string
	}{
		{"client_secret_basic", "application/x-www-form-urlencoded", "grant_type=client_credentials", "svc-basic", "svc-basic"},
		{"client_secret_post", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=svc-post&client_secret=s", "", "svc-post"},
		{"private_key_jwt", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + assertion, "", "svc-jwt"},
		{"client_secret_jwt without sub", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion=" + hmacAssertion, "", "svc-hmac"},
		{"tls_client_auth / public client", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=c&client_id=spa&code_verifier=v", "", "spa"},
		{"json body", "application/json", `{"grant_type":"client_credentials","client_id":"svc-json","client_secret":"s"}`, "", "svc-json"},
	}
	e := mustNew(t, Config{})
	opaque := []byte(`{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer"}`)
	for _, c := range cases {
		req := parseTokenRequest(c.ctype, c.body, c.basic)
		id, err := identifyBody(e, opaque, &req)
		if err != nil || id.ClientID != c.want || id.RequestClientID != c.want {
			t.Errorf("%s: client %q request client %q err %v", c.name, id.ClientID, id.RequestClientID, err)
		}
	}
	// Basic says one client, the token's azp another: the token wins
	body := loadSamples(t)["auth0-m2m"]
	req := parseTokenRequest("application/x-www-form-urlencoded", "grant_type=client_credentials", "someone-else")
	s := body.body(t)
	id, _ := identifyBody(e, s, &req)
	if id.ClientID != "Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg" || id.RequestClientID != "someone-else" {
		t.Fatalf("disagreement: %+v", id)
	}
}

// TestHydraNestedClaims: with preset hydra, {http.token.claims.*}, claim
// conditions and the tenant read `ext` when the claim is not at the top
// level; a top-level claim wins over ext.
func TestHydraNestedClaims(t *testing.T) {
	claims := map[string]any{"client_id": "cc", "sub": "cc", "tenant": "top", "ext": map[string]any{"tenant": "nested", "plan": "gold", "n": 3}}
	body := tokenResponse(t, testjwt.ClaimsHeader(t, `{"alg":"RS256","typ":"JWT"}`, claims))
	cfg := Config{Preset: "hydra",
		Fields: []FieldConfig{{Name: "t", Value: "{http.token.tenant}"}, {Name: "p", Value: "{http.token.claims.plan}"}, {Name: "n", Value: "{http.token.claims.n}"}},
		Rules:  []RuleConfig{{Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}}, Fields: []FieldConfig{{Name: "gold", JSON: json.RawMessage(`true`)}}}},
	}
	got, _ := mustEnrich(t, mustNew(t, cfg), body, nil)
	if !bytes.HasSuffix(got, []byte(`,"t":"top","p":"gold","n":"3","gold":true}`)) {
		t.Fatalf("hydra: %s", got)
	}
	cfg.Preset = "generic"
	got, _ = mustEnrich(t, mustNew(t, cfg), body, nil)
	if !bytes.HasSuffix(got, []byte(`,"t":"top"}`)) {
		t.Fatalf("generic: %s", got)
	}
}

// TestPresetHeaderDetection: auto looks at the header only when the issuer
// is unknown.
func TestPresetHeaderDetection(t *testing.T) {
	e := mustNew(t, Config{})
	claims := map[string]any{"iss": "https://as.example.net/", "client_id": "c"}
	for header, want := range map[string]string{
		`{"alg":"RS256","typ":"at+jwt"}`:             "rfc9068",
		`{"alg":"RS256","typ":"application/at+JWT"}`: "rfc9068",
		`{"alg":"RS256","typ":"JWT"}`:                "generic",
		`{"alg":"RS256"}`:                            "generic",
		`{"alg":"RS256","typ":"at+jwt","x5c":["` + strings.Repeat("A", 900) + `"]}`: "rfc9068",
	} {
		id, _ := identifyBody(e, tokenResponse(t, testjwt.ClaimsHeader(t, header, claims)), nil)
		if id.Preset != want {
			t.Errorf("%.60s: preset %s, want %s", header, id.Preset, want)
		}
	}
	claims["iss"] = "https://acme.auth0.com/"
	id, _ := identifyBody(e, tokenResponse(t, testjwt.ClaimsHeader(t, `{"typ":"at+jwt"}`, claims)), nil)
	if id.Preset != "auth0" {
		t.Errorf("issuer must win over the header: %s", id.Preset)
	}
}

// TestIssuerReadOnceForPresetAndIdentity: the text of the iss claim that
// places a token's preset is the identity's issuer, and the one a
// tenant is derived from, escapes read (a JSON encoder may write "\/"),
// and only a string issuer places a token.
func TestIssuerReadOnceForPresetAndIdentity(t *testing.T) {
	e := mustNew(t, Config{})
	for _, c := range []struct {
		payload, preset, issuer, tenant string
	}{
		{`{"iss":"https:\/\/acme.auth0.com\/","azp":"c"}`, "auth0", "https://acme.auth0.com/", "acme"},
		{`{"iss":"https:\/\/sso.example.com\/realms\/acme","azp":"c"}`, "keycloak", "https://sso.example.com/realms/acme", "acme"},
		{`{"iss":"https://acme.okta.com/oauth2/default","cid":"c"}`, "okta", "https://acme.okta.com/oauth2/default", "default"},
		{`{"iss":12,"client_id":"c"}`, "generic", "12", ""},
		{`{"iss":null,"client_id":"c"}`, "generic", "", ""},
	} {
		id, err := identifyBody(e, tokenResponse(t, testjwt.Payload(c.payload)), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if id.Preset != c.preset || id.Issuer != c.issuer || id.Tenant != c.tenant {
			t.Errorf("%s: preset %q issuer %q tenant %q, want %q %q %q",
				c.payload, id.Preset, id.Issuer, id.Tenant, c.preset, c.issuer, c.tenant)
		}
	}
}

// BenchmarkIdentifyPreset compares auto detection with a named preset on
// every sample.
func BenchmarkIdentifyPreset(b *testing.B) {
	samples := loadSamples(b)
	names := make([]string, 0, len(samples))
	for n := range samples {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := samples[n]
		body, req := s.body(b), s.request()
		auto := mustNew(b, Config{})
		id, _ := identifyBody(auto, body, req)
		for _, c := range []struct {
			label string
			e     *Enricher
		}{{"auto", auto}, {id.Preset, mustNew(b, Config{Preset: id.Preset})}} {
			b.Run(n+"/"+c.label, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_, _ = identifyBody(c.e, body, req)
				}
			})
		}
	}
}

// TestPresetListsAgreeWithTheTable: every place that lists the preset
// names for people (the Caddyfile syntax, the module docs, the README,
// docs/configuration.md and docs/idps.md) lists exactly the names of the
// table in enrichers, in its order, so that adding a preset there and
// forgetting a page fails here.
func TestPresetListsAgreeWithTheTable(t *testing.T) {
	names := presetNames()
	piped := strings.Join(names, "|")
	rest := names[1:]
	prose := strings.Join(rest[:len(rest)-1], ", ") + " or " + rest[len(rest)-1]
	for file, wants := range map[string][]string{
		"../caddymodule/caddyfile.go": {"preset       " + piped},
		"enricher.go":                 {prose},
		"../README.md":                {"preset " + piped, "auto (default), " + strings.Join(rest, ", ")},
		"../docs/idps.md":             {"preset " + piped},
		"../docs/configuration.md":    {"preset " + piped},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", " ")), " ")
		for _, w := range wants {
			if !strings.Contains(text, strings.Join(strings.Fields(w), " ")) {
				t.Errorf("%s does not list the presets as %q", file, w)
			}
		}
	}
}
