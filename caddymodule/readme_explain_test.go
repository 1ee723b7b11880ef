package caddymodule_test

import (
	"os"
	"strings"
	"testing"
)

// readmeExplainCommand is the explain example of docs/operating.md, as shown there.
const readmeExplainCommand = `$ caddy token-enrich explain --config examples/explain.Caddyfile \
    --response examples/explain-token.json \
    --request 'grant_type=client_credentials&audience=https://api.example.com/' \
    --header 'Authorization: Basic ZXUtY2xpZW50OmRlbW8tc2VjcmV0'`

// readmeExplainArgs are its arguments, from this package's directory.
var readmeExplainArgs = []string{"explain", "--config", "../examples/explain.Caddyfile",
	"--response", "../examples/explain-token.json",
	"--request", "grant_type=client_credentials&audience=https://api.example.com/",
	"--header", "Authorization: Basic ZXUtY2xpZW50OmRlbW8tc2VjcmV0"}

// TestREADMEExplainExample: the explain example of docs/operating.md shows
// what the command prints for it, whole, so the page cannot drift from the
// code.
func TestREADMEExplainExample(t *testing.T) {
	readme, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "```\n"+readmeExplainCommand+"\n")
	if start < 0 {
		t.Fatal("docs/operating.md does not show the explain example's command")
	}
	rest := string(readme)[start+len("```\n"+readmeExplainCommand+"\n"):]
	shown := rest[:strings.Index(rest, "```\n")]
	out, err := runExplain(t, "", readmeExplainArgs...)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	if shown != out {
		t.Fatalf("docs/operating.md shows\n%s\nexplain prints\n%s", shown, out)
	}
}

// TestHelpNamesTheCommand: `caddy help token-enrich` has a command to
// describe, with its usage.
func TestHelpNamesTheCommand(t *testing.T) {
	out, err := runExplain(t, "", "--help")
	if err != nil || !strings.Contains(out, "explain") {
		t.Fatalf("token-enrich --help: %v\n%s", err, out)
	}
	out, err = runExplain(t, "", "explain", "--help")
	for _, want := range []string{"--config", "--response", "--token", "--request", "--header", "--site", "--format"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("explain --help lacks %s: %v\n%s", want, err, out)
		}
	}
}
