package main

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Two runs of compare.sh, with lines of its other output around them.
const twoRuns = `paired rounds: plain and enrich of each peer driven at the same time, 6s, wrk -t1 -c16 each
1 node 100.0 120.0
1 caddy 200.0 210.0
2 node 100.0 118.0
2 caddy 200.0 209.0
paired (median of 2 rounds): node cpu 1.2 (+20 us/req); caddy cpu 1.05 (+10 us/req);
paired rounds: plain and enrich of each peer driven at the same time, 6s, wrk -t1 -c16 each
1 node 100.0 130.0
1 caddy 200.0 212.0
`

func TestReadRoundsPoolsRuns(t *testing.T) {
	rs, err := readRounds(strings.NewReader(twoRuns))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("rounds = %d, want 3 (two of the first run, one of the second)", len(rs))
	}
	want := []round{{"node": 20, "caddy": 10}, {"node": 18, "caddy": 9}, {"node": 30, "caddy": 12}}
	for i, w := range want {
		for p, v := range w {
			if rs[i][p] != v {
				t.Errorf("round %d %s = %v, want %v", i, p, rs[i][p], v)
			}
		}
	}
}

func TestReadRoundsRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"no paired lines": "medians of 8 rounds\nnode/plain 1 2 3 4\n",
		"a peer twice":    "1 node 1 2\n1 node 1 3\n",
	} {
		if _, err := readRounds(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRatioOfMediansAndItsInterval(t *testing.T) {
	// caddy adds 10 in every round; node 20 or 40, so the ratio of medians
	// is 0.5 and no draw can give less than 0.25 or more than 0.5.
	var rs []round
	for i := range 9 {
		n := 20.0
		if i >= 5 {
			n = 40
		}
		rs = append(rs, round{"caddy": 10, "node": n})
	}
	r, lo, hi, below, ok := ratio(rs, "caddy", "node", 0.4, 4000, 0, rand.New(rand.NewPCG(1, 2)))
	if !ok || r != 0.5 {
		t.Fatalf("ratio = %v, %v; want 0.5", r, ok)
	}
	if lo < 0.25 || hi > 0.5 || lo > hi {
		t.Errorf("interval [%v, %v], want within [0.25, 0.5]", lo, hi)
	}
	if below <= 0 || below >= 1 {
		t.Errorf("share at or below 0.4 = %v: some draws take node's median to 40, some do not", below)
	}

	// Draws of many rounds each: node's median is 20 in nearly every one
	// (5 rounds of 9 at 20), so the interval closes on 0.5.
	_, lo, hi, _, _ = ratio(rs, "caddy", "node", 0.4, 2000, 400, rand.New(rand.NewPCG(1, 2)))
	if lo != 0.5 || hi != 0.5 {
		t.Errorf("interval of 400-round draws [%v, %v], want [0.5, 0.5]", lo, hi)
	}

	// A peer whose median is not above zero gives no ratio.
	zero := []round{{"caddy": 10, "node": -5}, {"caddy": 10, "node": 0}, {"caddy": 10, "node": 3}}
	if _, _, _, _, ok := ratio(zero, "caddy", "node", 0.6, 100, 0, rand.New(rand.NewPCG(1, 2))); ok {
		t.Error("a ratio over a median of zero")
	}
}

func TestReportNamesEachPeer(t *testing.T) {
	rs, err := readRounds(strings.NewReader(twoRuns))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := report(&out, rs, "caddy", 0.6, 1000, 0, rand.New(rand.NewPCG(1, 2))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 rounds", "caddy    median   10.0", "node     median   20.0", "vs node     0.50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := report(&out, rs, "nginx", 0.6, 10, 0, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("no error for a peer with no rounds")
	}
}
