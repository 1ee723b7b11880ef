// Package testhttp sends the HTTP requests of this module's tests and of the
// e2e module's, with a client that changes nothing on the way: what a test
// asserts is what the server sent.
package testhttp

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client neither adds nor decodes Accept-Encoding and follows no redirect,
// so assertions see the status, headers and bytes on the wire. Its timeout
// fails a request to a server that hangs, rather than the whole test binary;
// it leaves room for a body of tens of MiB streamed under the race
// detector.
var Client = &http.Client{
	Transport: &http.Transport{DisableCompression: true},
	Timeout:   2 * time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Do sends req with Client and returns the response and its whole body,
// which it closes. The test fails if the request or the read fails.
func Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return DoWith(t, Client, req)
}

// DoWith is Do with another client, for a test that needs other transport
// settings.
func DoWith(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Get sends a GET to url and returns what Do returns.
func Get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// Post sends body to url with Content-Type ctype (none when empty) and the
// header name, value pairs of hdr, and returns what Do returns.
func Post(t testing.TB, url, ctype, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return Do(t, req)
}
