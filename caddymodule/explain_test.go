package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// runExplain runs `caddy token-enrich <args>` in-process, through the
// command as Caddy registered it, with stdin; it returns what it printed
// and its error (a non-nil error is a non-zero exit of caddy).
func runExplain(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	c, ok := caddycmd.Commands()["token-enrich"]
	if !ok {
		t.Fatal("token-enrich is not a registered caddy command")
	}
	cmd := &cobra.Command{Use: c.Name, Short: c.Short}
	c.CobraFunc(cmd)
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), err
}

// explainJSON is the part of explain's JSON output the tests read.
type explainJSON struct {
	Identity []struct{ Name, Value, From string }
	Rules    []struct {
		Name    string
		Matched bool
		Why     string
	}
	Fields []struct {
		Name, From, Rule, Why string
		Added                 bool
		Value                 json.RawMessage
	}
	Result, Reason, Body string
	Status               int
}

func (x explainJSON) identity(name string) string {
	for _, v := range x.Identity {
		if v.Name == name {
			return v.Value + " from " + v.From
		}
	}
	return ""
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// explainBlock exercises every stage explain shares with the handler:
// identity placeholders, a table source, rules on token conditions and on
// request matchers (headers, and remote_ip, which explain takes to be
// 127.0.0.1, as the test client is), set_json, a field the upstream sends.
func explainBlock(table string) string {
	return `
	token_enrich {
		set api-uri https://eu.api.example.com
		set tenant_id {http.token.tenant}
		set expires_at never
		rule acme {
			tenant org_acme
			set_json limits ` + "`" + `{"rps": 100, "burst": 20}` + "`" + `
			source tenants table ` + table + ` {
				key {http.token.tenant}
			}
		}
		rule eu {
			client svc-*
			match {
				remote_ip 127.0.0.0/8
				header X-Region eu-*
			}
			set network internal
		}
		rule admin {
			scope admin
			set tier gold
		}
	}
	reverse_proxy {UPSTREAM}
`
}

// TestExplainAgreesWithTheProxy feeds the same token response, request and
// headers to a real proxied request through in-process Caddy and to
// `caddy token-enrich explain` with the same Caddyfile: the body explain
// prints must be byte for byte the one the proxy sends, for responses that
// are enriched in different ways, kept unchanged or not token responses.
func TestExplainAgreesWithTheProxy(t *testing.T) {
	dir := t.TempDir()
	table := writeFile(t, dir, "tenants.json", `{"org_acme":{"plan":"gold","scope":"never written"}}`)
	// the upstream answers what the test tells it to in X-Body
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(200, r.Header.Get("X-Body"))(w, r)
	})
	block := explainBlock(table)
	base := startCaddy(t, block, up)
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	// a decoy site first, whose handler --site must not pick
	caddyfile := writeFile(t, dir, "Caddyfile", fmt.Sprintf(":1 {\n\ttoken_enrich {\n\t\tset decoy yes\n\t}\n\trespond 404\n}\nhttp://127.0.0.1:%s {\n%s\n}\n",
		port, strings.ReplaceAll(block, "{UPSTREAM}", up.addr)))

	cases := []struct {
		name, body, request string
		headers             []string
		result              string
	}{
		{"acme in eu", auth0Body("svc-eu", "org_acme"), "grant_type=client_credentials&client_id=svc-eu", []string{"X-Region", "eu-west"}, "enriched: added api-uri, tenant_id, expires_at, limits, plan, network"},
		{"other tenant", auth0Body("svc-us", "org_globex"), "grant_type=client_credentials", []string{"X-Region", "us-east"}, "enriched: added api-uri, tenant_id, expires_at"},
		{"upstream sends api-uri", `{"access_token":"opaque","api-uri":"mine","token_type":"Bearer"}`, "", nil, "enriched: added expires_at"},
		{"not a token response", `{"error":"nope"}`, "", nil, "not_token: not a token response (no string access_token): sent unchanged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := writeFile(t, dir, "token.json", c.body)
			hdr := append([]string{"X-Body", c.body}, c.headers...)
			_, proxied := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", c.request, hdr...)

			args := []string{"explain", "--config", caddyfile, "--site", "127.0.0.1:" + port, "--response", resp, "--request", c.request, "--format", "json"}
			for i := 0; i < len(c.headers); i += 2 {
				args = append(args, "--header", c.headers[i]+": "+c.headers[i+1])
			}
			out, err := runExplain(t, "", args...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			var x explainJSON
			if err := json.Unmarshal([]byte(out), &x); err != nil {
				t.Fatalf("--format json is not JSON: %v\n%s", err, out)
			}
			if x.Body != string(proxied) {
				t.Errorf("explain and the proxy disagree\nexplain %s\nproxy   %s", x.Body, proxied)
			}
			if got := x.Result + ": " + x.Reason; got != c.result {
				t.Errorf("result %q, want %q", got, c.result)
			}
			if strings.Contains(x.Body, "decoy") {
				t.Errorf("--site picked the decoy site's handler: %s", x.Body)
			}
		})
	}
}

