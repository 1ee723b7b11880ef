package enrichers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestClaimSlots(t *testing.T) {
	var tab claimSlots
	names := []string{"iss", "sub", "client_id", "azp", "https://example.com/plan", "a", "b", "é", ""}
	for i, n := range names {
		if s := tab.add(n); s != claimSlot(i) {
			t.Fatalf("add(%q) = %d, want %d", n, s, i)
		}
	}
	for i, n := range names {
		if s := tab.add(n); s != claimSlot(i) {
			t.Fatalf("second add(%q) = %d, want %d", n, s, i)
		}
		if s := tab.find(n); s != claimSlot(i) {
			t.Fatalf("find(%q) = %d, want %d", n, s, i)
		}
	}
	for _, n := range []string{"is", "iss ", "ISS", "exp", "https://example.com/plans", "c"} {
		if s := tab.find(n); s != noSlot {
			t.Fatalf("find(%q) = %d, want none", n, s)
		}
	}
	// names that share a hash bucket (same length, first and last byte)
	// probe on; the table takes maxClaimSlots names and refuses more
	var full claimSlots
	for i := 0; i < maxClaimSlots; i++ {
		n := fmt.Sprintf("c%03dx", i)
		if s := full.add(n); s != claimSlot(i) {
			t.Fatalf("add(%q) = %d, want %d", n, s, i)
		}
	}
	for i := 0; i < maxClaimSlots; i++ {
		if s := full.find(fmt.Sprintf("c%03dx", i)); s != claimSlot(i) {
			t.Fatalf("find #%d = %d", i, s)
		}
	}
	if s := full.add("one-too-many"); s != noSlot {
		t.Fatalf("add past the limit = %d, want noSlot", s)
	}
	if s := full.find("c999x"); s != noSlot {
		t.Fatalf("find(absent) in a full table = %d", s)
	}
}

// TestClaimIndexSlots: the index records where each numbered name first
// occurs, and reads by slot agree with gjson.Get (first member so named).
func TestClaimIndexSlots(t *testing.T) {
	var tab claimSlots
	iss, aud, plan, absent := tab.add("iss"), tab.add("aud"), tab.add("plan"), tab.add("absent")
	tricky := tab.add("a\"b")
	payload := []byte(`{"iss":"https://one/","aud":["x","y"],"iat":1,"plan":7,"iss":"https://two/","a\"b":null,"plan":"z"}`)
	var idx claimIndex
	if !idx.scan(payload, &tab) {
		t.Fatal("invalid")
	}
	for _, c := range []struct {
		s    claimSlot
		name string
	}{{iss, "iss"}, {aud, "aud"}, {plan, "plan"}, {absent, "absent"}, {tricky, `a"b`}, {noSlot, "iat"}, {noSlot, "nope"}} {
		want := gjson.GetBytes(payload, gjsonEscape(c.name))
		if got := idx.get(c.s, c.name); !sameResult(got, want) {
			t.Errorf("get(%d, %q) = %+v, gjson %+v", c.s, c.name, got, want)
		}
		if got := idx.get(noSlot, c.name); !sameResult(got, want) {
			t.Errorf("get(noSlot, %q) = %+v, gjson %+v", c.name, got, want)
		}
		if got, want := idx.text(c.s), want.String(); c.s != noSlot && got != want {
			t.Errorf("text(%q) = %q, want %q", c.name, got, want)
		}
	}
	if idx.str(plan) != "" || idx.raw(plan) != "7" || idx.str(iss) != "https://one/" {
		t.Errorf("str/raw: %q %q %q", idx.str(plan), idx.raw(plan), idx.str(iss))
	}
	// a slot the index was not prepared with (a table grown later) is absent
	if idx.member(claimSlot(len(tab.names))) != nil {
		t.Error("member past the prepared slots")
	}
	// a name without a slot (the table was full) is found by scanning
	var full claimSlots
	for i := 0; i < maxClaimSlots; i++ {
		full.add(fmt.Sprintf("c%03d", i))
	}
	if !idx.scan(payload, &full) {
		t.Fatal("invalid")
	}
	for _, name := range []string{"iss", "plan", "c001", `a"b`} {
		if got, want := idx.get(noSlot, name), gjson.GetBytes(payload, gjsonEscape(name)); !sameResult(got, want) {
			t.Errorf("full table: get(%q) = %+v, gjson %+v", name, got, want)
		}
	}
}

