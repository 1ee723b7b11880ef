package enrichers

import "github.com/tidwall/gjson"

// render is the last stage: it plans the fields for r's identity (lifted
// claims, then top-level fields, then the rules that apply; later wins),
// renders their values, resolving non-identity placeholders with resolve,
// and appends the spliced body to dst. Upstream members keep their bytes
// and order; new members follow them. A field set several times keeps the
// position of the first and the value of the last. When nothing applies
// it appends nothing and leaves r's status as it is.
func (e *Enricher) render(dst []byte, r *Response, body []byte, members []entry, resolve resolver, in *Input, res *Result) []byte {
	pl := getPlan()
	defer putPlan(pl)
	if res.Explanation != nil {
		pl.trace = &res.Explanation.Fields
	}
	e.plan(pl, r, resolve)
	if r.introspection {
		pl.dropIntrospectionReserved()
	}
	if !pl.resolveCollisions(body, members, e.overwrite, &res.Kept) {
		return nil
	}
	r.Status = StatusEnriched
	for i := range pl.fields {
		p := &pl.fields[i]
		if p.drop {
			continue
		}
		if in.Count != nil {
			in.Count(p.counter)
		}
		if in.Names {
			res.Added = append(res.Added, p.name)
			if in.Values {
				res.Values = append(res.Values, string(pl.bytes(p.val)))
			}
		}
	}
	return splice(dst, body, members, pl)
}

// plan collects the fields to write, in order, one per name.
func (e *Enricher) plan(pl *plan, r *Response, resolve resolver) {
	id := &r.Identity
	for li, name := range e.lift {
		c := id.claim(name)
		if !c.IsObject() {
			pl.traceOut(e.liftLabels[li], e.liftLabels[li], whyLiftAbsent)
			continue
		}
		label := e.liftLabels[li]
		if n := countMembers(c, maxMembers+1); n > maxMembers {
			pl.traceOut(label, label, whyTooMany)
			r.refuse(label)
			continue
		}
		pl.foreign = true
		c.ForEach(func(k, v gjson.Result) bool {
			if k.Str != "" && !isReserved(k.Str) {
				// the upstream's own encoding of name and value
				pl.put(k.Str, label, e.liftCounters[li], func() span { return pl.add(k.Raw) }, pl.add(v.Raw))
			} else {
				pl.traceOut(k.Str, label, whyReserved)
			}
			return true
		})
	}
	e.addFields(pl, e.fields, r, resolve)
	for i := range e.rules {
		if pl.trace != nil {
			pl.rule = e.rules[i].name
		}
		if r.matched[i] {
			e.addFields(pl, e.rules[i].fields, r, resolve)
		} else if pl.trace != nil {
			for _, f := range e.rules[i].fields {
				name := f.name
				if f.source != "" {
					name = f.label
				}
				pl.traceOut(name, name, whyRuleNotMatched)
			}
		}
	}
}

// countMembers counts the members of object o, stopping at limit.
func countMembers(o gjson.Result, limit int) int {
	n := 0
	o.ForEach(func(_, _ gjson.Result) bool {
		n++
		return n < limit
	})
	return n
}
