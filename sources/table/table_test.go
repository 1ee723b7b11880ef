package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// reloadDeadline is the contract: a changed file is in use within 2s.
const reloadDeadline = 2 * time.Second

// writeFile writes a file in place (truncate, then write), as an editor or
// `cat > file` does; a reader can see it half-written.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renameFile replaces path atomically by renaming a new file over it, as
// configuration management tools and Kubernetes config maps do. mtime, when
// not zero, is set on the new file before the rename.
func renameFile(t testing.TB, path, content string, mtime time.Time) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(f.Name(), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// tempFile writes content to a new file whose modification time is an hour
// old, so that the poller trusts its stat from the start and a change must
// be found by the stat, not by a reread of a recently modified file.
func tempFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "table.json")
	writeFile(t, path, content)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	return path
}

// provision sets a Table up as Caddy does, with a real caddy.Context, and
// cleans it up at the end of the test. logger may be nil.
func provision(t testing.TB, path string, interval time.Duration, logger *zap.Logger) (*Table, caddy.Context, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	tbl := &Table{Path: path, PollInterval: caddy.Duration(interval), logger: logger}
	if logger == nil {
		tbl.logger = zap.NewNop()
	}
	err := tbl.Provision(ctx)
	if err == nil {
		t.Cleanup(func() {
			if err := tbl.Cleanup(); err != nil {
				t.Error(err)
			}
		})
	}
	return tbl, ctx, err
}

func mustProvision(t testing.TB, path string, interval time.Duration, logger *zap.Logger) (*Table, caddy.Context) {
	t.Helper()
	tbl, ctx, err := provision(t, path, interval, logger)
	if err != nil {
		t.Fatal(err)
	}
	return tbl, ctx
}

// get looks key up; ok is false for a miss.
func get(t testing.TB, tbl *Table, key string) (object string, ok bool) {
	t.Helper()
	res, err := tbl.Lookup(context.Background(), key)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	if res.Stale {
		t.Fatalf("Lookup(%q): stale result from a table", key)
	}
	if res.Object == nil {
		return "", false
	}
	return string(res.Object), true
}

