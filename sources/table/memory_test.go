package table

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
)

// maxReloadPeak bounds the heap a table holds at the peak of a reload of a
// changed file, as a multiple of the file's size: the old table, still
// answering, and the new one, each the file's text and an index of about
// a third of it (entries of about 100 bytes; see TestMemory100k).
const maxReloadPeak = 2.75

// TestReloadPeakMemory loads a table of 200,000 entries, then loads it
// again as the poller does after a change, with the collector off so that
// nothing the reload allocated is freed before it is counted: the heap then
// is an upper bound on the peak during the reload.
func TestReloadPeakMemory(t *testing.T) {
	text := genTable(200_000, entry)
	path := filepath.Join(t.TempDir(), "table.json")
	writeFile(t, path, text)
	size := float64(len(text))
	text = ""
	base := heapInUse()
	old, _, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	steady := heapInUse()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	next, _, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	peak := m.HeapAlloc
	runtime.KeepAlive(old)
	runtime.KeepAlive(next)
	steadyRatio, peakRatio := float64(steady-base)/size, float64(peak-base)/size
	t.Logf("file %.0f bytes: steady %.2f× the file, peak during a reload at most %.2f× the file", size, steadyRatio, peakRatio)
	if peakRatio > maxReloadPeak {
		t.Errorf("a reload holds up to %.2f× the file's size; want at most %.2f×", peakRatio, maxReloadPeak)
	}
}

// TestTouchedFileIsNotReadWhole: a file whose modification time changes
// but not its contents (a touch, a config tool rewriting the same bytes) is
// compared with the table in use in small chunks, on every tick of the
// window in which its stat is not trusted, instead of being read and parsed
// whole each time, which held a second table's worth of garbage per tick.
func TestTouchedFileIsNotReadWhole(t *testing.T) {
	text := genTable(100_000, entry)
	path := tempFile(t, text)
	size := len(text)
	text = ""
	tbl, _ := mustProvision(t, path, 20*time.Millisecond, nil)
	before := tbl.live.current.Load()
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	alloc := testenv.AllocDuring(func() { time.Sleep(racyWindow + 500*time.Millisecond) })
	t.Logf("file %d bytes: %d bytes allocated while the poller watched the touched file", size, alloc)
	if alloc > uint64(size)/4 {
		t.Errorf("%d bytes allocated after a touch of a %d-byte file; want at most a quarter of it", alloc, size)
	}
	if tbl.live.current.Load() != before {
		t.Error("the table was replaced after a touch")
	}
}
