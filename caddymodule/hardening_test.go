package caddymodule_test

// Hardening through a real Caddy: bad upstream bodies, content
// codings, odd token requests and invalid Caddyfiles. Every case asserts
// the exact outcome. Helpers shared by faults_test.go, load_test.go and
// secrets_test.go are at the bottom of this file.

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testbomb"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcompress"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testenv"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// hsBlock is the token_enrich configuration of the response cases.
const hsBlock = `
	token_enrich {
		lift_claim ext
		set api-uri https://eu.api.example.com
		set tenant_id {http.token.tenant}
		set client {http.token.client_id}
		set nasty {http.token.claims.nasty}
		rule acme {
			tenant org_acme
			set_json limits ` + "`" + `{"rps": 100}` + "`" + `
		}
	}
	reverse_proxy {UPSTREAM}
`

// hsRequest is the token request of the response cases.
const hsRequest = "grant_type=client_credentials&client_id=svc-req&client_secret=s3cret"

// hsTokenAdds is what hsBlock adds for a JWT with azp svc-tok, org_id org_acme.
const hsTokenAdds = `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","client":"svc-tok","limits":{"rps":100}`

// hsOpaqueAdds is what hsBlock adds when the identity comes from hsRequest.
const hsOpaqueAdds = `,"api-uri":"https://eu.api.example.com","client":"svc-req"`