// waitFor polls cond until it holds or the deadline passes, and returns how
// long it took.
func waitFor(t testing.TB, deadline time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %v", what, deadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// reloads reads the reloads counter for path and result from the config's
// registry, so the collector's registration is checked too.
func reloads(t testing.TB, ctx caddy.Context, path, result string) float64 {
	t.Helper()
	families, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "caddy_http_token_enrich_source_table_reloads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["path"] == path && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

const tenants = `{
  "org_acme":   {"api-uri": "https://eu.api.example.com", "region": "eu-west-1"},
  "org_globex": {"api-uri": "https://us.api.example.com", "limits": {"rps": 100}},
  "org\u005finitech": {"plan": "starter"},
  "org_empty":  {},
  "dup":        {"v": 1},
  "dup":        {"v": 2},
  "*":          {"api-uri": "https://api.example.com"}
}`

func TestLookup(t *testing.T) {
	tbl, _ := mustProvision(t, tempFile(t, tenants), 0, nil)
	for _, c := range []struct {
		key, want string
		hit       bool
	}{
		{"org_acme", `{"api-uri": "https://eu.api.example.com", "region": "eu-west-1"}`, true},
		{"org_globex", `{"api-uri": "https://us.api.example.com", "limits": {"rps": 100}}`, true},
		// keys are compared unescaped
		{"org_initech", `{"plan": "starter"}`, true},
		{"org_empty", `{}`, true},
		// the last of duplicate members wins
		{"dup", `{"v": 2}`, true},
		// keys are exact: no case folding, no trimming
		{"ORG_ACME", `{"api-uri": "https://api.example.com"}`, true},
		{" org_acme", `{"api-uri": "https://api.example.com"}`, true},
		{"unknown", `{"api-uri": "https://api.example.com"}`, true},
		{"*", `{"api-uri": "https://api.example.com"}`, true},
		// an empty key (nothing rendered) is a miss, not the default
		{"", "", false},
	} {
		got, hit := get(t, tbl, c.key)
		if got != c.want || hit != c.hit {
			t.Errorf("Lookup(%q) = %q, hit %v; want %q, hit %v", c.key, got, hit, c.want, c.hit)
		}
	}

	// the object is the caller's: changing it changes nothing in the table
	res, _ := tbl.Lookup(context.Background(), "org_acme")
	for i := range res.Object {
		res.Object[i] = 'x'
	}
	if got, _ := get(t, tbl, "org_acme"); got != `{"api-uri": "https://eu.api.example.com", "region": "eu-west-1"}` {
		t.Errorf("the table changed with a caller's copy: %q", got)
	}
}

func TestLookupWithoutDefault(t *testing.T) {
	tbl, _ := mustProvision(t, tempFile(t, `{"a": {"x": 1}}`), 0, nil)
	if got, hit := get(t, tbl, "a"); !hit || got != `{"x": 1}` {
		t.Errorf("Lookup(a) = %q, %v", got, hit)
	}
	for _, key := range []string{"b", "*", ""} {
		if got, hit := get(t, tbl, key); hit {
			t.Errorf("Lookup(%q) = %q; want a miss", key, got)
		}
	}
	// an empty table is valid: every lookup misses
	empty, _ := mustProvision(t, tempFile(t, " {}\n"), 0, nil)
	if got, hit := get(t, empty, "a"); hit {
		t.Errorf("empty table: Lookup(a) = %q", got)
	}
	// an unprovisioned table misses rather than failing
	if got, hit := get(t, &Table{}, "a"); hit {
		t.Errorf("unprovisioned table: Lookup(a) = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	deep := `{"a": ` + strings.Repeat(`{"b":`, 513) + `1` + strings.Repeat(`}`, 513) + `}`
	deepOK := `{"a": ` + strings.Repeat(`{"b":`, 511) + `{}` + strings.Repeat(`}`, 511) + `}`
	if _, err := parse("f", deepOK); err != nil {
		t.Fatalf("an entry nested 512 deep is rejected: %v", err)
	}
	for _, c := range []struct {
		name, text string
		line, col  int
		msg        string
	}{
		{"empty", "", 1, 1, "unexpected end of JSON input"},
		{"whitespace only", "\n\n  ", 3, 3, "unexpected end of JSON input"},
		{"truncated", "{\n  \"a\": {\"b\": 1},\n  \"c\": {\"d\"", 3, 12, "unexpected end of JSON input"},
		{"truncated after newline", "{\n  \"a\": {\"b\": 1},\n", 3, 1, "unexpected end of JSON input"},
		{"bad value", "{\n  \"a\": {\"b\": x}\n}", 2, 14, "invalid character 'x'"},
		{"column in characters", "{\"ä€\": {\"b\": 1}}}", 1, 17, "after top-level value"},
		{"trailing comma", "{\n\"a\": {},\n}", 3, 1, "invalid character '}'"},
		{"BOM", "\ufeff{}", 1, 1, "invalid character"},
		{"root array", "  [{\"a\": 1}]", 1, 3, "root must be a JSON object"},
		{"root string", "\n\"x\"", 2, 1, "root must be a JSON object"},
		{"entry string", "{\n  \"a\": {},\n  \"b\": \"x\"\n}", 3, 8, `entry "b": the value must be a JSON object, not a string`},
		{"entry array", "{\"a\": [{}]}", 1, 7, `entry "a": the value must be a JSON object, not an array`},
		{"entry null", "{\"*\": null}", 1, 7, `entry "*": the value must be a JSON object, not null`},
		{"entry number", "{\"a\":\n 1.5}", 2, 2, `entry "a": the value must be a JSON object, not a number`},
		{"entry bool", "{\"a\": true}", 1, 7, `entry "a": the value must be a JSON object, not a boolean`},
		{"not UTF-8", "{\"a\": {\"b\": \"\xff\"}}", 1, 14, "not UTF-8"},
		{"too deep", deep, 1, 7 + 5*512, "nests deeper than 512 levels"},
		{"very deep", strings.Repeat("[", 1<<20), 1, 10001, "exceeded max depth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("/etc/caddy/t.json", c.text)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v; want a *FileError", err)
			}
			if fe.Line != c.line || fe.Column != c.col || !strings.Contains(fe.Msg, c.msg) {
				t.Errorf("got %d:%d %q; want %d:%d %q", fe.Line, fe.Column, fe.Msg, c.line, c.col, c.msg)
			}
			want := fmt.Sprintf("table file /etc/caddy/t.json:%d:%d: ", c.line, c.col)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	writeFile(t, broken, "{\n  \"org_acme\": {\"plan\": \"ent\"},\n  \"org_globex\": {\"plan\": \n")
	missing := filepath.Join(dir, "missing.json")
	good := tempFile(t, `{}`)
	for _, c := range []struct {
		name     string
		path     string
		interval time.Duration
		want     string
	}{
		{"broken file", broken, 0, "table file " + broken + ":4:1: invalid JSON: unexpected end of JSON input"},
		{"missing file", missing, 0, "table file " + missing + ": no such file or directory"},
		{"directory", dir, 0, "table file " + dir + ": "},
		{"no path", "", 0, "table: path is required"},
		{"interval too long", good, 1001 * time.Millisecond, "table: poll_interval must be between 10ms and 1s, got 1.001s"},
		{"interval too short", good, time.Millisecond, "table: poll_interval must be between 10ms and 1s, got 1ms"},
		{"negative interval", good, -time.Second, "table: poll_interval must be between 10ms and 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := provision(t, c.path, c.interval, nil)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("err = %v; want %q", err, c.want)
			}
		})
	}
	tbl, _ := mustProvision(t, good, 0, nil)
	if time.Duration(tbl.PollInterval) != time.Second {
		t.Errorf("default poll_interval = %v; want 1s", time.Duration(tbl.PollInterval))
	}
}

// TestReload checks the contract with the default poll interval: a file
// changed in place, or replaced by a rename, is in use within 2s.
func TestReload(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		name    string
		replace func(t testing.TB, path, content string)
	}{
		{"in place", func(t testing.TB, path, content string) { writeFile(t, path, content) }},
		{"rename", func(t testing.TB, path, content string) { renameFile(t, path, content, time.Time{}) }},
		// the same size and modification time: only the file's identity
		// tells the new file from the old
		{"rename, same size and mtime", func(t testing.TB, path, content string) { renameFile(t, path, content, old) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "table.json")
			writeFile(t, path, `{"org_acme": {"v": 1}}`)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			tbl, ctx := mustProvision(t, path, 0, nil)
			okBefore := reloads(t, ctx, path, "ok")
			// let the poller settle on the file first
			time.Sleep(50 * time.Millisecond)
			c.replace(t, path, `{"org_acme": {"v": 2}}`)
			took := waitFor(t, reloadDeadline, "new table in use", func() bool {
				got, _ := get(t, tbl, "org_acme")
				return got == `{"v": 2}`
			})
			t.Logf("in use after %v", took)
			if got := reloads(t, ctx, path, "ok") - okBefore; got != 1 {
				t.Errorf("reloads{result=ok} grew by %v; want 1", got)
			}
		})
	}
}

