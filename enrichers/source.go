package enrichers

import (
	"fmt"
	"strings"
)

// SourceSpec declares a metadata source to the engine: its name, and
// whether its members become fields. The lookup itself is the caller's
// (the Caddy handler runs the source modules); the engine says which
// sources a response needs (Sources), takes their objects
// (Response.SetSource) and renders their members and placeholders.
type SourceSpec struct {
	// Name names the source in field references and in placeholders
	// {http.token.source.<name>.<member>}: letters, digits, `_` and `-`.
	Name string
	// NoFields makes the source's members placeholders only: it adds no
	// member to the response itself.
	NoFields bool
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
		if _, dup := specs[s.Name]; dup {
			return nil, &ConfigError{Path: fmt.Sprintf("sources[%d].name", i), Err: fmt.Errorf("source %q declared twice", s.Name)}
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

// Sources lists, in order, the sources r's fields need: those placed among
// the top-level fields and in the rules r's identity matches. A source
// placed in a rule is looked up only for the tokens that rule matches.
func (e *Enricher) Sources(r *Response) []string {
	if r.Status != StatusUnchanged || len(e.sourceSpecs) == 0 {
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
		if e.ruleMatches(i, r) {
			add(e.rules[i].fields)
		}
	}
	return names
}

// SetSource gives r the object a source found. It must be a JSON object
// nested at most MaxDepth deep. Its members become r's fields where the
// source is placed (unless the source has NoFields), reserved names
// skipped, and placeholders {http.token.source.<name>.<member>}.
func (r *Response) SetSource(name string, object []byte) error {
	_, all, err := readObject(object, r.all)
	if err != nil {
		return fmt.Errorf("source %s: %w", name, err)
	}
	members := all[len(r.all):len(all):len(all)]
	r.all = all
	for i := range r.sources {
		if r.sources[i].name == name {
			r.sources[i].members = members
			return nil
		}
	}
	r.sources = append(r.sources, sourceObject{name: name, members: members})
	return nil
}

// sourceObject is the object a source found, as members.
type sourceObject struct {
	name    string
	members []member
}

// source returns the members of the object source found, or nil.
func (r *Response) source(name string) []member {
	for i := range r.sources {
		if r.sources[i].name == name {
			return r.sources[i].members
		}
	}
	return nil
}

// sourceMember returns the value of a member of a source's object.
func (r *Response) sourceMember(source, name string) (string, bool) {
	v := last(r.source(source), name)
	return valueText(v), v.Exists()
}
