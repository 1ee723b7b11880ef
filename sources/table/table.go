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
package table

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
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
	// working directory.
	Path string `json:"path,omitempty"`

	// PollInterval is how often the file is checked for changes, at least
	// 10ms and at most 1s so that a change is in use within 2s. Default: 1s.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`

	// logger is set by Provision unless already set (by tests).
	logger *zap.Logger
	// live holds what exists between Provision and Cleanup; a pointer so
	// that the module value itself stays copyable.
	live *live
}

// live is a provisioned table's running state.
type live struct {
	current atomic.Pointer[snapshot]
	stop    chan struct{}
	done    chan struct{}
}

// CaddyModule returns the Caddy module information.
func (Table) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  sources.Namespace + ".table",
		New: func() caddy.Module { return new(Table) },
	}
}

// Provision checks the config, loads the file and starts the poller. A
// file that is missing or does not parse is a config error naming the file,
// line and column: a source must start with a table it can answer from.
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
	if err := registerMetrics(ctx); err != nil {
		return err
	}
	snap, state, err := load(t.Path)
	if err != nil {
		return err
	}
	t.live = &live{stop: make(chan struct{}), done: make(chan struct{})}
	t.live.current.Store(snap)
	t.logger.Info("table loaded", zap.String("file", t.Path), zap.Int("entries", len(snap.entries)))
	p := &poller{
		path:     t.Path,
		interval: time.Duration(t.PollInterval),
		logger:   t.logger,
		live:     t.live,
		seen:     state,
		settled:  state.settled(),
		okCount:  reloadsTotal.WithLabelValues(t.Path, "ok"),
		errCount: reloadsTotal.WithLabelValues(t.Path, "error"),
	}
	go p.run()
	return nil
}

// Cleanup stops the poller and waits for it to return. Caddy calls it on
// the old instance after a config reload has provisioned a new one.
func (t *Table) Cleanup() error {
	if t.live == nil {
		return nil
	}
	select {
	case <-t.live.stop:
	default:
		close(t.live.stop)
	}
	<-t.live.done
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

// load reads and parses the file at path. The state returned describes the
// version read (the open file's, not the path's, so a rename during the
// read is not missed); it is returned with parse errors too.
func load(path string) (*snapshot, fileState, error) {
	readAt := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, fileState{}, ioError(path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, fileState{}, ioError(path, err)
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
	path     string
	interval time.Duration
	logger   *zap.Logger
	live     *live

	seen    fileState // the version last read
	settled bool      // seen's stat will reveal a change
	statErr bool      // the last stat failed, and that was logged
	// the last version that failed to load, and its error, already logged
	// and counted
	failedAt  fileState
	failedMsg string

	okCount, errCount prometheus.Counter
}

func (p *poller) run() {
	defer close(p.live.done)
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		select {
		case <-p.live.stop:
			return
		case <-tick.C:
			p.check()
		}
	}
}

// check rereads the file if it may have changed. Logging and counting
// happen once per version of the file, not once per tick.
func (p *poller) check() {
	fi, err := os.Stat(p.path)
	if err != nil {
		if !p.statErr {
			p.statErr = true
			p.errCount.Inc()
			p.logger.Error("table file unreadable; keeping the last good table",
				zap.String("file", p.path), zap.Error(err))
		}
		return
	}
	if p.statErr {
		// the file is back: read it whatever its stat says
		p.statErr, p.settled = false, false
	}
	if p.settled && p.seen.same(stateOf(fi)) {
		return
	}
	snap, state, err := load(p.path)
	p.seen, p.settled = state, state.settled()
	if err != nil {
		if state.same(p.failedAt) && err.Error() == p.failedMsg {
			return
		}
		p.failedAt, p.failedMsg = state, err.Error()
		p.errCount.Inc()
		var fe *FileError
		errors.As(err, &fe)
		fields := []zap.Field{zap.String("file", p.path)}
		if fe != nil && fe.Line > 0 {
			fields = append(fields, zap.Int("line", fe.Line), zap.Int("column", fe.Column))
		}
		p.logger.Error("table file not loaded; keeping the last good table",
			append(fields, zap.Error(err))...)
		return
	}
	p.failedAt, p.failedMsg = fileState{}, ""
	if cur := p.live.current.Load(); cur.text == snap.text {
		return // reread while the stat was not trusted; unchanged
	}
	p.live.current.Store(snap)
	p.okCount.Inc()
	p.logger.Info("table reloaded", zap.String("file", p.path), zap.Int("entries", len(snap.entries)))
}

// registerMetrics adds the collectors to the config's registry.
func registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	if err := reg.Register(reloadsTotal); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// Interface guards
var (
	_ sources.Source        = (*Table)(nil)
	_ caddy.Provisioner     = (*Table)(nil)
	_ caddy.CleanerUpper    = (*Table)(nil)
	_ caddyfile.Unmarshaler = (*Table)(nil)
)
