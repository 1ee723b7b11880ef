package enrichers

// Hardening of the engine against bad token responses: every case
// asserts the exact outcome. The invariant checker at the bottom is shared
// with the fuzz targets in fuzz_test.go.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// hdEnricher is the configuration the hardening tests and fuzz targets run:
// constants, identity and claim placeholders, typed JSON, a lifted claim and
// rules on client, tenant and a claim.
func hdEnricher(t testing.TB, overwrite bool) *Enricher {
	t.Helper()
	return mustNew(t, Config{
		LiftClaims: []string{"ext"},
		Overwrite:  overwrite,
		Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://eu.api.example.com"},
			{Name: "tenant_id", Value: "{http.token.tenant}"},
			{Name: "client", Value: "{http.token.client_id}"},
			{Name: "nasty", Value: "{http.token.claims.nasty}"},
		},
		Rules: []RuleConfig{
			{Name: "acme", Tenant: []string{"org_acme"}, Fields: []FieldConfig{{Name: "limits", JSON: json.RawMessage(`{"rps":100}`)}}},
			{Name: "svc", Client: []string{"svc-*"}, Fields: []FieldConfig{{Name: "region", Value: "eu"}}},
			{Name: "plan", Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}}, Fields: []FieldConfig{{Name: "gold", JSON: json.RawMessage(`true`)}}},
		},
	})
}

// hdFieldNames are the names hdEnricher configures.
var hdFieldNames = map[string]bool{"api-uri": true, "tenant_id": true, "client": true, "nasty": true, "limits": true, "region": true, "gold": true}

func TestHardeningNotAnObjectIsRefused(t *testing.T) {
	e := hdEnricher(t, false)
	bodies := map[string]string{
		"empty":                      ``,
		"whitespace":                 " \n\t",
		"truncated in a value":       `{"access_token":"eyJhbGciOi","token_type":"Bea`,
		"truncated after a member":   `{"access_token":"abc",`,
		"truncated before the brace": `{"access_token":"abc"`,
		"array root":                 `[{"access_token":"abc"}]`,
		"string root":                `"{\"access_token\":\"abc\"}"`,
		"number root":                `42`,
		"null root":                  `null`,
		"bool root":                  `true`,
		"two objects":                `{"access_token":"a"}{"access_token":"b"}`,
		"trailing garbage":           `{"access_token":"a"}x`,
		"trailing comma":             `{"access_token":"a",}`,
		"single quotes":              `{'access_token':'a'}`,
		"unquoted key":               `{access_token:"a"}`,
		"invalid utf-8 in a value":   "{\"access_token\":\"a\xff\"}",
		"invalid utf-8 in a key":     "{\"acc\xfe\":\"a\",\"access_token\":\"a\"}",
		"overlong utf-8":             "{\"access_token\":\"\xc0\xaf\"}",
		"utf-8 encoded surrogate":    "{\"access_token\":\"\xed\xa0\x80\"}",
		"truncated utf-8 sequence":   "{\"access_token\":\"\xe2\x82\"}",
		"byte order mark":            "\xef\xbb\xbf{\"access_token\":\"a\"}",
		"raw control character":      "{\"access_token\":\"a\x01\"}",
		"raw newline in a string":    "{\"access_token\":\"a\nb\"}",
		"bad escape":                 `{"access_token":"a\x"}`,
		"short unicode escape":       `{"access_token":"\u12"}`,
		"leading zero":               `{"access_token":"a","n":01}`,
		"nan":                        `{"access_token":"a","n":NaN}`,
		"html error page":            `<html><body>{"access_token":"a"}</body></html>`,
		"utf-16le":                   "{\x00\"\x00a\x00\"\x00:\x001\x00}\x00",
	}
	for name, body := range bodies {
		var out runOutcome
		got, err := enrich(e, []byte("dst"), []byte(body), nil, nil, &out)
		if !errors.Is(err, errNotJSONObject) || string(got) != "dst" {
			t.Errorf("%s: err=%v dst=%q", name, err, got)
		}
		if _, err := identifyBody(e, []byte(body), nil); !errors.Is(err, errNotJSONObject) {
			t.Errorf("%s: Identify err=%v", name, err)
		}
		if hdStrictObject([]byte(body)) {
			t.Errorf("%s: the strict judge accepts it; the case is wrong", name)
		}
	}
}

