//go:build fleet

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
)

// The fleet: one Redis, three Caddy replicas (the ./caddy binary built by
// xcaddy) loading the same e2e/fleet.Caddyfile, one identity provider
// (e2e/internal/testidp, issuing RS256-signed JWTs per tenant client). A
// load of concurrent client_credentials requests runs across the three
// while the test changes tenants in Redis, stops and restarts Redis and
// pushes a new config to every replica through its admin API.
//
// What must hold for every response, all along: status 200, an access
// token, and the metadata of the requesting client's own tenant, never
// another's. And: a change in Redis is served by every replica within
// propagationBound; once a replica has served a new value, no request
// started later gets the old one from it.
const (
	replicaCount     = 3
	tenantCount      = 12
	workers          = 12
	propagationBound = time.Second
	// requestBound is how long a token request may take before it counts
	// as held up: the source timeout (200ms) plus the provider's signing
	// and the machine's load.
	requestBound = 3 * time.Second
)

// tenant is one client of the provider and its metadata in Redis.
type tenant struct {
	id, client, secret string
}

func (tn tenant) key() string    { return "tenant:" + tn.id }
func (tn tenant) apiURI() string { return "https://" + tn.id + ".api.example.com" }

// value is the tenant's metadata at generation gen, as stored in Redis.
func (tn tenant) value(gen int) string {
	return fmt.Sprintf(`{"tenant":%q,"api-uri":%q,"gen":%d}`, tn.id, tn.apiURI(), gen)
}

// replica is one running Caddy of the fleet.
type replica struct {
	name      string
	base      string // http://127.0.0.1:PORT, the token endpoint's site
	admin     string // http://127.0.0.1:PORT, the admin API
	cmd       *exec.Cmd
	stateDir  string
	exited    chan struct{}
	pushed    atomic.Pointer[time.Time] // when a config push to it returned
	requests  atomic.Int64
	failures  atomic.Int64
	maxMillis atomic.Int64
}

