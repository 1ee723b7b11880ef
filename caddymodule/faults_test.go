package caddymodule_test

// Upstream faults: each fault goes through two sites of the same
// Caddy, one with token_enrich before reverse_proxy and one with a plain
// reverse_proxy, and the client must see the same thing from both (bar the
// enrichment itself); afterwards the process must still serve.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// fltToken is the token response the fault upstream sends, and fltEnriched
// what the module makes of it.
var (
	fltToken    = `{"access_token":"` + testjwt.Payload(`{"azp":"svc-tok","org_id":"org_acme"}`) + `","token_type":"Bearer","expires_in":300}`
	fltEnriched = fltToken[:len(fltToken)-1] + `,"api-uri":"https://eu.api.example.com","tenant_id":"org_acme"}`
)

const fltNotToken = `{"status":"ok","note":"not a token response"}`

// fltModule and fltPlain are the two sites. fltTimeouts adds transport
// timeouts, for the cases that test them: an upstream that sends no headers,
// or no body bytes, for 400 ms is given up on.
const (
	fltModule = `
	token_enrich {
		set api-uri https://eu.api.example.com
		set tenant_id {http.token.tenant}
	}
	reverse_proxy {UPSTREAM}`
	fltPlain    = "\treverse_proxy {UPSTREAM}"
	fltTimeouts = ` {
		transport http {
			response_header_timeout 400ms
			read_timeout 400ms
		}
	}`
)

// fltResult is what a client saw.
type fltResult struct {
	status  int
	header  http.Header
	body    []byte
	err     error // from reading the body (or the request)
	trailer http.Header
	info    []string // 1xx responses: "103 Link=..."
	proto   string
}

func fltDo(t *testing.T, client *http.Client, url, xcase string) fltResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/oauth/token", strings.NewReader(hsRequest))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Case", xcase)
	var res fltResult
	var mu sync.Mutex
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			res.info = append(res.info, fmt.Sprintf("%d Link=%s", code, h.Get("Link")))
			return nil
		},
	}))
	resp, err := client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	res.status, res.header, res.proto = resp.StatusCode, resp.Header, resp.Proto
	res.body, res.err = io.ReadAll(resp.Body)
	res.trailer = resp.Trailer
	return res
}

// fltHeaders are the response headers compared between the two sites.
var fltHeaders = []string{"Content-Type", "Content-Encoding", "Cache-Control", "X-Upstream", "Trailer"}

// fltSame reports how the module's result differs from the plain proxy's;
// wantBody, when not nil, is the body the module must send instead.
func fltSame(mod, plain fltResult, wantBody *string) string {
	var diffs []string
	if mod.status != plain.status {
		diffs = append(diffs, fmt.Sprintf("status %d vs %d", mod.status, plain.status))
	}
	if (mod.err == nil) != (plain.err == nil) {
		diffs = append(diffs, fmt.Sprintf("error %v vs %v", mod.err, plain.err))
	}
	want := string(plain.body)
	if wantBody != nil {
		want = *wantBody
	}
	if string(mod.body) != want {
		diffs = append(diffs, fmt.Sprintf("body %q, want %q", mod.body, want))
	}
	for _, h := range fltHeaders {
		if mod.header.Get(h) != plain.header.Get(h) {
			diffs = append(diffs, fmt.Sprintf("%s %q vs %q", h, mod.header.Get(h), plain.header.Get(h)))
		}
	}
	if fmt.Sprint(mod.trailer) != fmt.Sprint(plain.trailer) {
		diffs = append(diffs, fmt.Sprintf("trailer %v vs %v", mod.trailer, plain.trailer))
	}
	if fmt.Sprint(mod.info) != fmt.Sprint(plain.info) {
		diffs = append(diffs, fmt.Sprintf("1xx %v vs %v", mod.info, plain.info))
	}
	if wantBody != nil && mod.err == nil && mod.header.Get("Content-Length") != strconv.Itoa(len(want)) {
		diffs = append(diffs, fmt.Sprintf("Content-Length %q, want %d", mod.header.Get("Content-Length"), len(want)))
	}
	return strings.Join(diffs, "; ")
}

