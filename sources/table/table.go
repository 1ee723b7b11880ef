// Package table is the token_enrich source "table": metadata read from a
// JSON file that maps keys to objects, reloaded when the file changes.
//
// The file's root is an object; each member's value is the object returned
// for its name, and a member named "*" is returned for keys the file lacks:
//
//	{
//	  "org_acme": {"api-uri": "https://eu.api.example.com", "region": "eu-west-1"},
//	  "*":        {"api-uri": "https://api.example.com"}
//	}
//
// A lookup reads an in-memory map and never touches the file, so it cannot
// fail or wait. A poller notices a changed file (size, modification time or
// identity, so a file replaced by rename counts) within one poll interval,
// parses it in full and swaps it in at once; a file that does not parse
// leaves the previous table in place, and the error is logged with its line
// and column and counted in caddy_http_token_enrich_source_table_reloads_total.
//
// Only a regular file (or a symbolic link to one) is read: a FIFO, a device
// or a directory is refused before it is opened, and the file is opened
// without blocking and checked again, so that a FIFO put in its place
// cannot hang the poller. A config reload that keeps the path keeps the
// table in memory and its poller (sources.Shared): the new config answers
// from the last good table, never from a read made while the file was
// being replaced.
package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

func init() {
	caddy.RegisterModule(Table{})
}

const (
	// defaultPollInterval is used when poll_interval is not set.
	defaultPollInterval = time.Second
	// maxPollInterval keeps a change visible within two seconds: up to one
	// interval until the poller looks, plus the time to read and parse.
	maxPollInterval = time.Second
	// minPollInterval keeps a misconfigured interval from turning the
	// poller into a busy loop of stat calls.
	minPollInterval = 10 * time.Millisecond
	// racyWindow is how long after its modification time a file's stat is
	// not trusted to reveal a further change: file systems store
	// modification times as coarsely as a clock tick (ext4, tmpfs) or two
	// seconds (FAT), so a second write of the same size within that window
	// can leave size and time unchanged. Until the file is older than this
	// when read, the poller rereads it on every tick.
	racyWindow = 2 * time.Second
)

// reloadsTotal counts the poller's loads of changed table files. Like the
// handler's collectors it is created once per process and registered with
// every new config's registry on Provision. path comes from the config, so
// its values are as many as the configured table files.
var reloadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy",
	Subsystem: "http_token_enrich",
	Name:      "source_table_reloads_total",
	Help: "Reloads of token_enrich table source files after a change, by file and result: ok (the new " +
		"table is in use) or error (the file could not be read or parsed; the last good table stays).",
}, []string{"path", "result"})

// Table is the token_enrich source that looks keys up in a JSON file. The
// file is read in full when the config loads, then again whenever it
// changes; lookups never read the file.
type Table struct {
	// Path is the JSON file: an object whose members map keys to the
	// objects returned for them, with an optional "*" member returned for
	// keys it lacks. Required. A relative path is resolved against Caddy's
	// working directory. It must be a regular file (or a symbolic link to
	// one): a FIFO or device there is refused, and the last good table
	// stays in use.
	Path string `json:"path,omitempty"`

	// PollInterval is how often the file is checked for changes, at least
	// 10ms and at most 1s so that a change is in use within 2s. Default: 1s.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`

	// logger is set by Provision unless already set (by tests).
	logger *zap.Logger
	// live is the table in memory and its poller, shared with the configs
	// that use the same file; a pointer so that the module value itself
	// stays copyable.
	live   *live
	shared *sources.Shared[*live]
}

// backends holds the live tables by file: a config reload that keeps the
// path keeps its table and its poller, and the new config answers from the
// last good table at once, without reading the file again.
var backends = caddy.NewUsagePool()

