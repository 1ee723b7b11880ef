package enrichers

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// SplitConfig assigns each key to one of weighted buckets: blue/green and
// A/B splits. The assignment is rendezvous (highest random weight) hashing
// of the split's name, the key and each bucket's name: a pure function of
// those and the weights, the same on every replica and after every
// restart, with no state kept. Raising one bucket's weight moves keys only
// into that bucket; lowering it moves keys only out of it.
type SplitConfig struct {
	// The split's name; its bucket is the placeholder
	// {http.token.split.<name>}.
	Name string `json:"name"`
	// The key to split by, with placeholders, e.g. {http.token.client_id}.
	// A key that renders empty gets no bucket (the placeholder is empty).
	Key string `json:"key"`
	// The buckets and their weights.
	Buckets []Bucket `json:"buckets"`
}

// Bucket is one outcome of a split.
type Bucket struct {
	// The bucket's name, the value of the split's placeholder.
	Name string `json:"name"`
	// Its weight: its share of keys is its weight over the sum. Any
	// finite positive number.
	Weight float64 `json:"weight"`
}

// split is a compiled SplitConfig.
type split struct {
	name string
	key  valueTemplate
	// buckets with the weights the score uses (scoreWeights)
	buckets []Bucket
}

// The weights a score uses as configured: a bucket's score is its weight
// over -ln(u), and -ln(u) lies between 5.5e-17 and 37.5 for the u a hash
// gives, so within these bounds a score neither overflows to +Inf (where
// ties would all go to the first bucket) nor falls to a subnormal number
// (where unequal weights would tie).
const (
	maxPlainWeight = 1e290
	minPlainWeight = 1e-290
)

// scoreWeights returns the buckets as they are when every weight is
// within [minPlainWeight, maxPlainWeight], the usual case, so that the
// bucket of every key stays what it was. Otherwise it returns a copy with
// each weight divided by the largest: the shares stay those of the
// weights, the largest weight is 1 and no score overflows; a weight so
// much smaller than the largest that its quotient is subnormal or zero
// has a share of the keys too small to see anyway.
func scoreWeights(bs []Bucket) []Bucket {
	hi, lo := 0.0, math.Inf(1)
	for _, b := range bs {
		hi, lo = max(hi, b.Weight), min(lo, b.Weight)
	}
	if hi <= maxPlainWeight && lo >= minPlainWeight {
		return bs
	}
	out := make([]Bucket, len(bs))
	for i, b := range bs {
		out[i] = Bucket{Name: b.Name, Weight: b.Weight / hi}
	}
	return out
}

func compileSplits(path string, cfgs []SplitConfig) ([]split, error) {
	var out []split
	for i, c := range cfgs {
		at := fmt.Sprintf("%ssplits[%d]", path, i)
		if !validSourceName(c.Name) {
			return nil, &ConfigError{Path: at + ".name", Err: fmt.Errorf("split name %q: use letters, digits, _ and -", c.Name)}
		}
		key, err := parseTemplate(c.Key)
		if err != nil || c.Key == "" {
			if err == nil {
				err = errors.New("empty key")
			}
			return nil, &ConfigError{Path: at + ".key", Err: fmt.Errorf("split %s: %w", c.Name, err)}
		}
		if len(c.Buckets) == 0 {
			return nil, &ConfigError{Path: at + ".buckets", Err: fmt.Errorf("split %s: no bucket", c.Name)}
		}
		seen := map[string]bool{}
		for j, b := range c.Buckets {
			if b.Name == "" || seen[b.Name] || !(b.Weight > 0) || math.IsInf(b.Weight, 0) {
				return nil, &ConfigError{Path: fmt.Sprintf("%s.buckets[%d]", at, j),
					Err: fmt.Errorf("split %s: bucket %q: a bucket needs a name of its own and a positive weight", c.Name, b.Name)}
			}
			seen[b.Name] = true
		}
		out = append(out, split{name: c.Name, key: key, buckets: scoreWeights(c.Buckets)})
	}
	return out, nil
}

// bucket returns the bucket key falls in.
func (s *split) bucket(key string) string { return s.bucketOf([]byte(key)) }

// bucketOf is bucket for a key in bytes, as Split renders it.
func (s *split) bucketOf(key []byte) string {
	best, bestScore := "", math.Inf(-1)
	for _, b := range s.buckets {
		// weighted rendezvous: score = weight / -ln(u), u uniform in (0,1)
		u := (float64(mix(hashOf(s.name, key, b.Name))>>11) + 0.5) / (1 << 53)
		if score := b.Weight / -math.Log(u); score > bestScore {
			best, bestScore = b.Name, score
		}
	}
	return best
}

// hashOf is FNV-1a over the split's name, the key and the bucket's name,
// each followed by a byte no UTF-8 text holds ("a"+"bc" and "ab"+"c"
// differ): stable across processes, machines and Go versions, unlike
// hash/maphash.
func hashOf(name string, key []byte, bucket string) uint64 {
	h := uint64(14695981039346656037)
	h = fnv(h, name)
	h = fnv(h, key)
	return fnv(h, bucket)
}

func fnv[T string | []byte](h uint64, p T) uint64 {
	for i := 0; i < len(p); i++ {
		h ^= uint64(p[i])
		h *= 1099511628211
	}
	h ^= 0xff
	return h * 1099511628211
}

// mix is the splitmix64 finaliser: FNV's low bits are weak, its output
// after this is uniform enough for a split's shares.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// split assigns r's buckets: the top-level splits and those of the rules
// that apply to r, in order, rendering their keys with r's placeholders
// and resolve. It runs after the rules are matched and the sources found,
// and before render and the split placeholders read the buckets.
func (e *Enricher) split(r *Response, resolve resolver) {
	if !e.hasSplits {
		return
	}
	var buf [128]byte
	do := func(ss []split) {
		for i := range ss {
			s := &ss[i]
			key := s.key.appendText(buf[:0], r, resolve)
			if len(key) == 0 {
				r.setSplit(s.name, "")
				continue
			}
			r.setSplit(s.name, s.bucketOf(key))
		}
	}
	do(e.splits)
	for i := range e.rules {
		if len(e.rules[i].splits) > 0 && r.matched[i] {
			do(e.rules[i].splits)
		}
	}
}

// splitResult is one split's bucket for a response.
type splitResult struct{ name, bucket string }

func (r *Response) setSplit(name, bucket string) {
	m := r.more()
	for i := range m.splits {
		if m.splits[i].name == name {
			m.splits[i].bucket = bucket
			return
		}
	}
	m.splits = append(m.splits, splitResult{name, bucket})
}

// splitBucket returns the bucket of split name, "" when none.
func (r *Response) splitBucket(name string) string {
	if r.found == nil {
		return ""
	}
	for _, s := range r.found.splits {
		if s.name == name {
			return s.bucket
		}
	}
	return ""
}

// splitName reports whether name (after PlaceholderPrefix) is split.<name>.
func splitName(name string) (string, bool) {
	s, ok := strings.CutPrefix(name, "split.")
	return s, ok && s != ""
}
