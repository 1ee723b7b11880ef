package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testhttp"
)

// counter reads caddy_http_token_enrich_responses_total{result=...} from the
// admin API's /metrics.
func counter(t *testing.T, result string) float64 {
	t.Helper()
	return metric(t, `caddy_http_token_enrich_responses_total{result="`+result+`"} `)
}

func TestMetricsCountResults(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("kind") {
		case "error":
			serveJSON(401, `{"error":"invalid_client"}`)(w, r)
		case "nottoken":
			serveJSON(200, `{"hello":"world"}`)(w, r)
		case "garbage":
			serveJSON(200, `{"access_token":`)(w, r)
		default:
			serveJSON(200, auth0Body("svc-eu", "org_acme"))(w, r)
		}
	})
	base := startCaddy(t, testcaddy.EnrichBlock, up)
	before := map[string]float64{}
	results := []string{"enriched", "streamed", "not_token", "error_passed"}
	for _, r := range results {
		before[r] = counter(t, r)
	}
	durationsBefore := metric(t, "caddy_http_token_enrich_duration_seconds_count ")
	apiURIBefore := metric(t, `caddy_http_token_enrich_fields_added_total{field="api-uri"} `)
	for _, kind := range []string{"ok", "ok", "error", "nottoken", "garbage"} {
		testhttp.Post(t, base+"/oauth/token?kind="+kind, "application/x-www-form-urlencoded", "grant_type=client_credentials")
	}
	testhttp.Post(t, base+"/other", "application/x-www-form-urlencoded", "grant_type=client_credentials") // not counted
	want := map[string]float64{"enriched": 2, "streamed": 1, "not_token": 1, "error_passed": 1}
	for _, r := range results {
		if got := counter(t, r) - before[r]; got != want[r] {
			t.Errorf("%s: counted %v, want %v", r, got, want[r])
		}
	}
	// the time spent is observed once per buffered response: the two
	// enriched, the one not a token, the one that failed to parse
	if got := metric(t, "caddy_http_token_enrich_duration_seconds_count ") - durationsBefore; got != 4 {
		t.Errorf("duration observed %v times, want 4", got)
	}
	// each of the two enriched responses got api-uri once
	if got := metric(t, `caddy_http_token_enrich_fields_added_total{field="api-uri"} `) - apiURIBefore; got != 2 {
		t.Errorf("api-uri counted %v times, want 2", got)
	}
}

// scrape returns the lines of the admin API's /metrics.
func scrape(t *testing.T) []string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://localhost:%d/metrics", testcaddy.AdminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// metric reads the value of the /metrics line that starts with prefix.
func metric(t *testing.T, prefix string) float64 {
	t.Helper()
	for _, line := range scrape(t) {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile("../examples/grafana/token-enrich-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/t.json", []byte(`{"org_acme":{"region":"eu"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t, serveJSON(200, auth0Body("svc-eu", "org_acme")))
	base := startCaddy(t, `
	token_enrich {
		source tenants table `+dir+`/t.json {
			key {http.token.tenant}
		}
		set api-uri https://api.example.com
	}
	reverse_proxy {UPSTREAM}
`, up)
	testhttp.Post(t, base+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials")
	exposed := metricNames(t)
	names := regexp.MustCompile(`caddy_http_token_enrich_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			n++
			if !strings.Contains(string(readme), "`"+target.Expr+"`") {
				t.Errorf("docs/operating.md does not give the dashboard's query %s", target.Expr)
			}
			for _, m := range names.FindAllString(target.Expr, -1) {
				if !exposed[m] {
					t.Errorf("query %s names %s, which /metrics does not expose", target.Expr, m)
				}
			}
		}
	}
	if n < 4 {
		t.Fatalf("%d queries in the dashboard", n)
	}
}

// metricNames lists the sample names /metrics exposes.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range scrape(t) {
		if line != "" && line[0] != '#' {
			name, _, _ := strings.Cut(line, " ")
			name, _, _ = strings.Cut(name, "{")
			out[name] = true
		}
	}
	return out
}