// live is a table's running state: the snapshot in use and its poller.
type live struct {
	current  atomic.Pointer[snapshot]
	logger   atomic.Pointer[zap.Logger] // the newest config's
	interval atomic.Int64               // the newest config's, in nanoseconds
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// stopped reports whether the table's poller has been told to stop.
func (l *live) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// cleanupWait bounds how long Destruct waits for the poller to return. A
// poller is stuck only in a system call on a file that does not answer (a
// hung network mount): Caddy's reload and shutdown must not wait for it.
// Once the call returns, the poller sees that it was stopped and returns
// without touching the table or the log.
const cleanupWait = time.Second

// Destruct stops the poller and waits for it, at most cleanupWait; the
// usage pool calls it when no config uses the table any more.
func (l *live) Destruct() error {
	l.stopOnce.Do(func() { close(l.stop) })
	select {
	case <-l.done:
	case <-time.After(cleanupWait):
	}
	return nil
}

// CaddyModule returns the Caddy module information.
func (Table) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sources.Namespace + ".table",
		New: func() caddy.Module { return new(Table) },
	}
}

// Provision checks the config and takes the table of the file: the one a
// previous config left (sources.Shared), or a new one, loaded and with its
// poller started. A file that is missing, not a regular file, or does not
// parse is a config error naming the file, line and column: a source must
// start with a table it can answer from.
func (t *Table) Provision(ctx caddy.Context) error {
	if t.Path == "" {
		return errors.New("table: path is required")
	}
	if t.PollInterval == 0 {
		t.PollInterval = caddy.Duration(defaultPollInterval)
	}
	if d := time.Duration(t.PollInterval); d < minPollInterval || d > maxPollInterval {
		return errors.New("table: poll_interval must be between 10ms and 1s, got " + d.String())
	}
	if t.logger == nil {
		t.logger = ctx.Logger()
	}
	if err := sources.RegisterMetrics(ctx, reloadsTotal); err != nil {
		return err
	}
	interval := time.Duration(t.PollInterval)
	abs, err := filepath.Abs(t.Path)
	if err != nil {
		return fmt.Errorf("table: path %s: %w", t.Path, err)
	}
	shared, loaded, err := sources.Share(backends, abs, func() (*live, error) {
		return start(t.Path, interval, t.logger)
	})
	if err != nil {
		return err
	}
	t.shared, t.live = shared, shared.Backend
	if loaded {
		t.live.logger.Store(t.logger)
		t.live.interval.Store(int64(interval))
		t.logger.Info("table kept from the previous config", zap.String("file", t.Path),
			zap.Int("entries", len(t.live.current.Load().entries)))
	}
	return nil
}

// initialLoadWait bounds how long a config load waits for the first read
// of a table file: a file on a file system that does not answer (a hung
// network mount) fails the load instead of holding Caddy's admin API. It
// is generous, since a large file on a slow disk takes a while to read
// and parse.
var initialLoadWait = 30 * time.Second

// start loads the file and starts its poller. A file read while it
// changed is read again, a few times, so that a config does not start
// from a half-written file. A read that does not end within
// initialLoadWait fails; it finishes on its own, and its result is
// dropped.
func start(path string, interval time.Duration, logger *zap.Logger) (*live, error) {
	type loaded struct {
		snap  *snapshot
		state fileState
		err   error
	}
	done := make(chan loaded, 1)
	go func() {
		var r loaded
		for range 5 {
			r.snap, r.state, r.err = load(path)
			if r.err != nil || r.state.stable {
				break
			}
			time.Sleep(minPollInterval)
		}
		done <- r
	}()
	var r loaded
	select {
	case r = <-done:
	case <-time.After(initialLoadWait):
		return nil, &FileError{Path: path, Msg: fmt.Sprintf("no answer from the file system within %v (a hung network mount?)", initialLoadWait)}
	}
	if r.err != nil {
		return nil, r.err
	}
	snap, state := r.snap, r.state
	l := &live{stop: make(chan struct{}), done: make(chan struct{})}
	l.current.Store(snap)
	l.logger.Store(logger)
	l.interval.Store(int64(interval))
	logger.Info("table loaded", zap.String("file", path), zap.Int("entries", len(snap.entries)))
	p := &poller{
		path:     path,
		live:     l,
		seen:     state,
		settled:  state.settled(),
		okCount:  reloadsTotal.WithLabelValues(path, "ok"),
		errCount: reloadsTotal.WithLabelValues(path, "error"),
		buf:      make([]byte, 64<<10),
	}
	go p.run()
	return l, nil
}

