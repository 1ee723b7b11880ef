package enrichers

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func TestParseTokenRequest(t *testing.T) {
	assertion := testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"iss": "issuer-client", "sub": "assert-client", "aud": "https://idp/oauth/token"})
	issOnly := testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"iss": "iss-only-client"})
	cases := []struct {
		name, ctype, body, basic string
		want                     tokenRequest
	}{
		{
			name:  "form with body credentials",
			ctype: "application/x-www-form-urlencoded",
			body:  "grant_type=client_credentials&client_id=svc-eu&client_secret=s3cr%3At&audience=https%3A%2F%2Fapi.example.com%2F&scope=read+write",
			want: tokenRequest{GrantType: "client_credentials", ClientID: "svc-eu",
				Audiences: valuesOf("https://api.example.com/"), Scope: "read write"},
		},
		{
			name:  "basic is form-decoded, and a body client_id naming another client is a conflict",
			ctype: "application/x-www-form-urlencoded; charset=UTF-8",
			body:  "grant_type=client_credentials&client_id=other&resource=urn%3Aa&resource=urn%3Ab",
			basic: "svc%3Aeu+one",
			want: tokenRequest{GrantType: "client_credentials", ClientID: "svc:eu one",
				Resources: valuesOf("urn:a", "urn:b"), ClientIDConflict: `Basic user "svc:eu one" and client_id "other"`},
		},
		{
			name:  "basic with a bad escape is kept raw",
			ctype: "application/x-www-form-urlencoded",
			body:  "grant_type=password",
			basic: "svc%zz",
			want:  tokenRequest{GrantType: "password", ClientID: "svc%zz"},
		},
		{
			name:  "json body (Auth0 style)",
			ctype: "application/json",
			body:  `{"client_id":"svc-us","client_secret":"x","audience":"https://api.example.com/","grant_type":"client_credentials","resource":["r1","r2"]}`,
			want: tokenRequest{GrantType: "client_credentials", ClientID: "svc-us",
				Audiences: valuesOf("https://api.example.com/"), Resources: valuesOf("r1", "r2")},
		},
		{
			name:  "private_key_jwt assertion",
			ctype: "application/x-www-form-urlencoded",
			body:  "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + assertion,
			want:  tokenRequest{GrantType: "client_credentials", AssertionClientID: "assert-client"},
		},
		{
			name:  "assertion without sub uses iss",
			ctype: "application/x-www-form-urlencoded",
			body:  "grant_type=client_credentials&client_assertion=" + issOnly,
			want:  tokenRequest{GrantType: "client_credentials", AssertionClientID: "iss-only-client"},
		},
		{
			name:  "garbage json",
			ctype: "application/json",
			body:  `{"client_id":`,
			basic: "b",
			want:  tokenRequest{ClientID: "b"},
		},
		{
			name:  "unknown content type",
			ctype: "text/plain",
			body:  "grant_type=client_credentials&client_id=x",
			want:  tokenRequest{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseTokenRequest(c.ctype, c.body, c.basic)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	tr := tokenRequest{AssertionClientID: "a", Resources: valuesOf("r")}
	if tr.client() != "a" || tr.audience() != "r" {
		t.Fatalf("fallbacks: client %q audience %q", tr.client(), tr.audience())
	}
}

// TestClientIDConflict: a request naming two different clients says how,
// and its response is ambiguous; identical repeats are no conflict.
func TestClientIDConflict(t *testing.T) {
	const form, js = "application/x-www-form-urlencoded", "application/json"
	for _, c := range []struct{ ctype, body, basic, want string }{
		{form, "client_id=a&client_id=b&client_id=c", "", `client_id "a" and client_id "b"`},
		{form, "client_id=&client_id=b", "", `client_id "" and client_id "b"`},
		{js, `{"client_id":"a","client_id":"b"}`, "", `client_id "a" and client_id "b"`},
		{form, "client_id=b", "a%20b", `Basic user "a b" and client_id "b"`},
		{js, `{"client_id":"b"}`, "a", `Basic user "a" and client_id "b"`},
		{form, "client_id=a&client_id=a", "", ""},
		{form, "client_id=a%20b", "a+b", ""},
		{js, `{"client_id":"a","client_id":"a"}`, "a", ""},
		{form, "grant_type=client_credentials", "a", ""},
	} {
		tr := parseTokenRequest(c.ctype, c.body, c.basic)
		if tr.ClientIDConflict != c.want {
			t.Errorf("%s (Basic %q): conflict %q, want %q", c.body, c.basic, tr.ClientIDConflict, c.want)
		}
		e := mustNew(t, Config{Fields: []FieldConfig{{Name: "x", Value: "y"}}})
		res := e.Run(nil, &Input{Body: tokenResponse(t, "opaque"), RequestType: c.ctype, Request: c.body, BasicUser: c.basic}, nil)
		if ambiguous := res.Status == StatusAmbiguous; ambiguous != (c.want != "") {
			t.Errorf("%s (Basic %q): status %v", c.body, c.basic, res.Status)
		}
		if c.want != "" && !strings.Contains(res.Ambiguity, c.want) {
			t.Errorf("%s (Basic %q): ambiguity %q, want it to name %s", c.body, c.basic, res.Ambiguity, c.want)
		}
	}
}
