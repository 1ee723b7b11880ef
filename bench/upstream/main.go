// Command upstream is the stand-in identity provider of the load benchmark
// (bench/load.sh): a minimal HTTP/1.1 server on 127.0.0.1 answering every
// request with an Auth0-shaped client-credentials token response (~1 KB,
// an RS256-sized JWT whose signature is random bytes: token_enrich does not
// verify it). It reads the request body, as a real IdP does, and answers
// from precomputed bytes, so that it costs as little CPU as possible next to
// the proxy being measured.
//
//	go run ./bench/upstream -addr 127.0.0.1:9100
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address (loopback only)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		log.Fatalf("upstream: -addr must be a loopback address, got %q", *addr)
	}
	bodies := tokenBodies(4)
	var n atomic.Uint64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		b := bodies[n.Add(1)%uint64(len(bodies))]
		hdr := w.Header()
		hdr["Content-Type"] = []string{"application/json; charset=utf-8"}
		hdr["Cache-Control"] = []string{"no-store"}
		hdr["Pragma"] = []string{"no-cache"}
		hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
		_, _ = w.Write(b)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("upstream listening on %s\n", ln.Addr())
	log.Fatal((&http.Server{Handler: h}).Serve(ln))
}

// tokenBodies builds n Auth0-shaped responses for n clients of one tenant,
// the shape the benchmark's rules match (bench/Caddyfile.enrich).
func tokenBodies(n int) [][]byte {
	r := rand.New(rand.NewPCG(7, 11))
	enc := base64.RawURLEncoding.EncodeToString
	sig := make([]byte, 256)
	var out [][]byte
	for i := range n {
		for j := range sig {
			sig[j] = byte(r.UintN(256))
		}
		client := fmt.Sprintf("Xq3d8b2KcPz0WlN4mR7tYv1aE5sJ9u%02d", i)
		payload := `{"iss":"https://acme.eu.auth0.com/","sub":"` + client + `@clients",` +
			`"aud":"https://api.example.com/","iat":1764288000,"exp":1764374400,` +
			`"scope":"read:orders write:orders read:customers","gty":"client-credentials",` +
			`"azp":"` + client + `","org_id":"org_9f8KqL2mZx7TnB4c","https://example.com/plan":"gold"}`
		tok := enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"Nk3mQ8rT2vX9yB5cD1fG7hJ4"}`)) + "." + enc([]byte(payload)) + "." + enc(sig)
		out = append(out, []byte(`{"access_token":"`+tok+`","scope":"read:orders write:orders read:customers","expires_in":86400,"token_type":"Bearer"}`))
	}
	return out
}