func TestHardeningResponses(t *testing.T) {
	tok := testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme"}`)
	good := testjwt.Segment([]byte(`{"azp":"svc-tok","org_id":"org_acme"}`))
	hugeClaim := strings.Repeat("0123456789abcdef", 300<<10/16)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)             // past the engine's 512 levels
	deepOK := strings.Repeat("[", 500) + strings.Repeat("]", 500)             // within them
	deepBody := strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600) // a body past them
	nasty := "quote\" backslash\\ newline\n cr\r tab\t </script><script>alert(1)</script> \u2028 & \x01"
	nastyJSON := `"quote\" backslash\\ newline\n cr\r tab\t \u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e \u2028 \u0026 \u0001"`
	nastyPayload, _ := json.Marshal(map[string]string{"azp": "svc-tok", "nasty": nasty})
	cases := []struct {
		name, ctype, body string
		// want is the enriched body, or the members it gains when it
		// starts with a comma; "+token" and "+opaque" stand for
		// hsTokenAdds and hsOpaqueAdds; "" means the body passes unchanged
		want string
	}{
		{"truncated JSON", "", `{"access_token":"` + tok + `","token_type":"Bea`, ""},
		{"truncated after a member", "", `{"access_token":"` + tok + `",`, ""},
		{"duplicate access_token", "", `{"access_token":"` + tok + `","access_token":"x","api-uri":"https://upstream"}`, ""},
		{"access_token in two spellings", "", `{"access_token":"` + tok + `","Access_Token":"x"}`, ""},
		{"duplicate non-standard keys", "", `{"access_token":"` + tok + `","api-uri":"https://upstream","api-uri":"https://dup"}`,
			`{"access_token":"` + tok + `","api-uri":"https://upstream","api-uri":"https://dup","tenant_id":"org_acme","client":"svc-tok","limits":{"rps":100}}`},
		{"array root", "", `[{"access_token":"` + tok + `"}]`, ""},
		{"string root", "", `"{\"access_token\":\"x\"}"`, ""},
		{"invalid UTF-8", "", "{\"access_token\":\"" + tok + "\",\"name\":\"caf\xe9\"}", ""},
		{"access_token a number", "", `{"access_token":12345,"token_type":"Bearer"}`, ""},
		{"access_token an object", "", `{"access_token":{"jwt":"` + tok + `"}}`, ""},
		{"JWT with 2 parts", "", `{"access_token":"eyJhbGciOiJSUzI1NiJ9.` + good + `"}`, "+opaque"},
		{"JWT with 4 parts", "", `{"access_token":"eyJhbGciOiJSUzI1NiJ9.` + good + `.c2ln.eHg"}`, "+opaque"},
		{"JWT with bad base64", "", `{"access_token":"eyJhbGciOiJSUzI1NiJ9.*` + good + `.c2ln"}`, "+opaque"},
		{"JWT payload not JSON", "", `{"access_token":"` + testjwt.Payload(`azp=svc-tok`) + `"}`, "+opaque"},
		{"JWT payload an array", "", `{"access_token":"` + testjwt.Payload(`["svc-tok"]`) + `"}`, "+opaque"},
		{"huge claim", "", `{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","nasty":"`+hugeClaim+`"}`) + `"}`,
			`,"api-uri":"https://eu.api.example.com","client":"svc-tok","nasty":"` + hugeClaim + `"`},
		{"claims nested too deep: an opaque token", "", `{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme","nasty":`+deep+`,"ext":{"d":`+deep+`}}`) + `"}`, "+opaque"},
		{"nested claims within the bound", "", `{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme","nasty":`+deepOK+`,"ext":{"d":`+deepOK+`}}`) + `"}`,
			`,"d":` + deepOK + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme","client":"svc-tok","nasty":"` + deepOK + `","limits":{"rps":100}`},
		{"body nested too deep", "", `{"access_token":"` + tok + `","x":` + deepBody + `}`, ""},
		{"claim needing escapes", "", `{"access_token":"` + testjwt.Payload(string(nastyPayload)) + `"}`,
			`,"api-uri":"https://eu.api.example.com","client":"svc-tok","nasty":` + nastyJSON},
		{"lift_claim smuggling reserved fields", "", `{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","ext":{"access_token":"evil","refresh_token":"evil",`+
			`"token_type":"evil","expires_in":1,"scope":"admin","id_token":"evil","error":"x","access\u005ftoken":"evil","region":"eu"}}`) + `","token_type":"Bearer","expires_in":300}`,
			`,"region":"eu","api-uri":"https://eu.api.example.com","client":"svc-tok"`},
		{"JSON with a charset", "application/json; charset=utf-8", `{"access_token":"` + tok + `"}`, "+token"},
		{"problem+json is not a token response", "application/problem+json", `{"access_token":"` + tok + `"}`, ""},
		{"JSON labelled text/plain", "text/plain", `{"access_token":"` + tok + `"}`, ""},
		{"no Content-Type", "-", `{"access_token":"` + tok + `"}`, ""},
		{"malformed Content-Type", "application/json; charset", `{"access_token":"` + tok + `"}`, ""},
		{"JSON in another charset", "application/json; charset=iso-8859-1", `{"access_token":"` + tok + `"}`, ""},
		{"JSON in UTF-16", "application/json; charset=utf-16", `{"access_token":"` + tok + `"}`, ""},
	}
	replies := map[string]hsReply{}
	for _, c := range cases {
		replies[c.name] = hsReply{ctype: c.ctype, body: []byte(c.body)}
	}
	up := hsUpstream(t, replies)
	base := startCaddy(t, hsBlock, up)
	for _, c := range cases {
		want := c.want
		switch {
		case want == "":
			want = c.body
		case want == "+opaque":
			want = c.body[:len(c.body)-1] + hsOpaqueAdds + "}"
		case want == "+token":
			want = c.body[:len(c.body)-1] + hsTokenAdds + "}"
		case strings.HasPrefix(want, ","):
			want = c.body[:len(c.body)-1] + want + "}"
		}
		resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", hsRequest, "X-Case", c.name)
		if resp.StatusCode != 200 || string(got) != want || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("%s: status %d, Content-Length %q\ngot  %.300q\nwant %.300q", c.name, resp.StatusCode, resp.Header.Get("Content-Length"), got, want)
			continue
		}
		if c.want != "" && !json.Valid(got) {
			t.Errorf("%s: enriched body is not valid JSON", c.name)
		}
		if ct := resp.Header.Get("Content-Type"); c.ctype != "-" && ct != hsCType(c.ctype) {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
	}
}

