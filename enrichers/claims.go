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

// claimIndex lists the top-level claims of a token payload as scanObject
// finds them while validating it, and where the numbered names first occur,
// so that the claim reads of one Enrich call (identity, rule conditions,
// {http.token.claims.*}) do not scan the payload again. It lives in the
// pooled scratch.
type claimIndex struct {
	src    []byte // the payload
	claims []jsonMember
	// slots numbers the names to locate while scanning; nil: none.
	slots *claimSlots
	// at holds, per slot, 1 + the index in claims of the first member so
	// named; 0: absent.
	at []int32
}

// prepare readies the index for the payload src, locating the names of
// slots (nil: none).
func (c *claimIndex) prepare(src []byte, slots *claimSlots) {
	c.src, c.claims, c.slots = src, c.claims[:0], slots
	n := 0
	if slots != nil {
		n = len(slots.names)
	}
	c.at = slices.Grow(c.at[:0], n)[:n]
	clear(c.at)
}

// add records a member; it has scanObject's callback signature.
func (c *claimIndex) add(m jsonMember) bool {
	c.claims = append(c.claims, m)
	if c.slots != nil {
		if s := c.slots.find(m.name(c.src)); s != noSlot && c.at[s] == 0 {
			c.at[s] = int32(len(c.claims))
		}
	}
	return true
}

func (c *claimIndex) reset() {
	c.src, c.claims, c.slots, c.at = nil, c.claims[:0], nil, c.at[:0]
}

// member returns the first member in slot s, or nil.
func (c *claimIndex) member(s claimSlot) *jsonMember {
	if s == noSlot || int(s) >= len(c.at) || c.at[s] == 0 {
		return nil
	}
	return &c.claims[c.at[s]-1]
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

// get returns the first member named name: by slot when it has one (the
// slot must come from c.slots), else by searching.
func (c *claimIndex) get(s claimSlot, name string) gjson.Result {
	if s == noSlot && c.slots != nil {
		s = c.slots.find(name)
	}
	if s != noSlot && c.slots != nil {
		return c.value(s)
	}
	return c.lookup(name)
}

// lookup is lookupMember on the indexed object: the first member named name.
func (c *claimIndex) lookup(name string) gjson.Result {
	for i := range c.claims {
		if c.claims[i].hasName(c.src, name) {
			return c.claims[i].result(c.src)
		}
	}
	return gjson.Result{}
}
