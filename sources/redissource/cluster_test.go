package redissource

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-token-enrich/caddy-token-enrich/internal/testredis"
	"github.com/caddy-token-enrich/caddy-token-enrich/sources/cache"
)

// clusterSource is a source of the cluster c, with cache_ttl and
// negative_ttl of an hour, once subscribed on each of its masters.
func clusterSource(t *testing.T, c *testredis.Cluster, masters int) started {
	t.Helper()
	addrs := c.Addrs()
	s := start(t, &Source{URL: "redis://" + addrs[0], ClusterAddrs: addrs[1:], Settings: cache.Settings{
		CacheTTL:    caddy.Duration(time.Hour),
		NegativeTTL: caddy.Duration(time.Hour),
	}}, nil, false)
	subscribed(t, s.Source, int64(masters))
	return s
}

// tenantsByMaster returns, for each master of c, a tenant whose key it
// holds, by the master's address.
func tenantsByMaster(t *testing.T, c *testredis.Cluster) map[string]string {
	t.Helper()
	byMaster := map[string]string{}
	for i := 0; i < 100; i++ {
		tenant := fmt.Sprintf("t%d", i)
		m, err := c.Client.MasterForKey(context.Background(), "tenant:"+tenant)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byMaster[m.Options().Addr]; !ok {
			byMaster[m.Options().Addr] = tenant
		}
	}
	return byMaster
}

// In a cluster every master publishes the changes of its own keys; the
// source hears them all, so a change on any master reaches the cache
// within a second, although cache_ttl and negative_ttl are an hour.
func TestClusterChangesOnEveryMasterReachTheCacheWithinASecond(t *testing.T) {
	c := testredis.StartCluster(t, 3)
	ctx := context.Background()
	s := clusterSource(t, c, 3)
	byMaster := tenantsByMaster(t, c)
	if len(byMaster) != 3 {
		t.Fatalf("the keys landed on %d masters, want 3: %v", len(byMaster), byMaster)
	}
	before := testutil.ToFloat64(invalidationsTotal.WithLabelValues("tenants"))
	for master, tenant := range byMaster {
		key := "tenant:" + tenant
		slot, err := c.Client.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if r := mustLookup(t, s.Source, tenant); r.Object != nil { // a miss, cached
			t.Fatalf("%s: got %q", key, r.Object)
		}
		for v := 1; v <= 2; v++ {
			want := fmt.Sprintf(`{"v":%d}`, v)
			if err := c.Client.Set(ctx, key, want, 0).Err(); err != nil {
				t.Fatal(err)
			}
			d := within(t, time.Second, key+" on "+master, objectIs(t, s.Source, tenant, want))
			t.Logf("%s (slot %d, master %s): SET %s seen after %v", key, slot, master, want, d)
		}
	}
	if after := testutil.ToFloat64(invalidationsTotal.WithLabelValues("tenants")); after < before+6 {
		t.Errorf("invalidations_total went from %v to %v over 6 changes", before, after)
	}
	if w := s.logs.FilterLevelExact(zapcore.WarnLevel); w.Len() != 0 {
		t.Fatalf("warnings: %v", w.All())
	}
}

// The notification settings are per node: a master without them is named
// in one warning, the others in none.
func TestClusterWarnsOncePerMasterWithoutNotifications(t *testing.T) {
	c := testredis.StartCluster(t, 3)
	off := c.Nodes[1]
	if err := off.Client.ConfigSet(context.Background(), "notify-keyspace-events", "").Err(); err != nil {
		t.Fatal(err)
	}
	s := clusterSource(t, c, 3)
	// The masters are enumerated again meanwhile; the node is not warned
	// about twice.
	time.Sleep(clusterRescan + 500*time.Millisecond)
	warnings := s.logs.FilterLevelExact(zapcore.WarnLevel)
	if warnings.Len() != 1 {
		t.Fatalf("%d warnings, want 1: %v", warnings.Len(), warnings.All())
	}
	w := warnings.All()[0]
	if f := w.ContextMap(); f["redis"] != off.Addr || f["missing"] != "K$hgxe" || !strings.Contains(w.Message, "only when cache_ttl expires") {
		t.Fatalf("warning %q %v, want one about %s", w.Message, f, off.Addr)
	}
}

