package enrichers

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

func splitOf(t testing.TB, weights ...any) *split {
	t.Helper()
	var buckets []Bucket
	for i := 0; i+1 < len(weights); i += 2 {
		buckets = append(buckets, Bucket{Name: weights[i].(string), Weight: float64(weights[i+1].(int))})
	}
	ss, err := compileSplits("", []SplitConfig{{Name: "slot", Key: "{http.token.client_id}", Buckets: buckets}})
	if err != nil {
		t.Fatal(err)
	}
	return &ss[0]
}

// TestSplitShares: over 100,000 distinct keys each bucket's share is within
// one point of its weight, and a key always gets the same bucket.
func TestSplitShares(t *testing.T) {
	for _, weights := range [][]any{{"green", 10, "blue", 90}, {"a", 20, "b", 30, "c", 50}, {"only", 1}} {
		s := splitOf(t, weights...)
		again := splitOf(t, weights...) // another replica, or after a restart
		const n = 100000
		count := map[string]int{}
		total := 0.0
		for _, b := range s.buckets {
			total += b.Weight
		}
		for i := range n {
			key := fmt.Sprintf("client-%d", i)
			b := s.bucket(key)
			if again.bucket(key) != b || s.bucket(key) != b {
				t.Fatalf("%v: key %s moved between calls", weights, key)
			}
			count[b]++
		}
		for _, b := range s.buckets {
			share, want := float64(count[b.Name])/n*100, b.Weight/total*100
			if math.Abs(share-want) > 1 {
				t.Errorf("%v: bucket %s has %.2f%% of keys, weight %.2f%%", weights, b.Name, share, want)
			}
		}
	}
}

// TestSplitMovesAsFewKeysAsPossible: raising green from 10 to 20 moves only
// blue keys, only to green, about a tenth of all; no green key leaves green.
// Lowering it back moves exactly those keys back.
func TestSplitMovesAsFewKeysAsPossible(t *testing.T) {
	before, after := splitOf(t, "green", 10, "blue", 90), splitOf(t, "green", 20, "blue", 80)
	three, threeMore := splitOf(t, "a", 20, "b", 30, "c", 50), splitOf(t, "a", 40, "b", 30, "c", 50)
	const n = 100000
	moved := 0
	for i := range n {
		key := fmt.Sprintf("client-%d", i)
		b, a := before.bucket(key), after.bucket(key)
		if b == "green" && a != "green" {
			t.Fatalf("key %s left green when green grew", key)
		}
		if b != a {
			moved++
		}
		if x, y := three.bucket(key), threeMore.bucket(key); x != y && y != "a" {
			t.Fatalf("key %s moved from %s to %s when only a grew", key, x, y)
		}
	}
	if share := float64(moved) / n * 100; math.Abs(share-10) > 1 {
		t.Errorf("%.2f%% of keys moved, want about 10%%", share)
	}
}

// TestSplitKnownBuckets pins a few assignments: a change to the hash would
// move every client of every deployment at its next upgrade.
func TestSplitKnownBuckets(t *testing.T) {
	s := splitOf(t, "green", 10, "blue", 90)
	got := map[string]string{}
	for _, k := range []string{"svc-eu", "svc-us", "client-1", "client-2", "é"} {
		got[k] = s.bucket(k)
	}
	b, _ := json.Marshal(got)
	if want := `{"client-1":"blue","client-2":"green","svc-eu":"green","svc-us":"green","é":"blue"}`; string(b) != want {
		t.Fatalf("buckets %s, want %s", b, want)
	}
}

