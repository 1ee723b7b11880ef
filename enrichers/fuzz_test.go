package enrichers

// Fuzz targets. Seed corpora live in testdata/fuzz/<Target>/;
// scripts/fuzz.sh runs each target for a short fixed time.
//
//	go test -run '^$' -fuzz '^FuzzEnrich$' -fuzztime 30s ./enrichers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"mime"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// FuzzDecodeJWT: never panics; accepts exactly the JWS compact tokens whose
// payload segment decodes to a JSON object, and returns that payload.
func FuzzDecodeJWT(f *testing.F) {
	b64 := testjwt.Segment
	for _, s := range []string{
		"",
		".",
		"..",
		"a.b.c",
		"eyJhbGciOiJSUzI1NiJ9." + b64([]byte(`{"sub":"abc","aud":["x"]}`)) + ".c2ln",
		"eyJhbGciOiJSUzI1NiJ9." + b64([]byte(`{"sub":"abc"}`)) + "==.c2ln",
		"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
		"a." + b64([]byte(`[1]`)) + ".c",
		"a." + b64([]byte("{\"a\":\"\xff\"}")) + ".c",
		"2YotnFZFEjr1zCsicMWpAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		header, payload, ok := decodeJWT(token)
		parts := strings.Split(token, ".")
		var want []byte
		expect := len(parts) == 3 && parts[0] != "" && parts[1] != ""
		if expect {
			var err error
			want, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
			expect = err == nil && hdStrictObject(want)
		}
		if ok != expect {
			t.Fatalf("decodeJWT(%q) ok=%v, want %v (payload %q)", token, ok, expect, want)
		}
		if ok && (header != parts[0] || !bytes.Equal(payload, want)) {
			t.Fatalf("decodeJWT(%q) = %q, %q", token, header, payload)
		}
		_ = decodeJWTHeaderType([]byte(header))
		_ = decodeJWTHeaderType([]byte(token))
	})
}

// fuzzTokenMarker in a fuzzed body is replaced by a JWT around the fuzzed
// payload, so that one input drives both the response and the claims.
const fuzzTokenMarker = "@@TOKEN@@"

// FuzzEnrich: for any response body and token payload, Enrich never panics,
// refuses what is not a JSON object, and otherwise returns a valid JSON
// object in which every upstream member is byte-identical (bar overwritten
// configured names), no reserved member is added or changed, and, without
// overwrite, every upstream byte is kept (see hdCheckEnrich).
func FuzzEnrich(f *testing.F) {
	for _, s := range []struct {
		body, payload string
		overwrite     bool
	}{
		{`{"access_token":"@@TOKEN@@","token_type":"Bearer","expires_in":300}`, `{"azp":"svc-eu","org_id":"org_acme","plan":"gold"}`, false},
		{`{"access_token":"@@TOKEN@@","api-uri":"up","region":1}`, `{"azp":"svc-eu","ext":{"region":"x","scope":"admin","access_token":"e"}}`, true},
		{` { "access_token" : "@@TOKEN@@" , "scope":"a b" } `, `{"nasty":"\"</script>\n\\","tid":7}`, false},
		{`{"access_token":"@@TOKEN@@","access_token":"b","x":1,"x":2}`, `{"client_id":"svc-1","tenant":null}`, true},
		{`{"access_token":"opaque"}`, ``, false},
		{`{}`, ``, false},
		{`{"access_token":"a"`, ``, false},
		{`[{"access_token":"a"}]`, ``, false},
		{"{\"access_token\":\"\xff\"}", ``, false},
		{`{"access_token":"@@TOKEN@@","deep":[[[[[[{"a":[]}]]]]]]}`, `{"ext":{"a\u0062":1,"":2}}`, true},
	} {
		f.Add([]byte(s.body), []byte(s.payload), s.overwrite)
	}
	keep, over := hdEnricher(f, false), hdEnricher(f, true)
	f.Fuzz(func(t *testing.T, body, payload []byte, overwrite bool) {
		if bytes.Contains(body, []byte(fuzzTokenMarker)) {
			body = bytes.ReplaceAll(body, []byte(fuzzTokenMarker), []byte(testjwt.Payload(string(payload))))
		}
		e := keep
		if overwrite {
			e = over
		}
		orig := bytes.Clone(body)
		req := &tokenRequest{ClientID: "svc-req", Audiences: valuesOf("https://api/"), Scope: "read"}
		got, err := enrich(e, []byte("PFX"), body, req, nil, &runOutcome{WantNames: true})
		if !bytes.Equal(body, orig) {
			t.Fatal("Enrich modified its input")
		}
		if !bytes.HasPrefix(got, []byte("PFX")) {
			t.Fatalf("dst prefix lost: %q", got)
		}
		hdCheckEnrich(t, body, got[3:], err, hdAllowedNames(t, body), overwrite)
		if _, err2 := identifyBody(e, body, nil); (err2 == nil) != (err == nil) {
			t.Fatalf("Identify err=%v, Enrich err=%v", err2, err)
		}
	})
}