func TestFleet(t *testing.T) {
	bin := os.Getenv("E2E_CADDY_BIN")
	if bin == "" {
		t.Fatal("E2E_CADDY_BIN is not set: run e2e/fleet.sh, which builds ./caddy and runs this test")
	}
	configPath, err := filepath.Abs("fleet.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}

	// --- the parts -----------------------------------------------------------
	tenants := make([]tenant, tenantCount)
	clients := make([]testidp.Client, tenantCount)
	for i := range tenants {
		id := fmt.Sprintf("t%02d", i)
		tenants[i] = tenant{id: id, client: "svc-" + id, secret: "secret-" + id}
		clients[i] = testidp.Client{ID: tenants[i].client, Secret: tenants[i].secret,
			Claims: map[string]any{testidp.TenantClaim: id}}
	}
	idp := testidp.Start(t, testidp.WithClients(clients...))

	rs := testredis.Start(t, testredis.Options{Notify: true, Persist: true})
	rdb := rs.Client(t)
	ctx := t.Context()
	for _, tn := range tenants {
		if err := rdb.Set(ctx, tn.key(), tn.value(1), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	state := t.TempDir()
	replicas := make([]*replica, replicaCount)
	for i := range replicas {
		replicas[i] = startReplica(t, bin, configPath, filepath.Join(state, fmt.Sprintf("replica-%d", i)),
			fmt.Sprintf("replica-%d", i), rs.Port(), strings.TrimPrefix(idp.URL, "http://"))
	}

	// --- the load --------------------------------------------------------------
	f := &fleet{t: t, replicas: replicas, tenants: tenants, seen: map[seenKey]seenValue{}}
	f.client = &http.Client{
		Timeout:   requestBound,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: 2 * workers},
	}
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(loadCtx, w)
		}()
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
			wg.Wait()
		}
	}
	defer stop()
	start := time.Now()
	phase := func(name string) { f.phase.Store(&name); t.Logf("[%5.1fs] %s", time.Since(start).Seconds(), name) }

	// 1–2. warm up: every replica has looked every tenant up.
	phase("warm-up")
	f.waitAllServe(t, func(tn tenant) int { return 1 }, 10*time.Second)
	time.Sleep(time.Second)

	// 3. a change in Redis reaches every replica within the bound.
	phase("change in Redis")
	changed := tenants[3]
	if err := rdb.Set(ctx, changed.key(), changed.value(2), 0).Err(); err != nil {
		t.Fatal(err)
	}
	propagated := f.propagation(t, changed, 2)
	second := tenants[5]
	if err := rdb.Set(ctx, second.key(), second.value(2), 0).Err(); err != nil {
		t.Fatal(err)
	}
	propagated = append(propagated, f.propagation(t, second, 2)...)
	time.Sleep(500 * time.Millisecond)

	// 4. Redis down: every replica keeps answering with the values it has,
	// past cache_ttl (2s), so they are served stale.
	phase("Redis stopped")
	staleBefore := f.metric(t, `caddy_http_token_enrich_source_lookups_total{result="stale",source="tenants"}`)
	downFrom := f.total()
	rs.Stop(t)
	time.Sleep(4 * time.Second)
	downRequests := f.total() - downFrom
	staleDuring := f.metric(t, `caddy_http_token_enrich_source_lookups_total{result="stale",source="tenants"}`) - staleBefore
	if staleDuring == 0 {
		t.Errorf("Redis down for 4s (cache_ttl 2s): no lookup was served stale")
	}

	// 5. Redis back (with its data): every replica is fresh again. A change
	// made after the restart reaches all three within the bound.
	phase("Redis restarted")
	rs.Restart(t)
	rdb = rs.Client(t)
	restarted := tenants[7]
	// The replicas' subscriptions come back on their own; until then a
	// change reaches them through the revalidation that follows the
	// reconnect. Either way, within the bound from the write.
	if err := rdb.Set(ctx, restarted.key(), restarted.value(3), 0).Err(); err != nil {
		t.Fatal(err)
	}
	afterRestart := f.propagation(t, restarted, 3)
	time.Sleep(3 * time.Second) // past cache_ttl: every entry refreshed from Redis
	staleSettled := f.metric(t, `caddy_http_token_enrich_source_lookups_total{result="stale",source="tenants"}`)
	time.Sleep(time.Second)
	if n := f.metric(t, `caddy_http_token_enrich_source_lookups_total{result="stale",source="tenants"}`) - staleSettled; n != 0 {
		t.Errorf("Redis back for 4s: %v lookups still served stale in the last second", n)
	}

	// 6. a new config pushed to every replica through POST /load, under load.
	phase("config push")
	pushFrom := f.total()
	next := bytes.Replace(config, []byte("set config-gen 1"), []byte("set config-gen 2"), 1)
	if bytes.Equal(next, config) {
		t.Fatal("fleet.Caddyfile lacks `set config-gen 1`")
	}
	var pushes sync.WaitGroup
	for _, r := range replicas {
		pushes.Add(1)
		go func() {
			defer pushes.Done()
			r.load(t, next)
		}()
	}
	pushes.Wait()
	f.configGen.Store(2)
	f.waitAllServe(t, func(tn tenant) int { return f.wantGen(tn) }, 5*time.Second)
	time.Sleep(2 * time.Second)
	pushRequests := f.total() - pushFrom

	// --- the result --------------------------------------------------------------
	phase("stop")
	stop()
	f.check(t)
	var perReplica []string
	for _, r := range replicas {
		perReplica = append(perReplica, fmt.Sprintf("%s %d (max %d ms)", r.name, r.requests.Load(), r.maxMillis.Load()))
	}
	elapsed := time.Since(start)
	t.Logf("fleet: %d token requests in %.1fs (%.0f/s) across %d replicas: %s",
		f.total(), elapsed.Seconds(), float64(f.total())/elapsed.Seconds(), replicaCount, strings.Join(perReplica, ", "))
	t.Logf("fleet: failed %d, without the tenant's metadata %d, another tenant's values %d, old value after the new %d",
		f.failed.Load(), f.missing.Load(), f.crossTenant.Load(), f.flapped.Load())
	t.Logf("fleet: change in Redis served by each replica after %s (bound %s)", durations(propagated), propagationBound)
	t.Logf("fleet: Redis down 4s: %d requests answered, %v lookups served stale", downRequests, staleDuring)
	t.Logf("fleet: Redis restarted: change served after %s", durations(afterRestart))
	t.Logf("fleet: config pushed to %d replicas under load: %d requests in the 2s after, none failed", replicaCount, pushRequests)
}

// fleet is the load and what it saw.
type fleet struct {
	t         *testing.T
	client    *http.Client
	replicas  []*replica
	tenants   []tenant
	phase     atomic.Pointer[string]
	configGen atomic.Int64 // the config-gen every replica serves once pushed; 0 before

	failed, missing, crossTenant, flapped atomic.Int64

	mu       sync.Mutex
	seen     map[seenKey]seenValue // the newest generation each replica has served, per tenant
	gens     map[string]int        // the generation in Redis, per tenant id
	problems []string              // the first failures, for the report
}