func TestHardeningMaxBodyBoundary(t *testing.T) {
	const limit = 4096
	tok := testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme"}`)
	sized := func(n int) []byte {
		head := `{"access_token":"` + tok + `","pad":"`
		return []byte(head + strings.Repeat("p", n-len(head)-2) + `"}`)
	}
	at, over := sized(limit), sized(limit+1)
	replies := map[string]hsReply{
		"at limit":               {body: at},
		"over limit":             {body: over},
		"at limit, chunked":      {body: at, chunked: true},
		"over limit, chunked":    {body: over, chunked: true},
		"gzip decodes to limit":  {body: testcompress.Gzip(t, at), encoding: "gzip"},
		"gzip decodes past it":   {body: testcompress.Gzip(t, over), encoding: "gzip"},
		"gzip past it, chunked":  {body: testcompress.Gzip(t, over), encoding: "gzip", chunked: true},
		"gzip at limit, chunked": {body: testcompress.Gzip(t, at), encoding: "gzip", chunked: true},
	}
	up := hsUpstream(t, replies)
	base := startCaddy(t, strings.Replace(hsBlock, "lift_claim ext", "max_body 4KiB", 1), up)
	for name, rep := range replies {
		resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", hsRequest, "X-Case", name, "Accept-Encoding", "gzip")
		want, enc := rep.body, rep.encoding
		if !strings.Contains(name, "past") && !strings.Contains(name, "over") {
			want, enc = append(bytes.Clone(at[:len(at)-1]), hsTokenAdds+"}"...), ""
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.Header.Get("Content-Encoding") != enc {
			t.Errorf("%s: status %d encoding %q, %d bytes, want %d", name, resp.StatusCode, resp.Header.Get("Content-Encoding"), len(got), len(want))
		}
	}
}

func TestHardeningLargeBodyStreamsInBoundedMemory(t *testing.T) {
	const size = 50 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	head := []byte(`{"access_token":"x","pad":"`)
	// writeBody writes the 50 MiB body to w, calling pause once 4 MiB are out
	writeBody := func(w io.Writer, pause func() bool) {
		n, _ := w.Write(head)
		paused := false
		for n < size-2 {
			if !paused && n >= 4<<20 {
				paused = true
				if !pause() {
					return
				}
			}
			m, err := w.Write(chunk[:min(len(chunk), size-2-n)])
			if err != nil {
				return
			}
			n += m
		}
		_, _ = w.Write([]byte(`"}`))
	}
	h := sha256.New()
	writeBody(h, func() bool { return true })
	var sent [sha256.Size]byte
	copy(sent[:], h.Sum(nil))
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			// The upstream stops after 4 MiB until the client has read
			// 3 MiB of them: a module that buffered the whole body would
			// never let it through (the safety net fails the test).
			clientHas3MiB := make(chan struct{})
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(size))
				}
				writeBody(w, func() bool {
					_ = http.NewResponseController(w).Flush()
					select {
					case <-clientHas3MiB:
						return true
					case <-time.After(30 * time.Second):
						t.Error("the client never received the first 3 MiB: the body was buffered")
						return false
					}
				})
			})
			base := startCaddy(t, hsBlock, up)

			var got [sha256.Size]byte
			var n int64
			var resp *http.Response
			alloc := testenv.AllocDuring(func() {
				req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(hsRequest))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				var err error
				resp, err = testhttp.Client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				h := sha256.New()
				buf := make([]byte, 64<<10)
				signalled := false
				for {
					m, err := resp.Body.Read(buf)
					h.Write(buf[:m])
					n += int64(m)
					if !signalled && n >= 3<<20 {
						close(clientHas3MiB)
						signalled = true
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("after %d bytes: %v", n, err)
					}
				}
				copy(got[:], h.Sum(nil))
			})
			if resp.StatusCode != 200 || n != size || got != sent {
				t.Fatalf("status %d, %d bytes, same bytes %v", resp.StatusCode, n, got == sent)
			}
			if cl := resp.Header.Get("Content-Length"); chunked != (cl == "") || (!chunked && cl != strconv.Itoa(size)) {
				t.Fatalf("Content-Length %q", cl)
			}
			t.Logf("%d MiB through Caddy allocated %d KiB in the whole process", size>>20, alloc>>10)
			if alloc > 8<<20 {
				t.Fatalf("allocated %d bytes for a %d byte body: it was buffered", alloc, size)
			}
		})
	}
}