func TestHardeningAccessTokenNotAString(t *testing.T) {
	e := hdEnricher(t, false)
	for _, body := range []string{
		`{"access_token":123,"token_type":"Bearer"}`,
		`{"access_token":null}`,
		`{"access_token":true}`,
		`{"access_token":{"value":"abc"}}`,
		`{"access_token":["abc"]}`,
		`{"token_type":"Bearer","expires_in":3600}`,
		`{"ACCESS_TOKEN":"abc"}`,
		`{"error":"invalid_client","error_description":"bad secret"}`,
	} {
		var out runOutcome
		got, err := enrich(e, nil, []byte(body), &tokenRequest{ClientID: "svc-eu"}, nil, &out)
		if err != nil || string(got) != body || out.Status != StatusNotToken {
			t.Errorf("%s: err=%v status=%v got %s", body, err, out.Status, got)
		}
	}
}

// TestHardeningDuplicateKeys: a standard member repeated, in any spelling
// encoding/json folds together, makes the response ambiguous (the module
// would read one, clients another), so it passes unchanged. A repeated
// non-standard member is not ambiguous for the identity: the response is
// enriched, and with overwrite every occurrence of a configured member is
// replaced.
func TestHardeningDuplicateKeys(t *testing.T) {
	first := testjwt.Payload(`{"azp":"svc-first","org_id":"org_acme"}`)
	second := testjwt.Payload(`{"azp":"svc-second","org_id":"org_other"}`)
	ambiguous := map[string]string{
		"two access_token":         `{"access_token":"` + first + `","access_token":"` + second + `","token_type":"Bearer"}`,
		"access_token, other case": `{"access_token":"` + first + `","Access_Token":"` + second + `","token_type":"Bearer"}`,
		"access_token, long s":     `{"access_token":"` + first + `","acce\u017fs_token":"` + second + `"}`,
		"two token_type":           `{"access_token":"` + first + `","token_type":"Bearer","token_type":"mac"}`,
		"expires_in, other case":   `{"access_token":"` + first + `","expires_in":300,"EXPIRES_IN":5}`,
		"escaped second scope":     `{"access_token":"` + first + `","scope":"a","\u0073cope":"b"}`,
		"two error, not a token":   `{"error":"a","error":"b"}`,
	}
	for _, overwrite := range []bool{false, true} {
		for name, body := range ambiguous {
			var out runOutcome
			got, err := enrich(hdEnricher(t, overwrite), nil, []byte(body), nil, nil, &out)
			if err != nil || string(got) != body || out.Status != StatusAmbiguous || out.Identity.ClientID != "" {
				t.Errorf("%s (overwrite %v): err=%v status=%v\ngot  %s\nwant %s", name, overwrite, err, out.Status, got, body)
			}
		}
	}

	body := `{"access_token":"` + first + `","api-uri":"https://up/1","api-uri":"https://up/2","token_type":"Bearer"}`
	var out runOutcome
	got, err := enrich(hdEnricher(t, false), nil, []byte(body), nil, nil, &out)
	want := body[:len(body)-1] + `,"tenant_id":"org_acme","client":"svc-first","limits":{"rps":100},"region":"eu"}`
	if err != nil || string(got) != want || out.Kept != 1 || out.Identity.ClientID != "svc-first" {
		t.Fatalf("keep: err=%v kept=%d\ngot  %s\nwant %s", err, out.Kept, got, want)
	}
	got, err = enrich(hdEnricher(t, true), nil, []byte(body), nil, nil, &runOutcome{})
	want = `{"access_token":"` + first + `","api-uri":"https://eu.api.example.com","api-uri":"https://eu.api.example.com","token_type":"Bearer","tenant_id":"org_acme","client":"svc-first","limits":{"rps":100},"region":"eu"}`
	if err != nil || string(got) != want {
		t.Fatalf("overwrite: err=%v\ngot  %s\nwant %s", err, got, want)
	}
	hdCheckEnrich(t, []byte(body), got, nil, hdFieldNames, true)

	// a claim repeated in the token payload: the last one counts, as JWT
	// libraries read it
	tok := testjwt.Payload(`{"azp":"svc-first","org_id":"org_other","azp":"svc-last","org_id":"org_acme"}`)
	body = `{"access_token":"` + tok + `"}`
	got, _ = enrich(hdEnricher(t, false), nil, []byte(body), nil, nil, &runOutcome{})
	if want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","client":"svc-last","limits":{"rps":100},"region":"eu"}`; string(got) != want {
		t.Fatalf("repeated claims:\ngot  %s\nwant %s", got, want)
	}
}

