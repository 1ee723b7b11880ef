package enrichers

import (
	"slices"

	"github.com/tidwall/gjson"
)

// Claim lookups. An Enricher knows, once compiled, every claim it will ever
// read by name: the identity mapping's lists (client, tenant, scope, ...),
// iss/sub/gty/idtyp, the claims of rule conditions, {http.token.claims.*}
// placeholders and lifted claims. claimSlots numbers those names; while
// jwt.go validates a token's payload, claimIndex records each member and,
// for a numbered name, where its first occurrence is. Every later read of a
// numbered claim is then an array access instead of a search.

// claimSlot is the number of a claim name in a claimSlots; noSlot means the
// name is not numbered (reads of it search the index).
type claimSlot int16

const noSlot claimSlot = -1

// maxClaimSlots keeps claimSlots.table at most half full, so that probes
// stay short and always end at an empty entry.
const maxClaimSlots = 128

// claimSlots numbers claim names. The table is an open-addressing hash of
// the names on claimHash; an entry is slot+1, 0 is empty.
type claimSlots struct {
	names []string
	table [256]uint8
}

// add numbers name (once) and returns its slot, or noSlot when
// maxClaimSlots names are numbered already.
func (t *claimSlots) add(name string) claimSlot {
	if s := t.find(name); s != noSlot {
		return s
	}
	if len(t.names) >= maxClaimSlots {
		return noSlot
	}
	h := claimHash(name)
	for t.table[h] != 0 {
		h++ // wraps at 256; the table is never full
	}
	t.names = append(t.names, name)
	t.table[h] = uint8(len(t.names))
	return claimSlot(len(t.names) - 1)
}

// find returns the slot of name, or noSlot.
func (t *claimSlots) find(name string) claimSlot {
	for h := claimHash(name); t.table[h] != 0; h++ {
		if s := t.table[h] - 1; t.names[s] == name {
			return claimSlot(s)
		}
	}
	return noSlot
}

// addAll numbers each name and returns the slots in the same order.
func (t *claimSlots) addAll(names []string) []claimSlot {
	out := make([]claimSlot, len(names))
	for i, n := range names {
		out[i] = t.add(n)
	}
	return out
}

// claimHash mixes a name's length and first and last bytes: enough to
// spread the few dozen names of a configuration over 256 entries, and one
// or two instructions to turn away iat, exp, jti or a custom claim.
func claimHash(k string) uint8 {
	if k == "" {
		return 0
	}
	return uint8(len(k)*37 + int(k[0])*7 + int(k[len(k)-1]))
}

// claimIndex records, as scan validates a token payload, the first member of
// each numbered claim name, so that the claim reads of one Enrich
// call (identity, rule conditions, {http.token.claims.*}, lifted claims) do
// not scan the payload again. It lives in the pooled scratch.
type claimIndex struct {
	src []byte // the payload
	// slots numbers the names to locate.
	slots *claimSlots
	// at holds, per slot, the first member so named; valEnd == 0: absent.
	at []jsonMember
	// members is scan's working list.
	members []jsonMember
}

// scan validates the payload src as a JSON object and indexes its members
// by the names of slots. It reports whether src is a valid object; when it
// is not, the index is left reset.
func (c *claimIndex) scan(src []byte, slots *claimSlots) bool {
	c.src, c.slots = src, slots
	n := len(slots.names)
	c.at = slices.Grow(c.at[:0], n)[:n]
	clear(c.at)
	var ok bool
	if c.members, ok = appendMembers(c.members[:0], src); !ok {
		c.reset()
		return false
	}
	for i := range c.members {
		m := &c.members[i]
		if s := slots.find(m.name(src)); s != noSlot && c.at[s].valEnd == 0 {
			c.at[s] = *m
		}
	}
	return true
}

func (c *claimIndex) reset() {
	c.src, c.slots, c.at, c.members = nil, nil, c.at[:0], c.members[:0]
}

// member returns the first member in slot s, or nil.
func (c *claimIndex) member(s claimSlot) *jsonMember {
	if s == noSlot || int(s) >= len(c.at) || c.at[s].valEnd == 0 {
		return nil
	}
	return &c.at[s]
}

// raw returns the raw JSON value of the first member in slot s, or "".
func (c *claimIndex) raw(s claimSlot) string {
	if m := c.member(s); m != nil {
		return stringOf(c.src[m.valStart:m.valEnd])
	}
	return ""
}

// str returns the first member in slot s when it is a string, unescaped.
func (c *claimIndex) str(s claimSlot) string {
	if m := c.member(s); m != nil && m.isString(c.src) {
		return m.str(c.src)
	}
	return ""
}

// text is gjson's Result.String of the first member in slot s: a string
// unescaped, other values as gjson renders them, "" when absent or null.
func (c *claimIndex) text(s claimSlot) string {
	m := c.member(s)
	switch {
	case m == nil:
		return ""
	case m.isString(c.src):
		return m.str(c.src)
	}
	return m.result(c.src).String()
}

// value returns the first member in slot s as a gjson.Result (empty when
// absent).
func (c *claimIndex) value(s claimSlot) gjson.Result {
	if m := c.member(s); m != nil {
		return m.result(c.src)
	}
	return gjson.Result{}
}

// get returns the first member named name, by its slot s when the caller
// knows it (s must come from c.slots), else by the name's slot, else (a
// name not numbered: past maxClaimSlots) by scanning the payload.
func (c *claimIndex) get(s claimSlot, name string) gjson.Result {
	if s == noSlot {
		s = c.slots.find(name)
	}
	if s != noSlot {
		return c.value(s)
	}
	return lookupMember(gjson.Result{Type: gjson.JSON, Raw: stringOf(c.src)}, name)
}
