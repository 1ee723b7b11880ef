package enrichers

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// SourceSpec declares a metadata source to the engine: its name, its key
// and whether its members become fields. The lookup itself is the host's
// (Host.LookUp); the engine says which sources a response needs, takes
// what they found and renders their members and placeholders.
type SourceSpec struct {
	// Name names the source in field references and in placeholders
	// {http.token.source.<name>.<member>}: letters, digits, `_` and `-`.
	Name string
	// NoFields makes the source's members placeholders only: it adds no
	// member to the response itself.
	NoFields bool
	// Key is the key the host renders to look the source up, checked
	// here for the names under PlaceholderPrefix it uses; "" when the
	// source renders its own.
	Key string
}

// validSourceName reports whether name may name a source.
func validSourceName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// compileSources checks the declarations and that every reference, in the
// fields and in placeholders, names a declared source.
func compileSources(cfg *Config) (map[string]SourceSpec, error) {
	specs := map[string]SourceSpec{}
	for i, s := range cfg.Sources {
		if !validSourceName(s.Name) {
			return nil, &ConfigError{Path: fmt.Sprintf("sources[%d].name", i),
				Err: fmt.Errorf("source name %q: use letters, digits, _ and -", s.Name)}
		}
		if _, err := parseTemplate(s.Key); err != nil {
			return nil, &ConfigError{Path: fmt.Sprintf("sources[%d].key", i), Err: fmt.Errorf("source %s: key: %w", s.Name, err)}
		}
		if _, dup := specs[s.Name]; dup {
			return nil, &ConfigError{Path: fmt.Sprintf("sources[%d].name", i), Err: fmt.Errorf("source %s: declared twice", s.Name)}
		}
		specs[s.Name] = s
	}
	placed := map[string]bool{}
	check := func(path string, fs []FieldConfig) error {
		for i, f := range fs {
			refs := sourceRefs(f.Value)
			if f.Source != "" {
				refs = append(refs, f.Source)
				placed[f.Source] = true
			}
			for _, r := range refs {
				if _, ok := specs[r]; !ok {
					return &ConfigError{Path: fmt.Sprintf("%sfields[%d]", path, i), Err: fmt.Errorf("unknown source %q", r)}
				}
			}
		}
		return nil
	}
	if err := check("", cfg.Fields); err != nil {
		return nil, err
	}
	for i := range cfg.Rules {
		if err := check(fmt.Sprintf("rules[%d].", i), cfg.Rules[i].Fields); err != nil {
			return nil, err
		}
	}
	for i, s := range cfg.Sources {
		if !placed[s.Name] {
			return nil, &ConfigError{Path: fmt.Sprintf("sources[%d]", i),
				Err: fmt.Errorf("source %q is not placed: reference it as a field ({\"source\": %q}) where it is to run", s.Name, s.Name)}
		}
	}
	return specs, nil
}

// rulesWithSources lists the rules that place a source.
func rulesWithSources(rules []rule) []int {
	var out []int
	for i := range rules {
		for j := range rules[i].fields {
			if rules[i].fields[j].source != "" {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// sourceRefs lists the sources a template's placeholders name.
func sourceRefs(value string) []string {
	var refs []string
	for rest := value; ; {
		i := strings.Index(rest, "{"+PlaceholderPrefix+"source.")
		if i < 0 {
			return refs
		}
		rest = rest[i+len("{"+PlaceholderPrefix+"source."):]
		if name, _, ok := strings.Cut(rest, "."); ok {
			refs = append(refs, name)
		}
	}
}

// sources lists, in order, the sources r's fields need: those placed among
// the top-level fields and in the rules that apply to r. A source placed in
// a rule is looked up only for the tokens that rule matches.
func (e *Enricher) sources(r *Response) []string {
	if len(e.sourceSpecs) == 0 {
		return nil
	}
	var names []string
	add := func(fs []field) {
		for i := range fs {
			if n := fs[i].source; n != "" && !containsString(names, n) {
				names = append(names, n)
			}
		}
	}
	add(e.fields)
	for _, i := range e.sourceRules {
		if r.matched[i] {
			add(e.rules[i].fields)
		}
	}
	return names
}

// maxMembers bounds the members of one source object or lifted claim: a
// larger one is refused whole, so that no token's work grows with an
// origin's or a claim's size (tenant metadata has tens of members).
const maxMembers = 1000

// setSource records what a source's lookup came to. An object must be a
// JSON object nested at most MaxDepth deep, of at most maxMembers members: its members become r's fields
// where the source is placed (unless the source has NoFields), reserved
// names skipped, and placeholders {http.token.source.<name>.<member>}. It
// reports false when the object is refused; the source then counts as
// having found nothing.
func (r *Response) setSource(f Found) bool {
	so := sourceObject{name: f.Source, state: f.State}
	ok := true
	if f.Object != nil {
		o, err := readObject(f.Object, nil)
		switch {
		case err != nil:
			so.state, ok = "error: "+err.Error(), false
		case len(o.members) > maxMembers:
			so.state, ok = fmt.Sprintf("refused: %d members, more than %d", len(o.members), maxMembers), false
		default:
			so.object = o
		}
	}
	m := r.more()
	for i := range m.sources {
		if m.sources[i].name == f.Source {
			m.sources[i] = so
			return ok
		}
	}
	m.sources = append(m.sources, so)
	return ok
}

// sourceObject is what one source's lookup came to: the object it found
// (no members for none) and, for Explain, how the lookup went.
type sourceObject struct {
	name   string
	object object
	state  string
}

// source returns what source's lookup came to, or nil when it was not
// looked up.
func (r *Response) source(name string) *sourceObject {
	if r.found == nil {
		return nil
	}
	for i, so := range r.found.sources {
		if so.name == name {
			return &r.found.sources[i]
		}
	}
	return nil
}

// sourceMember returns the value of a member of a source's object.
func (r *Response) sourceMember(source, name string) (string, bool) {
	var v gjson.Result
	if so := r.source(source); so != nil {
		v = so.object.last(name)
	}
	return valueText(v), v.Exists()
}