func TestHardeningMalformedJWTIsOpaque(t *testing.T) {
	b64 := testjwt.Segment
	good := b64([]byte(`{"azp":"svc-token","org_id":"org_acme","plan":"gold"}`))
	tokens := map[string]string{
		"two parts":              "eyJhbGciOiJSUzI1NiJ9." + good,
		"four parts":             "eyJhbGciOiJSUzI1NiJ9." + good + ".c2ln.extra",
		"five parts (JWE)":       "eyJhbGciOiJSU0EtT0FFUCJ9." + good + ".iv.ct.tag",
		"bad base64":             "eyJhbGciOiJSUzI1NiJ9.!!" + good[2:] + ".c2ln",
		"standard base64 alpha":  "eyJhbGciOiJSUzI1NiJ9." + base64.StdEncoding.EncodeToString([]byte(`{"azp":"svc-token","x":"??>>"}`)) + ".c2ln",
		"payload not JSON":       testjwt.Payload(`azp=svc-token`),
		"payload array":          testjwt.Payload(`[{"azp":"svc-token"}]`),
		"payload string":         testjwt.Payload(`"svc-token"`),
		"payload truncated":      testjwt.Payload(`{"azp":"svc-token"`),
		"payload invalid utf-8":  testjwt.Payload("{\"azp\":\"svc-token\xff\"}"),
		"payload with garbage":   testjwt.Payload(`{"azp":"svc-token"} {}`),
		"empty payload":          "eyJhbGciOiJSUzI1NiJ9..c2ln",
		"empty header":           "." + good + ".c2ln",
		"only dots":              "..",
		"opaque with dots":       "2YotnFZ.FEjr1zC.sicMWpAA",
		"whitespace in segments": "eyJhbGciOiJSUzI1NiJ9. " + good + " .c2ln",
	}
	e := hdEnricher(t, false)
	for name, tok := range tokens {
		body := `{"access_token":` + string(gjsonQuote(tok)) + `,"token_type":"Bearer"}`
		var out runOutcome
		got, err := enrich(e, nil, []byte(body), &tokenRequest{ClientID: "svc-request"}, nil, &out)
		// identity from the request alone: no tenant, no claims, so only
		// the constant, the client and the client rule apply
		want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","client":"svc-request","region":"eu"}`
		if err != nil || string(got) != want || out.Identity.Format != tokenOpaque || out.Identity.Tenant != "" {
			t.Errorf("%s: err=%v format=%v\ngot  %s\nwant %s", name, err, out.Identity.Format, got, want)
		}
	}
}

