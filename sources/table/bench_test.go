package table

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// entry is a tenant's object as a real table holds it: a few short strings.
const entry = `{"api-uri": "https://eu.api.example.com/t/%d", "region": "eu-west-1", "plan": "enterprise"}`

// genTable returns a table file of n entries named org_000000 on, each
// formatted from format with its number, one per line.
func genTable(n int, format string) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := range n {
		fmt.Fprintf(&b, "  \"org_%06d\": "+format+",\n", i, i)
	}
	b.WriteString(`  "*": {"api-uri": "https://api.example.com"}` + "\n}\n")
	return b.String()
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// loadCost loads a table of n entries from a file and returns the file's
// size and the heap the loaded table keeps.
func loadCost(t testing.TB, n int, format string) (size int, kept uint64) {
	t.Helper()
	text := genTable(n, format)
	path := filepath.Join(t.TempDir(), "table.json")
	writeFile(t, path, text)
	size = len(text)
	text = ""
	before := heapInUse()
	snap, _, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	kept = heapInUse() - before
	if len(snap.entries) != n+1 {
		t.Fatalf("%d entries loaded; want %d", len(snap.entries), n+1)
	}
	runtime.KeepAlive(snap)
	return size, kept
}

// TestMemory100k checks the memory bound: a loaded table of 100,000
// entries keeps at most twice its file's size on the heap.
func TestMemory100k(t *testing.T) {
	size, kept := loadCost(t, 100_000, entry)
	ratio := float64(kept) / float64(size)
	t.Logf("100,000 entries: file %d bytes, table %d bytes, %.2f× the file", size, kept, ratio)
	if ratio > 2 {
		t.Errorf("the table keeps %.2f× its file's size; want at most 2×", ratio)
	}
	// entries far smaller than a map slot cannot meet the bound; the log
	// says by how much, for the documentation
	size, kept = loadCost(t, 100_000, `{"n": %d}`)
	t.Logf("100,000 tiny entries: file %d bytes, table %d bytes, %.2f× the file", size, kept, float64(kept)/float64(size))
}

var sink []byte

// BenchmarkLookup looks up keys present in tables of 10 and of 10,000
// entries: the cost must not grow with the table.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			snap, err := parse("bench.json", genTable(n, entry))
			if err != nil {
				b.Fatal(err)
			}
			tbl := &Table{live: &live{}}
			tbl.live.current.Store(snap)
			// called as the handler calls it, through the interface
			var src sources.Source = tbl
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("org_%06d", i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				res, _ := src.Lookup(ctx, keys[i%n])
				if res.Object == nil {
					b.Fatal("miss")
				}
				sink = res.Object
				i++
			}
		})
	}
}

// BenchmarkLoad100k reads and parses a file of 100,000 entries, as the
// poller does when it changes, and reports the heap the table keeps as a
// multiple of the file's size (heap/file).
func BenchmarkLoad100k(b *testing.B) {
	size, kept := loadCost(b, 100_000, entry)
	path := filepath.Join(b.TempDir(), "table.json")
	if err := os.WriteFile(path, []byte(genTable(100_000, entry)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := load(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(kept)/float64(size), "heap/file")
}
