package enrichers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// TestSources: a source placed among the fields is looked up for every
// token, one placed in a rule only for the tokens the rule matches; its
// members are added where it is placed (later wins, as for set), standard
// members in any spelling skipped; with NoFields it feeds placeholders only.
func TestSources(t *testing.T) {
	e := mustNew(t, Config{
		Sources: []SourceSpec{{Name: "tenants"}, {Name: "cells", NoFields: true}, {Name: "gold"}},
		Fields: []FieldConfig{
			{Name: "api-uri", Value: "https://default"},
			{Source: "tenants"},
			{Source: "cells"},
			{Name: "cell", Value: "{http.token.source.cells.cell}-{http.token.source.tenants.region}"},
		},
		Rules: []RuleConfig{{Name: "gold", Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold"}}},
			Fields: []FieldConfig{{Source: "gold"}, {Name: "region", Value: "rule-wins"}}}},
	})
	body := tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"azp": "svc", "org_id": "org_acme", "plan": "silver"}))
	r, err := e.Read(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Sources(r), ","); got != "tenants,cells" {
		t.Fatalf("Sources = %s", got)
	}
	if err := r.SetSource("tenants", []byte(`{"api-uri":"https://acme","region":"eu","Access_Token":"x","expireſ_in":1,"":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.SetSource("cells", []byte(`{"cell":"c7","leak":"no"}`)); err != nil {
		t.Fatal(err)
	}
	var out Outcome
	got := string(e.Render(nil, r, nil, &out))
	if want := string(body[:len(body)-1]) + `,"api-uri":"https://acme","region":"eu","cell":"c7-eu"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if v, _ := r.Placeholder("source.cells.leak"); v != "no" {
		t.Fatalf("placeholder source.cells.leak = %q", v)
	}
	if v, known := r.Placeholder("source.tenants.absent"); v != "" || !known {
		t.Fatalf("absent member: %q %v", v, known)
	}

	// the rule's source only for matching tokens; a source that found
	// nothing adds nothing
	body = tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"azp": "svc", "org_id": "org_acme", "plan": "gold"}))
	if r, err = e.Read(body, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Sources(r), ","); got != "tenants,cells,gold" {
		t.Fatalf("Sources = %s", got)
	}
	if err := r.SetSource("gold", []byte(`{"limits":{"rps":1000},"region":"gold-region"}`)); err != nil {
		t.Fatal(err)
	}
	got = string(e.Render(nil, r, nil, &Outcome{}))
	if want := string(body[:len(body)-1]) + `,"api-uri":"https://default","cell":"-","limits":{"rps":1000},"region":"rule-wins"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// not a token response: no source is needed
	if r, _ = e.Read([]byte(`{"keys":[]}`), nil); len(e.Sources(r)) != 0 {
		t.Fatal("sources for a response that is not a token response")
	}
}

func TestSourceObjectsAreChecked(t *testing.T) {
	e := mustNew(t, Config{Sources: []SourceSpec{{Name: "s"}}, Fields: []FieldConfig{{Source: "s"}}})
	r, _ := e.Read(tokenResponse(t, "opaque"), nil)
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, "{\"a\":\"\xff\"}", `{"a":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`} {
		if err := r.SetSource("s", []byte(bad)); !errors.Is(err, ErrNotJSONObject) {
			t.Errorf("%.40q: %v", bad, err)
		}
	}
}

func TestSourceConfigErrors(t *testing.T) {
	for want, cfg := range map[string]Config{
		`fields[0]: unknown source "nope"`:                 {Fields: []FieldConfig{{Source: "nope"}}},
		`rules[0].fields[0]: unknown source "nope"`:        {Rules: []RuleConfig{{Fields: []FieldConfig{{Name: "a", Value: "{http.token.source.nope.x}"}}}}},
		`sources[0]: source "s" is not placed`:             {Sources: []SourceSpec{{Name: "s"}}},
		`sources[1].name: source "s" declared twice`:       {Sources: []SourceSpec{{Name: "s"}, {Name: "s"}}, Fields: []FieldConfig{{Source: "s"}}},
		`sources[0].name: source name "a.b"`:               {Sources: []SourceSpec{{Name: "a.b"}}},
		`fields[0].source: source "s": a source field has`: {Sources: []SourceSpec{{Name: "s"}}, Fields: []FieldConfig{{Source: "s", Name: "x"}}},
	} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

// TestCountLabels: each member written is counted once, under a label the
// configuration bounds: a field's name, lift:<claim>, source:<name>; a
// member dropped because the upstream has it is not counted.
func TestCountLabels(t *testing.T) {
	e := mustNew(t, Config{
		LiftClaims: []string{"ext"},
		Sources:    []SourceSpec{{Name: "tenants"}},
		Fields:     []FieldConfig{{Name: "api-uri", Value: "https://a"}, {Source: "tenants"}, {Name: "scope2", Value: "x"}, {Name: "token_kind", Value: "{http.token.client_id}"}},
	})
	body := []byte(`{"access_token":"` + testjwt.Claims(t, map[string]any{"azp": "svc", "ext": map[string]any{"who": "w", "api-uri": "lifted"}}) + `","scope2":"upstream"}`)
	r, err := e.Read(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetSource("tenants", []byte(`{"region":"eu","plan":"gold"}`)); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	out := Outcome{Count: func(label string) { counts[label]++ }}
	e.Render(nil, r, nil, &out)
	want := map[string]int{"lift:ext": 1, "api-uri": 1, "source:tenants": 2, "token_kind": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counted %v, want %v", counts, want)
	}
}