// gjsonQuote JSON-encodes s without HTML escaping, as an upstream would.
func gjsonQuote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestHardeningHugeAndDeepClaims(t *testing.T) {
	e := hdEnricher(t, false)

	// a 512 KiB claim and 20,000 claims
	var p bytes.Buffer
	p.WriteString(`{"azp":"svc-big","org_id":"org_acme","nasty":"` + strings.Repeat("x", 512<<10) + `"`)
	for i := 0; i < 20000; i++ {
		p.WriteString(`,"c` + strings.Repeat("0", i%7) + string(rune('a'+i%26)) + `":` + `[1,{"k":"v"}]`)
	}
	p.WriteString(`}`)
	body := `{"access_token":"` + testjwt.Payload(p.String()) + `","token_type":"Bearer"}`
	var out runOutcome
	got, err := enrich(e, nil, []byte(body), nil, nil, &out)
	want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","client":"svc-big","nasty":"` +
		strings.Repeat("x", 512<<10) + `","limits":{"rps":100},"region":"eu"}`
	if err != nil || string(got) != want {
		t.Fatalf("huge claims: err=%v, %d bytes out, want %d", err, len(got), len(want))
	}

	// Nesting is bounded at MaxDepth. A body nested deeper is refused
	// with errTooDeep (the handler passes it on unchanged); a token payload
	// nested deeper makes the token opaque: identity from the request.
	nest := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	req := &tokenRequest{ClientID: "svc-req"}
	atLimit := `{"access_token":"opaque","deep":` + nest(MaxDepth-1) + `}`
	got, err = enrich(e, nil, []byte(atLimit), req, nil, &runOutcome{})
	if want := atLimit[:len(atLimit)-1] + `,"api-uri":"https://eu.api.example.com","client":"svc-req","region":"eu"}`; err != nil || string(got) != want {
		t.Fatalf("body at the depth limit: err=%v, %d bytes out", err, len(got))
	}
	for _, depth := range []int{MaxDepth, 100000, 1 << 19} {
		body := `{"access_token":"opaque","deep":` + nest(depth) + `}`
		if got, err := enrich(e, nil, []byte(body), req, nil, &runOutcome{}); !errors.Is(err, errTooDeep) || !errors.Is(err, errNotJSONObject) || len(got) != 0 {
			t.Fatalf("body %d deep: err=%v, %d bytes out", depth, err, len(got))
		}
		// unterminated: refused the same way, not crashed on
		if _, err := enrich(e, nil, []byte(`{"a":`+strings.Repeat(`[`, depth)), req, nil, &runOutcome{}); !errors.Is(err, errNotJSONObject) {
			t.Fatalf("truncated body %d deep: %v", depth, err)
		}
		deepObj := strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth)
		payload := `{"azp":"svc-deep","org_id":"org_acme","nasty":` + nest(depth) + `,"ext":{"deep":` + deepObj + `}}`
		body = `{"access_token":"` + testjwt.Payload(payload) + `"}`
		var out runOutcome
		got, err = enrich(e, nil, []byte(body), req, nil, &out)
		if want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","client":"svc-req","region":"eu"}`; err != nil || string(got) != want || out.Identity.Format != tokenOpaque {
			t.Fatalf("payload %d deep: err=%v format=%v\ngot  %.300s", depth, err, out.Identity.Format, got)
		}
	}
	// a payload at the limit is read, rendered and lifted
	payload := `{"azp":"svc-deep","org_id":"org_acme","nasty":` + nest(MaxDepth-1) + `,"ext":{"deep":` + nest(MaxDepth-2) + `}}`
	body = `{"access_token":"` + testjwt.Payload(payload) + `"}`
	got, err = enrich(e, nil, []byte(body), nil, nil, &runOutcome{})
	if want := body[:len(body)-1] + `,"deep":` + nest(MaxDepth-2) + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","client":"svc-deep","nasty":"` +
		nest(MaxDepth-1) + `","limits":{"rps":100},"region":"eu"}`; err != nil || string(got) != want {
		t.Fatalf("payload at the depth limit: err=%v\ngot  %.300s", err, got)
	}
}

