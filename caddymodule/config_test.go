package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func jsonConfig(port int, handler string) string {
	return fmt.Sprintf(`{"admin":{"listen":"localhost:%d"},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:%d"],
		"routes":[{"handle":[%s,{"handler":"static_response","body":"{\"access_token\":\"t\"}"}]}]}}}}}`, testcaddy.AdminPort, port, handler)
}

func TestJSONConfig(t *testing.T) {
	startCaddy(t, "respond ok", nil) // make sure the in-process Caddy runs
	port := testcaddy.FreePort(t)
	ok := `{"handler":"token_enrich","paths":["/token"],"max_body":4096,"on_error":"fail","overwrite":true,
		"tenant_claims":["tid"],"client_claims":["azp"],"lift_claims":["ext"],
		"fields":[{"name":"api-uri","value":"https://{http.token.tenant}.example.com"},{"name":"limits","json":{"rps":5}}],
		"rules":[{"name":"eu","client":["svc-*"],"claims":[{"name":"plan","values":["gold"]}],"fields":[{"name":"slot","value":"green"}]}]}`
	if code, body := testcaddy.PostLoad(t, "application/json", jsonConfig(port, ok)); code != 200 {
		t.Fatalf("valid JSON config refused: %d %s", code, body)
	}
	bad := map[string]string{
		`{"handler":"token_enrich","fields":[{"name":"refresh_token","value":"x"}]}`:                            `field \"refresh_token\" is a reserved OAuth 2.0 token response member`,
		`{"handler":"token_enrich","rules":[{"name":"r","fields":[{"name":"id_token","json":1}]}]}`:             `rules[0].fields[0].name: rule r: field \"id_token\" is a reserved`,
		`{"handler":"token_enrich","on_error":"maybe"}`:                                                         `on_error: expected pass or fail, got \"maybe\"`,
		`{"handler":"token_enrich","rules":[{"client":["a[b"],"fields":[{"name":"x","value":"y"}]}]}`:           `rules[0].client: rule #1: pattern \"a[b\": character classes are not supported`,
		`{"handler":"token_enrich","fields":[{"name":"x","value":"{http.token.bogus}"}]}`:                       `unknown placeholder {http.token.bogus}`,
		`{"handler":"token_enrich","fields":[{"name":"x","value":"v","json":1}]}`:                               `value, json and json_text are mutually exclusive`,
		`{"handler":"token_enrich","fields":[{"name":"","value":"v"}]}`:                                         `field name is empty`,
		`{"handler":"token_enrich","max_body":-1}`:                                                              `max_body: size -1 out of range: give a size from 1B to 1TiB, e.g. 1MiB`,
		`{"handler":"token_enrich","rules":[{"claims":[{"name":"plan"}],"fields":[{"name":"x","value":"y"}]}]}`: `rules[0].claims[0].values: rule #1: claim \"plan\" needs at least one pattern`,
		`{"handler":"token_enrich","rules":[{"fields":[{"name":"a","value":"b"}]},{"fields":[{"name":"a","value":"b"}]},{"fields":[{"name":"a","value":"b"},{"name":"Access_Token","value":"x"}]}]}`: `rules[2].fields[1].name: rule #3: field \"Access_Token\" is a reserved`,
		`{"handler":"token_enrich","fields":[{"name":"ok","json_text":"{"}]}`: `fields[0].json_text: field \"ok\": invalid JSON value`,
	}
	for h, want := range bad {
		code, body := testcaddy.PostLoad(t, "application/json", jsonConfig(port, h))
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("config %s\nstatus %d body %s\nwant it to contain %s", h, code, body, want)
		}
	}
}

func TestCaddyfileAdaptsToJSON(t *testing.T) {
	cf := `:8080 {
	token_enrich {
		set api-uri https://api.example.com
		set_json limits ` + "`{ \"z\" : 5, \"a\": [1, 2] }`" + `
	}
	reverse_proxy 127.0.0.1:9
}`
	out, warns, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(cf)), nil)
	if err != nil || len(warns) > 0 {
		t.Fatalf("adapt: %v %v", err, warns)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	routes := cfg.Apps.HTTP.Servers["srv0"].Routes
	if len(routes) != 1 {
		t.Fatalf("routes: %s", out)
	}
	handlers := routes[0].Handle
	// the directive order puts token_enrich before reverse_proxy with no global order line
	if len(handlers) != 2 || !strings.Contains(string(handlers[0]), `"handler":"token_enrich"`) ||
		!strings.Contains(string(handlers[1]), `"handler":"reverse_proxy"`) {
		t.Fatalf("handlers: %s", out)
	}
	// set_json travels as text so that member order survives adaptation
	if want := `{"fields":[{"name":"api-uri","value":"https://api.example.com"},{"json_text":"{\"z\":5,\"a\":[1,2]}","name":"limits"}],"handler":"token_enrich"}`; string(handlers[0]) != want {
		t.Fatalf("adapted handler\ngot  %s\nwant %s", handlers[0], want)
	}
	// errors from adapt name the line
	_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte(":8080 {\n\ttoken_enrich {\n\t\tset token_type x\n\t}\n}"), nil)
	if err == nil || !strings.Contains(err.Error(), `Caddyfile:3`) || !strings.Contains(err.Error(), `"token_type" is a reserved`) {
		t.Fatalf("adapt error: %v", err)
	}
}