// fltHijack takes over the connection and writes raw bytes; close then
// ends it with a FIN, or with a RST when rst is set.
func fltHijack(w http.ResponseWriter, raw string, rst bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString(raw)
	_ = buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// fltUpstream answers by the X-Case header; release unblocks the stalls.
func fltUpstream(t *testing.T, release <-chan struct{}) func(w http.ResponseWriter, r *http.Request) {
	drip := func(w http.ResponseWriter, body string, chunked bool) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "drip")
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(200)
		for i := 0; i < len(body); i += 16 {
			_, _ = io.WriteString(w, body[i:min(i+16, len(body))])
			_ = http.NewResponseController(w).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}
	stall := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	partial := fltToken[:60]
	return func(w http.ResponseWriter, r *http.Request) {
		switch c := r.Header.Get("X-Case"); c {
		case "ok":
			serveJSON(200, fltToken)(w, r)
		case "reset before headers":
			fltHijack(w, "", false)
		case "reset mid-body, Content-Length":
			fltHijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Upstream: yes\r\nContent-Length: "+
				strconv.Itoa(len(fltToken))+"\r\n\r\n"+partial, false)
		case "reset mid-body, chunked":
			fltHijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Upstream: yes\r\nTransfer-Encoding: chunked\r\n\r\n"+
				strconv.FormatInt(int64(len(partial)), 16)+"\r\n"+partial+"\r\n", false)
		case "RST mid-body":
			fltHijack(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Upstream: yes\r\nContent-Length: "+
				strconv.Itoa(len(fltToken))+"\r\n\r\n"+partial, true)
		case "garbage instead of HTTP":
			fltHijack(w, "SSH-2.0-OpenSSH_9.6\r\n", false)
		case "slow drip":
			drip(w, fltToken, false)
		case "slow drip, chunked":
			drip(w, fltToken, true)
		case "slow drip, not a token":
			drip(w, fltNotToken, true)
		case "timeout before headers":
			stall(r)
		case "stall mid-body":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(fltToken)))
			w.WriteHeader(200)
			_, _ = io.WriteString(w, partial)
			_ = http.NewResponseController(w).Flush()
			stall(r)
		case "500 with JSON", "502 with JSON", "503 with a token-shaped JSON":
			status, _ := strconv.Atoi(c[:3])
			body := `{"error":"server_error","error_description":"upstream is down"}`
			if strings.Contains(c, "token") {
				body = fltToken
			}
			w.Header().Set("X-Upstream", "yes")
			serveJSON(status, body)(w, r)
		case "200 with text/html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<html><body>{"access_token":"x"}</body></html>`)
		case "chunked token response":
			w.Header().Set("Content-Type", "application/json")
			for _, p := range []string{fltToken[:20], fltToken[20:100], fltToken[100:]} {
				_, _ = io.WriteString(w, p)
				_ = http.NewResponseController(w).Flush()
			}
		case "declared trailers":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Trailer", "X-Checksum")
			_, _ = io.WriteString(w, fltToken)
			w.Header().Set("X-Checksum", "sha256=abc")
		case "undeclared trailers":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, fltToken)
			_ = http.NewResponseController(w).Flush() // chunked, so trailers can follow
			w.Header().Set(http.TrailerPrefix+"X-Checksum", "sha256=abc")
		case "early hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			serveJSON(200, fltToken)(w, r)
		case "empty 200":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "0")
		case "204":
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unknown case %q", c)
		}
	}
}

