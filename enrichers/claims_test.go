package enrichers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// TestClaimReads: rule claim conditions and {http.token.claims.*} read a
// claim the same way, for a plain string, an escaped one, other JSON types,
// an absent claim, a repeated claim (the last wins, as JWT libraries read
// it) and, under hydra, a claim nested in ext, including one shadowed by a
// top-level claim of the same name.
func TestClaimReads(t *testing.T) {
	cfg := func(preset string) Config {
		return Config{Preset: preset, Rules: []RuleConfig{{
			Name:   "gold",
			Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold*", "7", "true"}}},
			Fields: []FieldConfig{{Name: "matched", JSON: json.RawMessage(`true`)}},
		}}, Fields: []FieldConfig{{Name: "plan_text", Value: "[{http.token.claims.plan}]"}}}
	}
	for _, c := range []struct {
		name    string
		preset  string
		payload string
		matched bool
		text    string
	}{
		{"plain string", "", `{"plan":"gold"}`, true, "gold"},
		{"escaped string", "", `{"plan":"gold \"plus\" \u00e9"}`, true, "gold \"plus\" \u00e9"},
		{"other string", "", `{"plan":"silver"}`, false, "silver"},
		{"number", "", `{"plan":7}`, true, "7"},
		{"bool", "", `{"plan":true}`, true, "true"},
		{"array", "", `{"plan":["silver","gold-2"]}`, true, `["silver","gold-2"]`},
		{"object", "", `{"plan":{"tier":"gold"}}`, false, `{"tier":"gold"}`},
		{"null", "", `{"plan":null}`, false, ""},
		{"absent", "", `{"other":"gold"}`, false, ""},
		{"repeated: the last wins", "", `{"plan":"silver","plan":"gold"}`, true, "gold"},
		{"repeated: the last wins, not the first", "", `{"plan":"gold","plan":"silver"}`, false, "silver"},
		{"nested in ext", "hydra", `{"client_id":"c","ext":{"plan":"gold-x"}}`, true, "gold-x"},
		{"top level shadows ext", "hydra", `{"client_id":"c","plan":"silver","ext":{"plan":"gold"}}`, false, "silver"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := mustNew(t, cfg(c.preset))
			body := tokenResponse(t, testjwt.Unsigned([]byte(`{"alg":"RS256"}`), []byte(c.payload)))
			var out runOutcome
			res, err := enrich(e, nil, body, nil, nil, &out)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeObject(t, res)
			if matched := string(got["matched"]) == "true"; matched != c.matched {
				t.Errorf("matched = %s, want %v", got["matched"], c.matched)
			}
			want := c.text
			wantText, _ := json.Marshal("[" + want + "]")
			if string(got["plan_text"]) != string(wantText) {
				t.Errorf("plan_text = %s, want %s", got["plan_text"], wantText)
			}
			if v, _ := out.Identity.placeholder("claims.plan"); v != want {
				t.Errorf("{http.token.claims.plan} = %q, want %q", v, want)
			}
		})
	}
}

// TestRawTextIsValueText holds rawText, which skips parsing a plain string,
// to valueText of the parsed value.
func TestRawTextIsValueText(t *testing.T) {
	for _, raw := range []string{``, `""`, `"a"`, `"svc-eu"`, `"a\"b"`, `"\u00e9t\u00e9"`, `"a\\b"`, `"tab\tin"`,
		`123`, `-1.5e3`, `null`, `true`, `false`, `[1,"x"]`, `{"a":1}`, `[]`, `{}`} {
		if got, want := rawText(raw), valueText(gjson.Parse(raw)); got != want {
			t.Errorf("rawText(%s) = %q, want %q", raw, got, want)
		}
	}
}

// TestClaimsOutliveTheirRoom: Run lists a token's claims in pooled room and
// gives it back when it returns, so a claim read later (a placeholder in
// an access log) reads the payload again. It must read what Run read, even
// after the room has listed other tokens' claims, for a usual payload, for
// names holding escapes and past 32 claims (whose lists Run keeps).
func TestClaimsOutliveTheirRoom(t *testing.T) {
	many := `{"client_id":"svc-many"`
	for i := range 40 {
		many += fmt.Sprintf(`,"c%d":"v%d"`, i, i)
	}
	many += `,"plan":"gold-many"}`
	e := mustNew(t, Config{Fields: []FieldConfig{{Name: "plan_text", Value: "{http.token.claims.plan}"}}})
	run := func(payload string) *Response {
		body := tokenResponse(t, testjwt.Unsigned([]byte(`{"alg":"RS256"}`), []byte(payload)))
		res := e.Run(nil, &Input{Body: body}, nil)
		if res.Status != StatusEnriched {
			t.Fatalf("%s: status %v err %v", payload, res.Status, res.Err)
		}
		return res.Response
	}
	for _, c := range []struct {
		name, payload, plan, client string
		keepsList                   bool
	}{
		{"usual", `{"client_id":"svc-a","plan":"gold-a","iat":1}`, "gold-a", "svc-a", false},
		{"escaped names", `{"client_\u0069d":"svc-b","pla\u006e":"gold-b"}`, "gold-b", "svc-b", true},
		{"repeated", `{"client_id":"svc-c","plan":"silver","plan":"gold-c"}`, "gold-c", "svc-c", false},
		{"more than 32 claims", many, "gold-many", "svc-many", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(c.payload)
			if kept := r.Identity.claims.members != nil; kept != c.keepsList {
				t.Errorf("claim list kept after Run: %v, want %v", kept, c.keepsList)
			}
			for i := range 50 {
				run(fmt.Sprintf(`{"client_id":"other-%d","plan":"other","x":%d,"y":[1,2,3]}`, i, i))
			}
			for name, want := range map[string]string{"claims.plan": c.plan, "claims.client_id": c.client, "client_id": c.client, "claims.absent": ""} {
				if got, known, _ := r.Placeholder(name); !known || got != want {
					t.Errorf("{http.token.%s} = %q (known %v), want %q", name, got, known, want)
				}
			}
		})
	}
}

// TestResponseSize holds the Response to the 320-byte size class: the
// placeholders keep it until the request is logged, so every token
// request leaves it to the collector. Provenance, kept for an
// explanation only, and what sources, splits and lifted claims found,
// allocated only when there is any, are kept out of it for that reason.
func TestResponseSize(t *testing.T) {
	if n := reflect.TypeFor[Response]().Size(); n > 320 {
		t.Errorf("Response is %d bytes, want at most 320", n)
	}
}