// hsEncoded are the upstream answers of TestHardeningEncodings, by case.
func hsEncoded(t *testing.T, plain []byte) map[string]hsReply {
	gz := testcompress.Gzip(t, plain)
	return map[string]hsReply{
		"gzip":                     {body: gz, encoding: "gzip"},
		"x-gzip":                   {body: gz, encoding: "x-gzip"},
		"gzip, chunked":            {body: gz, encoding: "gzip", chunked: true},
		"deflate (zlib)":           {body: testcompress.Zlib(t, plain), encoding: "deflate"},
		"deflate (raw)":            {body: testcompress.Deflate(t, plain), encoding: "deflate"},
		"zstd":                     {body: testcompress.Zstd(t, plain), encoding: "zstd"},
		"identity":                 {body: plain, encoding: "identity"},
		"br (never asked for)":     {body: []byte("\x1b\x4f\x00\xf8\x0d\x00"), encoding: "br"},
		"gzip twice (stacked)":     {body: testcompress.Gzip(t, gz), encoding: "gzip, gzip"},
		"gzip bomb":                {body: testbomb.Gzip(`{"access_token":"x","pad":"`, `"}`, 256), encoding: "gzip"},
		"truncated gzip":           {body: gz[:len(gz)/2], encoding: "gzip"},
		"gzip without its trailer": {body: gz[:len(gz)-8], encoding: "gzip"},
		"plain JSON labelled gzip": {body: plain, encoding: "gzip"},
		"gzip labelled zstd":       {body: gz, encoding: "zstd"},
		"zstd labelled deflate":    {body: testcompress.Zstd(t, plain), encoding: "deflate"},
	}
}

func TestHardeningEncodings(t *testing.T) {
	tok := testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme"}`)
	plain := []byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":300}`)
	enriched := string(plain[:len(plain)-1]) + hsTokenAdds + "}"
	replies := hsEncoded(t, plain)
	up := hsUpstream(t, replies)
	bases := startSites(t, hsGlobal, strings.ReplaceAll(hsBlock, "{UPSTREAM}", up.addr),
		strings.ReplaceAll(strings.Replace(hsBlock, "lift_claim ext", "on_error fail", 1), "{UPSTREAM}", up.addr))
	failBody := `{"error":"server_error","error_description":"the token response from the identity provider could not be processed"}`

	for name, rep := range replies {
		var outcome string // enriched, raw or 502
		switch name {
		case "gzip", "x-gzip", "gzip, chunked", "deflate (zlib)", "deflate (raw)", "zstd", "identity":
			outcome = "enriched"
		case "br (never asked for)", "gzip twice (stacked)":
			outcome = "raw" // not decodable: never buffered, in either mode
		default:
			outcome = "502" // decoding fails: raw with on_error pass, 502 with fail
		}
		for i, base := range bases {
			var alloc uint64
			var resp *http.Response
			var got []byte
			alloc = testenv.AllocDuring(func() {
				resp, got = testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", hsRequest,
					"X-Case", name, "Accept-Encoding", "gzip, deflate, br, zstd")
			})
			if ae := up.last(t).header.Get("Accept-Encoding"); ae != "gzip, deflate, zstd" {
				t.Errorf("%s: upstream was asked for %q", name, ae)
			}
			wantStatus, wantBody, wantEnc := 200, string(rep.body), rep.encoding
			switch {
			case outcome == "enriched":
				wantBody, wantEnc = enriched, ""
			case outcome == "502" && i == 1:
				wantStatus, wantBody, wantEnc = 502, failBody, ""
			}
			if resp.StatusCode != wantStatus || string(got) != wantBody || resp.Header.Get("Content-Encoding") != wantEnc ||
				resp.Header.Get("Content-Length") != strconv.Itoa(len(wantBody)) {
				t.Errorf("%s (on_error %s): status %d, Content-Encoding %q, Content-Length %q\ngot  %.200q\nwant %.200q",
					name, []string{"pass", "fail"}[i], resp.StatusCode, resp.Header.Get("Content-Encoding"),
					resp.Header.Get("Content-Length"), got, wantBody)
			}
			if name == "gzip bomb" && alloc > 16<<20 {
				t.Errorf("gzip bomb (256 MiB inflated, max_body 1 MiB): %d bytes allocated", alloc)
			}
		}
	}
}