// A failover makes a replica the master of a slot range; the source finds
// it by enumerating the masters again and subscribes on it. The old
// master is then stopped, so only the new master's notification can bring
// the change.
func TestClusterFailoverIsHeardFromTheNewMaster(t *testing.T) {
	c := testredis.StartReplicatedCluster(t, 3, 1)
	ctx := context.Background()
	s := clusterSource(t, c, 3)
	tenant := "acme"
	key := "tenant:" + tenant
	m, err := c.Client.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	old := c.Node(t, m.Options().Addr)
	id, err := old.Client.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := old.Client.ClusterSlaves(ctx, id).Result()
	if err != nil || len(replicas) != 1 {
		t.Fatalf("CLUSTER REPLICAS of %s: %v %v", old.Addr, replicas, err)
	}
	newAddr, _, _ := strings.Cut(strings.Fields(replicas[0])[1], "@")
	promoted := c.Node(t, newAddr)

	if err := c.Client.Set(ctx, key, `{"v":1}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the first value", objectIs(t, s.Source, tenant, `{"v":1}`))
	subs := s.b.subscriptions.Load()

	if err := promoted.Client.ClusterFailover(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "the failover", func() bool {
		info, err := promoted.Client.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:master")
	})
	old.Stop()
	d := within(t, clusterRescan+3*time.Second, "the subscription on the new master", func() bool {
		return s.b.subscriptions.Load() > subs
	})
	t.Logf("subscribed on %s %v after the failover", promoted.Addr, d)

	if err := promoted.Client.Set(ctx, key, `{"v":2}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	d = within(t, time.Second, "the change on the new master", objectIs(t, s.Source, tenant, `{"v":2}`))
	t.Logf("the change on the new master seen after %v", d)
}

// Cleanup closes the subscriptions on every master and ends the
// subscribers, config load after config load.
func TestClusterCleanupLeavesNoConnectionsOrGoroutines(t *testing.T) {
	c := testredis.StartCluster(t, 3)
	ctx := context.Background()
	byMaster := tenantsByMaster(t, c)
	for _, tenant := range byMaster {
		if err := c.Client.Set(ctx, "tenant:"+tenant, `{"v":1}`, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	base := map[string]int{}
	for _, n := range c.Nodes {
		base[n.Addr] = n.ClientCount(t)
	}
	baseGoroutines := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		s := &Source{URL: "redis://" + c.Nodes[0].Addr, ClusterAddrs: c.Addrs()[1:]}
		cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := s.Provision(cctx); err != nil {
			t.Fatal(err)
		}
		if err := s.UseKeyTemplate("leak", template); err != nil {
			t.Fatal(err)
		}
		subscribed(t, s, 3)
		for _, tenant := range byMaster {
			if r := mustLookup(t, s, tenant); string(r.Object) != `{"v":1}` {
				t.Fatalf("%s: got %q", tenant, r.Object)
			}
		}
		for _, n := range c.Nodes {
			if got := n.ClientCount(t); got < base[n.Addr]+1 {
				t.Fatalf("%s: %d clients with the source running, want at least %d (its subscriber)", n.Addr, got, base[n.Addr]+1)
			}
		}
		if err := s.Cleanup(); err != nil {
			t.Fatal(err)
		}
		cancel()
		for _, n := range c.Nodes {
			within(t, 5*time.Second, n.Addr+" to see the connections closed", func() bool { return n.ClientCount(t) == base[n.Addr] })
		}
	}
	within(t, 5*time.Second, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= baseGoroutines })
}