func TestHardeningClaimValuesAreEscaped(t *testing.T) {
	// Each claim value must come out as a JSON string that decodes to
	// exactly the claim, with HTML-significant characters escaped so that
	// the response can never close a <script> block it is embedded in.
	cases := []struct{ claim, wantJSON string }{
		{`say "hi"`, `"say \"hi\""`},
		{`C:\path\to`, `"C:\\path\\to"`},
		{"line1\nline2\r\n\ttab", `"line1\nline2\r\n\ttab"`},
		{`</script><script>alert(1)</script>`, `"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"`},
		{"a&b", `"a\u0026b"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"\b\f", `"\b\f"`},
		{`","access_token":"evil`, `"\",\"access_token\":\"evil"`},
		{`{http.token.client_id}{env.HOME}`, `"{http.token.client_id}{env.HOME}"`},
		{"é😀", `"é😀"`},
	}
	e := hdEnricher(t, false)
	for _, c := range cases {
		claims, _ := json.Marshal(map[string]any{"azp": "other", "nasty": c.claim})
		body := `{"access_token":"` + testjwt.Payload(string(claims)) + `"}`
		// a resolver that would leak if claim text were expanded again
		leak := func(string) (string, bool) { return "LEAKED", true }
		got, err := enrich(e, nil, []byte(body), nil, leak, &runOutcome{})
		want := body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","client":"other","nasty":` + c.wantJSON + `}`
		if err != nil || string(got) != want {
			t.Errorf("%q: err=%v\ngot  %s\nwant %s", c.claim, err, got, want)
			continue
		}
		m := decodeObject(t, got)
		var back string
		if err := json.Unmarshal(m["nasty"], &back); err != nil || back != c.claim {
			t.Errorf("%q: decodes to %q (%v)", c.claim, back, err)
		}
		if bytes.Count(got, []byte(`"access_token"`)) != 1 {
			t.Errorf("%q: injected a member: %s", c.claim, got)
		}
	}
}

func TestHardeningLiftClaimCannotSmuggleReserved(t *testing.T) {
	upstream := `"token_type":"Bearer","expires_in":300,"scope":"read"`
	cases := []struct {
		name, ext, want string
	}{
		{"every reserved name", `{"access_token":"x","token_type":"x","expires_in":1,"refresh_token":"x","scope":"admin","id_token":"x",` +
			`"issued_token_type":"x","error":"x","error_description":"x","error_uri":"x","region":"eu"}`, `,"region":"eu"`},
		{"escaped reserved names", `{"access\u005ftoken":"x","\u0065xpires_in":1,"refresh_\u0074oken":"x","region":"eu"}`, `,"region":"eu"`},
		{"duplicate reserved", `{"scope":"a","scope":"b","ok":1}`, `,"ok":1`},
		{"empty key", `{"":"x","ok":1}`, `,"ok":1`},
		{"reserved names in other cases", `{"Access_Token":"x","SCOPE":"y","Token_Type":"mac","EXPIRES_IN":5,"region":"eu"}`, `,"region":"eu"`},
		{"reserved names with Unicode folding", `{"acce\u017fs_token":"x","acceſs_token":"y","\u212aey":"k","region":"eu"}`, `,"\u212aey":"k","region":"eu"`},
		{"escaped non-reserved key is kept as sent", `{"api\u002dpath":"/v1"}`, `,"api\u002dpath":"/v1"`},
		{"nested reserved names stay nested", `{"inner":{"access_token":"x"}}`, `,"inner":{"access_token":"x"}`},
		{"values are copied as the upstream encoded them", `{"html":"</script>","esc":"\u003c/script\u003e","n":1.50}`,
			`,"html":"</script>","esc":"\u003c/script\u003e","n":1.50`},
		{"not an object", `["access_token","x"]`, ``},
		{"string", `"access_token"`, ``},
	}
	for _, overwrite := range []bool{false, true} {
		e := mustNew(t, Config{LiftClaims: []string{"ext"}, Overwrite: overwrite})
		for _, c := range cases {
			tok := testjwt.Payload(`{"azp":"svc","ext":` + c.ext + `}`)
			body := `{"access_token":"` + tok + `",` + upstream + `}`
			var out runOutcome
			got, err := enrich(e, nil, []byte(body), nil, nil, &out)
			if want := body[:len(body)-1] + c.want + `}`; err != nil || string(got) != want {
				t.Errorf("%s (overwrite %v): err=%v\ngot  %s\nwant %s", c.name, overwrite, err, got, want)
			}
			hdCheckEnrich(t, []byte(body), got, err, nil, overwrite)
		}
	}
	// a lifted member may replace an upstream non-reserved member only with
	// overwrite, matching on the decoded name
	tok := testjwt.Payload(`{"ext":{"api\u002duri":"https://lifted","scope":"admin"}}`)
	body := `{"access_token":"` + tok + `","api-uri":"https://upstream","scope":"read"}`
	got, _ := enrich(mustNew(t, Config{LiftClaims: []string{"ext"}}), nil, []byte(body), nil, nil, &runOutcome{})
	if string(got) != body {
		t.Fatalf("lift kept: %s", got)
	}
	got, _ = enrich(mustNew(t, Config{LiftClaims: []string{"ext"}, Overwrite: true}), nil, []byte(body), nil, nil, &runOutcome{})
	if want := `{"access_token":"` + tok + `","api-uri":"https://lifted","scope":"read"}`; string(got) != want {
		t.Fatalf("lift overwrite:\ngot  %s\nwant %s", got, want)
	}
}

func TestHardeningValidObjectsKeepInvariants(t *testing.T) {
	tok := testjwt.Payload(`{"azp":"svc-eu","org_id":"org_acme","plan":"gold","nasty":"<\"\\>","ext":{"region":"lifted","access_token":"no"}}`)
	bodies := []string{
		`{"access_token":"` + tok + `"}`,
		" \r\n\t{ \"access_token\" : \"" + tok + "\" , \"x\" : [ 1 , { } ] } \n",
		`{"access_token":"` + tok + `","api-uri":"up","region":{"a":1},"limits":null,"gold":false,"scope":"s"}`,
		`{"access_token":"opaque","client":"up","nasty":"\u003c"}`,
		`{"access_token":"` + tok + `","":"","\u0000":"\u0000","\"":"\\"}`,
		`{"access_token":"` + tok + `","n":-0.0e+00,"big":123456789012345678901234567890,"u":"\ud83d\ude00"}`,
		`{"access_token":"` + tok + `","deep":` + strings.Repeat(`[`, MaxDepth-1) + strings.Repeat(`]`, MaxDepth-1) + `}`,
		`{"access_token":"` + tok + `","deep":` + strings.Repeat(`[`, 1000) + strings.Repeat(`]`, 1000) + `}`,
		`{"access_token":"` + tok + `","Access_Token":"x"}`,
	}
	for _, overwrite := range []bool{false, true} {
		e := hdEnricher(t, overwrite)
		for _, body := range bodies {
			for _, req := range []*tokenRequest{nil, {ClientID: "svc-req", Audiences: valuesOf("aud"), Scope: "a b"}} {
				got, err := enrich(e, []byte("PFX"), []byte(body), req, nil, &runOutcome{WantNames: true})
				if !bytes.HasPrefix(got, []byte("PFX")) {
					t.Fatalf("dst prefix lost: %q", got)
				}
				hdCheckEnrich(t, []byte(body), got[3:], err, hdFieldNames, overwrite)
			}
		}
	}
}

// hdStrictObject is the independent judge of "the input was a JSON object":
// encoding/json's grammar, valid UTF-8 and an object root.
func hdStrictObject(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i < len(b) && b[i] == '{' && json.Valid(b) && utf8.Valid(b)
}

// hdMember is one top-level member as encoding/json reads it.
type hdMember struct {
	name   string
	rawKey string
	rawVal string
}

// hdMembers lists the top-level members of a JSON object in order, with the
// exact bytes of each key and value.
func hdMembers(t testing.TB, b []byte) []hdMember {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v\n%q", tok, err, b)
	}
	var out []hdMember
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("key: %v\n%q", err, b)
		}
		key := strings.TrimLeft(string(b[start:dec.InputOffset()]), " \t\r\n,")
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("value: %v\n%q", err, b)
		}
		out = append(out, hdMember{name: tok.(string), rawKey: key, rawVal: string(raw)})
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	return out
}