func TestHardeningRequestsReachUpstreamUnchanged(t *testing.T) {
	tokenAZP := testjwt.Payload(`{"azp":"svc-token"}`)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		tok := "opaque-token"
		if r.Header.Get("X-Token") == "jwt" {
			tok = tokenAZP
		}
		serveJSON(200, `{"access_token":"`+tok+`","token_type":"Bearer"}`)(w, r)
	})
	const block = `
	token_enrich {
		set client {http.token.client_id}
		set audience {http.token.audience}
		set grant {http.token.grant_type}
		set scopes {http.token.scope}
	}
	reverse_proxy {UPSTREAM}
`
	bases := startSites(t, hsGlobal, strings.ReplaceAll(block, "{UPSTREAM}", up.addr), "\treverse_proxy "+up.addr)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	form := "application/x-www-form-urlencoded"
	big := func(n int) string {
		prefix := "grant_type=client_credentials&client_id=svc-body&scope=big&pad="
		return prefix + strings.Repeat("x", n-len(prefix))
	}
	cases := []struct {
		name, ctype, body string
		hdr               []string
		chunked           bool
		// want is the members the response gains (identity as parsed)
		want string
	}{
		{"form with escapes", form, "grant_type=client_credentials&client_id=svc%2Beu+one&scope=a+b%20c&audience=https%3A%2F%2Fapi%2F%3Fx%3D1%26y", nil, false,
			`"client":"svc+eu one","audience":"https://api/?x=1\u0026y","grant":"client_credentials","scopes":"a b c"`},
		{"form in ISO-8859-1", form + "; charset=ISO-8859-1", "grant_type=password&client_id=caf%E9&username=j%E9r%F4me&password=%FF%FE", nil, false,
			`"client":"caf` + "\ufffd" + `","grant":"password"`},
		{"form with a bad escape", form, "client_id=%zz&grant_type=client_credentials", nil, false, `"grant":"client_credentials"`},
		{"form with a semicolon", form, "client_id=a;b&grant_type=client_credentials", nil, false, `"grant":"client_credentials"`},
		{"form with repeated parameters", form, "client_id=first&client_id=first&audience=a1&audience=a2", nil, false, `"client":"first","audience":"a1"`},
		{"form with two different client_ids (ambiguous)", form, "client_id=first&client_id=second", nil, false, ``},
		{"form in upper case", "Application/X-WWW-Form-URLEncoded; Charset=UTF-8", "client_id=svc-up", nil, false, `"client":"svc-up"`},
		{"form with NUL and raw bytes", form, "client_id=a%00b&scope=\xff\xfe", nil, false, `"client":"a\u0000b","scopes":"` + "\ufffd\ufffd" + `"`},
		{"JSON with escapes", "application/json", `{"client_id":"svc\u002deu","grant_type":"client_credentials","audience":["a1","a2"]}`, nil, false,
			`"client":"svc-eu","audience":"a1","grant":"client_credentials"`},
		{"JSON with duplicate keys", "application/json", `{"client_id":"first","client_id":"first"}`, nil, false, `"client":"first"`},
		{"JSON with two different client_ids (ambiguous)", "application/json", `{"client_id":"first","client_id":"second"}`, nil, false, ``},
		{"JSON with a number client_id", "application/json", `{"client_id":123}`, nil, false, `"client":"123"`},
		{"JSON with a byte order mark", "application/json", "\xef\xbb\xbf{\"client_id\":\"svc\"}", nil, false, ``},
		{"JSON in UTF-16", "application/json; charset=utf-16", "\xff\xfe{\x00\"\x00c\x00\"\x00:\x001\x00}\x00", nil, false, ``},
		{"JSON truncated", "application/json", `{"client_id":"svc"`, nil, false, ``},
		{"Basic with : and % in the secret", form, "grant_type=client_credentials&client_id=svc%3Aeu",
			[]string{"Authorization", basic("svc%3Aeu", "p:a%ss%25:x")}, false, `"client":"svc:eu","grant":"client_credentials"`},
		{"Basic not base64", form, "client_id=svc-body", []string{"Authorization", "Basic !!!"}, false, `"client":"svc-body"`},
		{"Bearer instead of Basic", form, "client_id=svc-body", []string{"Authorization", "Bearer abc"}, false, `"client":"svc-body"`},
		{"body at the request-buffer bound", form, big(64 << 10), []string{"X-Token", "jwt"}, false,
			`"client":"svc-token","grant":"client_credentials","scopes":"big"`},
		{"body over the request-buffer bound", form, big(64<<10 + 1), []string{"X-Token", "jwt"}, false, `"client":"svc-token"`},
		{"1 MiB body", form, big(1 << 20), []string{"X-Token", "jwt"}, false, `"client":"svc-token"`},
		{"chunked body", form, "grant_type=client_credentials&client_id=svc-chunked", nil, true, `"client":"svc-chunked","grant":"client_credentials"`},
		{"chunked body over the bound", form, big(200 << 10), []string{"X-Token", "jwt"}, true, `"client":"svc-token"`},
		{"Expect: 100-continue", form, "client_id=svc-expect", []string{"Expect", "100-continue"}, false, `"client":"svc-expect"`},
		{"empty body", form, "", nil, false, ``},
	}
	for _, c := range cases {
		var views [2]seen
		var bodies [2][]byte
		for i, base := range bases {
			var body io.Reader = strings.NewReader(c.body)
			if c.chunked {
				pr, pw := io.Pipe()
				go func() {
					for s := c.body; len(s) > 0; {
						n := min(len(s), 7000)
						_, _ = pw.Write([]byte(s[:n]))
						s = s[n:]
					}
					_ = pw.Close()
				}()
				body = pr
			}
			req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", body)
			req.Header.Set("Content-Type", c.ctype)
			req.Header.Set("X-Custom", "kept")
			for j := 0; j+1 < len(c.hdr); j += 2 {
				req.Header.Set(c.hdr[j], c.hdr[j+1])
			}
			resp, err := testhttp.Client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			bodies[i], _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			views[i] = up.last(t)
		}
		withModule, plain := views[0], views[1]
		if string(withModule.body) != c.body || string(plain.body) != c.body {
			t.Errorf("%s: upstream body changed (%d and %d bytes, sent %d)", c.name, len(withModule.body), len(plain.body), len(c.body))
		}
		if withModule.contentLen != plain.contentLen || withModule.chunked != plain.chunked || plain.chunked != c.chunked {
			t.Errorf("%s: framing: module %d/%v, plain %d/%v", c.name, withModule.contentLen, withModule.chunked, plain.contentLen, plain.chunked)
		}
		// Accept-Encoding is narrowed on purpose (see request.go); the
		// proxy's own X-Forwarded-Host names each site's port.
		for _, h := range []http.Header{withModule.header, plain.header} {
			h.Del("Accept-Encoding")
			h.Del("X-Forwarded-Host")
		}
		if fmt.Sprint(withModule.header) != fmt.Sprint(plain.header) {
			t.Errorf("%s: upstream headers differ\nmodule %v\nplain  %v", c.name, withModule.header, plain.header)
		}
		tok := "opaque-token"
		if len(c.hdr) > 1 && c.hdr[0] == "X-Token" {
			tok = tokenAZP
		}
		upstreamBody := `{"access_token":"` + tok + `","token_type":"Bearer"}`
		want := upstreamBody
		if c.want != "" {
			want = upstreamBody[:len(upstreamBody)-1] + "," + c.want + "}"
		}
		if string(bodies[0]) != want || string(bodies[1]) != upstreamBody {
			t.Errorf("%s:\ngot  %s\nwant %s\nplain %s", c.name, bodies[0], want, bodies[1])
		}
	}
}

