package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// Benchmarks of rule match blocks: what a rule with Caddy request
// matchers (remote_ip and header) adds to an enriched request of
// BenchmarkHandler, and the evaluation of the matcher sets alone. Run with:
//
//	go test -run '^$' -bench RuleMatch -benchmem ./caddymodule

// benchMatchRule is a rule of benchConfig's shape whose matchers the
// benchmark request satisfies (it comes from 127.0.0.1 with X-Region
// eu-west), so that every matcher of the set runs.
const benchMatchRule = `{"name": "internal", "match": {"remote_ip": {"ranges": ["10.0.0.0/8", "127.0.0.0/8"]},
	"header": {"X-Region": ["eu-*"]}}, "fields": [{"name": "network", "value": "internal"}]}`

// benchConfigWithMatch is benchConfig with benchMatchRule as its last rule.
func benchConfigWithMatch(tb testing.TB) string {
	tb.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(benchConfig), &cfg); err != nil {
		tb.Fatal(err)
	}
	var rule any
	if err := json.Unmarshal([]byte(benchMatchRule), &rule); err != nil {
		tb.Fatal(err)
	}
	cfg["rules"] = append(cfg["rules"].([]any), rule)
	out, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// benchMatchRequest is the enriched case's request, with the header the
// match rule reads.
func benchMatchRequest() *benchRequest {
	req := newBenchRequest(http.MethodPost, "/oauth/token", benchTokenRequest)
	req.base.Header.Set("X-Region", "eu-west")
	return req
}

func BenchmarkRuleMatch(b *testing.B) {
	body := benchTokenBody()
	for _, c := range []struct {
		name, config, want string
	}{
		{"enriched", benchConfig, `"plan":"gold"}`},
		{"enriched-with-match-rule", benchConfigWithMatch(b), `"network":"internal"}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := newBenchHandler(b, c.config)
			up := tokenUpstream(body, "")
			req := benchMatchRequest()
			w := &benchWriter{h: http.Header{}}
			serve := func() {
				w.reset()
				if err := h.ServeHTTP(w, req.next(), up); err != nil || w.n == 0 {
					b.Fatalf("err %v, %d bytes", err, w.n)
				}
			}
			serve()
			if !bytes.Contains(w.first, []byte(c.want)) {
				b.Fatalf("response lacks %q:\n%s", c.want, w.first)
			}
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
	// the matcher sets alone, on a response already read
	b.Run("evaluate", func(b *testing.B) {
		h := newBenchHandler(b, benchConfigWithMatch(b))
		x := &exchange{h: h, r: benchMatchRequest().next()}
		b.ReportAllocs()
		for b.Loop() {
			for i := range h.ruleMatchers {
				if h.ruleMatchers[i] != nil {
					x.MatchRule(i)
				}
			}
		}
	})
}

// TestRuleMatchBenchCase checks that the benchmark measures what it claims:
// with the match rule, the enriched response carries the rule's field, and
// without its header the rule does not apply.
func TestRuleMatchBenchCase(t *testing.T) {
	h := newBenchHandler(t, benchConfigWithMatch(t))
	up := tokenUpstream(benchTokenBody(), "")
	for region, want := range map[string]bool{"eu-west": true, "us-east": false} {
		req := benchMatchRequest()
		req.base.Header.Set("X-Region", region)
		w := &benchWriter{h: http.Header{}}
		if err := h.ServeHTTP(w, req.next(), up); err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(w.first, []byte(`"network":"internal"`)); got != want || !bytes.Contains(w.first, []byte(`"plan":"gold"`)) {
			t.Errorf("X-Region %s: network field %v, want %v: %s", region, got, want, w.first)
		}
	}
}