func TestFaultsLikePlainReverseProxy(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := newUpstream(t, fltUpstream(t, release))
	bases := startSites(t, hsGlobal, strings.ReplaceAll(fltModule, "{UPSTREAM}", up.addr), strings.ReplaceAll(fltPlain, "{UPSTREAM}", up.addr),
		strings.ReplaceAll(fltModule, "{UPSTREAM}", up.addr+fltTimeouts), strings.ReplaceAll(fltPlain, "{UPSTREAM}", up.addr+fltTimeouts))
	enriched := fltEnriched
	cases := []struct {
		name    string
		timeout bool // through the sites with transport timeouts
		// want is the module's body when it differs from the plain proxy's
		want *string
		// wantStatus and wantErr pin what the plain proxy shows
		wantStatus int
		wantErr    bool
		// prefix: the partial body is only a prefix of what was sent (RST)
		prefix bool
	}{
		{name: "reset before headers", wantStatus: 502},
		{name: "garbage instead of HTTP", wantStatus: 502},
		{name: "reset mid-body, Content-Length", wantStatus: 200, wantErr: true},
		{name: "reset mid-body, chunked", wantStatus: 200, wantErr: true},
		{name: "RST mid-body", wantStatus: 200, wantErr: true, prefix: true},
		{name: "slow drip", want: &enriched, wantStatus: 200},
		{name: "slow drip, chunked", want: &enriched, wantStatus: 200},
		{name: "slow drip, not a token", wantStatus: 200},
		{name: "timeout before headers", timeout: true, wantStatus: 504},
		{name: "stall mid-body", timeout: true, wantStatus: 200, wantErr: true},
		{name: "500 with JSON", wantStatus: 500},
		{name: "502 with JSON", wantStatus: 502},
		{name: "503 with a token-shaped JSON", wantStatus: 503},
		{name: "200 with text/html", wantStatus: 200},
		{name: "chunked token response", want: &enriched, wantStatus: 200},
		{name: "declared trailers", wantStatus: 200},
		{name: "undeclared trailers", wantStatus: 200},
		{name: "early hints", want: &enriched, wantStatus: 200},
		{name: "empty 200", wantStatus: 200},
		{name: "204", wantStatus: 204},
	}
	for _, c := range cases {
		sites := bases[:2]
		if c.timeout {
			sites = bases[2:]
		}
		mod, plain := fltDo(t, testhttp.Client, sites[0], c.name), fltDo(t, testhttp.Client, sites[1], c.name)
		if plain.status != c.wantStatus || (plain.err != nil) != c.wantErr {
			t.Errorf("%s: the plain proxy gave %d, err %v; the case is wrong", c.name, plain.status, plain.err)
		}
		if c.prefix {
			sent := fltToken[:60]
			if !strings.HasPrefix(sent, string(mod.body)) || !strings.HasPrefix(sent, string(plain.body)) {
				t.Errorf("%s: bodies %q and %q are not prefixes of what was sent", c.name, mod.body, plain.body)
			}
			mod.body, plain.body = nil, nil
		}
		if d := fltSame(mod, plain, c.want); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
		// the process keeps serving
		if ok := fltDo(t, testhttp.Client, sites[0], "ok"); ok.status != 200 || string(ok.body) != enriched || ok.err != nil {
			t.Fatalf("after %s: %d %q %v", c.name, ok.status, ok.body, ok.err)
		}
	}
}

// h2cUpstream serves h over cleartext HTTP/2 (and HTTP/1.1).
func h2cUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestFaultsHTTP2(t *testing.T) {
	var mu sync.Mutex
	var protos []string
	addr := h2cUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto)
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.Header.Get("X-Case") {
		case "token":
			serveJSON(200, fltToken)(w, r)
		case "not a token":
			serveJSON(200, fltNotToken)(w, r)
		case "401":
			serveJSON(401, `{"error":"invalid_client"}`)(w, r)
		case "reset mid-body":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(fltToken)))
			_, _ = io.WriteString(w, fltToken[:60])
			_ = http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler) // RST_STREAM
		}
	})
	// cleartext HTTP/2 both to the upstream and from the client
	global := hsGlobal + "\n\tservers {\n\t\tprotocols h1 h2 h2c\n\t}"
	bases := startSites(t, global, strings.ReplaceAll(fltModule, "{UPSTREAM}", "h2c://"+addr),
		strings.ReplaceAll(fltPlain, "{UPSTREAM}", "h2c://"+addr))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2Client := &http.Client{Transport: &http.Transport{Protocols: &p, DisableCompression: true}}
	enriched := fltEnriched
	for _, client := range []*http.Client{testhttp.Client, h2Client} {
		for _, c := range []struct {
			name string
			want *string
		}{{"token", &enriched}, {"not a token", nil}, {"401", nil}, {"reset mid-body", nil}} {
			mod, plain := fltDo(t, client, bases[0], c.name), fltDo(t, client, bases[1], c.name)
			if wantProto := map[bool]string{true: "HTTP/1.1", false: "HTTP/2.0"}[client == testhttp.Client]; mod.proto != wantProto || plain.proto != wantProto {
				t.Errorf("%s: client spoke %s and %s, want %s", c.name, mod.proto, plain.proto, wantProto)
			}
			if c.name == "reset mid-body" {
				if mod.err == nil || plain.err == nil || mod.status != plain.status ||
					!strings.HasPrefix(fltToken, string(mod.body)) || !strings.HasPrefix(fltToken, string(plain.body)) {
					t.Errorf("%s: module %d %q %v, plain %d %q %v", c.name, mod.status, mod.body, mod.err, plain.status, plain.body, plain.err)
				}
				continue
			}
			if d := fltSame(mod, plain, c.want); d != "" || mod.err != nil {
				t.Errorf("%s (client %s): %s %v", c.name, mod.proto, d, mod.err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range protos {
		if p != "HTTP/2.0" {
			t.Fatalf("upstream saw %s", p)
		}
	}
	if len(protos) != 16 {
		t.Fatalf("upstream saw %d requests", len(protos))
	}
}
