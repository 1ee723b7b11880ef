package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
)

// logEntry is one line of Caddy's JSON log.
type logEntry struct {
	Level, Logger, Msg, Source, Origin, State, Error string
	FailuresNotLogged                                int `json:"failures_not_logged"`
	raw                                              string
}

// logEntries reads the JSON log at path; a file not written yet holds none.
func logEntries(t *testing.T, path string) []logEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []logEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		e.raw = line
		out = append(out, e)
	}
	return out
}

// waitLog waits up to d for a log entry that ok accepts and returns it.
func waitLog(t *testing.T, path string, d time.Duration, what string, ok func(logEntry) bool) logEntry {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, e := range logEntries(t, path) {
			if ok(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("no log line %s within %v; the log:\n%s", what, d, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A Redis source whose server is down and an http source whose service is
// down are each logged at warn within 2s of the config's start, naming the
// source and its address and no secret; the probe goes on, and logs once
// when Redis answers again.
func TestUnreachableSourcesLoggedAtStart(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Args: []string{"--requirepass", "redis-pass-0123456789"}})
	srv.Stop()
	deadHTTP := fmt.Sprintf("127.0.0.1:%d", testcaddy.FreePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	global := fmt.Sprintf("\tgrace_period 1ns\n\tlog {\n\t\toutput file %s\n\t\tformat json\n\t\tlevel INFO\n\t}", logFile)
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	start := time.Now()
	startSites(t, global, `
	token_enrich {
		source tenants redis redis://:redis-pass-0123456789@`+srv.Addr+`/0 {
			key tenant:{http.token.tenant}
		}
		source plans http http://probe-user:http-pass-0123456789@`+deadHTTP+`/plans/{http.token.tenant}?token=query-token-0123456789
	}
	reverse_proxy `+up.addr+`
`)
	for _, want := range []struct{ source, origin string }{{"tenants", srv.Addr}, {"plans", deadHTTP}} {
		e := waitLog(t, logFile, 2*time.Second-time.Since(start), "warning that "+want.source+" is unreachable", func(e logEntry) bool {
			return e.Level == "warn" && e.Source == want.source && strings.Contains(e.Msg, "unreachable")
		})
		if e.Origin != want.origin {
			t.Errorf("the warning for %s names origin %q, want %q: %s", want.source, e.Origin, want.origin, e.raw)
		}
	}
	srv.Restart()
	waitLog(t, logFile, 8*time.Second, "that tenants is reachable again", func(e logEntry) bool {
		return e.Level == "info" && e.Source == "tenants" && strings.Contains(e.Msg, "reachable again")
	})
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"redis-pass-0123456789", "http-pass-0123456789", "probe-user", "query-token-0123456789"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the log holds the secret %q:\n%s", secret, b)
		}
	}
	n := 0
	for _, e := range logEntries(t, logFile) {
		if e.Source == "tenants" && strings.Contains(e.Msg, "unreachable") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d lines say that tenants is unreachable, want 1 while it stays down", n)
	}
}

// Token requests while Redis is down leave the source's fields out, and
// the failed lookups are logged at warn once, naming the source as
// unreachable; the others within the interval are counted, not logged.
func TestFailedLookupsLoggedOncePerInterval(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	srv.Stop()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	global := fmt.Sprintf("\tgrace_period 1ns\n\tlog {\n\t\toutput file %s\n\t\tformat json\n\t\tlevel INFO\n\t}", logFile)
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	bases := startSites(t, global, `
	token_enrich {
		source tenants redis `+srv.URL(0)+` {
			key tenant:{http.token.tenant}
			timeout 1s
		}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy `+up.addr+`
`)
	for range 5 {
		if body := tokenBody(t, bases[0]); !strings.Contains(body, `"tenant_id":"org_acme"`) {
			t.Fatalf("token without the handler's own field: %s", body)
		}
	}
	var failed []logEntry
	for _, e := range logEntries(t, logFile) {
		if e.Source == "tenants" && strings.Contains(e.Msg, "lookup failed") {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("%d lines for the failed lookups of 5 requests, want 1: %v", len(failed), failed)
	}
	if e := failed[0]; e.Level != "warn" || !strings.HasPrefix(e.State, "unreachable: ") || !strings.Contains(e.Error, "connection refused") {
		t.Errorf("the failed lookup's line: %s", e.raw)
	}
}

// explain with the Redis server of a source stopped says, for the fields
// of that source, that the source is unreachable, and why.
func TestExplainNamesAnUnreachableSource(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	srv.Stop()
	dir := t.TempDir()
	caddyfile := writeFile(t, dir, "Caddyfile", `:8080 {
	token_enrich {
		source tenants redis `+srv.URL(0)+` {
			key tenant:{http.token.tenant}
		}
		set tenant_id {http.token.tenant}
	}
	reverse_proxy 127.0.0.1:9
}
`)
	resp := writeFile(t, dir, "token.json", auth0Body("svc-eu", "org_acme"))
	out, err := runExplain(t, "", "explain", "--config", caddyfile, "--response", resp, "--format", "json")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	var x explainJSON
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatalf("explain's output is not JSON: %v\n%s", err, out)
	}
	for _, f := range x.Fields {
		if f.Name == "source:tenants" {
			want := "source found nothing: unreachable: "
			if f.Added || !strings.HasPrefix(f.Why, want) || !strings.Contains(f.Why, "connection refused") {
				t.Fatalf("the source's field: added %v, why %q; want left out, why %q… connection refused", f.Added, f.Why, want)
			}
			return
		}
	}
	t.Fatalf("explain names no field of the source tenants:\n%s", out)
}

// explain's stderr is one log format: Caddy's own lines (loading the
// config) and the handler's (a source that cannot answer) are all JSON
// lines when stderr is not a terminal. It runs in a process of its own,
// this test binary run again, so that its stderr and its default logger
// are its own.
func TestExplainLogsOneFormat(t *testing.T) {
	if cfg := os.Getenv("TOKEN_ENRICH_EXPLAIN_CHILD"); cfg != "" {
		out, err := runExplain(t, "", "explain", "--config", cfg, "--response", os.Getenv("TOKEN_ENRICH_EXPLAIN_RESPONSE"))
		if err != nil {
			t.Fatalf("explain: %v\n%s", err, out)
		}
		return
	}
	srv := testredis.Start(t, testredis.Options{})
	srv.Stop()
	dir := t.TempDir()
	caddyfile := writeFile(t, dir, "Caddyfile", `:8080 {
	token_enrich {
		source tenants redis `+srv.URL(0)+` {
			key tenant:{http.token.tenant}
		}
	}
	reverse_proxy 127.0.0.1:9
}
`)
	resp := writeFile(t, dir, "token.json", auth0Body("svc-eu", "org_acme"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestExplainLogsOneFormat$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKEN_ENRICH_EXPLAIN_CHILD="+caddyfile, "TOKEN_ENRICH_EXPLAIN_RESPONSE="+resp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("explain: %v\n%s\n%s", err, out, stderr.String())
	}
	sawCaddy, sawHandler := false, false
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("a stderr line is not a JSON log line: %q\nstderr:\n%s", line, stderr.String())
			continue
		}
		switch {
		case e.Logger == "http.handlers.token_enrich" && e.Source == "tenants":
			sawHandler = true
		case e.Logger != "http.handlers.token_enrich":
			sawCaddy = true
		}
	}
	if !sawCaddy || !sawHandler {
		t.Errorf("stderr lacks Caddy's lines (%v) or the handler's line about the source (%v):\n%s", sawCaddy, sawHandler, stderr.String())
	}
}
