package enrichers

import (
	"bytes"
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
	host := &testHost{found: map[string][]byte{
		"tenants": []byte(`{"api-uri":"https://acme","region":"eu","Access_Token":"x","expireſ_in":1,"":1}`),
		"cells":   []byte(`{"cell":"c7","leak":"no"}`),
	}}
	res := runInput(e, nil, body, nil, host, Input{})
	if res.Err != nil || len(res.Rejected) > 0 {
		t.Fatalf("err %v, rejected %v", res.Err, res.Rejected)
	}
	if got := strings.Join(host.asked, ","); got != "tenants,cells" {
		t.Fatalf("sources looked up: %s", got)
	}
	got := string(output(res, body))
	if want := string(body[:len(body)-1]) + `,"api-uri":"https://acme","region":"eu","cell":"c7-eu"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	r := res.Response
	if v, _, _ := r.Placeholder("source.cells.leak"); v != "no" {
		t.Fatalf("placeholder source.cells.leak = %q", v)
	}
	if v, known, _ := r.Placeholder("source.tenants.absent"); v != "" || !known {
		t.Fatalf("absent member: %q %v", v, known)
	}

	// the rule's source only for matching tokens; a source that found
	// nothing adds nothing
	body = tokenResponse(t, testjwt.ClaimsHeader(t, testjwt.HeaderAT, map[string]any{"azp": "svc", "org_id": "org_acme", "plan": "gold"}))
	host = &testHost{found: map[string][]byte{"gold": []byte(`{"limits":{"rps":1000},"region":"gold-region"}`)}}
	if res = runInput(e, nil, body, nil, host, Input{}); res.Err != nil || len(res.Rejected) > 0 {
		t.Fatalf("err %v, rejected %v", res.Err, res.Rejected)
	}
	if got := strings.Join(host.asked, ","); got != "tenants,cells,gold" {
		t.Fatalf("sources looked up: %s", got)
	}
	got = string(output(res, body))
	if want := string(body[:len(body)-1]) + `,"api-uri":"https://default","cell":"-","limits":{"rps":1000},"region":"rule-wins"}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// not a token response: no source is needed
	host = &testHost{}
	if res = runInput(e, nil, []byte(`{"keys":[]}`), nil, host, Input{}); res.Status != StatusNotToken || len(host.asked) != 0 {
		t.Fatalf("status %v, sources looked up for a response that is not a token response: %v", res.Status, host.asked)
	}
}

func TestSourceObjectsAreChecked(t *testing.T) {
	e := mustNew(t, Config{Sources: []SourceSpec{{Name: "s"}}, Fields: []FieldConfig{{Source: "s"}}})
	body := tokenResponse(t, "opaque")
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, "{\"a\":\"\xff\"}", `{"a":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`} {
		host := &testHost{found: map[string][]byte{"s": []byte(bad)}}
		res := runInput(e, nil, body, nil, host, Input{Explain: true})
		// refused: the source counts as having found nothing, and says why
		want := errNotJSONObject.Error()
		if strings.HasPrefix(bad, `{"a":[`) {
			want = errTooDeep.Error()
		}
		why := ""
		for _, f := range res.Explanation.Fields {
			if f.From == "source:s" {
				why = f.Why
			}
		}
		if len(res.Rejected) != 1 || res.Rejected[0] != "s" || res.Status != StatusUnchanged || why != whySourceMissed+"error: "+want {
			t.Errorf("%.40q: status %v, rejected %v, why %q", bad, res.Status, res.Rejected, why)
		}
	}
	if !errors.Is(errTooDeep, errNotJSONObject) {
		t.Error("errTooDeep is not errNotJSONObject")
	}
}