func TestHardeningCaddyfileErrorsNameTheLine(t *testing.T) {
	cases := []struct{ name, lines, want string }{
		{"unknown subdirective", "colour blue", "unrecognized subdirective: colour"},
		{"unknown subdirective in a rule", "rule r {\n\t\tcolour blue\n\t\tset a b\n\t}", "rule r: unrecognized subdirective: colour"},
		{"bad size", "max_body 12XB", `max_body: "12XB" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB`},
		{"negative size", "max_body -1", `max_body: "-1" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB`},
		{"zero size", "max_body 0", `max_body: size "0" out of range: give a size from 1B to 1TiB, e.g. 1MiB`},
		{"huge size", "max_body 2TiB", `max_body: size "2TiB" out of range: give a size from 1B to 1TiB, e.g. 1MiB`},
		{"size without a value", "max_body", "wrong argument count"},
		{"bad JSON in set_json", "set_json limits `{\"rps\": }`", `fields[0].json_text: field "limits": invalid JSON value: invalid character '}' looking for beginning of value`},
		{"two JSON values", "set_json limits `1 2`", `fields[0].json_text: field "limits": invalid JSON value: invalid character '2' after top-level value`},
		{"reserved field", "set access_token x", `fields[0].name: field "access_token" is a reserved OAuth 2.0 token response member and cannot be set`},
		{"reserved field via set_json", "set_json expires_in 5", `fields[0].name: field "expires_in" is a reserved`},
		{"reserved field in a rule", "rule r {\n\t\tset refresh_token x\n\t}", `rules[0].fields[0].name: rule r: field "refresh_token" is a reserved`},
		{"bad glob", "rule r {\n\t\tclient svc-[eu]\n\t\tset a b\n\t}", `rules[0].client: rule r: pattern "svc-[eu]": character classes are not supported`},
		{"bad glob in an issuer", "rule r {\n\t\tissuer https://[x]/\n\t\tset a b\n\t}", `rules[0].issuer: rule r: pattern "https://[x]/": character classes are not supported`},
		{"bad glob in a claim", "rule r {\n\t\tclaim plan gold]\n\t\tset a b\n\t}", `rules[0].claims[0].values: rule r: claim "plan": pattern "gold]": character classes are not supported`},
		{"empty claim name", "rule r {\n\t\tclaim \"\" gold\n\t\tset a b\n\t}", `rules[0].claims[0].name: rule r: claim condition without a claim name`},
		{"empty lift_claim", `lift_claim ""`, `lift_claims[0]: empty claim name`},
		{"unknown placeholder", "set x {http.token.secret}", `fields[0].value: field "x": unknown placeholder {http.token.secret}`},
		{"empty field name", `set "" x`, `fields[0].name: field name is empty`},
		{"bad on_error", "on_error ignore", `on_error: expected pass or fail, got "ignore"`},
		{"rule without fields", "rule r {\n\t\tclient a\n\t}", "rules[0]: rule r: sets no field"},
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, c := range cases {
		// the offending line is line 3 of the file
		cfg := "http://127.0.0.1:9 {\n\ttoken_enrich {\n\t" + c.lines + "\n\t}\n\treverse_proxy 127.0.0.1:1\n}\n"
		line := 3
		if strings.HasPrefix(c.lines, "rule") && c.name != "rule without fields" {
			line = 4
		}
		_, _, err := adapter.Adapt([]byte(cfg), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fmt.Sprintf(", at Caddyfile:%d", line)) {
			t.Errorf("%s: error %v\nwant %q at Caddyfile:%d", c.name, err, c.want, line)
		}
	}
	// the operator sees the same through the admin API
	startCaddy(t, "respond ok", nil)
	cfg := fmt.Sprintf("{\n\tadmin localhost:%d\n}\nhttp://127.0.0.1:%d {\n\ttoken_enrich {\n\t\tmax_body lots\n\t}\n\treverse_proxy 127.0.0.1:1\n}\n", testcaddy.AdminPort, testcaddy.FreePort(t))
	status, body := testcaddy.PostLoad(t, "text/caddyfile", cfg)
	if status != 400 || !strings.Contains(body, `max_body: \"lots\" is not a size: give a number of bytes with an optional unit, e.g. 1MiB or 512KB`) || !strings.Contains(body, ", at Caddyfile:6") {
		t.Fatalf("admin API: %d %s", status, body)
	}
}

// ---- helpers shared by this package's hardening, fault, load and secret tests

// hsGlobal is the global options block of multi-site configs: the harness's,
// with the admin port and debug logging to stderr left to startSites.
const hsGlobal = "\tgrace_period 1ns\n\tlog {\n\t\tlevel DEBUG\n\t}"

// startSites loads a config with one http site per block (each on its own
// loopback port) into the in-process Caddy and returns their base URLs.
// global is added to the global options block.
func startSites(t *testing.T, global string, blocks ...string) []string {
	t.Helper()
	ports := make([]int, len(blocks))
	var sites strings.Builder
	for i, b := range blocks {
		ports[i] = testcaddy.FreePort(t)
		fmt.Fprintf(&sites, "http://127.0.0.1:%d {\n%s\n}\n", ports[i], b)
	}
	cfg := fmt.Sprintf("{\n\tadmin localhost:%d\n\thttp_port %d\n\tskip_install_trust\n%s\n}\n%s", testcaddy.AdminPort, ports[0], global, sites.String())
	caddytestTester(t).InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	urls := make([]string, len(ports))
	for i, p := range ports {
		urls[i] = fmt.Sprintf("http://127.0.0.1:%d", p)
	}
	return urls
}

// caddytestTester is a caddytest.Tester for this process's admin port.
func caddytestTester(t *testing.T) *caddytest.Tester {
	return caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: testcaddy.AdminPort})
}