// TestReloadRecentlyModified rewrites, in place, a file modified just
// before it was loaded, keeping its size and modification time: a stat
// cannot tell the versions apart, so the poller rereads a file until it is
// older than the file system's timestamps are coarse.
func TestReloadRecentlyModified(t *testing.T) {
	path := filepath.Join(t.TempDir(), "table.json")
	writeFile(t, path, `{"org_acme": {"v": 1}}`)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _ := mustProvision(t, path, 0, nil)
	writeFile(t, path, `{"org_acme": {"v": 2}}`)
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reloadDeadline, "new table in use", func() bool {
		got, _ := get(t, tbl, "org_acme")
		return got == `{"v": 2}`
	})
}

// TestBrokenFileKeepsLastGoodTable writes a half-written file in place: the
// last good table keeps answering, the error is logged with its line and
// column and counted once, and the next good file is used.
func TestBrokenFileKeepsLastGoodTable(t *testing.T) {
	path := tempFile(t, `{"org_acme": {"v": 1}, "*": {"v": 0}}`)
	core, logs := observer.New(zapcore.InfoLevel)
	tbl, ctx := mustProvision(t, path, 20*time.Millisecond, zap.New(core))
	errBefore := reloads(t, ctx, path, "error")
	okBefore := reloads(t, ctx, path, "ok")

	writeFile(t, path, "{\"org_acme\": {\"v\": 3},\n \"org_globex\": {\"v\"")
	var entry observer.LoggedEntry
	waitFor(t, reloadDeadline, "error logged", func() bool {
		found := logs.FilterMessageSnippet("not loaded").All()
		if len(found) > 0 {
			entry = found[0]
		}
		return len(found) > 0
	})
	if entry.Level != zapcore.ErrorLevel {
		t.Errorf("logged at %v; want error", entry.Level)
	}
	fields := entry.ContextMap()
	if fields["file"] != path || fields["line"] != int64(2) || fields["column"] != int64(20) {
		t.Errorf("log fields = %v; want file %s, line 2, column 20", fields, path)
	}
	if got := fmt.Sprint(fields["error"]); !strings.Contains(got, "unexpected end of JSON input") {
		t.Errorf("logged error = %q", got)
	}
	for _, key := range []string{"org_acme", "org_globex"} {
		if got, _ := get(t, tbl, key); got != map[string]string{"org_acme": `{"v": 1}`, "org_globex": `{"v": 0}`}[key] {
			t.Errorf("Lookup(%s) = %q after a broken write; want the last good table's", key, got)
		}
	}
	// the same broken file, reread while its stat is recent, is logged and
	// counted once
	time.Sleep(10 * 20 * time.Millisecond)
	if n := logs.FilterMessageSnippet("not loaded").Len(); n != 1 {
		t.Errorf("the broken file was logged %d times; want 1", n)
	}
	if got := reloads(t, ctx, path, "error") - errBefore; got != 1 {
		t.Errorf("reloads{result=error} grew by %v; want 1", got)
	}

	writeFile(t, path, `{"org_acme": {"v": 4}}`)
	waitFor(t, reloadDeadline, "good file in use", func() bool {
		got, _ := get(t, tbl, "org_acme")
		return got == `{"v": 4}`
	})
	if got, hit := get(t, tbl, "org_globex"); hit {
		t.Errorf("Lookup(org_globex) = %q; the new table has no default", got)
	}
	if got := reloads(t, ctx, path, "ok") - okBefore; got != 1 {
		t.Errorf("reloads{result=ok} grew by %v; want 1", got)
	}
	if logs.FilterMessage("table reloaded").Len() != 1 {
		t.Errorf("reload not logged once: %v", logs.FilterMessage("table reloaded").All())
	}
}