func TestSourceConfigErrors(t *testing.T) {
	for want, cfg := range map[string]Config{
		`fields[0]: unknown source "nope"`:                   {Fields: []FieldConfig{{Source: "nope"}}},
		`rules[0].fields[0]: unknown source "nope"`:          {Rules: []RuleConfig{{Fields: []FieldConfig{{Name: "a", Value: "{http.token.source.nope.x}"}}}}},
		`sources[0]: source "s" is not placed`:               {Sources: []SourceSpec{{Name: "s"}}},
		`sources[1].name: source s: declared twice`:          {Sources: []SourceSpec{{Name: "s"}, {Name: "s"}}, Fields: []FieldConfig{{Source: "s"}}},
		`sources[0].key: source s: key: unknown placeholder`: {Sources: []SourceSpec{{Name: "s", Key: "{http.token.nope}"}}, Fields: []FieldConfig{{Source: "s"}}},
		`sources[0].name: source name "a.b"`:                 {Sources: []SourceSpec{{Name: "a.b"}}},
		`fields[0].source: source "s": a source field has`:   {Sources: []SourceSpec{{Name: "s"}}, Fields: []FieldConfig{{Source: "s", Name: "x"}}},
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
	host := &testHost{found: map[string][]byte{"tenants": []byte(`{"region":"eu","plan":"gold"}`)}}
	counts := map[string]int{}
	labels := e.Labels()
	out := runOutcome{Count: func(label int) { counts[labels[label]]++ }}
	if _, err := runWith(e, nil, body, nil, host, &out); err != nil || out.Status != StatusEnriched {
		t.Fatalf("status %v err %v", out.Status, err)
	}
	want := map[string]int{"lift:ext": 1, "api-uri": 1, "source:tenants": 2, "token_kind": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counted %v, want %v", counts, want)
	}
	// Labels lists every label counted, and the fields that were not
	// written this time, once each, for the host to resolve up front
	if got, want := fmt.Sprint(e.Labels()), "[lift:ext api-uri source:tenants scope2 token_kind]"; got != want {
		t.Fatalf("Labels %s, want %s", got, want)
	}
}

// TestLabelsOfRules: the labels of rules' fields follow the top-level
// ones, a name repeated across rules listed once.
func TestLabelsOfRules(t *testing.T) {
	e := mustNew(t, Config{
		Sources: []SourceSpec{{Name: "plans"}},
		Fields:  []FieldConfig{{Name: "api-uri", Value: "https://a"}},
		Rules: []RuleConfig{
			{Name: "eu", Tenant: []string{"eu-*"}, Fields: []FieldConfig{{Name: "api-uri", Value: "https://eu"}, {Source: "plans"}}},
			{Name: "gold", Client: []string{"g-*"}, Fields: []FieldConfig{{Name: "plan", Value: "gold"}, {Source: "plans"}}},
		},
	})
	if got, want := fmt.Sprint(e.Labels()), "[api-uri source:plans plan]"; got != want {
		t.Fatalf("Labels %s, want %s", got, want)
	}
}

// TestFieldAfterSourceMember: a configured field replaces the member of
// its name a source placed before it, though no other configured field
// has the name: one member, the field's value.
func TestFieldAfterSourceMember(t *testing.T) {
	e := mustNew(t, Config{
		Sources: []SourceSpec{{Name: "tenants"}},
		Fields:  []FieldConfig{{Source: "tenants"}, {Name: "region", Value: "override"}},
	})
	body := []byte(`{"access_token":"` + testjwt.Claims(t, map[string]any{"azp": "svc"}) + `"}`)
	host := &testHost{found: map[string][]byte{"tenants": []byte(`{"region":"eu","plan":"gold"}`)}}
	var out runOutcome
	got, err := runWith(e, nil, body, nil, host, &out)
	if err != nil || out.Status != StatusEnriched {
		t.Fatalf("status %v err %v", out.Status, err)
	}
	if bytes.Count(got, []byte(`"region"`)) != 1 || !bytes.Contains(got, []byte(`"region":"override"`)) {
		t.Fatalf("region: %s", got)
	}
}
