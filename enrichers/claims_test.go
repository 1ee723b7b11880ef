package enrichers

import (
	"encoding/json"
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
