package examples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	_ "github.com/caddy-token-enrich/caddy-token-enrich"
	"github.com/caddy-token-enrich/caddy-token-enrich/caddymodule"
	_ "github.com/caddy-token-enrich/caddy-token-enrich/examples/staticsource"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
)

// documents are the pages whose Caddyfile blocks must adapt: the README,
// every page of docs/ and every example's README.
func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	readmes, err := filepath.Glob("*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]string{"../README.md"}, docs...), readmes...)
}

// snippet is one fenced Caddyfile block of a document.
type snippet struct {
	file string
	line int // of the opening fence
	text string
}

// fence opens or closes a fenced code block; its info string is group 2.
var fence = regexp.MustCompile("^(```+)\\s*([^`\\s]*)")

// caddySnippets returns the blocks fenced as ```caddy or ```caddyfile.
// Syntax summaries, which are not Caddyfiles (`<field>`, `pass|fail`), are
// fenced as ```text.
func caddySnippets(t *testing.T, file string) []snippet {
	t.Helper()
	return fencedBlocks(t, file, "caddy", "caddyfile")
}

// fencedBlocks returns the code blocks of file whose info string is one of
// infos.
func fencedBlocks(t *testing.T, file string, infos ...string) []snippet {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	var cur *snippet
	var open string
	for i, line := range strings.Split(string(b), "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case cur == nil && open == "" && m != nil:
			open = m[1]
			if slices.Contains(infos, strings.ToLower(m[2])) {
				cur = &snippet{file: file, line: i + 1}
			}
		case open != "" && m != nil && m[1] == open && m[2] == "":
			if cur != nil {
				out = append(out, *cur)
			}
			cur, open = nil, ""
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if open != "" {
		t.Errorf("%s: a code block is not closed", file)
	}
	return out
}

// subdirectives are the directives of a token_enrich block: a snippet that
// starts with one of them is the inside of a token_enrich block.
var subdirectives = []string{"paths", "introspection_paths", "max_body", "on_error", "overwrite",
	"dry_run", "preset", "tenant_claim", "client_claim", "lift_claim", "set", "set_json",
	"source", "split", "rule"}

// wrap makes a Caddyfile of a snippet: a whole file stays as it is, a site
// body goes into a site block, and the inside of a token_enrich block into
// token_enrich inside a site block, each indented one tab more, as Caddy's
// formatter would indent it.
func wrap(text string) string {
	first := ""
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			first = f[0]
			break
		}
	}
	indent := func(text, by string) string {
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = by + l
			}
		}
		return strings.Join(lines, "\n") + "\n"
	}
	switch {
	case first == "{" || strings.ContainsAny(first, ":.") || first == "localhost" || strings.HasPrefix(first, "(") ||
		strings.HasPrefix(first, "import"):
		return text
	case slices.Contains(subdirectives, first):
		return ":8080 {\n\ttoken_enrich {\n" + indent(text, "\t\t") + "\t}\n\treverse_proxy 127.0.0.1:8081\n}\n"
	default:
		return ":8080 {\n" + indent(text, "\t") + "}\n"
	}
}

// TestDocumentSnippetsAdapt: every Caddyfile block of the README, docs/ and
// the examples' READMEs adapts with Caddy's own adapter, wrapped in a site
// (and a token_enrich block) when it is a fragment, without an error or any
// warning, "input is not formatted" included: a reader can paste each one.
func TestDocumentSnippetsAdapt(t *testing.T) {
	n := 0
	for _, file := range documents(t) {
		for _, s := range caddySnippets(t, file) {
			n++
			name := strings.TrimPrefix(s.file, "../") + ":" + strconv.Itoa(s.line)
			t.Run(name, func(t *testing.T) {
				src := wrap(s.text)
				_, warnings, err := testcaddy.AdaptCaddyfile([]byte(src), name)
				if err != nil || len(warnings) != 0 {
					t.Errorf("adapt: %v %q\n%s", err, warnings, src)
				}
			})
		}
	}
	if n < 20 {
		t.Fatalf("only %d Caddyfile blocks in the documents", n)
	}
}

