package table

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// replaceWithFIFO puts a FIFO with no writer at path, in place of the file.
func replaceWithFIFO(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFIFOKeepsLastGoodTable: a table file replaced by a FIFO that no one
// writes is refused, logged once, and the last good table answers; a new
// config of the same file shares that table at once, without reading the
// FIFO; Cleanup returns at once; a config of a FIFO path fails to load
// with an error that says what to do.
func TestFIFOKeepsLastGoodTable(t *testing.T) {
	path := tempFile(t, `{"org_acme": {"v": 1}}`)
	core, logs := observer.New(zapcore.InfoLevel)
	a, ctx := mustProvision(t, path, 10*time.Millisecond, zap.New(core))
	errBefore := reloads(t, ctx, path, "error")
	replaceWithFIFO(t, path)
	waitFor(t, reloadDeadline, "the FIFO refused", func() bool {
		return logs.FilterMessageSnippet("keeping the last good table").Len() > 0
	})
	time.Sleep(200 * time.Millisecond)
	if n := logs.FilterMessageSnippet("keeping the last good table").Len(); n != 1 {
		t.Errorf("the FIFO was logged %d times; want 1", n)
	}
	if got := reloads(t, ctx, path, "error") - errBefore; got != 1 {
		t.Errorf("reloads{result=error} grew by %v; want 1", got)
	}
	if e := logs.FilterMessageSnippet("keeping the last good table").All()[0]; !strings.Contains(e.ContextMap()["error"].(string), "not a regular file") {
		t.Errorf("logged %v", e.ContextMap())
	}
	if got, _ := get(t, a, "org_acme"); got != `{"v": 1}` {
		t.Errorf("Lookup = %q with the file replaced by a FIFO", got)
	}

	// a reload: the new config shares the table, and the old one's
	// Cleanup returns at once
	start := time.Now()
	b, _ := mustProvision(t, path, 10*time.Millisecond, zap.New(core))
	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a reload over a FIFO took %v", d)
	}
	if got, _ := get(t, b, "org_acme"); got != `{"v": 1}` {
		t.Errorf("the new config's Lookup = %q; want the last good table", got)
	}

	fifo := filepath.Join(t.TempDir(), "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, _, err := provision(t, fifo, 10*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "point path at a regular file") {
		t.Errorf("Provision of a FIFO: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Provision of a FIFO took %v", d)
	}

	// the file back: read again, and the recovery logged once
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	renameFile(t, path, `{"org_acme": {"v": 2}}`, time.Time{})
	waitFor(t, reloadDeadline, "the file back in use", func() bool {
		got, _ := get(t, b, "org_acme")
		return got == `{"v": 2}`
	})
	time.Sleep(100 * time.Millisecond)
	if n := logs.FilterMessage("table file readable again").Len(); n != 1 {
		t.Errorf("the recovery was logged %d times; want 1", n)
	}
}

// TestReadErrorsLoggedOnce: a read error other than a missing file (here
// the path turned into a directory) is logged and counted once, not on
// every tick, and the recovery once.
func TestReadErrorsLoggedOnce(t *testing.T) {
	path := tempFile(t, `{"a": {"v": 1}}`)
	core, logs := observer.New(zapcore.InfoLevel)
	tbl, ctx := mustProvision(t, path, 10*time.Millisecond, zap.New(core))
	errBefore := reloads(t, ctx, path, "error")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reloadDeadline, "the error logged", func() bool { return logs.FilterLevelExact(zapcore.ErrorLevel).Len() > 0 })
	time.Sleep(300 * time.Millisecond) // 30 ticks
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("the unreadable file was logged %d times in 30 ticks; want 1", n)
	}
	if got := reloads(t, ctx, path, "error") - errBefore; got != 1 {
		t.Errorf("reloads{result=error} grew by %v; want 1", got)
	}
	if got, _ := get(t, tbl, "a"); got != `{"v": 1}` {
		t.Errorf("Lookup = %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	renameFile(t, path, `{"a": {"v": 1}}`, time.Time{})
	waitFor(t, reloadDeadline, "the recovery logged", func() bool { return logs.FilterMessage("table file readable again").Len() > 0 })
	time.Sleep(100 * time.Millisecond)
	if n := logs.FilterMessage("table file readable again").Len(); n != 1 {
		t.Errorf("the recovery was logged %d times; want 1", n)
	}
}

// TestCleanupDoesNotWaitForAStuckRead: a poller stuck in a system call on
// a file system that does not answer (injected: an open that blocks) does
// not hold Cleanup past cleanupWait; when the call returns, the poller
// leaves the table and the log alone and returns.
func TestCleanupDoesNotWaitForAStuckRead(t *testing.T) {
	path := tempFile(t, `{"a": {"v": 1}}`)
	core, logs := observer.New(zapcore.InfoLevel)
	tbl, _, err := provision(t, path, 10*time.Millisecond, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	stuck := func(p string) (*os.File, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return os.Open(p)
	}
	openHook.Store(&stuck)
	t.Cleanup(func() { openHook.Store(nil) })
	renameFile(t, path, `{"a": {"v": 2}}`, time.Now().Add(-time.Hour))
	select {
	case <-entered:
	case <-time.After(reloadDeadline):
		t.Fatal("the poller did not open the changed file")
	}
	before, running := logs.Len(), pollers()
	start := time.Now()
	if err := tbl.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > cleanupWait+500*time.Millisecond {
		t.Errorf("Cleanup took %v with the poller stuck; want at most %v", d, cleanupWait)
	}
	close(release)
	waitFor(t, 2*time.Second, "the poller to return", func() bool { return pollers() == running-1 })
	if got, _ := get(t, tbl, "a"); got != `{"v": 1}` {
		t.Errorf("Lookup = %q; a stopped poller swapped a table in", got)
	}
	if logs.Len() != before {
		t.Errorf("a stopped poller logged: %v", logs.All()[before:])
	}
}

// TestProvisionDoesNotWaitForAStuckFileSystem: a first read of the file
// that does not return (injected: an open that blocks) fails the config
// load after initialLoadWait, naming the file, instead of holding it.
func TestProvisionDoesNotWaitForAStuckFileSystem(t *testing.T) {
	path := tempFile(t, `{"a": {"v": 1}}`)
	release := make(chan struct{})
	defer close(release)
	stuck := func(p string) (*os.File, error) {
		<-release
		return os.Open(p)
	}
	openHook.Store(&stuck)
	t.Cleanup(func() { openHook.Store(nil) })
	wait := initialLoadWait
	initialLoadWait = 200 * time.Millisecond
	t.Cleanup(func() { initialLoadWait = wait })
	start := time.Now()
	_, _, err := provision(t, path, 10*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no answer from the file system") {
		t.Errorf("Provision with the file system stuck: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Provision took %v", d)
	}
}