// Cleanup releases the table (see sources.Shared): the poller stops when
// no config uses the file any more. The table goes on answering the
// requests of its config still in flight, from memory. Caddy calls it on
// the old instance after a config reload has provisioned a new one.
func (t *Table) Cleanup() error {
	if t.shared == nil {
		return nil
	}
	if err := t.shared.Release(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

// Lookup returns the object stored for key, else the "*" object, else a
// miss. An empty key, what a key template renders to when its placeholders
// have no value, is a miss: "*" is for keys the file does not list, and a
// token without a key is not one of them. Lookup reads memory only: it
// never returns an error and never waits. The object is the caller's copy.
func (t *Table) Lookup(_ context.Context, key string) (sources.Result, error) {
	if t.live == nil || key == "" {
		return sources.Result{}, nil
	}
	s := t.live.current.Load()
	if sp, ok := s.entries[key]; ok {
		return sources.Result{Object: s.object(sp)}, nil
	}
	if s.hasDefault {
		return sources.Result{Object: s.object(s.def)}, nil
	}
	return sources.Result{}, nil
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens. Syntax:
//
//	table <path> {
//	    poll_interval <duration>
//	}
//
// The block is optional. The handler's own subdirectives (key, timeout,
// fields) are read by the handler before these tokens reach the module.
func (t *Table) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module name
	if !d.NextArg() {
		return d.ArgErr()
	}
	t.Path = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "poll_interval":
			if !d.NextArg() {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("bad poll_interval %q: %v", d.Val(), err)
			}
			t.PollInterval = caddy.Duration(dur)
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized subdirective: %s", d.Val())
		}
	}
	return nil
}

// fileState is what a stat says about a file: enough to tell that it
// changed, in place or by another file renamed over it.
type fileState struct {
	info  os.FileInfo // for os.SameFile
	size  int64
	mtime time.Time
	// stable is set when the file did not change while it was read
	stable bool
	// readAt is when the read started
	readAt time.Time
}

func stateOf(fi os.FileInfo) fileState {
	return fileState{info: fi, size: fi.Size(), mtime: fi.ModTime()}
}

// same reports whether a and b describe the same version of a file.
func (a fileState) same(b fileState) bool {
	return a.info != nil && b.info != nil && os.SameFile(a.info, b.info) &&
		a.size == b.size && a.mtime.Equal(b.mtime)
}

// settled reports whether the stat of this version can be trusted to
// change when the file does; see racyWindow.
func (a fileState) settled() bool {
	return a.stable && a.readAt.Sub(a.mtime) > racyWindow
}

// openHook, when set, replaces the opening of the file: tests inject a
// file system that does not answer.
var openHook atomic.Pointer[func(string) (*os.File, error)]

// openFile opens the file for reading.
func openFile(path string) (*os.File, error) {
	if h := openHook.Load(); h != nil {
		return (*h)(path)
	}
	// O_NONBLOCK: a FIFO put at the path after the stat below opens at
	// once instead of waiting for a writer; it is refused by the fstat.
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// errNotRegular is the error for a path that is not a regular file.
const errNotRegular = "not a regular file (a FIFO, device or directory can block or fail every read); point path at a regular file, or a symbolic link to one"

// load reads and parses the file at path. The state returned describes the
// version read (the open file's, not the path's, so a rename during the
// read is not missed); it is returned with parse errors too.
func load(path string) (*snapshot, fileState, error) {
	readAt := time.Now()
	if fi, err := os.Stat(path); err != nil {
		return nil, fileState{}, ioError(path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fileState{}, &FileError{Path: path, Msg: errNotRegular}
	}
	f, err := openFile(path)
	if err != nil {
		return nil, fileState{}, ioError(path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, fileState{}, ioError(path, err)
	}
	if !before.Mode().IsRegular() {
		return nil, fileState{}, &FileError{Path: path, Msg: errNotRegular}
	}
	// a strings.Builder hands over its buffer without a copy: the text is
	// the file's one copy in memory
	var b strings.Builder
	if before.Size() < maxSize {
		b.Grow(int(before.Size()) + 1)
	}
	_, err = io.Copy(&b, io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fileState{}, ioError(path, err)
	}
	state := stateOf(before)
	state.readAt = readAt
	if after, err := f.Stat(); err == nil {
		state.stable = state.same(stateOf(after)) && int64(b.Len()) == after.Size()
	}
	snap, err := parse(path, b.String())
	return snap, state, err
}

// sameText reports whether the regular file at path holds text, reading it
// in chunks of buf's size: a file touched but not changed is not read
// whole, and no second copy of it is held beside the table in use.
func sameText(path, text string, buf []byte) bool {
	f, err := openFile(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(text)) {
		return false
	}
	off := 0
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if off+n > len(text) || string(buf[:n]) != text[off:off+n] {
				return false
			}
			off += n
		}
		if err == io.EOF {
			return off == len(text)
		}
		if err != nil {
			return false
		}
	}
}

// ioError is a FileError for a file that cannot be read; the message leaves
// out the path, which FileError names already.
func ioError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &FileError{Path: path, Msg: err.Error()}
}

