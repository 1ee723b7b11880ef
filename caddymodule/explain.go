package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"

	"github.com/caddy-token-enrich/caddy-token-enrich/enrichers"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "token-enrich",
		Usage: "explain --config <path> (--response <file>|- | --token <jwt>) [--adapter <name>] [--site <address>] [--path <path>] [--request <params>] [--header 'Name: value'] [--status <code>] [--response-header 'Name: value'] [--format text|json]",
		Short: "Explains what token_enrich adds to a token response",
		Long: `
Commands for the token_enrich handler.

explain runs a token response through the token_enrich handler of a config,
offline, with the code the handler runs for a proxied request, and prints:
the identity it derives (client, audiences, tenant, issuer, subject, scopes,
grant, preset) and where each value came from; every rule, matched or the
condition that failed and on what value; every field with its value or why
it was left out; and last, the body exactly as the proxy would send it.
`,
		CobraFunc: func(cmd *cobra.Command) {
			explain := &cobra.Command{
				Use:   "explain --config <path> (--response <file>|- | --token <jwt>) [flags]",
				Short: "Explains what token_enrich adds to a token response",
				Long: `
Loads the config (adapted like caddy run does: --adapter, else a Caddyfile
by its name), takes the token_enrich handler of the site --site (a listen
address such as :8080, a host, or both; default: the first token_enrich of
the config), and runs the token response through it, with the code that
serves a proxied request, as if the upstream had answered the token
request --request (form or JSON parameters) to --path (default: the
handler's first path; an introspection path explains an introspection
response) with the headers --header (repeatable), from 127.0.0.1 (for
remote_ip in a rule's match). Metadata sources are looked up as the
handler would: a table offline, an http source with a real request.

The token response is a file (--response token.json), stdin
(--response -), or a bare access token (--token eyJ...), which stands for
{"access_token":"<token>","token_type":"Bearer"}. Its status is --status
(default 200) and its headers --response-header (repeatable; default
Content-Type: application/json), so a compressed body, a 206 or a body
with trailers is explained as the proxy treats it. A response larger than
the handler's max_body is refused: the proxy passes it on unread.

A config that does not load or provision exits non-zero, with Caddy's
file:line message.
`,
				Args: cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					c.SilenceUsage = true
					return runExplain(c, c.InOrStdin(), c.OutOrStdout())
				},
			}
			f := explain.Flags()
			f.StringP("config", "c", "", "Configuration file (required)")
			f.StringP("adapter", "a", "", "Name of config adapter to apply")
			f.String("site", "", "Site whose token_enrich to use: a listen address (:8080), a host, or host:port")
			f.StringP("response", "r", "", "Token response JSON file, or - for stdin")
			f.String("token", "", "An access token alone, for a response holding only it")
			f.String("request", "", "Token request parameters (form, or a JSON object)")
			f.StringArrayP("header", "H", nil, "A token request header, 'Name: value' (repeatable)")
			f.String("path", "", "Token request path (default: the handler's first path)")
			f.Int("status", http.StatusOK, "The token response's status code")
			f.StringArray("response-header", nil, "A token response header, 'Name: value' (repeatable)")
			f.String("format", "text", "Output format: text or json")
			cmd.AddCommand(explain)
		},
	})
}

// explainArgs are the flags of explain.
type explainArgs struct {
	config, adapter, site, path, response, token, request, format string
	headers, responseHeaders                                      []string
	status                                                        int
}

func runExplain(c *cobra.Command, stdin io.Reader, stdout io.Writer) error {
	fl := c.Flags()
	var a explainArgs
	a.config, _ = fl.GetString("config")
	a.adapter, _ = fl.GetString("adapter")
	a.site, _ = fl.GetString("site")
	a.response, _ = fl.GetString("response")
	a.token, _ = fl.GetString("token")
	a.request, _ = fl.GetString("request")
	a.format, _ = fl.GetString("format")
	a.headers, _ = fl.GetStringArray("header")
	a.path, _ = fl.GetString("path")
	a.status, _ = fl.GetInt("status")
	a.responseHeaders, _ = fl.GetStringArray("response-header")
	x, err := explainWith(a, stdin)
	if err != nil {
		return err
	}
	if a.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x)
	}
	return x.writeText(stdout)
}