// TestSplitsThroughTheEngine: the placeholder carries the bucket into set
// values; an empty key gets no bucket; a split in a rule is assigned only
// to the rule's tokens; a rule with a matcher set matches only once the
// host says it did.
func TestSplitsThroughTheEngine(t *testing.T) {
	e := mustNew(t, Config{
		Splits: []SplitConfig{{Name: "slot", Key: "{http.token.client_id}", Buckets: []Bucket{{Name: "green", Weight: 1}, {Name: "blue", Weight: 1}}}},
		Fields: []FieldConfig{{Name: "api-uri", Value: "https://{http.token.split.slot}.api.example.com"}},
		Rules: []RuleConfig{
			{Name: "gold", Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}},
				Splits: []SplitConfig{{Name: "ab", Key: "{http.token.tenant}", Buckets: []Bucket{{Name: "a", Weight: 1}}}},
				Fields: []FieldConfig{{Name: "ab", Value: "{http.token.split.ab}"}}},
			{Name: "internal", Match: json.RawMessage(`{"remote_ip":{"ranges":["10.0.0.0/8"]}}`),
				Fields: []FieldConfig{{Name: "internal", JSON: json.RawMessage(`true`)}}},
		},
	})
	run := func(claims map[string]any, internal bool) map[string]json.RawMessage {
		t.Helper()
		host := &testHost{match: map[int]bool{1: internal}}
		got, err := runWith(e, nil, tokenResponse(t, testjwt.Claims(t, claims)), nil, host, &runOutcome{})
		if err != nil {
			t.Fatal(err)
		}
		// the host is asked about the one rule with a matcher set
		if len(host.matchAsked) != 1 || host.matchAsked[0] != 1 {
			t.Fatalf("MatchRule asked for %v, want [1]", host.matchAsked)
		}
		return decodeObject(t, got)
	}
	want := `"https://` + splitOf(t, "green", 1, "blue", 1).bucket("svc-eu") + `.api.example.com"`
	got := run(map[string]any{"client_id": "svc-eu", "org_id": "org_acme", "plan": "gold"}, true)
	if string(got["api-uri"]) != want || string(got["ab"]) != `"a"` || string(got["internal"]) != "true" {
		t.Fatalf("gold, internal: %v", got)
	}
	got = run(map[string]any{"client_id": "svc-eu", "org_id": "org_acme", "plan": "silver"}, false)
	if string(got["api-uri"]) != want || got["ab"] != nil || got["internal"] != nil {
		t.Fatalf("silver, external: %v", got)
	}
	// no client id: no bucket, and the field renders without it
	got = run(map[string]any{"org_id": "org_acme"}, false)
	if string(got["api-uri"]) != `"https://.api.example.com"` {
		t.Fatalf("no key: %v", got)
	}
}

func TestSplitConfigErrors(t *testing.T) {
	for want, cfg := range map[string]Config{
		`splits[0].name: split name ""`:                           {Splits: []SplitConfig{{Key: "{http.token.client_id}", Buckets: []Bucket{{Name: "a", Weight: 1}}}}},
		`splits[0].key: split s: empty key`:                       {Splits: []SplitConfig{{Name: "s", Buckets: []Bucket{{Name: "a", Weight: 1}}}}},
		`splits[0].buckets: split s: no bucket`:                   {Splits: []SplitConfig{{Name: "s", Key: "k"}}},
		`splits[0].buckets[1]: split s: bucket "a"`:               {Splits: []SplitConfig{{Name: "s", Key: "k", Buckets: []Bucket{{Name: "a", Weight: 1}, {Name: "a", Weight: 1}}}}},
		`splits[0].buckets[0]: split s: bucket "z"`:               {Splits: []SplitConfig{{Name: "s", Key: "k", Buckets: []Bucket{{Name: "z", Weight: 0}}}}},
		`rules[0].splits[0].buckets: rule #1: split s: no bucket`: {Rules: []RuleConfig{{Splits: []SplitConfig{{Name: "s", Key: "k"}}}}},
	} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// BenchmarkSplit is what one split costs a token: two buckets.
func BenchmarkSplit(b *testing.B) {
	s := splitOf(b, "green", 10, "blue", 90)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.bucket("Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9uHg")
	}
}