// hdDepth is the deepest nesting of objects and arrays in a valid JSON
// text, as encoding/json's tokenizer sees it.
func hdDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// hdAmbiguous reports whether a standard member appears twice in spellings
// encoding/json takes for the same struct field: it decodes the body into a
// struct of the standard members once per member, and a standard member set
// by two different keys is ambiguous.
func hdAmbiguous(t testing.TB, b []byte) bool {
	seen := map[string]int{}
	for _, m := range hdMembers(t, b) {
		var probe struct {
			AccessToken      *json.RawMessage `json:"access_token"`
			TokenType        *json.RawMessage `json:"token_type"`
			ExpiresIn        *json.RawMessage `json:"expires_in"`
			RefreshToken     *json.RawMessage `json:"refresh_token"`
			Scope            *json.RawMessage `json:"scope"`
			IDToken          *json.RawMessage `json:"id_token"`
			IssuedTokenType  *json.RawMessage `json:"issued_token_type"`
			Error            *json.RawMessage `json:"error"`
			ErrorDescription *json.RawMessage `json:"error_description"`
			ErrorURI         *json.RawMessage `json:"error_uri"`
		}
		if err := json.Unmarshal([]byte("{"+m.rawKey+":"+m.rawVal+"}"), &probe); err != nil {
			t.Fatal(err)
		}
		for name, set := range map[string]bool{"access_token": probe.AccessToken != nil, "token_type": probe.TokenType != nil,
			"expires_in": probe.ExpiresIn != nil, "refresh_token": probe.RefreshToken != nil, "scope": probe.Scope != nil,
			"id_token": probe.IDToken != nil, "issued_token_type": probe.IssuedTokenType != nil, "error": probe.Error != nil,
			"error_description": probe.ErrorDescription != nil, "error_uri": probe.ErrorURI != nil} {
			if set {
				seen[name]++
			}
		}
	}
	for _, n := range seen {
		if n > 1 {
			return true
		}
	}
	return false
}