// hsReply is an upstream answer chosen by the request's X-Case header.
type hsReply struct {
	status   int    // default 200
	ctype    string // default application/json; "-" for none
	encoding string // Content-Encoding
	body     []byte
	chunked  bool // no Content-Length; written in three flushed pieces
}

func hsCType(ctype string) string {
	if ctype == "" {
		return "application/json"
	}
	return ctype
}

// hsUpstream answers each request with replies[X-Case].
func hsUpstream(t *testing.T, replies map[string]hsReply) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		rep, ok := replies[r.Header.Get("X-Case")]
		if !ok {
			t.Errorf("upstream: unknown case %q", r.Header.Get("X-Case"))
			w.WriteHeader(http.StatusTeapot)
			return
		}
		if rep.ctype == "-" {
			w.Header()["Content-Type"] = nil // no header, and no sniffing
		} else {
			w.Header().Set("Content-Type", hsCType(rep.ctype))
		}
		if rep.encoding != "" {
			w.Header().Set("Content-Encoding", rep.encoding)
		}
		w.Header().Set("Cache-Control", "no-store")
		if !rep.chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
		}
		w.WriteHeader(cmp.Or(rep.status, 200))
		if !rep.chunked {
			_, _ = w.Write(rep.body)
			return
		}
		third := len(rep.body) / 3
		for _, p := range [][]byte{rep.body[:third], rep.body[third : 2*third], rep.body[2*third:]} {
			_, _ = w.Write(p)
			_ = http.NewResponseController(w).Flush()
		}
	})
}

