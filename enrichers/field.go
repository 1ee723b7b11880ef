package enrichers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FieldConfig is one member to add to the token response.
type FieldConfig struct {
	// The member name, taken literally: `-`, `.`, `/` and `:` are ordinary
	// characters (`api-uri`, `https://example.com/tenant`). Reserved OAuth
	// members (access_token, token_type, expires_in, refresh_token, scope,
	// id_token, issued_token_type, error, error_description, error_uri) are
	// rejected.
	Name string `json:"name,omitempty"`

	// A string value. Placeholders are allowed: {http.token.*} and any Caddy
	// placeholder such as {env.REGION} or {http.request.host}. A value that
	// renders empty is omitted. Mutually exclusive with JSON.
	Value string `json:"value,omitempty"`

	// A typed JSON value (number, boolean, object, array, string or null),
	// emitted exactly as written, compacted, member order kept. Mutually
	// exclusive with Value and JSONText.
	JSON json.RawMessage `json:"json,omitempty"`

	// The same as JSON, but given as a string holding the JSON text. The
	// Caddyfile adapter writes set_json values here because Caddy's adapter
	// re-encodes module configs through maps, which would sort the members
	// of an object given in JSON.
	JSONText string `json:"json_text,omitempty"`

	// Source places a metadata source here instead of naming one field:
	// it is looked up here (for a rule's field: only for tokens the rule
	// matches) and the members of its object are added at this position,
	// reserved names skipped. Exclusive with every other key.
	Source string `json:"source,omitempty"`
}

// raw returns the configured JSON value, if any.
func (fc *FieldConfig) raw() (json.RawMessage, int) {
	n := 0
	var raw json.RawMessage
	if fc.JSON != nil {
		n++
		raw = fc.JSON
	}
	if fc.JSONText != "" {
		n++
		raw = json.RawMessage(fc.JSONText)
	}
	if fc.Value != "" {
		n++
	}
	return raw, n
}

// field is a compiled FieldConfig.
type field struct {
	name string
	// key is the name encoded as a JSON string.
	key []byte
	// value is the encoded JSON value of constants and JSON fields.
	value []byte
	// tmpl renders string values with placeholders; nil segs for constants.
	tmpl valueTemplate
	// dynamic is set when tmpl must be rendered per request.
	dynamic bool
	// source names the source placed here (see FieldConfig.Source), and
	// label is "source:<name>", what its members are counted as.
	source, label string
	// counter is the index of countLabel in the Enricher's labels.
	counter int
	// unique: no other configured field, top-level or in a rule, has
	// this name (Enricher.markUnique)
	unique bool
}

// countLabel is what the members the field writes are counted as: its
// name, or its source's label.
func (f *field) countLabel() string {
	if f.source != "" {
		return f.label
	}
	return f.name
}

// compileFields compiles a list of fields; errors name the entry and the
// key at fault (`fields[1].json`).
func compileFields(fcs []FieldConfig) ([]field, error) {
	var out []field
	for i, fc := range fcs {
		f, key, err := compileField(fc)
		if err != nil {
			return nil, &ConfigError{Path: fmt.Sprintf("fields[%d].%s", i, key), Err: err}
		}
		out = append(out, f)
	}
	return out, nil
}

// compileField validates and pre-encodes a field. On error, key names the
// configuration key at fault.
func compileField(fc FieldConfig) (f field, key string, err error) {
	if fc.Source != "" {
		if fc.Name != "" || fc.Value != "" || fc.JSON != nil || fc.JSONText != "" {
			return field{}, "source", fmt.Errorf("source %q: a source field has no name or value of its own", fc.Source)
		}
		return field{source: fc.Source, label: "source:" + fc.Source}, "", nil
	}
	if err := validateFieldName(fc.Name); err != nil {
		return field{}, "name", err
	}
	f = field{name: fc.Name, key: gjson.AppendJSONString(nil, fc.Name)}
	if raw, n := fc.raw(); raw != nil {
		key = "json"
		if fc.JSON == nil {
			key = "json_text"
		}
		if n > 1 {
			return field{}, key, fmt.Errorf("field %q: value, json and json_text are mutually exclusive", fc.Name)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return field{}, key, fmt.Errorf("field %q: invalid JSON value: %w", fc.Name, err)
		}
		if !utf8.Valid(buf.Bytes()) {
			return field{}, key, fmt.Errorf("field %q: JSON value is not valid UTF-8", fc.Name)
		}
		f.value = buf.Bytes()
		return f, "", nil
	}
	t, err := parseTemplate(fc.Value)
	if err != nil {
		return field{}, "value", fmt.Errorf("field %q: %w", fc.Name, err)
	}
	if s, ok := t.constant(); ok {
		if s != "" {
			f.value = gjson.AppendJSONString(nil, s)
		}
		return f, "", nil
	}
	f.tmpl, f.dynamic = t, true
	return f, "", nil
}

// validateFieldName rejects empty, non-UTF-8 and reserved member names.
func validateFieldName(name string) error {
	switch {
	case name == "":
		return errors.New("field name is empty")
	case !utf8.ValidString(name):
		return fmt.Errorf("field name %q is not valid UTF-8", name)
	case isReserved(name):
		return fmt.Errorf("field %q is a reserved OAuth 2.0 token response member and cannot be set", name)
	}
	return nil
}
