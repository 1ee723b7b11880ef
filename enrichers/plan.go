package enrichers

import (
	"slices"
	"sync"

	"github.com/tidwall/gjson"
)

// span is a range of plan.vals.
type span struct{ start, end int }

// planned is one field to write.
type planned struct {
	name string
	// counter says where the value comes from, for counting (Input.Count):
	// the index in the Enricher's labels of the configured field's name,
	// "lift:<claim>" or "source:<name>" (bounded by the configuration,
	// unlike the names a claim or a source brings)
	counter int
	key     span // the name as a JSON string
	val     span // the JSON value
	// drop: the upstream has it and overwrite is off.
	drop bool
	// replace: the upstream has it and it is overwritten in place.
	replace bool
}

// plan is the list of fields one response gets, in the order they are
// first set, one entry per name, with their keys and values written to
// vals. A plan is pooled: nothing of it outlives Render, which copies the
// result into its output.
type plan struct {
	fields []planned
	// index maps each name to its position in fields whenever there are
	// more than indexFrom of them: a source object or a lifted claim may
	// bring tens of thousands of members, and a scan of the plan per
	// member would make placing them quadratic
	index map[string]int
	vals  []byte
	// replacing: some field replaces a member of the upstream's
	replacing bool
	// foreign: a lifted claim or a source has planned members, whose
	// names the configuration does not know
	foreign bool
	// trace, when set (Explain), records what became of every field, and
	// rule names the rule whose fields are being planned
	trace *[]fieldExplanation
	rule  string
	// traced maps a name to the position in trace of its entry that is
	// Added, if any (tracePut keeps at most one per name)
	traced map[string]int
}

// indexFrom is the number of planned fields up to which a name is found
// by a scan: a usual response plans a handful, and scanning them costs
// less than hashing the name.
const indexFrom = 16

var planPool = sync.Pool{New: func() any {
	return &plan{fields: make([]planned, 0, 16), vals: make([]byte, 0, 1024)}
}}

func getPlan() *plan { return planPool.Get().(*plan) }

func putPlan(pl *plan) {
	if cap(pl.vals) > 64<<10 || cap(pl.fields) > 1024 {
		return // an outlier is left to the GC
	}
	clear(pl.fields)
	clear(pl.index)
	pl.fields, pl.vals = pl.fields[:0], pl.vals[:0]
	pl.replacing, pl.foreign = false, false
	pl.trace, pl.rule, pl.traced = nil, "", nil
	planPool.Put(pl)
}

// add appends b to vals.
func (pl *plan) add(b string) span {
	start := len(pl.vals)
	pl.vals = append(pl.vals, b...)
	return span{start, len(pl.vals)}
}

// addBytes appends b to vals.
func (pl *plan) addBytes(b []byte) span {
	start := len(pl.vals)
	pl.vals = append(pl.vals, b...)
	return span{start, len(pl.vals)}
}

func (pl *plan) bytes(s span) []byte { return pl.vals[s.start:s.end] }

// put sets the field name, keeping the position of an earlier field of
// that name; key is only read for a new one. label, the text of counter's
// label, is for Explain.
func (pl *plan) put(name, label string, counter int, key func() span, val span) {
	if pl.trace != nil {
		pl.tracePut(name, label, val)
	}
	if p := pl.find(name); p != nil {
		p.val, p.counter = val, counter
		return
	}
	pl.append(name, counter, key(), val)
}

// putField plans configured field f with the value val. A field whose
// name no other configured field has (field.unique) is appended without
// looking its name up, unless a lifted claim or a source has planned
// members before it.
func (pl *plan) putField(f *field, val span) {
	if !f.unique || pl.foreign {
		pl.put(f.name, f.name, f.counter, func() span { return pl.addBytes(f.key) }, val)
		return
	}
	if pl.trace != nil {
		pl.tracePut(f.name, f.name, val)
	}
	pl.append(f.name, f.counter, pl.addBytes(f.key), val)
}

