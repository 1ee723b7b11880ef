package enrichers

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// hugeObject is a JSON object of n members m0..m<n-1> whose values are
// their index, with extra appended before the closing brace.
func hugeObject(n int, extra string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d":%d`, i, i)
	}
	b.WriteString(extra)
	b.WriteByte('}')
	return b.Bytes()
}

// checkHuge checks an enriched body that got a field m5 and then the n
// members of hugeObject(n, dupExtra): every member once, m5 with the
// later value at the position of the first, the reserved spellings
// skipped, the upstream's m7 kept.
func checkHuge(t *testing.T, got []byte, n int) {
	t.Helper()
	m := decodeObject(t, got)
	if len(m) != n+4 { // access_token, scope, expires_in, token_type
		t.Fatalf("%d members, want %d", len(m), n+4)
	}
	for i := range n {
		want := strconv.Itoa(i)
		switch i {
		case 5:
			want = `"later"`
		case 7:
			want = `"upstream"`
		}
		if v := string(m["m"+strconv.Itoa(i)]); v != want {
			t.Fatalf("m%d = %s, want %s", i, v, want)
		}
	}
	if string(m["scope"]) != `"read"` || string(m["expires_in"]) != "60" || bytes.Contains(got, []byte("Access_Token")) {
		t.Fatalf("a reserved member was written: %.200s", got)
	}
	if c := bytes.Count(got, []byte(`"m5":`)); c != 1 {
		t.Fatalf("m5 written %d times", c)
	}
	// m5 is first set by the configured field, before the source's m0
	if a, b := bytes.Index(got, []byte(`"m5":`)), bytes.Index(got, []byte(`"m0":`)); !(a < b) {
		t.Fatalf("m5 is not where the configured field put it, before m0")
	}
}

// upstreamWith7 is a token response that already has m7 (kept: overwrite
// is off).
func upstreamWith7(t *testing.T) []byte {
	return []byte(`{"access_token":"opaque","m7":"upstream","scope":"read","expires_in":60,"token_type":"Bearer"}`)
}

// dupExtra repeats m5 (the later value wins) and adds reserved spellings
// (skipped).
const dupExtra = `,"m5":"later","Access_Token":"x","scope":"y"`