// hdAllowedNames returns the names hdEnricher may write for body: its
// configured names and the members of the token's "ext" claim, which it
// lifts. The token is the first string access_token, as the engine reads it.
func hdAllowedNames(t testing.TB, body []byte) map[string]bool {
	names := maps.Clone(hdFieldNames)
	if !hdStrictObject(body) {
		return names
	}
	for _, m := range hdMembers(t, body) {
		var tok string
		if m.name != "access_token" || json.Unmarshal([]byte(m.rawVal), &tok) != nil {
			continue
		}
		if _, payload, ok := decodeJWT(tok); ok {
			for _, c := range hdMembers(t, payload) {
				if c.name == "ext" && strings.HasPrefix(c.rawVal, "{") {
					for _, l := range hdMembers(t, []byte(c.rawVal)) {
						names[l.name] = true
					}
				}
			}
		}
		break
	}
	return names
}

// FuzzParseTokenRequest: never panics, never keeps the client secret, and
// reads the parameters as net/url does.
func FuzzParseTokenRequest(f *testing.F) {
	for _, s := range []struct{ ctype, body, basic string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=svc-eu&audience=https%3A%2F%2Fapi%2F&scope=a+b", ""},
		{"application/x-www-form-urlencoded; charset=ISO-8859-1", "grant_type=password&username=j%E9r%F4me&client_id=%zz", "svc%3Aeu"},
		{"application/json", `{"client_id":"svc-us","audience":["a","b"],"resource":"r","grant_type":"client_credentials"}`, ""},
		{"application/jwt+json", `{"client_assertion":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2ln"}`, ""},
		{"application/x-www-form-urlencoded", "client_assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJpc3MtY2xpZW50In0.c2ln&a;b=c", "x+y"},
		{"text/plain", "grant_type=client_credentials", "svc"},
		{"application/json", `{"client_id":`, ""},
		{"", "", ""},
	} {
		f.Add(s.ctype, []byte(s.body), s.basic)
	}
	const secret = "S3CR3T-never-kept"
	f.Fuzz(func(t *testing.T, ctype string, body []byte, basic string) {
		orig := bytes.Clone(body)
		tr := parseTokenRequest(ctype, string(body), basic)
		if !bytes.Equal(body, orig) {
			t.Fatal("parseTokenRequest modified its input")
		}
		if tr.client() != tr.ClientID && (tr.ClientID != "" || tr.client() != tr.AssertionClientID) {
			t.Fatalf("Client() = %q for %+v", tr.client(), tr)
		}
		if basic != "" {
			want, err := url.QueryUnescape(basic)
			if err != nil {
				want = basic
			}
			if tr.ClientID != want {
				t.Fatalf("basic %q: client %q, want %q", basic, tr.ClientID, want)
			}
		}
		// ParseQuery returns nothing at all past 10,000 parameters, a limit
		// of its own that the module (reading at most 64 KiB) does not copy
		if isForm(ctype) && bytes.Count(body, []byte("&")) < 10000 {
			form, _ := url.ParseQuery(string(body))
			if tr.GrantType != form.Get("grant_type") || tr.Scope != form.Get("scope") ||
				!reflect.DeepEqual(tr.Audiences.list(), form["audience"]) || !reflect.DeepEqual(tr.Resources.list(), form["resource"]) {
				t.Fatalf("form %q: %+v", body, tr)
			}
		}
		// a client secret added to the body never shows up in the result
		var withSecret []byte
		switch {
		case isForm(ctype):
			withSecret = append(bytes.Clone(body), "&client_secret="+secret...)
		case bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")):
			i := bytes.IndexByte(body, '{')
			withSecret = append(append(bytes.Clone(body[:i+1]), `"client_secret":"`+secret+`",`...), body[i+1:]...)
		default:
			return
		}
		if bytes.Contains(body, []byte(secret)) || strings.Contains(basic, secret) {
			return
		}
		tr2 := parseTokenRequest(ctype, string(withSecret), basic)
		if strings.Contains(strings.Join(append(append([]string{tr2.GrantType, tr2.ClientID, tr2.AssertionClientID, tr2.Scope},
			tr2.Audiences.list()...), tr2.Resources.list()...), "\x00"), secret) {
			t.Fatalf("secret kept: %+v", tr2)
		}
	})
}

// isForm reports whether a Content-Type is a form, as parseTokenRequest
// reads it.
func isForm(ctype string) bool {
	mt, _, _ := mime.ParseMediaType(ctype)
	return mt == "application/x-www-form-urlencoded"
}

