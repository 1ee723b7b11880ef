package testcaddy

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// AdaptCaddyfile adapts a Caddyfile with Caddy's own "caddyfile" adapter, as
// `caddy adapt` and `caddy validate` do, naming it filename in messages. It
// returns the JSON config and every warning: the adapter's, as
// "file:line: message", and those that directives log to Caddy's default
// logger while adapting (handler directives cannot return warnings), as the
// message alone.
func AdaptCaddyfile(src []byte, filename string) ([]byte, []string, error) {
	_, orig, buffer := caddy.BufferedLog()
	cfg, adapterWarnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": filename})
	core, logged := observer.New(zapcore.WarnLevel)
	buffer.FlushTo(zap.New(core))
	caddy.UnbufferDefaultLogger(orig)
	var warnings []string
	for _, w := range adapterWarnings {
		warnings = append(warnings, w.String())
	}
	for _, e := range logged.All() {
		warnings = append(warnings, e.Message)
	}
	return cfg, warnings, err
}

// ValidateWarnings runs caddy.Validate, as `caddy validate` does, on a JSON
// config with its default log replaced by one that records entries at warn
// level and above, and its storage under dir. It returns those entries'
// messages (as "logger: message") and Validate's error.
//
// Validate leaves that recording log as Caddy's default logger, so later
// warnings of the test process are recorded too and not printed.
func ValidateWarnings(t testing.TB, cfgJSON []byte, dir string) ([]string, error) {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["logging"] = map[string]any{"logs": map[string]any{"default": map[string]any{
		"writer":  map[string]any{"output": recorderName},
		"encoder": map[string]any{"format": "json"},
		"level":   "WARN",
	}}}
	cfg["storage"] = map[string]any{"module": "file_system", "root": dir}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var c *caddy.Config
	if err := caddy.StrictUnmarshalJSON(b, &c); err != nil {
		t.Fatal(err)
	}
	recorded.reset()
	err = caddy.Validate(c)
	var warnings []string
	for _, line := range bytes.Split(recorded.take(), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e struct{ Logger, Msg string }
		if json.Unmarshal(line, &e) != nil {
			t.Fatalf("log line not JSON: %s", line)
		}
		warnings = append(warnings, strings.TrimPrefix(e.Logger+": ", ": ")+e.Msg)
	}
	return warnings, err
}

const recorderName = "testcaddy_recorder"

func init() {
	caddy.RegisterModule(logRecorder{})
}

// logRecorder is a Caddy log writer module that appends to recorded.
type logRecorder struct{}

func (logRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.writers." + recorderName,
		New: func() caddy.Module { return new(logRecorder) },
	}
}

func (logRecorder) String() string    { return recorderName }
func (logRecorder) WriterKey() string { return recorderName }
func (logRecorder) OpenWriter() (io.WriteCloser, error) {
	return &recorded, nil
}

// recorded holds what logRecorder writers wrote; Close keeps it open, since
// Caddy keeps logging to its last default log after a config is stopped.
var recorded recording

type recording struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recording) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recording) Close() error { return nil }

func (r *recording) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Reset()
}

func (r *recording) take() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := bytes.Clone(r.buf.Bytes())
	r.buf.Reset()
	return b
}

var _ caddy.WriterOpener = logRecorder{}