// TestHugeSourceObjectIsPlaced: a source object of as many members as a
// source may have is placed whole and correctly.
func TestHugeSourceObjectIsPlaced(t *testing.T) {
	const n = maxMembers - 3 // dupExtra adds three
	e := mustNew(t, Config{Sources: []SourceSpec{{Name: "meta"}}, Fields: []FieldConfig{{Name: "m5", Value: "first"}, {Source: "meta"}}})
	var out runOutcome
	got, err := runWith(e, nil, upstreamWith7(t), nil, &testHost{found: map[string][]byte{"meta": hugeObject(n, dupExtra)}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	checkHuge(t, got, n)
	if out.Status != StatusEnriched || out.Kept != 1 {
		t.Fatalf("outcome %+v", out)
	}
}

// TestHugeLiftedClaimIsPlaced: a lifted claim of as many members as a
// lifted claim may have is placed whole and correctly.
func TestHugeLiftedClaimIsPlaced(t *testing.T) {
	const n = maxMembers - 3 // dupExtra adds three
	e := mustNew(t, Config{LiftClaims: []string{"meta"}})
	body := liftBody(t, n)
	var out runOutcome
	got, err := enrich(e, nil, body, nil, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, got)
	if len(m) != n+4 || string(m["m5"]) != `"later"` || string(m["m7"]) != `"upstream"` || string(m["m"+strconv.Itoa(n-1)]) != strconv.Itoa(n-1) {
		t.Fatalf("%d members; m5 %s m7 %s", len(m), m["m5"], m["m7"])
	}
	if a, b, c := bytes.Index(got, []byte(`"m4":`)), bytes.Index(got, []byte(`"m5":`)), bytes.Index(got, []byte(`"m6":`)); !(a < b && b < c) || bytes.Count(got, []byte(`"m5":`)) != 1 {
		t.Fatalf("m5 is not once, between m4 and m6")
	}
	if bytes.Contains(got, []byte("Access_Token")) || string(m["scope"]) != `"read"` {
		t.Fatalf("a reserved member was written")
	}
}

// liftBody is a token response whose JWT has a claim meta of n members,
// with m7 already in the body.
func liftBody(t testing.TB, n int) []byte {
	payload := `{"sub":"svc","meta":` + string(hugeObject(n, dupExtra)) + `}`
	token := testjwt.Unsigned([]byte(testjwt.HeaderAT), []byte(payload))
	return []byte(`{"access_token":"` + token + `","m7":"upstream","scope":"read","expires_in":60,"token_type":"Bearer"}`)
}

// TestWorkIsLinear bounds the work of a response whose body, source
// object or lifted claim has n members, and its explanation: the entries
// its scans examine (countWork) grow in proportion to n, never with the
// product of two sizes.
func TestWorkIsLinear(t *testing.T) {
	const n = 80000
	var total int
	countWork = func(k int) { total += k }
	t.Cleanup(func() { countWork = nil })
	// at most this many entries examined per member: a scan of the
	// handful of fields planned before the plan is indexed
	const perMember = 2 * indexFrom
	check := func(what string, run func(t *testing.T)) {
		t.Helper()
		t.Run(what, func(t *testing.T) {
			total = 0
			run(t)
			if total > perMember*n {
				t.Errorf("%d entries examined for %d members, over %d per member", total, n, perMember)
			}
		})
	}
	src := mustNew(t, Config{Sources: []SourceSpec{{Name: "meta"}}, Overwrite: true,
		Fields: []FieldConfig{{Name: "m5", Value: "first"}, {Source: "meta"}}})
	object := hugeObject(n, dupExtra)
	withSource := &testHost{found: map[string][]byte{"meta": object}}
	check("source_object", func(t *testing.T) { runWith(src, nil, upstreamWith7(t), nil, withSource, &runOutcome{}) })
	check("source_object_explained", func(t *testing.T) { explain(src, upstreamWith7(t), nil, withSource) })

	lift := mustNew(t, Config{LiftClaims: []string{"meta"}, Overwrite: true})
	body := liftBody(t, n)
	check("lifted_claim", func(t *testing.T) { enrich(lift, nil, body, nil, nil, &runOutcome{}) })
	check("lifted_claim_explained", func(t *testing.T) { explain(lift, body, nil, nil) })

	// an upstream body of n members, every one of which a field collides
	// with, and bodies with two spellings of a reserved name after n other
	// members
	fields := make([]FieldConfig, 0, 64)
	for i := range 64 {
		fields = append(fields, FieldConfig{Name: "m" + strconv.Itoa(i*997), Value: "x"})
	}
	many := mustNew(t, Config{Fields: fields, Overwrite: true})
	upstream := hugeObject(n, `,"access_token":"opaque"`)
	check("huge_body", func(t *testing.T) {
		var out runOutcome
		got, _ := enrich(many, nil, upstream, nil, nil, &out)
		if out.Status != StatusEnriched || !bytes.Contains(got, []byte(`"m997":"x"`)) {
			t.Fatalf("huge body not enriched: %v", out.Status)
		}
	})
	reserved := []byte(`{` + strings.Repeat(`"x":1,`, n) + `"access_token":"a","ACCESS_TOKEN":"b"}`)
	check("ambiguous_body", func(t *testing.T) {
		var out runOutcome
		enrich(many, nil, reserved, nil, nil, &out)
		if out.Status != StatusAmbiguous {
			t.Fatalf("status %v, want ambiguous", out.Status)
		}
	})
	introspection := []byte(`{` + strings.Repeat(`"x":1,`, n) + `"active":true,"Active":true}`)
	check("ambiguous_introspection", func(t *testing.T) {
		res := many.Run(nil, &Input{Body: introspection, Introspection: true}, nil)
		if res.Status != StatusAmbiguous {
			t.Fatalf("status %v %v, want ambiguous", res.Status, res.Err)
		}
	})
}

// TestReservedPrefilter: every rune that folds to the first letter of a
// reserved name passes mayFoldToReserved, so the filter never hides a
// reserved spelling from isReserved.
func TestReservedPrefilter(t *testing.T) {
	first := map[rune]bool{}
	for _, r := range reservedFields {
		first[rune(r[0])] = true
	}
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if !utf8.ValidRune(c) {
			continue
		}
		folds := false
		for f := unicode.SimpleFold(c); ; f = unicode.SimpleFold(f) {
			folds = folds || first[f]
			if f == c {
				break
			}
		}
		if name := string(c) + "ccess_token"; folds && !mayFoldToReserved(name) {
			t.Fatalf("mayFoldToReserved(%q) = false, but %U folds to a reserved name's first letter", name, c)
		}
	}
	if !isReserved("ſcope") || !isReserved("Access_Token") || isReserved("m1") {
		t.Fatal("isReserved is wrong")
	}
}

// TestHugeObjectsAreRefused: a source object or a lifted claim of more
// than maxMembers members is refused whole, reported in Result.Rejected
// (the handler counts and warns) and explained, and the rest of the
// response is enriched as usual.
func TestHugeObjectsAreRefused(t *testing.T) {
	const n = 40000
	src := mustNew(t, Config{Sources: []SourceSpec{{Name: "meta"}}, Fields: []FieldConfig{{Name: "x", Value: "y"}, {Source: "meta"}}})
	host := &testHost{found: map[string][]byte{"meta": hugeObject(n, "")}}
	res := src.Run(nil, &Input{Body: upstreamWith7(t), Explain: true}, host)
	if res.Status != StatusEnriched || !slices.Equal(res.Rejected, []string{"meta"}) || bytes.Contains(res.Body, []byte(`"m0"`)) {
		t.Fatalf("source: status %v rejected %v body %.120s", res.Status, res.Rejected, res.Body)
	}
	if !explained(res.Explanation, "source:meta", "source found nothing: refused: 40000 members, more than 1000") {
		t.Errorf("source: explanation %+v", res.Explanation.Fields)
	}
	lift := mustNew(t, Config{LiftClaims: []string{"meta"}, Fields: []FieldConfig{{Name: "x", Value: "y"}}})
	res = lift.Run(nil, &Input{Body: liftBody(t, n), Explain: true}, nil)
	if res.Status != StatusEnriched || !slices.Equal(res.Rejected, []string{"lift:meta"}) || bytes.Contains(res.Body, []byte(`"m0"`)) {
		t.Fatalf("lift: status %v rejected %v body %.120s", res.Status, res.Rejected, res.Body)
	}
	if !explained(res.Explanation, "lift:meta", whyTooMany) {
		t.Errorf("lift: explanation %+v", res.Explanation.Fields)
	}
}

// explained reports whether x has a field named name left out for why.
func explained(x *Explanation, name, why string) bool {
	for _, f := range x.Fields {
		if f.Name == name && !f.Added && f.Why == why {
			return true
		}
	}
	return false
}