// TestDocumentSnippetsCheckSeesFaults: the check above fails a block that
// is not formatted, and one that does not adapt, so its passing means
// something.
func TestDocumentSnippetsCheckSeesFaults(t *testing.T) {
	for name, text := range map[string]string{
		"aligned": "set  api-uri https://api.example.com\n",
		"spaces":  "token_enrich {\n    set api-uri https://api.example.com\n}\n",
		"unknown": "set api-uri\n",
		"site":    ":8080 {\n\ttoken_enrich {\n\t\tbogus\n\t}\n}\n",
	} {
		_, warnings, err := testcaddy.AdaptCaddyfile([]byte(wrap(text)), name)
		if err == nil && len(warnings) == 0 {
			t.Errorf("%s: adapted without an error or a warning:\n%s", name, wrap(text))
		}
	}
}

// TestSaaSRecipeCaddyfilesAdapt: the recipe's Caddyfiles (examples/saas),
// which examples/saas/run.sh runs, adapt without an error or a warning.
func TestSaaSRecipeCaddyfilesAdapt(t *testing.T) {
	files, err := filepath.Glob("saas/*.Caddyfile")
	if err != nil || len(files) != 3 {
		t.Fatalf("%q %v: want the table, redis and stand-in Caddyfiles", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, warnings, err := testcaddy.AdaptCaddyfile(src, f); err != nil || len(warnings) != 0 {
			t.Errorf("%s: adapt: %v %q", f, err, warnings)
		}
	}
}

// TestREADMERecipeIsTheSaaSTable: the README's worked recipe shows the
// table that examples/saas/run.sh runs, whole.
func TestREADMERecipeIsTheSaaSTable(t *testing.T) {
	table, err := os.ReadFile("saas/tenants.json")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```json\n"+string(table)+"```\n") {
		t.Fatalf("README.md does not show examples/saas/tenants.json:\n%s", table)
	}
}

// TestDocumentJSONHandlersUnmarshal: every JSON block of the documents that
// is a token_enrich handler (its "handler" member says so) has only fields
// the handler knows, and each source's "lookup" only fields its module
// knows, so that a reader's copy is not silently half ignored.
func TestDocumentJSONHandlersUnmarshal(t *testing.T) {
	n := 0
	for _, file := range documents(t) {
		for _, s := range fencedBlocks(t, file, "json") {
			var probe struct {
				Handler string `json:"handler"`
			}
			if json.Unmarshal([]byte(s.text), &probe) != nil || probe.Handler != "token_enrich" {
				continue
			}
			n++
			var members map[string]json.RawMessage
			if err := json.Unmarshal([]byte(s.text), &members); err != nil {
				t.Fatal(err)
			}
			delete(members, "handler") // the inline key, which Caddy reads apart
			b, _ := json.Marshal(members)
			var h caddymodule.Handler
			if err := caddy.StrictUnmarshalJSON(b, &h); err != nil {
				t.Errorf("%s:%d: %v", s.file, s.line, err)
				continue
			}
			for _, src := range h.Sources {
				var mod struct {
					Source string `json:"source"`
				}
				if err := json.Unmarshal(src.LookupRaw, &mod); err != nil {
					t.Errorf("%s:%d: source %s: %v", s.file, s.line, src.Name, err)
					continue
				}
				info, err := caddy.GetModule("http.handlers.token_enrich.sources." + mod.Source)
				if err != nil {
					t.Errorf("%s:%d: source %s: %v", s.file, s.line, src.Name, err)
					continue
				}
				var fields map[string]json.RawMessage
				_ = json.Unmarshal(src.LookupRaw, &fields)
				delete(fields, "source")
				b, _ := json.Marshal(fields)
				if err := caddy.StrictUnmarshalJSON(b, info.New()); err != nil {
					t.Errorf("%s:%d: source %s: %v", s.file, s.line, src.Name, err)
				}
			}
		}
	}
	if n < 2 {
		t.Fatalf("only %d token_enrich JSON blocks in the documents", n)
	}
}