// explanation is what explain prints: the engine's Explanation, the
// handler's outcome, and the response the proxy sends.
type explanation struct {
	Site    string `json:"site,omitempty"`
	Path    string `json:"path"`
	Request string `json:"request,omitempty"`
	enrichers.Explanation
	// Result is the outcome's metric label; Reason describes it.
	Result string `json:"result"`
	Reason string `json:"reason"`
	// Status and Body are the response exactly as the proxy sends it.
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// explainWith loads the config, finds the handler and serves the token
// request through it, with a next handler that answers the response given.
func explainWith(a explainArgs, stdin io.Reader) (*explanation, error) {
	switch {
	case a.config == "":
		return nil, errors.New("--config is required")
	case (a.response == "") == (a.token == ""):
		return nil, errors.New("give exactly one of --response <file>|- and --token <jwt>")
	case a.format != "text" && a.format != "json":
		return nil, fmt.Errorf("--format must be text or json, got %q", a.format)
	}
	hdr, err := headerFlags("--response-header", a.responseHeaders)
	if err != nil {
		return nil, err
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json")
	}
	cfg, _, _, err := caddycmd.LoadConfig(a.config, a.adapter)
	if err != nil {
		return nil, err
	}
	raw, err := findHandler(cfg, a.site)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.config, err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	// The handler logs through the process's default logger, as caddy's
	// own lines of this command do: a caddy.Context without a loaded
	// config would give it a development logger, in another format.
	h := &Handler{noProbes: true, logger: caddy.Log().Named("http.handlers.token_enrich")}
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, fmt.Errorf("%s: token_enrich: %w", a.config, err)
	}
	if err := h.Provision(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", a.config, err)
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", a.config, err)
	}
	body, err := readResponse(a, stdin, h.MaxBody, hdr.Get("Content-Encoding") == "")
	if err != nil {
		return nil, err
	}
	r, err := h.tokenRequestFor(ctx, a)
	if err != nil {
		return nil, err
	}
	w := &captureWriter{header: http.Header{}}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
	ok, introspection := h.matches(r)
	if !ok {
		return nil, fmt.Errorf("--path %s: not one of the handler's paths or introspection_paths", r.URL.Path)
	}
	upstream := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		maps.Copy(w.Header(), hdr)
		w.WriteHeader(a.status)
		_, err := w.Write(body)
		return err
	})
	x := &exchange{h: h, introspection: introspection, explain: true}
	if err := h.serve(x, w, r, upstream); err != nil {
		return nil, err
	}
	ex := &explanation{Site: a.site, Path: r.URL.Path, Request: a.request, Status: w.status, Body: w.body.String()}
	if x.res.Explanation != nil {
		ex.Explanation = *x.res.Explanation
	}
	ex.Result, ex.Reason = h.describe(x)
	return ex, nil
}

// readResponse reads the token response explain is given, at most
// maxBody bytes: a larger one is refused, as the proxy passes it on unread.
// A plain body is trimmed, as copied from a log.
func readResponse(a explainArgs, stdin io.Reader, maxBody int64, plain bool) ([]byte, error) {
	if a.token != "" {
		tok, _ := json.Marshal(strings.TrimSpace(a.token))
		return []byte(`{"access_token":` + string(tok) + `,"token_type":"Bearer"}`), nil
	}
	in := stdin
	if a.response != "-" {
		f, err := os.Open(a.response)
		if err != nil {
			return nil, fmt.Errorf("reading the token response: %w", err)
		}
		defer f.Close()
		in = f
	}
	body, err := sources.ReadAtMost(in, maxBody, -1)
	if err != nil && !errors.Is(err, sources.ErrTooLarge) {
		return nil, fmt.Errorf("reading the token response: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("the token response is larger than max_body (%d bytes): the proxy passes it on unread and unchanged (result %s)",
			maxBody, outcomes[outTooLarge].label)
	}
	if plain {
		body = bytes.TrimSpace(body)
	}
	return body, nil
}

