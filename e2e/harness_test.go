// Package e2e holds the end-to-end tests: a real OpenID provider issuing
// real signed tokens, Caddy with token_enrich in front of it as the issuer's
// address, and real client libraries reading the enriched responses. It is
// its own module (e2e/go.mod), so that the providers and client libraries
// it needs are no requirements of the plugin's go.mod.
//
//   - zitadel_test.go: the in-process provider of e2e/internal/testidp
//     (zitadel/oidc v3 op) behind the in-process Caddy of caddytest, read with
//     golang.org/x/oauth2 and, when e2e/node is installed, openid-client.
//     Runs with `go test ./...` in e2e/.
//   - clients_test.go: the same provider and Caddy, read with the client
//     libraries of docs/clients.md: simple-oauth2, oauth4webapi,
//     oidc-client-ts and @azure/msal-node (Node, e2e/node) and
//     requests-oauthlib and Authlib (Python, e2e/python).
//   - oauth2client_test.go: golang.org/x/oauth2 against the in-process Caddy
//     in front of a recording upstream (internal/testupstream).
//   - hydra_test.go: Ory Hydra v2.3.0 behind the ./caddy binary built by
//     xcaddy. Started only by e2e/run.sh, which also runs the openid-client
//     checks against Hydra; without it the test skips.
//   - fleet_test.go (build tag fleet): three replicas of ./caddy sharing a
//     redis-server, behind a load balancer, under load. Run by e2e/fleet.sh.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	_ "github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// exchange is one raw HTTP request and its response.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request with the client of internal/testhttp: a form body
// when form is not nil, Basic credentials when basicUser is not empty.
func do(t *testing.T, method, u string, form url.Values, basicUser, basicPass string) exchange {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, b := testhttp.Do(t, req)
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// samePassThrough asserts that the proxied exchange is the direct one:
// same status, byte-identical body, same Content-Type and Content-Length.
func samePassThrough(t *testing.T, what string, direct, proxied exchange) {
	t.Helper()
	if direct.status != proxied.status || !bytes.Equal(direct.body, proxied.body) {
		t.Errorf("%s changed by the proxy:\ndirect  %d %s\nproxied %d %s", what, direct.status, direct.body, proxied.status, proxied.body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Cache-Control"} {
		if direct.header.Get(h) != proxied.header.Get(h) {
			t.Errorf("%s: %s %q direct, %q proxied", what, h, direct.header.Get(h), proxied.header.Get(h))
		}
	}
}

// members decodes a JSON object keeping member order.
func members(t *testing.T, b []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys, m
}

// checkAdded asserts that body is the provider's token response followed by
// exactly the added members, in order, with these JSON values.
func checkAdded(t *testing.T, body []byte, upstream []string, added [][2]string) {
	t.Helper()
	keys, m := members(t, body)
	want := append([]string(nil), upstream...)
	for _, a := range added {
		want = append(want, a[0])
	}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("members %v, want %v\n%s", keys, want, body)
	}
	for _, a := range added {
		if string(m[a[0]]) != a[1] {
			t.Errorf("%s = %s, want %s", a[0], m[a[0]], a[1])
		}
	}
	var tail bytes.Buffer
	for _, a := range added {
		fmt.Fprintf(&tail, ",%q:%s", a[0], a[1])
	}
	tail.WriteByte('}')
	if len(added) > 0 && !bytes.HasSuffix(bytes.TrimRight(body, " \t\r\n"), tail.Bytes()) {
		t.Errorf("added members are not spliced at the end:\n%s", body)
	}
}

// repoRoot is the repository root, the plugin module's (this file is in e2e/).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// requireNode finds node and the packages e2e/node/package.json depends on
// (openid-client and the client libraries of clients_test.go) in
// e2e/node/node_modules. Without them the test is skipped, unless
// E2E_REQUIRE_NODE=1 (set by test.sh and e2e/run.sh) makes that a failure.
func requireNode(t *testing.T) (node, dir string) {
	t.Helper()
	dir = filepath.Join(repoRoot(), "e2e", "node")
	node, err := exec.LookPath("node")
	if err == nil {
		err = nodeModulesInstalled(dir)
	}
	if err != nil {
		if os.Getenv("E2E_REQUIRE_NODE") == "1" {
			t.Fatalf("node and e2e/node's packages are required (E2E_REQUIRE_NODE=1): %v", err)
		}
		t.Skipf("node or e2e/node's packages not installed (run npm ci in e2e/node): %v", err)
	}
	return node, dir
}

// nodeModulesInstalled reports which dependency of dir/package.json has no
// package in dir/node_modules.
func nodeModulesInstalled(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return err
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "package.json"), err)
	}
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
			return fmt.Errorf("npm package %s: %w", name, err)
		}
	}
	return nil
}

// nodeClient runs e2e/node/client.mjs (openid-client 6.x) and returns its
// JSON output, raw, and its exit code.
func nodeClient(t *testing.T, args ...string) (map[string]any, []byte, int) {
	t.Helper()
	node, dir := requireNode(t)
	// Values go as --name=value: a token or secret may start with "-",
	// which node's parseArgs would take for an option.
	for i := 0; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "--") && !strings.Contains(args[i], "=") && strings.HasPrefix(args[i+1], "-") {
			args = append(append(args[:i:i], args[i]+"="+args[i+1]), args[i+2:]...)
		}
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "client.mjs")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr != nil {
		t.Fatalf("client.mjs %v: exit %d, output %q: %v\nstderr: %s", args, code, out, jerr, stderr.Bytes())
	}
	return res, out, code
}