// TestExplainText: the text output lists the identity with the provenance
// of each value, every rule (matched, or the failed condition and its
// value), every field with its value or why it was left out, then the body.
func TestExplainText(t *testing.T) {
	dir := t.TempDir()
	table := writeFile(t, dir, "tenants.json", `{"org_acme":{"plan":"gold"}}`)
	caddyfile := writeFile(t, dir, "Caddyfile", ":8080 {\n"+strings.ReplaceAll(explainBlock(table), "{UPSTREAM}", "127.0.0.1:9")+"}\n")
	body := auth0Body("svc-eu", "org_acme")
	resp := writeFile(t, dir, "token.json", body+"\n")
	out, err := runExplain(t, "", "explain", "--config", caddyfile, "--response", resp,
		"--request", "grant_type=client_credentials&client_id=svc-eu", "--header", "X-Region: us-east")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	for _, want := range []string{
		"client_id   svc-eu",
		"from claim azp",
		"tenant      org_acme",
		"from claim org_id",
		"grant_type  client_credentials          from request: grant_type",
		"preset      auth0",
		"acme   matched",
		"eu     not matched: match: its matcher set did not match the request",
		`admin  not matched: scope "admin" missing (token scopes "read:orders")`,
		`api-uri     = "https://eu.api.example.com"`,
		`tenant_id   = "org_acme"`,
		`limits      = {"rps":100,"burst":20}`,
		`plan        = "gold"`,
		"network     left out: rule not matched",
		"tier        left out: rule not matched",
		"result  enriched: added api-uri, tenant_id, expires_at, limits, plan",
		"\nbody (status 200)\n" + body[:len(body)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","expires_at":"never","limits":{"rps":100,"burst":20},"plan":"gold"}` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// TestExplainTokenAndStdin: a bare access token (--token) stands for a
// response holding only it, and --response - reads stdin; both name the
// same identity as the full response.
func TestExplainTokenAndStdin(t *testing.T) {
	dir := t.TempDir()
	caddyfile := writeFile(t, dir, "Caddyfile", ":8080 {\n\ttoken_enrich {\n\t\tset tenant_id {http.token.tenant}\n\t}\n\treverse_proxy 127.0.0.1:9\n}\n")
	body := auth0Body("svc-eu", "org_acme")
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"token": {"--token", resp.AccessToken},
		"stdin": {"--response", "-"},
	} {
		out, err := runExplain(t, body, append([]string{"explain", "--config", caddyfile, "--format", "json"}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		var x explainJSON
		if err := json.Unmarshal([]byte(out), &x); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if got := x.identity("tenant"); got != "org_acme from claim org_id" {
			t.Errorf("%s: tenant %q", name, got)
		}
		want := body[:len(body)-1] + `,"tenant_id":"org_acme"}`
		if name == "token" {
			want = `{"access_token":"` + resp.AccessToken + `","token_type":"Bearer","tenant_id":"org_acme"}`
		}
		if x.Body != want {
			t.Errorf("%s: body %s, want %s", name, x.Body, want)
		}
	}
}

// TestExplainRequestHeaders: --header reaches the handler as a header of
// the token request: the Basic user of Authorization names the client of
// an opaque token, as it would for a proxied request.
func TestExplainRequestHeaders(t *testing.T) {
	dir := t.TempDir()
	caddyfile := writeFile(t, dir, "Caddyfile", ":8080 {\n\ttoken_enrich {\n\t\tset client {http.token.client_id}\n\t}\n\treverse_proxy 127.0.0.1:9\n}\n")
	out, err := runExplain(t, `{"access_token":"opaque","token_type":"Bearer"}`, "explain", "--config", caddyfile, "--format", "json",
		"--response", "-", "--request", "grant_type=client_credentials", "--header", "Authorization: Basic c3ZjLWV1OnNlY3JldA==")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var x explainJSON
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := x.identity("client_id"); !strings.HasPrefix(got, "svc-eu from request") {
		t.Errorf("client %q", got)
	}
	if x.Body != `{"access_token":"opaque","token_type":"Bearer","client":"svc-eu"}` {
		t.Errorf("body %s", x.Body)
	}
}

// TestExplainConfigErrors: a config that does not adapt or provision, or
// bad arguments, fail the command (caddy exits non-zero), with Caddy's
// file:line message for a Caddyfile error.
func TestExplainConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "Caddyfile", ":8080 {\n\ttoken_enrich {\n\t\tset api-uri x\n\t\tbogus 1\n\t}\n}\n")
	noHandler := writeFile(t, dir, "plain.caddyfile", ":8080 {\n\trespond 200\n}\n")
	badPreset := writeFile(t, dir, "preset.caddyfile", ":8080 {\n\ttoken_enrich {\n\t\tpreset nosuch\n\t}\n}\n")
	resp := writeFile(t, dir, "token.json", auth0Body("svc-eu", "org_acme"))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--config", bad, "--response", resp}, "Caddyfile:4"},
		{[]string{"--config", noHandler, "--adapter", "caddyfile", "--response", resp}, "no token_enrich handler"},
		{[]string{"--config", badPreset, "--adapter", "caddyfile", "--response", resp}, "nosuch"},
		{[]string{"--config", bad}, "exactly one of --response"},
		{[]string{"--config", noHandler, "--adapter", "caddyfile", "--site", ":9090", "--response", resp}, "no token_enrich handler in site :9090"},
	}
	for _, c := range cases {
		out, err := runExplain(t, "", append([]string{"explain"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q\n%s", c.args, err, c.want, out)
		}
	}
}