// hdCheckEnrich asserts the splice properties for one Enrich call on body:
//   - a body that is not a JSON object is refused (errNotJSONObject), and so
//     is one nested deeper than MaxDepth (errTooDeep);
//   - a body with a standard member twice passes unchanged;
//   - otherwise the output is a valid JSON object;
//   - every upstream member keeps its position, its key bytes and, unless it
//     is a non-reserved configured name and overwrite is on, its value bytes;
//   - reserved members are never added or changed;
//   - added members follow the upstream ones, are not reserved, never repeat
//     an upstream name or each other, and (when names is given) are
//     configured names;
//   - without overwrite the output is the body with members inserted before
//     its final brace, every other byte identical.
func hdCheckEnrich(t testing.TB, body, got []byte, err error, names map[string]bool, overwrite bool) {
	t.Helper()
	if !hdStrictObject(body) {
		if !errors.Is(err, errNotJSONObject) || len(got) != 0 {
			t.Fatalf("not an object, but err=%v out=%q\nbody %q", err, got, body)
		}
		return
	}
	if hdDepth(body) > MaxDepth {
		if !errors.Is(err, errTooDeep) || len(got) != 0 {
			t.Fatalf("nested deeper than MaxDepth, but err=%v out=%q\nbody %q", err, got, body)
		}
		return
	}
	if err != nil {
		t.Fatalf("valid object refused: %v\nbody %q", err, body)
	}
	if hdAmbiguous(t, body) {
		if !bytes.Equal(got, body) {
			t.Fatalf("ambiguous body changed\nbody %q\nout  %q", body, got)
		}
		return
	}
	if !hdStrictObject(got) {
		t.Fatalf("output is not a valid JSON object\nbody %q\nout  %q", body, got)
	}
	in, out := hdMembers(t, body), hdMembers(t, got)
	if len(out) < len(in) {
		t.Fatalf("members lost: %d -> %d\nbody %q\nout  %q", len(in), len(out), body, got)
	}
	upstream := map[string]bool{}
	for i, m := range in {
		upstream[m.name] = true
		o := out[i]
		if o.name != m.name || o.rawKey != m.rawKey {
			t.Fatalf("member %d renamed: %q -> %q\nbody %q\nout  %q", i, m.rawKey, o.rawKey, body, got)
		}
		replaceable := overwrite && !isReserved(m.name) && (names == nil || names[m.name])
		if o.rawVal != m.rawVal && !replaceable {
			t.Fatalf("member %q changed: %s -> %s\nbody %q\nout  %q", m.name, m.rawVal, o.rawVal, body, got)
		}
	}
	added := map[string]bool{}
	for _, o := range out[len(in):] {
		if isReserved(o.name) || upstream[o.name] || added[o.name] || (names != nil && !names[o.name]) {
			t.Fatalf("bad added member %q\nbody %q\nout  %q", o.name, body, got)
		}
		added[o.name] = true
	}
	if !overwrite {
		closeIdx := bytes.LastIndexByte(body, '}')
		if !bytes.HasPrefix(got, body[:closeIdx]) || !bytes.HasSuffix(got, body[closeIdx:]) {
			t.Fatalf("upstream bytes changed\nbody %q\nout  %q", body, got)
		}
		if len(added) == 0 && !bytes.Equal(got, body) {
			t.Fatalf("nothing added but output differs\nbody %q\nout  %q", body, got)
		}
	}
}
