// Command interval reads the paired rounds of the peer kit's compare.sh
// (../shared/peers, PAIRED=1) and says how far its verdict can be trusted:
// for each peer the median CPU its enriching server adds per token request,
// token_enrich's median as a multiple of each other peer's, and a bootstrap
// 95% interval of that multiple.
//
// compare.sh prints one line per peer and round, "ROUND PEER PLAIN ENRICH"
// (CPU microseconds per request of the plain and the enriching server,
// driven at once). Rounds of several runs may be pooled by passing several
// logs; a round is the unit the bootstrap draws, so that the peers measured
// in the same round (the same state of a shared machine) stay together.
//
//	go run ./bench/interval [-peer caddy] [-target 0.6] [-draws 20000] [-size 0] LOG...
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	peer := flag.String("peer", "caddy", "the peer whose cost is compared with the others'")
	target := flag.Float64("target", 0.6, "the multiple to test: the share of draws at or below it is printed")
	draws := flag.Int("draws", 20000, "bootstrap draws")
	size := flag.Int("size", 0, "rounds in each draw; 0 for as many as were read. A larger size asks what a run "+
		"of that many rounds would give, were its rounds like these")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: interval [-peer caddy] [-target 0.6] [-draws N] [-size N] COMPARE_LOG...")
		os.Exit(2)
	}
	var rounds []round
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rs, err := readRounds(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		rounds = append(rounds, rs...)
	}
	if err := report(os.Stdout, rounds, *peer, *target, *draws, *size, rand.New(rand.NewPCG(1, 2))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// round holds what each peer's enriching server added, in microseconds per
// token request, in one paired round.
type round map[string]float64

// readRounds collects compare.sh's paired lines, "ROUND PEER PLAIN ENRICH",
// from one log. A new round numbered 1 starts a new run, so that the logs
// of several runs may be concatenated.
func readRounds(r io.Reader) ([]round, error) {
	var out []round
	last := ""
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue
		}
		if _, err := strconv.Atoi(f[0]); err != nil {
			continue
		}
		plain, err1 := strconv.ParseFloat(f[2], 64)
		enrich, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] != last || len(out) == 0 {
			out = append(out, round{})
			last = f[0]
		}
		cur := out[len(out)-1]
		if _, dup := cur[f[1]]; dup {
			return nil, fmt.Errorf("line %d: peer %s twice in round %s", line, f[1], f[0])
		}
		cur[f[1]] = enrich - plain
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no paired rounds (lines \"ROUND PEER PLAIN ENRICH\" from compare.sh with PAIRED=1)")
	}
	return out, nil
}

// report prints each peer's median, and peer's median as a multiple of
// each other peer's with its bootstrap interval.
func report(w io.Writer, rounds []round, peer string, target float64, draws, size int, rng *rand.Rand) error {
	peers := map[string]bool{}
	for _, r := range rounds {
		for p := range r {
			peers[p] = true
		}
	}
	if !peers[peer] {
		return fmt.Errorf("no rounds of %q", peer)
	}
	names := make([]string, 0, len(peers))
	for p := range peers {
		names = append(names, p)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "%d rounds; CPU the enriching server adds per token request, microseconds:\n", len(rounds))
	for _, p := range names {
		v := column(rounds, p)
		fmt.Fprintf(w, "  %-8s median %6.1f   middle half %6.1f .. %6.1f   range %6.1f .. %6.1f\n",
			p, median(v), quantile(v, 0.25), quantile(v, 0.75), v[0], v[len(v)-1])
	}
	drawn := "the rounds"
	if size > 0 {
		drawn = fmt.Sprintf("%d rounds each", size)
	}
	fmt.Fprintf(w, "%s as a multiple of each peer, ratio of medians [bootstrap 95%% interval, %d draws of %s] and the share of draws at or below %.2f:\n", peer, draws, drawn, target)
	for _, p := range names {
		if p == peer {
			continue
		}
		r, lo, hi, below, ok := ratio(rounds, peer, p, target, draws, size, rng)
		if !ok {
			fmt.Fprintf(w, "  vs %-8s no ratio: %s's median is not above zero\n", p, p)
			continue
		}
		fmt.Fprintf(w, "  vs %-8s %.2f  [%.2f .. %.2f]  %.1f%% of draws <= %.2f\n", p, r, lo, hi, 100*below, target)
	}
	return nil
}

// ratio is a's median over b's on the rounds that measured both, with the
// 2.5% and 97.5% points of the same ratio over draws resamplings of those
// rounds (with replacement, size rounds each, or as many as there are when
// size is 0) and the share of resamplings at or below
// target. A draw where b's median is not above zero has no ratio, and
// counts as +Inf: above any target, and an upper bound of +Inf when more
// than 2.5% of the draws have none.
func ratio(rounds []round, a, b string, target float64, draws, size int, rng *rand.Rand) (r, lo, hi, below float64, ok bool) {
	var both []round
	for _, x := range rounds {
		_, hasA := x[a]
		_, hasB := x[b]
		if hasA && hasB {
			both = append(both, x)
		}
	}
	if len(both) == 0 {
		return 0, 0, 0, 0, false
	}
	mb := median(column(both, b))
	if mb <= 0 {
		return 0, 0, 0, 0, false
	}
	r = median(column(both, a)) / mb
	rs := make([]float64, 0, draws)
	if size <= 0 {
		size = len(both)
	}
	va, vb := make([]float64, size), make([]float64, size)
	n := 0
	for range draws {
		for i := range size {
			x := both[rng.IntN(len(both))]
			va[i], vb[i] = x[a], x[b]
		}
		slices.Sort(va)
		slices.Sort(vb)
		m := median(vb)
		if m <= 0 {
			rs = append(rs, math.Inf(1)) // no ratio: beyond any bound
			continue
		}
		q := median(va) / m
		rs = append(rs, q)
		if q <= target {
			n++
		}
	}
	slices.Sort(rs)
	return r, quantile(rs, 0.025), quantile(rs, 0.975), float64(n) / float64(draws), true
}

// column is peer p's values over the rounds that measured it, sorted.
func column(rounds []round, p string) []float64 {
	var v []float64
	for _, r := range rounds {
		if x, ok := r[p]; ok {
			v = append(v, x)
		}
	}
	slices.Sort(v)
	return v
}

// median of sorted values: the middle one, or the lower of the middle two,
// as compare.sh takes it.
func median(sorted []float64) float64 { return sorted[(len(sorted)-1)/2] }

// quantile of sorted values by the nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(q * float64(len(sorted)))
	return sorted[min(max(i, 0), len(sorted)-1)]
}