// headerFlags parses repeated 'Name: value' flags.
func headerFlags(flag string, values []string) (http.Header, error) {
	hdr := http.Header{}
	for _, hv := range values {
		name, value, ok := strings.Cut(hv, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s %q: want 'Name: value'", flag, hv)
		}
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return hdr, nil
}

// captureWriter records the response explain's request gets.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *captureWriter) Header() http.Header { return w.header }
func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *captureWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// tokenRequestFor builds the token request the handler acts on: a POST to
// its first path, with the parameters and headers given.
func (h *Handler) tokenRequestFor(ctx context.Context, a explainArgs) (*http.Request, error) {
	path := a.path
	if path == "" {
		path = strings.ReplaceAll(h.Paths[0], "*", "x")
	}
	host := "localhost"
	if s := strings.TrimPrefix(strings.TrimPrefix(a.site, "https://"), "http://"); s != "" {
		if hh, _, err := net.SplitHostPort(s); err == nil {
			s = hh
		}
		if s != "" {
			host = s
		}
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+path, strings.NewReader(a.request))
	if err != nil {
		return nil, fmt.Errorf("building the token request: %w", err)
	}
	r.RemoteAddr = "127.0.0.1:50000"
	if a.request != "" {
		if strings.HasPrefix(strings.TrimSpace(a.request), "{") {
			r.Header.Set("Content-Type", "application/json")
		} else {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	hdr, err := headerFlags("--header", a.headers)
	if err != nil {
		return nil, err
	}
	if host := hdr.Get("Host"); host != "" {
		r.Host = host
		hdr.Del("Host")
	}
	maps.Copy(r.Header, hdr)
	return r, nil
}

// findHandler returns the JSON of the token_enrich handler of site in an
// adapted config: in the servers listening on its port and the routes
// matching its host (any, when site is empty), the first one, in server
// name order and route order, nested subroutes included.
func findHandler(cfg []byte, site string) (json.RawMessage, error) {
	var c struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string          `json:"listen"`
					Routes []json.RawMessage `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	host, port := siteParts(site)
	names := make([]string, 0, len(c.Apps.HTTP.Servers))
	for n := range c.Apps.HTTP.Servers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		srv := c.Apps.HTTP.Servers[n]
		if port != "" && !slices.ContainsFunc(srv.Listen, func(l string) bool { return strings.HasSuffix(l, ":"+port) }) {
			continue
		}
		for _, route := range srv.Routes {
			if host != "" && !routeHasHost(route, host) {
				continue
			}
			if h := firstHandler(route); h != nil {
				return h, nil
			}
		}
	}
	if site != "" {
		return nil, fmt.Errorf("no token_enrich handler in site %s", site)
	}
	return nil, errors.New("no token_enrich handler in the config")
}

// siteParts splits a --site value into host and port, either may be "".
func siteParts(site string) (host, port string) {
	s := strings.TrimPrefix(strings.TrimPrefix(site, "https://"), "http://")
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return s, ""
}

// routeHasHost reports whether a route matches host: its host matcher
// lists it, or it has none.
func routeHasHost(route json.RawMessage, host string) bool {
	var r struct {
		Match []struct {
			Host []string `json:"host"`
		} `json:"match"`
	}
	if json.Unmarshal(route, &r) != nil {
		return false
	}
	hasHost := false
	for _, m := range r.Match {
		if len(m.Host) > 0 {
			hasHost = true
			if slices.Contains(m.Host, host) {
				return true
			}
		}
	}
	return !hasHost
}

// firstHandler finds the first token_enrich handler in a JSON value.
func firstHandler(v json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil && obj != nil {
		if string(obj["handler"]) == `"token_enrich"` {
			return v
		}
		// routes, then handle: the order Caddy runs them
		for _, k := range []string{"routes", "handle"} {
			if h := firstHandler(obj[k]); h != nil {
				return h
			}
		}
		return nil
	}
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) == nil {
		for _, e := range arr {
			if h := firstHandler(e); h != nil {
				return h
			}
		}
	}
	return nil
}

// writeText prints the explanation for a terminal.
func (x *explanation) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "token request\tPOST %s", x.Path)
	if x.Request != "" {
		fmt.Fprintf(tw, "  %s", x.Request)
	}
	fmt.Fprintln(tw)
	if x.Explanation.Identity != nil {
		fmt.Fprintln(tw, "\nidentity")
		for _, v := range x.Explanation.Identity {
			val := v.Value
			if val == "" {
				val = "-"
			}
			from := ""
			if v.From != "" {
				from = "from " + v.From
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, val, from)
		}
		fmt.Fprintln(tw, "\nrules")
		if len(x.Rules) == 0 {
			fmt.Fprintln(tw, "  (none)")
		}
		for _, r := range x.Rules {
			if r.Matched {
				fmt.Fprintf(tw, "  %s\tmatched\n", r.Name)
			} else {
				fmt.Fprintf(tw, "  %s\tnot matched: %s\n", r.Name, r.Why)
			}
		}
		fmt.Fprintln(tw, "\nfields")
		if len(x.Fields) == 0 {
			fmt.Fprintln(tw, "  (none)")
		}
		for _, f := range x.Fields {
			where := f.From
			if f.Rule != "" {
				where = "rule " + f.Rule + ", " + where
			}
			if f.Added {
				why := ""
				if f.Why != "" {
					why = ": " + f.Why
				}
				fmt.Fprintf(tw, "  %s\t= %s\t(%s)%s\n", f.Name, f.Value, where, why)
			} else {
				fmt.Fprintf(tw, "  %s\tleft out: %s\t(%s)\n", f.Name, f.Why, where)
			}
		}
	}
	fmt.Fprintf(tw, "\nresult\t%s: %s\n", x.Result, x.Reason)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nbody (status %d)\n%s\n", x.Status, x.Body)
	return err
}
