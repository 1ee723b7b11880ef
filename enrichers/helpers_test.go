package enrichers

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// tokenResponse builds an Auth0-shaped client-credentials response.
func tokenResponse(t testing.TB, token string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"access_token": token})
	if err != nil {
		t.Fatal(err)
	}
	// keep a realistic member order that json.Marshal would sort away
	return append(append([]byte(`{"access_token":`), b[len(`{"access_token":`):len(b)-1]...),
		[]byte(`,"scope":"read:orders write:orders","expires_in":86400,"token_type":"Bearer"}`)...)
}

func mustNew(t testing.TB, cfg Config) *Enricher {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// decodeObject parses b with encoding/json (the strict judge) into a map.
func decodeObject(t testing.TB, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return m
}

// testHost is the Host of the engine's tests: the rules whose matcher set
// matches, the objects the sources find, and a resolver.
type testHost struct {
	match   map[int]bool
	found   map[string][]byte
	resolve resolver
	// published is the response Publish was given; asked lists the
	// sources LookUp was asked for, matchAsked the rules MatchRule was
	// asked about.
	published  *Response
	asked      []string
	matchAsked []int
}

func (h *testHost) Publish(r *Response) { h.published = r }
func (h *testHost) MatchRule(i int) bool {
	h.matchAsked = append(h.matchAsked, i)
	return h.match[i]
}
func (h *testHost) LookUp(names []string) []Found {
	h.asked = append(h.asked, names...)
	var out []Found
	for _, n := range names {
		obj, ok := h.found[n]
		state := "hit"
		if !ok {
			state = "miss"
		}
		out = append(out, Found{Source: n, Object: obj, State: state})
	}
	return out
}
func (h *testHost) Resolve(key string) (string, bool) {
	if h.resolve == nil {
		return "", false
	}
	return h.resolve(key)
}

// runOutcome is what a test asks of and reads from a Run, in one value.
type runOutcome struct {
	Status   Status
	Identity Identity
	// WantNames and WantValues ask for Added and Values.
	WantNames  bool
	Added      []string
	WantValues bool
	Values     []string
	Count      func(label int)
	Kept       int
}

// requestInput encodes req as the form body a client would send, so that
// a test's token request goes through Run's own parsing.
func requestInput(in *Input, req *tokenRequest) {
	if req == nil {
		return
	}
	f := url.Values{}
	set := func(k, v string) {
		if v != "" {
			f.Add(k, v)
		}
	}
	set("grant_type", req.GrantType)
	set("client_id", req.ClientID)
	set("scope", req.Scope)
	for _, a := range req.Audiences.list() {
		f.Add("audience", a)
	}
	for _, r := range req.Resources.list() {
		f.Add("resource", r)
	}
	if req.AssertionClientID != "" {
		// a client assertion naming that client, as private_key_jwt sends
		claims, _ := json.Marshal(map[string]string{"sub": req.AssertionClientID})
		f.Add("client_assertion", testjwt.Unsigned([]byte(`{"alg":"RS256"}`), claims))
	}
	in.RequestType, in.Request = "application/x-www-form-urlencoded", f.Encode()
}

// runWith runs e on body for req through host and fills out. Like the
// handler, it passes the body on unchanged (appended to dst) when it is a
// JSON object that is not enriched, and returns the reading error of one
// that is not a JSON object.
func runWith(e *Enricher, dst, body []byte, req *tokenRequest, host Host, out *runOutcome) ([]byte, error) {
	in := Input{Body: body, Names: out.WantNames, Values: out.WantValues, Count: out.Count}
	requestInput(&in, req)
	res := e.Run(dst, &in, host)
	out.Status, out.Added, out.Values, out.Kept = res.Status, res.Added, res.Values, res.Kept
	if res.Response != nil && res.Status != StatusNotToken && res.Status != StatusAmbiguous {
		out.Identity = res.Response.Identity
	}
	switch res.Status {
	case StatusInvalid, StatusTooDeep:
		return dst, res.Err
	case StatusEnriched:
		return res.Body, nil
	}
	return append(dst, body...), nil
}

// enrich is runWith without a host but for a resolver.
func enrich(e *Enricher, dst, body []byte, req *tokenRequest, resolve resolver, out *runOutcome) ([]byte, error) {
	var host Host
	if resolve != nil {
		host = &testHost{resolve: resolve}
	}
	return runWith(e, dst, body, req, host, out)
}

// identifyBody is the identity Run reads from body; zero for a body that
// is not a token response.
func identifyBody(e *Enricher, body []byte, req *tokenRequest) (Identity, error) {
	var out runOutcome
	_, err := enrich(e, nil, body, req, nil, &out)
	return out.Identity, err
}

// explain is Run's explanation of body through host.
func explain(e *Enricher, body []byte, req *tokenRequest, host Host) *Explanation {
	in := Input{Body: body, Explain: true}
	requestInput(&in, req)
	return e.Run(nil, &in, host).Explanation
}

// runInput is Run of body for req through host, with in's other
// settings (Introspection, Names, Values, Explain, Count).
func runInput(e *Enricher, dst, body []byte, req *tokenRequest, host Host, in Input) Result {
	in.Body = body
	requestInput(&in, req)
	return e.Run(dst, &in, host)
}

// output is the body a handler sends for res: the enriched body, else
// body as it came.
func output(res Result, body []byte) []byte {
	if res.Status == StatusEnriched {
		return res.Body
	}
	return body
}

// valuesOf is the values of a parameter sent with vs, in order.
func valuesOf(vs ...string) values {
	var out values
	for _, v := range vs {
		out.add(v)
	}
	return out
}

// list returns the values in order, nil for none: the tests compare the
// token request's repeated parameters with url.ParseQuery's.
func (vs *values) list() []string {
	if !vs.sent {
		return nil
	}
	return append([]string{vs.first}, vs.more...)
}
