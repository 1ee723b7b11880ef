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

	"github.com/redis/go-redis/v9"

	"github.com/caddy-token-enrich/caddy-token-enrich/e2e/internal/testidp"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testcaddy"
	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
)

// The fleet: one Redis, three Caddy replicas (the ./caddy binary built by
// xcaddy) loading the same e2e/fleet.Caddyfile, one identity provider
// (e2e/internal/testidp, issuing RS256-signed JWTs per tenant client), and a
// load balancer (another ./caddy, e2e/fleet-lb.Caddyfile) in front of the
// replicas. Concurrent client_credentials requests run through the load
// balancer while the test changes tenants in Redis, stops and restarts
// Redis and pushes a new config to every replica through its admin API.
//
// What must hold for every response, all along: status 200 within
// requestBound, an access token, and the metadata of the requesting
// client's own tenant, never another's. And: a change in Redis is served by
// every replica within propagationBound; once a replica has served a new
// value, no request started later gets the old one from it.
const (
	replicaCount     = 3
	tenantCount      = 12
	workers          = 12
	propagationBound = time.Second
	// recoveryBound bounds the same after Redis comes back from an outage.
	// go-redis, after failing to dial as many times as its pool has
	// connections, dials again once a second only; a fetch that fails
	// meanwhile holds the key's next fetch back by cache.RetryInterval
	// (a second). So a replica may need up to two seconds more.
	recoveryBound = propagationBound + 2*time.Second
	// requestBound is how long a token request may take before it counts
	// as held up: the source timeout (200ms) plus the provider's signing
	// and the load of a machine running all the parts.
	requestBound = 3 * time.Second
	// outage is how long Redis stays down: longer than cache_ttl (2s), so
	// cached values are served stale.
	outage = 4 * time.Second
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

// pushed is a config push that returned: the config-gen it set, and when.
type pushed struct {
	gen int
	at  time.Time
}

// proc is one running ./caddy: a replica or the load balancer.
type proc struct {
	name     string
	base     string // http://127.0.0.1:PORT, its site
	admin    string // http://127.0.0.1:PORT, its admin API
	stateDir string
	cmd      *exec.Cmd
	exited   chan struct{}
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

	rs := testredis.Start(t, testredis.Options{Notify: true})
	rdb := rs.Client
	ctx := t.Context()
	for _, tn := range tenants {
		if err := rdb.Set(ctx, tn.key(), tn.value(1), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	state := t.TempDir()
	if os.Getenv("E2E_KEEP") == "1" {
		if state, err = os.MkdirTemp("", "fleet-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("logs kept in %s", state)
	}
	replicas := make([]*proc, replicaCount)
	ports := make([]int, replicaCount)
	startReplica := func(i int) *proc {
		name := fmt.Sprintf("replica-%d", i)
		return startCaddy(t, bin, configPath, name, filepath.Join(state, name), ports[i],
			"FLEET_HTTP_PORT="+strconv.Itoa(ports[i]),
			"FLEET_NAME="+name,
			"FLEET_REDIS="+rs.Addr,
			"FLEET_IDP="+strings.TrimPrefix(idp.URL, "http://"))
	}
	var upstreams []string
	for i := range replicas {
		ports[i] = testcaddy.FreePort(t)
		replicas[i] = startReplica(i)
		upstreams = append(upstreams, strings.TrimPrefix(replicas[i].base, "http://"))
	}
	lbPort := testcaddy.FreePort(t)
	lb := startCaddy(t, bin, filepath.Join(filepath.Dir(configPath), "fleet-lb.Caddyfile"), "load-balancer",
		filepath.Join(state, "load-balancer"), lbPort,
		"FLEET_LB_PORT="+strconv.Itoa(lbPort),
		"FLEET_UPSTREAMS="+strings.Join(upstreams, " "))

	// --- the load --------------------------------------------------------------
	f := &fleet{lb: lb, replicas: replicas, tenants: tenants, seen: map[seenKey]seenValue{},
		served: map[string]*atomic.Int64{}, pushes: map[string]*atomic.Pointer[pushed]{}, gens: map[string]int{}}
	for _, r := range replicas {
		f.served[r.name] = new(atomic.Int64)
		f.pushes[r.name] = new(atomic.Pointer[pushed])
	}
	f.client = &http.Client{
		Timeout:   requestBound,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
	}
	// The test's own probes of one replica each use a new connection, so
	// that they never meet the closing of an old config's idle connections
	// that the load balancer is there to absorb.
	f.probe = &http.Client{Timeout: requestBound, Transport: &http.Transport{DisableKeepAlives: true}}
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(loadCtx)
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
	phase := func(name string) {
		f.phase.Store(&name)
		t.Logf("[%5.1fs, unix %.3f] %s", time.Since(start).Seconds(), float64(time.Now().UnixMilli())/1e3, name)
	}

	// 1–2. warm-up: every replica serves every tenant.
	phase("warm-up")
	f.waitAllServe(t, 10*time.Second)
	time.Sleep(time.Second)

	// 3. a change in Redis reaches every replica within the bound: a SET
	// from another client, as any tool would make it.
	phase("change in Redis")
	var propagated []time.Duration
	for _, tn := range []tenant{tenants[3], tenants[5]} {
		propagated = append(propagated, f.change(t, rdb, tn, 2, propagationBound)...)
	}
	time.Sleep(500 * time.Millisecond)

	// 4. Redis down: every replica keeps answering with the values it has,
	// past cache_ttl, so they are served stale; a config pushed meanwhile
	// keeps the source's cache, so the values stay.
	phase("Redis stopped")
	staleBefore := f.metric(t, staleSeries)
	downFrom := f.total()
	// The last snapshot before the crash: Redis comes back with it.
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rs.Stop()
	time.Sleep(outage / 2)
	phase("config push, Redis down")
	f.push(t, config, 2)
	time.Sleep(outage / 2)
	downRequests := f.total() - downFrom
	staleDuring := f.metric(t, staleSeries) - staleBefore
	if staleDuring == 0 {
		t.Errorf("Redis down for %v (cache_ttl 2s): no lookup was served stale", outage)
	}

	// 5. Redis back, with its data: every replica is fresh again. A change
	// made at once reaches all three within the bound, through their
	// subscriptions once they are back, or the revalidation that follows
	// the reconnect.
	phase("Redis restarted")
	rs.Restart()
	afterRestart := f.change(t, rdb, tenants[7], 3, recoveryBound)
	time.Sleep(3 * time.Second) // past cache_ttl: every entry fetched again
	staleSettled := f.metric(t, staleSeries)
	time.Sleep(time.Second)
	if n := f.metric(t, staleSeries) - staleSettled; n != 0 {
		t.Errorf("Redis back for 4s: %v lookups still served stale in the last second", n)
	}

	// 6. one replica down: the load balancer sends its requests to the
	// others. Back, it loads its config file and fills its cache from Redis.
	phase("one replica down")
	replicaDownFrom := f.total()
	victim := replicas[replicaCount-1]
	victim.kill()
	time.Sleep(2 * time.Second)
	replicaDownRequests := f.total() - replicaDownFrom
	phase("replica back")
	f.pushes[victim.name].Store(nil) // it runs its config file again
	replicas[replicaCount-1] = startReplica(replicaCount - 1)
	f.waitAllServe(t, 10*time.Second)

	// 7. a new config pushed to every replica through POST /load, under load.
	phase("config push")
	pushFrom := f.total()
	f.push(t, config, 3)
	time.Sleep(2 * time.Second)
	pushRequests := f.total() - pushFrom

	// --- the result --------------------------------------------------------------
	phase("stop")
	stop()
	elapsed := time.Since(start)
	for _, p := range f.problems {
		t.Errorf("%s", p)
	}
	var perReplica []string
	for _, r := range replicas {
		n := f.served[r.name].Load()
		if n == 0 {
			t.Errorf("%s answered no request of the load", r.name)
		}
		perReplica = append(perReplica, fmt.Sprintf("%s %d", r.name, n))
	}
	for _, p := range append([]*proc{lb}, replicas...) {
		select {
		case <-p.exited:
			t.Errorf("%s exited during the test; its output is in %s", p.name, p.stateDir)
		default:
		}
	}
	t.Logf("fleet: %d token requests through the load balancer in %.1fs (%.0f/s), answered by %s; slowest %d ms",
		f.total(), elapsed.Seconds(), float64(f.total())/elapsed.Seconds(), strings.Join(perReplica, ", "), f.slowest.Load())
	t.Logf("fleet: failed %d, without the tenant's metadata %d, another tenant's values %d, an old value after the new %d",
		f.failed.Load(), f.missing.Load(), f.crossTenant.Load(), f.flapped.Load())
	t.Logf("fleet: a SET in Redis served by each replica after %s (bound %s)", durations(propagated), propagationBound)
	t.Logf("fleet: Redis down %s, a config pushed meanwhile: %d requests answered; %v lookups served stale", outage, downRequests, staleDuring)
	t.Logf("fleet: Redis restarted: a SET at once served by each replica after %s (bound %s)", durations(afterRestart), recoveryBound)
	t.Logf("fleet: %s down 2s: %d requests answered by the other two", victim.name, replicaDownRequests)
	t.Logf("fleet: config pushed to %d replicas under load: %d requests from the push to 2s after", replicaCount, pushRequests)
}

// push loads config, with config-gen set to gen, into every replica at
// once through its admin API, and waits until each serves every tenant
// under it.
func (f *fleet) push(t *testing.T, config []byte, gen int) {
	t.Helper()
	next := bytes.Replace(config, []byte("set config-gen 1"), []byte("set config-gen "+strconv.Itoa(gen)), 1)
	if bytes.Equal(next, config) {
		t.Fatal("fleet.Caddyfile lacks `set config-gen 1`")
	}
	var pushes sync.WaitGroup
	for _, r := range f.replicas {
		pushes.Add(1)
		go func() {
			defer pushes.Done()
			if r.load(t, next) {
				f.pushes[r.name].Store(&pushed{gen, time.Now()})
			}
		}()
	}
	pushes.Wait()
	f.waitAllServe(t, 5*time.Second)
}

// staleSeries counts the lookups of the fleet's source served stale.
const staleSeries = `caddy_http_token_enrich_source_lookups_total{result="stale",source="tenants"}`

// fleet is the load and what it saw.
type fleet struct {
	client   *http.Client // the load's, through the load balancer
	probe    *http.Client // the test's own requests to one replica
	lb       *proc
	replicas []*proc
	tenants  []tenant
	phase    atomic.Pointer[string]

	requests, failed, missing, crossTenant, flapped, slowest atomic.Int64
	served                                                   map[string]*atomic.Int64           // load requests answered, per replica
	pushes                                                   map[string]*atomic.Pointer[pushed] // the last config push that returned, per replica

	mu       sync.Mutex
	seen     map[seenKey]seenValue // the newest generation each replica has served, per tenant
	gens     map[string]int        // the generation in Redis, per tenant id
	problems []string              // the first problems, for the report
}

type seenKey struct{ replica, tenant string }

// seenValue is the newest generation a replica served, and when the
// response that carried it had arrived.
type seenValue struct {
	gen int
	at  time.Time
}

// total is the number of load requests sent so far.
func (f *fleet) total() int64 { return f.requests.Load() }

// work sends token requests through the load balancer until ctx ends, for
// tenants at random.
func (f *fleet) work(ctx context.Context) {
	for ctx.Err() == nil {
		tn := f.tenants[rand.IntN(len(f.tenants))]
		f.requests.Add(1)
		f.one(f.client, f.lb.base, tn)
	}
}

// one sends one token request for tn to base and checks the answer. It
// returns the replica that answered and the generation of the tenant's
// metadata in the answer (0 when the request failed).
func (f *fleet) one(c *http.Client, base string, tn tenant) (string, int) {
	started := time.Now()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tn.client, tn.secret)
	resp, err := c.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	for ms := time.Since(started).Milliseconds(); ; {
		cur := f.slowest.Load()
		if ms <= cur || f.slowest.CompareAndSwap(cur, ms) {
			break
		}
	}
	if err != nil {
		f.problem(&f.failed, "%s via %s: %v", tn.id, base, err)
		return "", 0
	}
	replica := resp.Header.Get("X-Fleet-Replica")
	if c == f.client {
		if n, ok := f.served[replica]; ok {
			n.Add(1)
		}
	}
	if resp.StatusCode != http.StatusOK {
		f.problem(&f.failed, "%s via %s (%s): status %d: %.200s", tn.id, base, replica, resp.StatusCode, body)
		return replica, 0
	}
	var got struct {
		AccessToken string `json:"access_token"`
		TenantID    string `json:"tenant_id"`
		Tenant      string `json:"tenant"`
		APIURI      string `json:"api-uri"`
		Gen         int    `json:"gen"`
		ConfigGen   int    `json:"config-gen,string"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.AccessToken == "" {
		f.problem(&f.failed, "%s (%s): not a token response (%v): %.200s", tn.id, replica, err, body)
		return replica, 0
	}
	if got.TenantID != tn.id || (got.Tenant != "" && got.Tenant != tn.id) ||
		(got.APIURI != "" && got.APIURI != tn.apiURI()) {
		f.problem(&f.crossTenant, "%s (%s) got tenant_id %q, tenant %q, api-uri %q",
			tn.id, replica, got.TenantID, got.Tenant, got.APIURI)
		return replica, 0
	}
	if got.Tenant == "" || got.Gen == 0 {
		f.problem(&f.missing, "%s (%s): no metadata from Redis: %s", tn.id, replica, withoutTokens(body))
		return replica, 0
	}
	if p := f.pushedTo(replica); p != nil && started.After(p.at) && got.ConfigGen < p.gen {
		f.problem(&f.failed, "%s (%s): config-gen %d after the push of %d returned", tn.id, replica, got.ConfigGen, p.gen)
	}

	// A request that started after this replica had answered with a newer
	// generation must not get an older one.
	k := seenKey{replica, tn.id}
	f.mu.Lock()
	prev := f.seen[k]
	if got.Gen < prev.gen && started.After(prev.at) {
		f.mu.Unlock()
		f.problem(&f.flapped, "%s (%s): gen %d after gen %d was served", tn.id, replica, got.Gen, prev.gen)
		return replica, got.Gen
	}
	if got.Gen > prev.gen {
		f.seen[k] = seenValue{got.Gen, time.Now()}
	}
	f.mu.Unlock()
	return replica, got.Gen
}

func (f *fleet) problem(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) < 20 {
		phase := ""
		if p := f.phase.Load(); p != nil {
			phase = *p
		}
		f.problems = append(f.problems, fmt.Sprintf("during %s: %s", phase, fmt.Sprintf(format, args...)))
	}
}

// pushedTo is the last config push to the named replica that returned, or nil.
func (f *fleet) pushedTo(name string) *pushed {
	if p, ok := f.pushes[name]; ok {
		return p.Load()
	}
	return nil
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

// change writes generation gen of tn's metadata to Redis with a plain SET,
// then asks every replica for tn until it serves gen, and returns how long
// after the SET each first did. It fails the test when one has not within
// bound.
func (f *fleet) change(t *testing.T, rdb *redis.Client, tn tenant, gen int, bound time.Duration) []time.Duration {
	t.Helper()
	f.mu.Lock()
	f.gens[tn.id] = gen
	f.mu.Unlock()
	written := time.Now()
	if err := rdb.Set(t.Context(), tn.key(), tn.value(gen), 0).Err(); err != nil {
		t.Fatalf("SET %s: %v", tn.key(), err)
	}
	took := make([]time.Duration, len(f.replicas))
	var wg sync.WaitGroup
	for i, r := range f.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, g := f.one(f.probe, r.base, tn); g == gen {
					took[i] = time.Since(written)
					return
				}
				if time.Since(written) > 5*bound {
					took[i] = -1
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for i, d := range took {
		if d < 0 || d > bound {
			t.Errorf("%s served %s's change after %v (bound %v; -1: not within 5 times the bound)",
				f.replicas[i].name, tn.id, d, bound)
		}
	}
	return took
}

// waitAllServe waits until every replica serves every tenant's generation
// in Redis (and, once pushed, the new config's config-gen: one checks it).
func (f *fleet) waitAllServe(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, r := range f.replicas {
		for _, tn := range f.tenants {
			for {
				if _, g := f.one(f.probe, r.base, tn); g == f.wantGen(tn) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s does not serve %s's generation %d after %v", r.name, tn.id, f.wantGen(tn), within)
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

// startCaddy runs bin with the config at configPath, its admin API on a
// free port, and waits until the admin API and the site at port answer.
// env adds to the process's environment.
func startCaddy(t *testing.T, bin, configPath, name, stateDir string, port int, env ...string) *proc {
	t.Helper()
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	adminPort := testcaddy.FreePort(t)
	p := &proc{
		name:     name,
		base:     "http://127.0.0.1:" + strconv.Itoa(port),
		admin:    "http://127.0.0.1:" + strconv.Itoa(adminPort),
		stateDir: stateDir,
		exited:   make(chan struct{}),
	}
	out, err := os.Create(filepath.Join(stateDir, "caddy.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", configPath)
	p.cmd = cmd
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env,
		"FLEET_ADMIN_PORT="+strconv.Itoa(adminPort),
		"FLEET_LB_ADMIN_PORT="+strconv.Itoa(adminPort),
		"FLEET_STATE_DIR="+stateDir,
		"XDG_CONFIG_HOME="+filepath.Join(stateDir, "xdg-config"),
		"XDG_DATA_HOME="+filepath.Join(stateDir, "xdg-data"),
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(stateDir, "caddy.log"))
			t.Logf("%s log (last 4 KiB):\n%s", name, tail(logs, 4096))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
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
// management would: POST /load. It reports whether the replica took it.
func (r *proc) load(t *testing.T, caddyfile []byte) bool {
	req, err := http.NewRequest(http.MethodPost, r.admin+"/load", bytes.NewReader(caddyfile))
	if err != nil {
		t.Error(err)
		return false
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: POST /load: %v", r.name, err)
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: POST /load: status %d: %s", r.name, resp.StatusCode, b)
		return false
	}
	return true
}

// kill stops the process at once, as a crash would.
func (r *proc) kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

// withoutTokens is a token response with the access token left out, for
// messages.
func withoutTokens(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return fmt.Sprintf("%.200q", body)
	}
	delete(m, "access_token")
	b, _ := json.Marshal(m)
	return string(b)
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