type seenKey struct{ replica, tenant string }

// seenValue is the newest generation a replica served and when the request
// that got it had been answered.
type seenValue struct {
	gen int
	at  time.Time
}

func (f *fleet) total() int64 {
	var n int64
	for _, r := range f.replicas {
		n += r.requests.Load()
	}
	return n
}

// work sends token requests until ctx ends, round robin over the replicas,
// for tenants at random.
func (f *fleet) work(ctx context.Context, w int) {
	for i := w; ctx.Err() == nil; i++ {
		r := f.replicas[i%len(f.replicas)]
		tn := f.tenants[rand.IntN(len(f.tenants))]
		f.one(r, tn)
	}
}

// one sends one token request and checks its answer; it returns the
// generation of the tenant's metadata served, or 0.
func (f *fleet) one(r *replica, tn tenant) int {
	started := time.Now()
	req, err := http.NewRequest(http.MethodPost, r.base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.client, tn.secret)
	resp, err := f.client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(started)
	r.requests.Add(1)
	for ms := took.Milliseconds(); ; {
		cur := r.maxMillis.Load()
		if ms <= cur || r.maxMillis.CompareAndSwap(cur, ms) {
			break
		}
	}
	if err != nil {
		f.problem(r, &f.failed, "%s: %v", tn.id, err)
		return 0
	}
	if resp.StatusCode != http.StatusOK {
		f.problem(r, &f.failed, "%s: status %d: %.200s", tn.id, resp.StatusCode, body)
		return 0
	}
	var got struct {
		AccessToken string `json:"access_token"`
		TenantID    string `json:"tenant_id"`
		Tenant      string `json:"tenant"`
		APIURI      string `json:"api-uri"`
		Gen         int    `json:"gen"`
		ConfigGen   string `json:"config-gen"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.AccessToken == "" {
		f.problem(r, &f.failed, "%s: not a token response (%v): %.200s", tn.id, err, body)
		return 0
	}
	if got.TenantID != tn.id || (got.Tenant != "" && got.Tenant != tn.id) ||
		(got.APIURI != "" && got.APIURI != tn.apiURI()) {
		f.problem(r, &f.crossTenant, "%s got tenant_id %q, tenant %q, api-uri %q", tn.id, got.TenantID, got.Tenant, got.APIURI)
		return 0
	}
	if got.Tenant == "" || got.Gen == 0 {
		f.problem(r, &f.missing, "%s: no metadata from Redis: %.300s", tn.id, body)
		return 0
	}
	if want := f.configGen.Load(); want != 0 && got.ConfigGen != strconv.FormatInt(want, 10) && started.After(f.pushedAt(r)) {
		f.problem(r, &f.failed, "%s: config-gen %q after the push", tn.id, got.ConfigGen)
	}

	// A request that started after this replica had answered with a newer
	// generation must not get an older one.
	k := seenKey{r.name, tn.id}
	f.mu.Lock()
	prev := f.seen[k]
	if got.Gen < prev.gen && started.After(prev.at) {
		f.mu.Unlock()
		f.problem(r, &f.flapped, "%s: gen %d after gen %d was served", tn.id, got.Gen, prev.gen)
		return got.Gen
	}
	if got.Gen > prev.gen {
		f.seen[k] = seenValue{got.Gen, time.Now()}
	}
	f.mu.Unlock()
	return got.Gen
}

func (f *fleet) problem(r *replica, counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	r.failures.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) < 20 {
		phase := ""
		if p := f.phase.Load(); p != nil {
			phase = *p
		}
		f.problems = append(f.problems, fmt.Sprintf("%s during %s: %s", r.name, phase, fmt.Sprintf(format, args...)))
	}
}

// pushedAt is when the config push to r returned; far in the future before.
func (f *fleet) pushedAt(r *replica) time.Time {
	if p := r.pushed.Load(); p != nil {
		return *p
	}
	return time.Now().Add(time.Hour)
}

// wantGen is the generation of tn's metadata in Redis.
func (f *fleet) wantGen(tn tenant) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.gens[tn.id]; ok {
		return g
	}
	return 1
}

// propagation sends requests for tn to every replica until each serves
// generation gen, and returns how long after the call each first did. It
// fails the test when one has not within propagationBound.
func (f *fleet) propagation(t *testing.T, tn tenant, gen int) []time.Duration {
	t.Helper()
	written := time.Now()
	f.mu.Lock()
	if f.gens == nil {
		f.gens = map[string]int{}
	}
	f.gens[tn.id] = gen
	f.mu.Unlock()
	took := make([]time.Duration, len(f.replicas))
	var wg sync.WaitGroup
	for i, r := range f.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if f.one(r, tn) == gen {
					took[i] = time.Since(written)
					return
				}
				if time.Since(written) > 5*propagationBound {
					took[i] = -1
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for i, d := range took {
		if d < 0 || d > propagationBound {
			t.Errorf("%s served %s's change after %v (bound %v; -1s: not in 5s)", f.replicas[i].name, tn.id, d, propagationBound)
		}
	}
	return took
}

// waitAllServe waits until every replica serves every tenant's generation
// as want says (and the config-gen pushed, if any).
func (f *fleet) waitAllServe(t *testing.T, want func(tenant) int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, r := range f.replicas {
		for _, tn := range f.tenants {
			for f.one(r, tn) != want(tn) {
				if time.Now().After(deadline) {
					t.Fatalf("%s does not serve %s's generation %d after %v", r.name, tn.id, want(tn), within)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// metric sums a counter over the replicas, read from their admin /metrics.
func (f *fleet) metric(t *testing.T, series string) float64 {
	t.Helper()
	var sum float64
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`)
	for _, r := range f.replicas {
		resp, err := http.Get(r.admin + "/metrics")
		if err != nil {
			t.Fatalf("%s /metrics: %v", r.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.FindSubmatch(b); m != nil {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			sum += v
		}
	}
	return sum
}

// check fails the test for every problem the load saw.
func (f *fleet) check(t *testing.T) {
	t.Helper()
	for _, p := range f.problems {
		t.Errorf("%s", p)
	}
	if f.total() == 0 {
		t.Error("no request was sent")
	}
	for _, r := range f.replicas {
		if r.requests.Load() == 0 {
			t.Errorf("%s got no request", r.name)
		}
		select {
		case <-r.exited:
			t.Errorf("%s exited during the test; its output is in %s", r.name, r.stateDir)
		default:
		}
	}
}

// startReplica runs bin with the fleet config and waits for its admin API.
func startReplica(t *testing.T, bin, configPath, stateDir, name string, redisPort int, idp string) *replica {
	t.Helper()
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	httpPort, adminPort := testcaddy.FreePort(t), testcaddy.FreePort(t)
	r := &replica{
		name:     name,
		base:     "http://127.0.0.1:" + strconv.Itoa(httpPort),
		admin:    "http://127.0.0.1:" + strconv.Itoa(adminPort),
		stateDir: stateDir,
		exited:   make(chan struct{}),
	}
	out, err := os.Create(filepath.Join(stateDir, "caddy.out"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "run", "--adapter", "caddyfile", "--config", configPath)
	r.cmd.Env = append(os.Environ(),
		"FLEET_ADMIN_PORT="+strconv.Itoa(adminPort),
		"FLEET_HTTP_PORT="+strconv.Itoa(httpPort),
		"FLEET_STATE_DIR="+stateDir,
		"FLEET_REDIS_PORT="+strconv.Itoa(redisPort),
		"FLEET_IDP="+idp,
		"XDG_CONFIG_HOME="+filepath.Join(stateDir, "xdg-config"),
		"XDG_DATA_HOME="+filepath.Join(stateDir, "xdg-data"),
	)
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		_ = r.cmd.Wait()
		out.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(stateDir, "caddy.log"))
			t.Logf("%s log (last 4 KiB):\n%s", name, tail(logs, 4096))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(r.admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-r.exited:
			b, _ := os.ReadFile(filepath.Join(stateDir, "caddy.out"))
			t.Fatalf("%s exited at start:\n%s", name, tail(b, 4096))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: admin API not up after 30s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load pushes a Caddyfile to the replica through its admin API, as config
// management would: POST /load.
func (r *replica) load(t *testing.T, caddyfile []byte) {
	req, err := http.NewRequest(http.MethodPost, r.admin+"/load", bytes.NewReader(caddyfile))
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: POST /load: %v", r.name, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: POST /load: status %d: %s", r.name, resp.StatusCode, b)
		return
	}
	now := time.Now()
	r.pushed.Store(&now)
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(s, ", ")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
