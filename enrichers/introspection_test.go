package enrichers

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// introspected is an active RFC 7662 response as zitadel/oidc serves it,
// with the custom tenant claim of the client.
const introspected = `{"active":true,"scope":"api:read api:write","client_id":"svc-acme","token_type":"Bearer",` +
	`"exp":1700086400,"iat":1700000000,"sub":"svc-acme","aud":["svc-acme","https://api.example.com/"],` +
	`"iss":"https://idp.example.com","jti":"t-1","tenant":"acme"}`

// renderIntrospection runs an introspection response, as the handler does:
// the response as read, the body sent and the outcome.
func renderIntrospection(t *testing.T, e *Enricher, body string, req *tokenRequest) (*Response, string, runOutcome) {
	t.Helper()
	res := runInput(e, nil, []byte(body), req, nil, Input{Introspection: true, Names: true})
	if res.Err != nil || res.Response == nil {
		t.Fatalf("introspection response: status %v err %v", res.Status, res.Err)
	}
	out := runOutcome{WantNames: true, Status: res.Status, Added: res.Added, Kept: res.Kept, Identity: res.Response.Identity}
	return res.Response, string(output(res, []byte(body))), out
}

// An active introspection response is identified from its own members, as
// a JWT's claims would be, and enriched by the same rules and placeholders.
func TestReadIntrospectionActive(t *testing.T) {
	e := mustNew(t, Config{
		Fields: []FieldConfig{{Name: "tenant_id", Value: "{http.token.tenant}"}},
		Rules: []RuleConfig{
			{Name: "acme", Tenant: []string{"acme"}, Client: []string{"svc-*"}, Audience: []string{"https://api.example.com/"},
				Issuer: []string{"https://idp.example.com"}, Scope: []string{"api:write"}, GrantType: []string{"client_credentials"},
				Fields: []FieldConfig{{Name: "api-uri", Value: "https://{http.token.tenant}.api.example.com"}}},
			{Name: "other", Tenant: []string{"globex"}, Fields: []FieldConfig{{Name: "never", Value: "x"}}},
		},
	})
	// the caller is the resource server, not the token's client
	r, got, out := renderIntrospection(t, e, introspected, &tokenRequest{ClientID: "resource-server"})
	want := introspected[:len(introspected)-1] + `,"tenant_id":"acme","api-uri":"https://acme.api.example.com"}`
	if got != want || out.Status != StatusEnriched || strings.Join(out.Added, ",") != "tenant_id,api-uri" {
		t.Fatalf("got  %s\nwant %s\noutcome %+v", got, want, out)
	}
	id := r.Identity
	if id.ClientID != "svc-acme" || id.RequestClientID != "resource-server" || id.Tenant != "acme" ||
		id.Issuer != "https://idp.example.com" || id.Subject != "svc-acme" || id.scope() != "api:read api:write" ||
		id.audience() != "svc-acme" || !id.hasScope("api:write") || id.Format != tokenIntrospected ||
		id.GrantType != "client_credentials" || id.Preset != presetGeneric {
		t.Fatalf("identity %+v", id)
	}
	var auds []string
	id.eachAudience(func(a string) bool { auds = append(auds, a); return true })
	if strings.Join(auds, " ") != "svc-acme https://api.example.com/" {
		t.Fatalf("audiences %v", auds)
	}
	if v, _, _ := r.Placeholder("claims.jti"); v != "t-1" {
		t.Fatalf("claims.jti placeholder %q", v)
	}
}

// The preset is chosen by `iss` as for a token: an Auth0 issuer reads
// Auth0's claim names, and the tenant falls back to the issuer's.
func TestReadIntrospectionPresetFromIssuer(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "tenant_id", Value: "{http.token.tenant}"}}})
	body := `{"active":true,"iss":"https://acme.eu.auth0.com/","azp":"svc-eu","client_id":"other","permissions":["read:orders"]}`
	r, got, _ := renderIntrospection(t, e, body, nil)
	if id := r.Identity; id.Preset != "auth0" || id.ClientID != "svc-eu" || id.Tenant != "acme" || !id.hasScope("read:orders") {
		t.Fatalf("identity %+v", id)
	}
	if got != body[:len(body)-1]+`,"tenant_id":"acme"}` {
		t.Fatalf("got %s", got)
	}
}

// Without a client_id member the token's client is unknown: the caller's
// client id must not stand in for it, or a client rule would match the
// resource server that asked.
func TestReadIntrospectionClientNotFromRequest(t *testing.T) {
	e := mustNew(t, Config{Rules: []RuleConfig{{Client: []string{"resource-server"}, Fields: []FieldConfig{{Name: "x", Value: "y"}}}}})
	body := `{"active":true,"sub":"alice"}`
	r, got, out := renderIntrospection(t, e, body, &tokenRequest{ClientID: "resource-server", GrantType: "client_credentials", Scope: "s"})
	if got != body || out.Status != StatusUnchanged || r.Identity.ClientID != "" || r.Identity.GrantType != "" ||
		r.Identity.scope() != "" || r.Identity.RequestClientID != "resource-server" {
		t.Fatalf("got %s, outcome %+v, identity %+v", got, out, r.Identity)
	}
}