// BenchmarkSplitStage is what assigning the splits adds to a token
// response: one split of two buckets, its key rendered from the identity.
func BenchmarkSplitStage(b *testing.B) {
	c := auth0Case()
	cfg := c.cfg
	cfg.Splits = []SplitConfig{{Name: "slot", Key: "{http.token.client_id}", Buckets: []Bucket{{Name: "green", Weight: 10}, {Name: "blue", Weight: 90}}}}
	e := mustNew(b, cfg)
	r := new(Response)
	if _, err := e.read(r, c.body, c.req, nil, &scratch{}); err != nil {
		b.Fatal(err)
	}
	e.matchRules(r, noHost{}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if r.found != nil {
			r.found.splits = r.found.splits[:0]
		}
		e.split(r, nil)
	}
	if v, _, _ := r.Placeholder("split.slot"); v == "" {
		b.Fatal("no bucket")
	}
}

// sharesWithin checks that over n keys each bucket of weights gets its
// weight's share of them, within tolerance points.
func sharesWithin(t *testing.T, n int, tolerance float64, weights ...float64) {
	t.Helper()
	var buckets []Bucket
	for i, w := range weights {
		buckets = append(buckets, Bucket{Name: fmt.Sprintf("b%d", i), Weight: w})
	}
	ss, err := compileSplits("", []SplitConfig{{Name: "slot", Key: "{http.token.client_id}", Buckets: buckets}})
	if err != nil {
		t.Fatalf("%v: %v", weights, err)
	}
	count := map[string]int{}
	for i := range n {
		count[ss[0].bucket(fmt.Sprintf("client-%d", i))]++
	}
	// the expected shares, from the weights scaled by the largest so that
	// the sum does not overflow
	hi, total := 0.0, 0.0
	for _, w := range weights {
		hi = max(hi, w)
	}
	for _, w := range weights {
		total += w / hi
	}
	for i, w := range weights {
		share, want := float64(count[fmt.Sprintf("b%d", i)])/float64(n)*100, w/hi/total*100
		if math.Abs(share-want) > tolerance {
			t.Errorf("weights %v: bucket %d has %.2f%% of keys, weight %.2f%%", weights, i, share, want)
		}
	}
}

// TestSplitSharesExtremeWeights: shares follow the weights for any finite
// positive weights: huge ones (whose scores would overflow to +Inf and
// tie), tiny ones (whose scores would be subnormal and tie), and both.
func TestSplitSharesExtremeWeights(t *testing.T) {
	for _, weights := range [][]float64{
		{1e308, 1e308},
		{1e-300, 1},
		{1, 1e308},
		{5e-324, 5e-324},
		{1e-300, 3e-300},
		{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64},
		{1e308, 1e307, 1e306},
		{5e-324, 1e308},
		{1e291, 3e291},
		{1e-291, 1e-291},
	} {
		sharesWithin(t, 50000, 2, weights...)
	}
}

// TestSplitSharesRandomWeights: shares follow the weights for pairs and
// triples of weights drawn over the whole range of finite positive
// numbers (a deterministic sample).
func TestSplitSharesRandomWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		// an exponent anywhere from the subnormals to the largest, and a
		// ratio of up to 1e3 between the weights
		base := math.Ldexp(1+rng.Float64(), rng.IntN(2098)-1074)
		weights := []float64{base}
		for range 1 + rng.IntN(2) {
			weights = append(weights, base*math.Pow(10, rng.Float64()*3))
		}
		if math.IsInf(weights[len(weights)-1], 0) || slices.Contains(weights, 0) {
			continue
		}
		sharesWithin(t, 20000, 2, weights...)
	}
}

// TestSplitBucketsUnchanged: for ordinary weights the scores are computed
// as they always were, so every key keeps its bucket.
func TestSplitBucketsUnchanged(t *testing.T) {
	a, b := splitOf(t, "green", 10, "blue", 90), splitOf(t, "a", 20, "b", 30, "c", 50)
	var x, y string
	for i := range 24 {
		k := fmt.Sprintf("client-%d", i)
		x += a.bucket(k)[:1]
		y += b.bucket(k)
	}
	if x != "bbgbbbbbbbbbbbbbbbbbbbbb" || y != "bbbaaacaccbccbccbccccccb" {
		t.Fatalf("buckets moved:\n%s\n%s", x, y)
	}
}