// TestHardeningHeadersOfAChangedBody: the headers that describe the
// upstream's bytes (entity tag, digests) are dropped from an enriched
// response, whose bytes differ, and kept on one passed on unchanged. A
// partial response is never enriched.
func TestHardeningHeadersOfAChangedBody(t *testing.T) {
	tok := testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme"}`)
	body := `{"access_token":"` + tok + `","token_type":"Bearer"}`
	digests := map[string]string{
		"ETag":           `"abc"`,
		"Content-Digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
		"Repr-Digest":    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
		"Digest":         "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"Content-MD5":    "1B2M2Y8AsgTpgAmY7PhCfg==",
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for k, v := range digests {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		status := 200
		switch r.Header.Get("X-Case") {
		case "partial":
			status = http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(body)-1, len(body)+10))
		case "range on a 200":
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(body)-1, len(body)))
		case "not a token":
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"keys":[]}`)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	base := startCaddy(t, hsBlock, up)

	resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", hsRequest, "X-Case", "enriched")
	if want := body[:len(body)-1] + hsTokenAdds + "}"; resp.StatusCode != 200 || string(got) != want {
		t.Fatalf("enriched: %d\ngot  %s\nwant %s", resp.StatusCode, got, want)
	}
	for k := range digests {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("enriched response kept %s: %s", k, v)
		}
	}
	for _, c := range []string{"partial", "range on a 200", "not a token"} {
		resp, got := testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", hsRequest, "X-Case", c)
		if strings.Contains(string(got), "api-uri") {
			t.Errorf("%s: enriched: %s", c, got)
		}
		for k, v := range digests {
			if resp.Header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", c, k, resp.Header.Get(k), v)
			}
		}
	}
}
