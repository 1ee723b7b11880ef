// Package testupstream is a real HTTP server standing in for an identity
// provider behind Caddy, recording every request it receives, and the
// Auth0-shaped token responses it usually answers with. It serves the tests
// of this module and of the e2e module alike.
package testupstream

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testjwt"
)

// Request is what the upstream received for one request.
type Request struct {
	Method, Path  string
	Header        http.Header
	Body          []byte
	ContentLength int64
	Chunked       bool
}

// Server is the recording upstream.
type Server struct {
	Addr string // host:port on loopback
	mu   sync.Mutex
	reqs []Request
}

// Start serves h on a fresh loopback port, recording each request before h
// sees it (h still reads the whole body), and stops the server at the end of
// the test.
func Start(t testing.TB, h http.HandlerFunc) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body,
			ContentLength: r.ContentLength, Chunked: len(r.TransferEncoding) > 0})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Last is the most recent request; the test fails if there was none.
func (s *Server) Last(t testing.TB) Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return s.reqs[len(s.reqs)-1]
}

// Count is how many requests the upstream received.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// ServeJSON answers with a fixed JSON body and the no-store headers of
// RFC 6749 §5.1.
func ServeJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// Auth0Body is an Auth0-shaped client-credentials response for client in
// organisation org.
func Auth0Body(client, org string) string {
	// a map of strings always marshals
	p, _ := json.Marshal(map[string]any{"iss": "https://acme.eu.auth0.com/", "sub": client + "@clients", "aud": "https://api.example.com/",
		"azp": client, "org_id": org, "gty": "client-credentials", "scope": "read:orders"})
	tok := testjwt.Unsigned([]byte(testjwt.Header), p)
	return `{"access_token":"` + tok + `","scope":"read:orders","expires_in":86400,"token_type":"Bearer"}`
}