// FuzzNesting: a body or a token payload nested at most MaxDepth deep is
// read; deeper, the body is refused with errTooDeep and the payload makes
// the token opaque. Nothing is read recursively past the bound, so no depth
// can exhaust the stack.
func FuzzNesting(f *testing.F) {
	f.Add(uint32(1), []byte("[{"), false)
	f.Add(uint32(MaxDepth-1), []byte("["), false)
	f.Add(uint32(MaxDepth), []byte("{"), true)
	f.Add(uint32(1<<20), []byte("[{["), false)
	f.Add(uint32(MaxDepth+1), []byte("{[\""), true)
	e := hdEnricher(f, false)
	f.Fuzz(func(t *testing.T, depth uint32, kinds []byte, inPayload bool) {
		depth %= 1 << 20
		if len(kinds) == 0 {
			kinds = []byte("[")
		}
		// depth levels below the root, each an array or an object, with a
		// string holding brackets at the bottom (which do not count)
		var open, closing strings.Builder
		for i := range int(depth) {
			if kinds[i%len(kinds)] == '{' {
				open.WriteString(`{"k":`)
			} else {
				open.WriteString(`[`)
			}
		}
		for i := int(depth) - 1; i >= 0; i-- {
			if kinds[i%len(kinds)] == '{' {
				closing.WriteByte('}')
			} else {
				closing.WriteByte(']')
			}
		}
		value := open.String() + `"[{\"]"` + closing.String()
		total := int(depth) + 1 // the root object
		req := &tokenRequest{ClientID: "svc-req"}
		var out runOutcome
		if !inPayload {
			body := []byte(`{"access_token":"opaque","deep":` + value + `}`)
			got, err := enrich(e, nil, body, req, nil, &out)
			if total > MaxDepth {
				if !errors.Is(err, errTooDeep) || len(got) != 0 {
					t.Fatalf("depth %d: err=%v, %d bytes", total, err, len(got))
				}
				return
			}
			if err != nil || out.Status != StatusEnriched {
				t.Fatalf("depth %d: err=%v status=%v", total, err, out.Status)
			}
			return
		}
		body := []byte(`{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","deep":`+value+`}`) + `"}`)
		if _, err := enrich(e, nil, body, req, nil, &out); err != nil {
			t.Fatalf("payload depth %d: %v", total, err)
		}
		want := "svc-tok"
		if total > MaxDepth {
			want = "svc-req" // the token is opaque: identity from the request
		}
		if out.Identity.ClientID != want {
			t.Fatalf("payload depth %d: client %q, want %q", total, out.Identity.ClientID, want)
		}
	})
}

// FuzzReservedNames: a member name is reserved exactly when encoding/json
// (and so golang.org/x/oauth2) would read it as a standard member, and such
// a name can neither be configured nor lifted from a claim.
func FuzzReservedNames(f *testing.F) {
	for _, n := range []string{"access_token", "Access_Token", "acceſs_token", "ACCESS_TOKEN", "expires_in", "Expires_In",
		"token_type", "\u212aey", "scope", "SCOPE", "ſcope", "api-uri", "", "error_uri", "error_urı"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) {
			return
		}
		key, _ := json.Marshal(name)
		var probe struct {
			AccessToken      *int `json:"access_token"`
			TokenType        *int `json:"token_type"`
			ExpiresIn        *int `json:"expires_in"`
			RefreshToken     *int `json:"refresh_token"`
			Scope            *int `json:"scope"`
			IDToken          *int `json:"id_token"`
			IssuedTokenType  *int `json:"issued_token_type"`
			Error            *int `json:"error"`
			ErrorDescription *int `json:"error_description"`
			ErrorURI         *int `json:"error_uri"`
		}
		if err := json.Unmarshal([]byte(`{`+string(key)+`:1}`), &probe); err != nil {
			t.Fatal(err)
		}
		standard := probe.AccessToken != nil || probe.TokenType != nil || probe.ExpiresIn != nil || probe.RefreshToken != nil ||
			probe.Scope != nil || probe.IDToken != nil || probe.IssuedTokenType != nil || probe.Error != nil ||
			probe.ErrorDescription != nil || probe.ErrorURI != nil
		if isReserved(name) != standard {
			t.Fatalf("isReserved(%q) = %v, encoding/json reads it as a standard member: %v", name, isReserved(name), standard)
		}
		if _, err := New(Config{Fields: []FieldConfig{{Name: name, Value: "x"}}}); name != "" && (err != nil) != standard {
			t.Fatalf("field %q: err=%v, standard %v", name, err, standard)
		}
		tok := testjwt.Payload(`{"ext":{` + string(key) + `:"lifted"}}`)
		body := `{"access_token":"` + tok + `","token_type":"Bearer"}`
		got, err := enrich(mustNew(t, Config{LiftClaims: []string{"ext"}, Overwrite: true}), nil, []byte(body), nil, nil, &runOutcome{})
		if err != nil {
			t.Fatal(err)
		}
		lifted := string(got) != body
		if lifted == (standard || name == "") {
			t.Fatalf("ext member %q: lifted %v, standard %v\n%s", name, lifted, standard, got)
		}
	})
}
