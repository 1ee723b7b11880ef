package testredis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a running Redis Cluster: redis-servers in cluster mode with
// notify-keyspace-events KA, their slots shared out by
// redis-cli --cluster create.
type Cluster struct {
	// Nodes are the servers, in the order given to redis-cli: the masters
	// first, then the replicas.
	Nodes []*Server
	// Client is a cluster client of the nodes, closed at the test's end.
	Client *redis.ClusterClient
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// StartCluster starts a Redis Cluster of masters masters and no replicas,
// waits until every node says cluster_state:ok, and stops it when the test
// ends.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	return StartReplicatedCluster(t, masters, 0)
}

// StartReplicatedCluster is StartCluster with replicas replicas of each
// master; it also waits until every replica is in sync with its master.
func StartReplicatedCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: apt-get install redis-server redis-tools (./test.sh installs them): %v", bin, err)
		}
	}
	n := masters * (1 + replicas)
	c := &Cluster{}
	for _, addr := range clusterAddrs(t, n) {
		dir := t.TempDir()
		c.Nodes = append(c.Nodes, run(t, addr, Options{Notify: true, Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
			"--cluster-node-timeout", "2000",
		}}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range c.Nodes {
		for {
			info, err := node.Client.ClusterInfo(ctx).Result()
			ok := err == nil && strings.Contains(info, "cluster_state:ok")
			if ok {
				role, err := node.Client.Info(ctx, "replication").Result()
				ok = err == nil && (strings.Contains(role, "role:master") || strings.Contains(role, "master_link_status:up"))
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster node %s is not ready: %v %q", node.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	c.Client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true})
	t.Cleanup(func() { _ = c.Client.Close() })
	return c
}

// Node returns the node at addr.
func (c *Cluster) Node(t testing.TB, addr string) *Server {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("no cluster node at %s", addr)
	return nil
}

// clusterAddrs returns n free loopback addresses whose cluster bus port
// (port+10000) is free too.
func clusterAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("found %d free port pairs, want %d", len(addrs), n)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port >= 65535-10000 {
			_ = ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			_ = ln.Close()
			continue
		}
		// Held until all are found, so that no two pairs overlap.
		held = append(held, ln, bus)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}
