package httpsource

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// Whatever a value holds, it lands in its own path segment and its own
// query value, and changes nothing else of the URL.
func FuzzRenderKeyEscaping(f *testing.F) {
	for _, seed := range [][2]string{
		{"acme", "web"}, {"a/b c", "x&y=z w"}, {"../admin", "?#"}, {"%2F", "+%20"},
		{"\x00\r\n", "\xff"}, {"{http.token.client}", "{"}, {"..", "."}, {"a?b#c", "d/e"},
	} {
		f.Add(seed[0], seed[1])
	}
	s := &Source{URL: "https://cells.internal/v1/tenants/{http.token.tenant}/cells?client={http.token.client}"}
	tmpl, err := parseTemplate(s.URL)
	if err != nil {
		f.Fatal(err)
	}
	s.tmpl = tmpl
	f.Fuzz(func(t *testing.T, tenant, client string) {
		repl := caddy.NewReplacer()
		repl.Set("http.token.tenant", tenant)
		repl.Set("http.token.client", client)
		key, ok := s.RenderKey(repl)
		if !ok {
			if tenant != "" && client != "" && tenant != "." && tenant != ".." {
				t.Fatalf("RenderKey(%q, %q) not ok", tenant, client)
			}
			return
		}
		u, err := url.Parse(key)
		if err != nil {
			t.Fatalf("RenderKey(%q, %q) = %q, which does not parse: %v", tenant, client, key, err)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if u.Scheme != "https" || u.Host != "cells.internal" || len(segs) != 5 ||
			segs[1] != "v1" || segs[2] != "tenants" || segs[4] != "cells" || u.Fragment != "" {
			t.Fatalf("RenderKey(%q, %q) = %q", tenant, client, key)
		}
		if got, err := url.PathUnescape(segs[3]); err != nil || got != tenant {
			t.Fatalf("tenant segment %q decodes to %q, %v; want %q", segs[3], got, err, tenant)
		}
		q := u.Query()
		if len(q) != 1 || len(q["client"]) != 1 || q.Get("client") != client {
			t.Fatalf("query %q decodes to %v; want client=%q", u.RawQuery, q, client)
		}
	})
}

// sources.CheckObject accepts exactly the JSON objects that are valid UTF-8 and
// nested at most MaxDepth deep, and never crashes.
func FuzzCheckObject(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` {"a":1} `, `[]`, `"s"`, `{"a":"\"}"}`, `{"a":[{"b":{}}]}`, "{\"a\":\"\xff\"}",
		`{"a":1}{`, `{` + strings.Repeat(`"a":[`, 600), `{"a":"` + strings.Repeat(`\\`, 5) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := sources.CheckObject(b)
		if err != nil {
			if !errors.Is(err, sources.ErrNotObject) {
				t.Fatalf("error %v does not wrap ErrNotObject", err)
			}
			return
		}
		if !json.Valid(b) || bytes.TrimLeft(b, " \t\r\n")[0] != '{' {
			t.Fatalf("accepted %q", b)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("accepted %q, which does not decode as an object: %v", b, err)
		}
	})
}