// poller watches the file and swaps in a new snapshot when it changes.
// Only its goroutine touches its fields.
type poller struct {
	path string
	live *live

	seen    fileState // the version last read
	settled bool      // seen's stat will reveal a change
	// failing is the error of the file's current failure, logged and
	// counted once; "" while the file loads
	failing string
	// buf is the buffer of sameText
	buf []byte

	okCount, errCount prometheus.Counter
}

func (p *poller) run() {
	defer close(p.live.done)
	tick := time.NewTimer(time.Duration(p.live.interval.Load()))
	defer tick.Stop()
	for {
		select {
		case <-p.live.stop:
			return
		case <-tick.C:
			p.check()
			tick.Reset(time.Duration(p.live.interval.Load()))
		}
	}
}

// check rereads the file if it may have changed. A failure is logged and
// counted when it starts or its error changes, and the recovery once: not
// once per tick. A poller stopped while it read (Destruct waits for it a
// bounded time only) leaves the table and the log alone.
func (p *poller) check() {
	fi, err := os.Stat(p.path)
	if err != nil {
		// the file may come back: read it then whatever its stat says
		p.settled = false
		p.fail("table file unreadable; keeping the last good table", err)
		return
	}
	if p.settled && p.seen.same(stateOf(fi)) {
		return
	}
	cur := p.live.current.Load()
	readAt := time.Now()
	if fi.Mode().IsRegular() && fi.Size() == int64(len(cur.text)) && sameText(p.path, cur.text, p.buf) {
		// touched, or reread while its stat is not trusted: unchanged
		p.seen = stateOf(fi)
		p.seen.stable, p.seen.readAt = true, readAt
		p.settled = p.seen.settled()
		p.recovered()
		return
	}
	snap, state, err := load(p.path)
	if p.live.stopped() {
		return
	}
	p.seen, p.settled = state, state.settled()
	if err != nil {
		p.fail("table file not loaded; keeping the last good table", err)
		return
	}
	if !state.stable {
		// read while it changed: a torn read is never swapped in; the
		// next tick reads it again
		p.settled = false
		return
	}
	p.recovered()
	if cur.text == snap.text {
		return
	}
	p.live.current.Store(snap)
	p.okCount.Inc()
	p.log().Info("table reloaded", zap.String("file", p.path), zap.Int("entries", len(snap.entries)))
}

func (p *poller) log() *zap.Logger { return p.live.logger.Load() }

// fail logs and counts err unless it is the failure already logged.
func (p *poller) fail(msg string, err error) {
	if err.Error() == p.failing || p.live.stopped() {
		return
	}
	p.failing = err.Error()
	p.errCount.Inc()
	fields := []zap.Field{zap.String("file", p.path)}
	var fe *FileError
	if errors.As(err, &fe) && fe.Line > 0 {
		fields = append(fields, zap.Int("line", fe.Line), zap.Int("column", fe.Column))
	}
	p.log().Error(msg, append(fields, sources.LogError(err))...)
}

// recovered logs, once, that a failing file loads again.
func (p *poller) recovered() {
	if p.failing == "" {
		return
	}
	p.failing = ""
	p.log().Info("table file readable again", zap.String("file", p.path))
}

// Interface guards
var (
	_ sources.Source        = (*Table)(nil)
	_ caddy.Provisioner     = (*Table)(nil)
	_ caddy.CleanerUpper    = (*Table)(nil)
	_ caddyfile.Unmarshaler = (*Table)(nil)
	_ caddy.Destructor      = (*live)(nil)
)