// gjsonEscape escapes a literal key for gjson's path syntax.
func gjsonEscape(k string) string {
	var out []byte
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%', '"':
			out = append(out, '\\')
		}
		out = append(out, k[i])
	}
	return string(out)
}

// identifyByScan is the identity's claim part computed the slow, obvious
// way, as it was before claim slots: every top-level claim is offered to
// claimRanks.see in document order and iss and sub are read with gjson. A
// name that occurs twice is the claim of its first member, as gjson.Get and
// Identity.Claim read it. It is the oracle for identify.
func identifyByScan(m *mapping, payload []byte) (client, tenant, iss, sub string, scope, perm, aud listClaim) {
	root := gjson.ParseBytes(payload)
	var top claimRanks
	top.reset(m)
	seen := map[string]bool{}
	forEachMember(root, func(k string, v gjson.Result) bool {
		if !seen[k] {
			seen[k] = true
			top.see(m, k, v)
		}
		return true
	})
	if m.nested != "" {
		if n := lookupMember(root, m.nested); n.IsObject() && top.missing(m) {
			var sub claimRanks
			sub.reset(m)
			forEachMember(n, func(k string, v gjson.Result) bool {
				sub.see(m, k, v)
				return true
			})
			top.fillFrom(m, &sub)
		}
	}
	return top.client, top.tenant, lookupMember(root, "iss").String(), lookupMember(root, "sub").String(), top.scope, top.perm, top.aud
}

// TestIdentifyMatchesFullScan checks the slot-based identity against the
// oracle for every sample claim set and benchmark fixture, under every
// preset, with and without claim-name overrides.
func TestIdentifyMatchesFullScan(t *testing.T) {
	var payloads [][]byte
	for _, s := range loadSamples(t) {
		payloads = append(payloads, []byte(s.Claims))
	}
	for _, c := range benchCases() {
		tok := gjsonString(t, c.body, "access_token")
		_, p, ok := DecodeJWT(tok)
		if !ok {
			t.Fatalf("%s: not a JWT", c.name)
		}
		payloads = append(payloads, p)
	}
	// duplicates, non-string values where strings are expected, escapes
	payloads = append(payloads,
		[]byte(`{"azp":"","azp":"second","client_id":7,"cid":"c","tid":null,"org_id":"","tenant":{"a":1},"scope":5,"scp":["a","b"],"aud":"x"}`),
		[]byte(`{"client\u005fid":"escaped","tenant_id":"t\"q","aud":["a",1,"b"],"iss":"https://acme.eu.auth0.com/"}`),
		[]byte(`{"ext":{"client_id":"nested","tenant":"nt","scp":["n"]},"scope":"top"}`),
	)
	overrides := []ClaimMapping{{}, {Client: []string{"sub", "my_client"}, Tenant: []string{"https://example.com/org", "tid"}, Scope: []string{"scp"}}}
	for _, preset := range PresetNames() {
		for oi, over := range overrides {
			e := mustNew(t, Config{Preset: preset, Mapping: over})
			maps := []*mapping{&e.ids.maps[0]}
			if e.ids.auto {
				maps = maps[:0]
				for k := range e.ids.maps {
					maps = append(maps, &e.ids.maps[k])
				}
				maps = append(maps, &e.ids.fallback)
			}
			for pi, p := range payloads {
				var idx claimIndex
				if !idx.scan(p, &e.ids.slots) {
					t.Fatalf("payload %d invalid", pi)
				}
				for _, m := range maps {
					var id Identity
					identify(&id, m, p, &idx, "", "", nil)
					client, tenant, iss, sub, scope, perm, aud := identifyByScan(m, p)
					if tenant == "" && iss != "" && m.tenantFromIssuer != nil {
						tenant = m.tenantFromIssuer(iss)
					}
					got := []any{id.ClientID, id.Tenant, id.Issuer, id.Subject, id.scopeClaim, id.permClaim, id.aud}
					want := []any{client, tenant, iss, sub, scope, perm, aud}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("preset %s/%d, mapping %s, payload %d %s:\n got %q\nwant %q", preset, oi, m.name, pi, p, got, want)
					}
				}
			}
		}
	}
}