// append plans a field of a name not planned yet.
func (pl *plan) append(name string, counter int, key, val span) {
	pl.fields = append(pl.fields, planned{name: name, counter: counter, key: key, val: val})
	switch n := len(pl.fields); {
	case n == indexFrom+1:
		pl.reindex()
	case n > indexFrom:
		pl.index[name] = n - 1
	}
}

// find returns the planned field named name, or nil.
func (pl *plan) find(name string) *planned {
	if len(pl.fields) > indexFrom {
		if i, ok := pl.index[name]; ok {
			return &pl.fields[i]
		}
		return nil
	}
	for i := range pl.fields {
		if pl.fields[i].name == name {
			work(i + 1)
			return &pl.fields[i]
		}
	}
	work(len(pl.fields))
	return nil
}

// reindex builds the index of the fields, as find needs it once there
// are more than indexFrom of them, and after fields are removed.
func (pl *plan) reindex() {
	if len(pl.fields) <= indexFrom {
		return
	}
	if pl.index == nil {
		// room for what the plan has room for: a source's members are
		// counted before they are placed (addFields)
		pl.index = make(map[string]int, cap(pl.fields))
	}
	clear(pl.index)
	for i := range pl.fields {
		pl.index[pl.fields[i].name] = i
	}
}

// addFields renders and plans configured fields; a template that renders
// empty sets nothing; a source adds the members of its object, reserved
// names skipped, as the source encoded them.
func (e *Enricher) addFields(pl *plan, fs []field, r *Response, resolve resolver) {
	for i := range fs {
		f := &fs[i]
		switch {
		case f.source != "":
			if e.sourceSpecs[f.source].NoFields {
				pl.traceOut(f.label, f.label, whyNoFields)
				continue
			}
			so := r.source(f.source)
			if so == nil || so.object.members == nil {
				state := "not looked up"
				if so != nil {
					state = so.state
				}
				pl.traceOut(f.label, f.label, whySourceMissed+state)
				continue
			}
			pl.placeMembers(&so.object, f.label, f.counter)
		case !f.dynamic:
			if f.value != nil {
				pl.putField(f, pl.addBytes(f.value))
			} else {
				pl.traceOut(f.name, f.name, whyEmpty)
			}
		default:
			start := len(pl.vals)
			var empty bool
			pl.vals, empty = f.tmpl.appendJSON(pl.vals, r, resolve)
			if empty {
				pl.vals = pl.vals[:start]
				pl.traceOut(f.name, f.name, whyEmpty)
				continue
			}
			pl.putField(f, span{start, len(pl.vals)})
		}
	}
}

// resolveCollisions marks planned fields the upstream already has: dropped
// unless overwriting. It reports whether anything is left to write. Each
// member is looked up in the plan (find), so that the work grows with the
// members plus the fields, never with their product.
func (pl *plan) resolveCollisions(body []byte, members []entry, overwrite bool, kept *int) bool {
	for j := range members {
		p := pl.find(members[j].nameIn(body))
		if p == nil {
			continue
		}
		if overwrite {
			p.replace, pl.replacing = true, true
		} else {
			p.drop = true
		}
		pl.traceCollision(p)
	}
	left := 0
	for i := range pl.fields {
		if pl.fields[i].drop {
			*kept++
		} else {
			left++
		}
	}
	return left > 0
}

// placeMembers plans the members of a source's object, as the source
// encoded them, reserved names skipped.
func (pl *plan) placeMembers(o *object, label string, counter int) {
	pl.foreign = true
	pl.fields = slices.Grow(pl.fields, len(o.members))
	for i := range o.members {
		name := o.name(i)
		if name == "" || isReserved(name) {
			pl.traceOut(name, label, whyReserved)
			continue
		}
		pl.put(name, label, counter, func() span {
			start := len(pl.vals)
			pl.vals = gjson.AppendJSONString(pl.vals, name)
			return span{start, len(pl.vals)}
		}, pl.add(o.raw(&o.members[i])))
	}
}