// Only `"active": true` is enriched: an inactive response says nothing
// about a token, and a repeated `active` (in any spelling a client folds)
// may be read either way; each is passed on byte for byte.
func TestReadIntrospectionNotActive(t *testing.T) {
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "x", Value: "y"}}})
	cases := []struct {
		body string
		want Status
	}{
		{`{"active":false}`, StatusNotToken},
		{`{"active":false,"client_id":"svc-acme","tenant":"acme"}`, StatusNotToken},
		{`{"client_id":"svc-acme","tenant":"acme"}`, StatusNotToken},
		{`{"active":"true","client_id":"svc-acme"}`, StatusNotToken},
		{`{"active":1}`, StatusNotToken},
		{`{"active":null}`, StatusNotToken},
		{`{"active":{"v":true}}`, StatusNotToken},
		{`{"Active":true}`, StatusNotToken}, // not the RFC's name
		{`{"active":true,"active":true}`, StatusAmbiguous},
		{`{"active":false,"active":true}`, StatusAmbiguous},
		{`{"active":true,"Active":false}`, StatusAmbiguous},
		{`{"active":true,"client_id":"a","Client_ID":"b"}`, StatusAmbiguous},
		{`{"active":true,"access_token":"a","Access_Token":"b"}`, StatusAmbiguous},
	}
	for _, c := range cases {
		r, got, out := renderIntrospection(t, e, c.body, nil)
		if got != c.body || r.Status != c.want || out.Status != c.want || r.Identity.ClientID != "" {
			t.Errorf("%s: got %s, status %v (want %v), identity %+v", c.body, got, out.Status, c.want, r.Identity)
		}
	}
}

// The body is validated as a token response is.
func TestReadIntrospectionInvalid(t *testing.T) {
	e := mustNew(t, Config{})
	for _, body := range []string{``, `[]`, `{"active":true`, "{\"active\":true,\"x\":\"\xff\"}"} {
		if res := runInput(e, nil, []byte(body), nil, nil, Input{Introspection: true}); !errors.Is(res.Err, errNotJSONObject) || res.Status != StatusInvalid {
			t.Errorf("%q: status %v err %v", body, res.Status, res.Err)
		}
	}
	deep := `{"active":true,"x":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`
	if res := runInput(e, nil, []byte(deep), nil, nil, Input{Introspection: true}); !errors.Is(res.Err, errTooDeep) || res.Status != StatusTooDeep {
		t.Errorf("deep: status %v err %v", res.Status, res.Err)
	}
}

// RFC 7662 members are the server's statement about the token: neither a
// configured field (even with overwrite), nor a lifted claim, writes one
// into an introspection response, in any folded spelling. The same
// configuration writes them into a token response, where they mean nothing
// standard.
func TestIntrospectionReservedNeverWritten(t *testing.T) {
	e := mustNew(t, Config{
		Overwrite:  true,
		LiftClaims: []string{"ext"},
		Fields: []FieldConfig{
			{Name: "sub", Value: "forged"}, {Name: "Client_Id", Value: "forged"}, {Name: "Active", JSONText: "false"},
			{Name: "exp", JSONText: "1"}, {Name: "username", Value: "forged"}, {Name: "JTI", Value: "forged"},
			{Name: "plan", Value: "gold"},
		},
	})
	body := `{"active":true,"sub":"alice","client_id":"svc","ext":{"iss":"forged","nbf":1,"aud":"forged","region":"eu"}}`
	_, got, out := renderIntrospection(t, e, body, nil)
	want := body[:len(body)-1] + `,"region":"eu","plan":"gold"}`
	if got != want || strings.Join(out.Added, ",") != "region,plan" {
		t.Fatalf("got  %s\nwant %s\nadded %v", got, want, out.Added)
	}
	for _, n := range []string{"active", "ACTIVE", "scope", "client_id", "username", "token_type", "exp", "iat", "nbf", "sub", "aud", "iss", "jti", "access_token"} {
		if !isIntrospectionReserved(n) {
			t.Errorf("isIntrospectionReserved(%q) = false", n)
		}
	}
	if isIntrospectionReserved("plan") || isReserved("sub") {
		t.Error("plan is introspection-reserved, or sub token-reserved")
	}
	// a token response gets the fields that are not token response members
	tok, _ := mustEnrich(t, e, []byte(`{"access_token":"opaque"}`), nil)
	if m := decodeObject(t, tok); string(m["sub"]) != `"forged"` || string(m["Active"]) != "false" {
		t.Fatalf("token response %s", tok)
	}
}