// TestMissingFileKeepsLastGoodTable removes the file: lookups go on from
// memory, the error is logged once, and the file is read again when it is
// back.
func TestMissingFileKeepsLastGoodTable(t *testing.T) {
	path := tempFile(t, `{"a": {"v": 1}}`)
	core, logs := observer.New(zapcore.WarnLevel)
	tbl, ctx := mustProvision(t, path, 10*time.Millisecond, zap.New(core))
	errBefore := reloads(t, ctx, path, "error")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reloadDeadline, "missing file logged", func() bool { return logs.Len() > 0 })
	time.Sleep(100 * time.Millisecond)
	if got, _ := get(t, tbl, "a"); got != `{"v": 1}` {
		t.Errorf("Lookup(a) = %q with the file gone", got)
	}
	if logs.Len() != 1 || reloads(t, ctx, path, "error")-errBefore != 1 {
		t.Errorf("a missing file logged %d times, counted %v times; want 1, 1", logs.Len(), reloads(t, ctx, path, "error")-errBefore)
	}
	renameFile(t, path, `{"a": {"v": 2}}`, time.Time{})
	waitFor(t, reloadDeadline, "file back in use", func() bool {
		got, _ := get(t, tbl, "a")
		return got == `{"v": 2}`
	})
}

// TestConcurrentLookups looks keys up from many goroutines while the file
// is replaced by renames and rewritten in place, half-written at times:
// every lookup answers at once with an object from one whole version.
func TestConcurrentLookups(t *testing.T) {
	version := func(v int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range 100 {
			fmt.Fprintf(&b, `"k%d": {"v": %d, "k": %d}, `, i, v, i)
		}
		fmt.Fprintf(&b, `"*": {"v": %d, "k": -1}}`, v)
		return b.String()
	}
	path := tempFile(t, version(0))
	tbl, _ := mustProvision(t, path, 10*time.Millisecond, nil)

	var stop atomic.Bool
	var lookups, newest atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for i := g; !stop.Load(); i++ {
				key := fmt.Sprintf("k%d", i%110) // k100..k109 get the default
				res, err := tbl.Lookup(context.Background(), key)
				var obj struct{ V, K int }
				if err == nil {
					err = json.Unmarshal(res.Object, &obj)
				}
				want := i % 110
				if want >= 100 {
					want = -1
				}
				if err == nil && obj.K != want {
					err = fmt.Errorf("Lookup(%s) = %s", key, res.Object)
				}
				if err != nil {
					errs <- err
					return
				}
				if int64(obj.V) > newest.Load() {
					newest.Store(int64(obj.V))
				}
				lookups.Add(1)
			}
		})
	}
	deadline := time.Now().Add(time.Second)
	for v := 1; time.Now().Before(deadline); v++ {
		full := version(v)
		switch v % 3 {
		case 0:
			renameFile(t, path, full, time.Time{})
		case 1:
			writeFile(t, path, full)
		case 2:
			writeFile(t, path, full[:len(full)/2]) // torn
		}
		time.Sleep(7 * time.Millisecond)
	}
	// the lookups saw the table change under them
	waitFor(t, reloadDeadline, "a rewritten table looked up", func() bool { return newest.Load() > 0 })
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	writeFile(t, path, version(-1))
	waitFor(t, reloadDeadline, "last version in use", func() bool {
		got, _ := get(t, tbl, "k5")
		return got == `{"v": -1, "k": 5}`
	})
	t.Logf("%d lookups, newest version seen %d", lookups.Load(), newest.Load())
}