// TestClaimReadsWhileEnriching holds the string fast path of rule claim
// conditions and {http.token.claims.*} (Identity.claimString, reading the
// index) to what the general path gives (Identity.ClaimString, which
// scans the payload after Enrich): for a plain string, an escaped one,
// other JSON types, an absent claim, and (under hydra) a claim nested in
// ext, including one shadowed by a top-level claim of the same name.
func TestClaimReadsWhileEnriching(t *testing.T) {
	cfg := func(preset string) Config {
		return Config{Preset: preset, Rules: []RuleConfig{{
			Name:   "gold",
			Claims: []ClaimCondition{{Name: "plan", Values: []string{"gold*", "7", "true"}}},
			Fields: []FieldConfig{{Name: "matched", JSON: json.RawMessage(`true`)}},
		}}, Fields: []FieldConfig{{Name: "plan_text", Value: "[{http.token.claims.plan}]"}}}
	}
	for _, c := range []struct {
		name   string
		preset string
		claims map[string]any
	}{
		{"plain string", "", map[string]any{"plan": "gold"}},
		{"escaped string", "", map[string]any{"plan": "gold \"plus\" \u00e9"}},
		{"other string", "", map[string]any{"plan": "silver"}},
		{"number", "", map[string]any{"plan": 7}},
		{"bool", "", map[string]any{"plan": true}},
		{"array", "", map[string]any{"plan": []string{"silver", "gold-2"}}},
		{"object", "", map[string]any{"plan": map[string]any{"tier": "gold"}}},
		{"null", "", map[string]any{"plan": nil}},
		{"absent", "", map[string]any{"other": "gold"}},
		{"nested in ext", "hydra", map[string]any{"client_id": "c", "ext": map[string]any{"plan": "gold-x"}}},
		{"top level shadows ext", "hydra", map[string]any{"client_id": "c", "plan": "silver", "ext": map[string]any{"plan": "gold"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := mustNew(t, cfg(c.preset))
			body := tokenResponse(t, makeJWT(t, c.claims))
			var out Outcome
			res, err := e.Enrich(nil, body, nil, nil, &out)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeObject(t, res)
			// the reference: the general path, after Enrich
			text := out.Identity.ClaimString("plan")
			want := ""
			if v := out.Identity.Claim("plan"); v.Exists() && v.Type != gjson.Null {
				ok := false
				if v.IsArray() {
					v.ForEach(func(_, e gjson.Result) bool {
						ok = ok || (e.Type == gjson.String && strings.HasPrefix(e.Str, "gold"))
						return true
					})
				} else {
					ok = strings.HasPrefix(text, "gold") || text == "7" || text == "true"
				}
				if ok {
					want = "true"
				}
			}
			if string(got["matched"]) != want {
				t.Errorf("matched = %s, want %q (claim %q)", got["matched"], want, text)
			}
			wantText, _ := json.Marshal("[" + text + "]")
			if string(got["plan_text"]) != string(wantText) {
				t.Errorf("plan_text = %s, want %s", got["plan_text"], wantText)
			}
		})
	}
}