// rfc7662 is how encoding/json (and so a Go resource server) reads the
// standard members of an introspection response: case-insensitively,
// the last match winning.
type rfc7662 struct {
	Active    json.RawMessage `json:"active"`
	Scope     json.RawMessage `json:"scope"`
	ClientID  json.RawMessage `json:"client_id"`
	Username  json.RawMessage `json:"username"`
	TokenType json.RawMessage `json:"token_type"`
	Exp       json.RawMessage `json:"exp"`
	Iat       json.RawMessage `json:"iat"`
	Nbf       json.RawMessage `json:"nbf"`
	Sub       json.RawMessage `json:"sub"`
	Aud       json.RawMessage `json:"aud"`
	Iss       json.RawMessage `json:"iss"`
	Jti       json.RawMessage `json:"jti"`
}

// FuzzReadIntrospection: whatever the body, with fields named after RFC
// 7662 members, a lift of arbitrary members and overwrite on, a response
// is only ever changed when a client reads `active` as true, and a client
// reads every RFC 7662 member of the result exactly as the upstream sent
// it; the input is never modified.
func FuzzReadIntrospection(f *testing.F) {
	for _, s := range []string{
		introspected,
		`{"active":true,"ext":{"Sub":"x","region":"eu"},"tenant":"acme"}`,
		`{"active":true,"sub":"a","SUB":"b"}`,
		`{"active":false,"client_id":"svc-acme"}`,
		`{"active":true,"Active":false}`,
		`{"Active":true}`,
		`{"active":"true"}`,
		`[]`,
		`{"active":true`,
	} {
		f.Add([]byte(s))
	}
	e := mustNew(f, Config{
		Overwrite:  true,
		LiftClaims: []string{"ext"},
		Fields: []FieldConfig{
			{Name: "tenant_id", Value: "{http.token.tenant}"}, {Name: "sub", Value: "forged"},
			{Name: "Client_Id", Value: "forged"}, {Name: "aCTIVE", JSONText: "false"}, {Name: "region", Value: "x"},
		},
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		res := runInput(e, nil, body, &tokenRequest{ClientID: "rs"}, nil, Input{Introspection: true})
		if !bytes.Equal(body, orig) {
			t.Fatal("Run modified its input")
		}
		if res.Err != nil {
			if !errors.Is(res.Err, errNotJSONObject) {
				t.Fatalf("error %v is not errNotJSONObject", res.Err)
			}
			return
		}
		got := output(res, body)
		if bytes.Equal(got, body) {
			return
		}
		var before, after rfc7662
		if err := json.Unmarshal(body, &before); err != nil {
			t.Fatalf("changed a body encoding/json refuses: %v\n%s", err, body)
		}
		if err := json.Unmarshal(got, &after); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, got)
		}
		if string(before.Active) != "true" {
			t.Fatalf("changed a response a client reads as inactive:\n%s\n%s", body, got)
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("a standard member reads differently:\n%s\n%s", body, got)
		}
	})
}

// A source's members are added to an active introspection response as to
// a token response, keyed by the response's identity, and its RFC 7662
// members skipped like its token response members; what it found after
// the response's members never reaches into them (the identity's claims
// read the same).
func TestIntrospectionSource(t *testing.T) {
	e := mustNew(t, Config{
		Sources: []SourceSpec{{Name: "tenants"}},
		Fields:  []FieldConfig{{Source: "tenants"}, {Name: "cell", Value: "{http.token.source.tenants.cell}"}},
	})
	host := &testHost{found: map[string][]byte{"tenants": []byte(`{"region":"eu","sub":"x","Exp":1,"ſcope":"x","cell":"c7","tenant":"other"}`)}}
	res := runInput(e, nil, []byte(introspected), nil, host, Input{Introspection: true})
	if res.Err != nil || len(res.Rejected) > 0 {
		t.Fatalf("err %v, rejected %v", res.Err, res.Rejected)
	}
	if got := strings.Join(host.asked, ","); got != "tenants" {
		t.Fatalf("sources looked up: %s", got)
	}
	r := res.Response
	got := string(output(res, []byte(introspected)))
	// the response's own `tenant` is kept: overwrite is off
	if want := introspected[:len(introspected)-1] + `,"region":"eu","cell":"c7"}`; got != want || res.Kept != 1 {
		t.Fatalf("got  %s\nwant %s\nkept %d", got, want, res.Kept)
	}
	if r.Identity.Tenant != "acme" || r.Identity.claim("tenant").String() != "acme" || r.Identity.claim("region").Exists() {
		t.Fatalf("identity after the source: %+v", r.Identity)
	}
}