// pollers counts the running poller goroutines.
func pollers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "sources/table.(*poller).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestCleanupStopsPoller(t *testing.T) {
	before := pollers()
	path := tempFile(t, `{"a": {"v": 1}}`)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	tbl := &Table{Path: path, PollInterval: caddy.Duration(10 * time.Millisecond), logger: zap.NewNop()}
	if err := tbl.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	// the poller's goroutine may not have been scheduled yet: wait for it
	waitFor(t, 2*time.Second, "the poller to run", func() bool { return pollers() == before+1 })
	if got := pollers(); got != before+1 {
		t.Fatalf("%d pollers running after Provision; want %d", got, before+1)
	}
	if err := tbl.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// Cleanup returns once the poller has closed done, in its deferred
	// call: the goroutine itself may still be on its way out
	waitFor(t, 2*time.Second, "the poller to return", func() bool { return pollers() == before })
	if err := tbl.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	// a stopped table still answers from its last table, and no longer
	// follows the file
	writeFile(t, path, `{"a": {"v": 2}}`)
	time.Sleep(100 * time.Millisecond)
	if got, _ := get(t, tbl, "a"); got != `{"v": 1}` {
		t.Errorf("Lookup(a) = %q after Cleanup; want the table as it was", got)
	}
	if err := (&Table{}).Cleanup(); err != nil {
		t.Errorf("Cleanup of an unprovisioned table: %v", err)
	}
}

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, c := range []struct {
		input string
		want  Table
		err   string
	}{
		{input: `table /etc/caddy/tenants.json`, want: Table{Path: "/etc/caddy/tenants.json"}},
		{input: `table tenants.json {
		}`, want: Table{Path: "tenants.json"}},
		{input: `table /etc/caddy/tenants.json {
			poll_interval 250ms
		}`, want: Table{Path: "/etc/caddy/tenants.json", PollInterval: caddy.Duration(250 * time.Millisecond)}},
		{input: `table`, err: "wrong argument count"},
		{input: `table a.json b.json`, err: "wrong argument count"},
		{input: `table a.json {
			poll_interval
		}`, err: "wrong argument count"},
		{input: `table a.json {
			poll_interval 1s 2s
		}`, err: "wrong argument count"},
		{input: `table a.json {
			poll_interval soon
		}`, err: `bad poll_interval "soon"`},
		{input: `table a.json {
			key {http.token.tenant}
		}`, err: "unrecognized subdirective: key"},
	} {
		var got Table
		err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v; want %q", c.input, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.input, err)
			continue
		}
		if got.Path != c.want.Path || got.PollInterval != c.want.PollInterval {
			t.Errorf("%s: got %+v; want %+v", c.input, got, c.want)
		}
	}
}

// TestModule checks the module's registration and its JSON config.
func TestModule(t *testing.T) {
	info, err := caddy.GetModule("http.handlers.token_enrich.sources.table")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.New().(sources.Source); !ok {
		t.Errorf("the module is not a sources.Source")
	}
	b, err := json.Marshal(Table{Path: "/etc/caddy/tenants.json", PollInterval: caddy.Duration(500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"path":"/etc/caddy/tenants.json","poll_interval":500000000}`; string(b) != want {
		t.Errorf("JSON = %s; want %s", b, want)
	}
	if b, _ := json.Marshal(Table{}); string(b) != `{}` {
		t.Errorf("zero JSON = %s; want {}", b)
	}
	var tbl Table
	if err := json.Unmarshal([]byte(`{"path":"t.json","poll_interval":"1s"}`), &tbl); err != nil || tbl.PollInterval != caddy.Duration(time.Second) {
		t.Errorf("JSON with a duration string: %+v, %v", tbl, err)
	}
}

// TestExampleTenants loads the demo's tenants file.
func TestExampleTenants(t *testing.T) {
	tbl, _ := mustProvision(t, filepath.Join("..", "..", "examples", "tenants.json"), 0, nil)
	for key, want := range map[string]string{
		"org_acme":   "https://eu.api.example.com",
		"org_globex": "https://us.api.example.com",
		"org_other":  "https://api.example.com",
	} {
		got, _ := get(t, tbl, key)
		var obj map[string]any
		if err := json.Unmarshal([]byte(got), &obj); err != nil || obj["api-uri"] != want {
			t.Errorf("Lookup(%s) = %s; want api-uri %s", key, got, want)
		}
	}
}
