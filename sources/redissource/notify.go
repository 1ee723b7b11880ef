package redissource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// notifier is a connection to one server that the source hears keyspace
// notifications from: the standalone or Sentinel-chosen master
// (redis.UniversalClient), or one master of a cluster (*redis.Client).
type notifier interface {
	PSubscribe(ctx context.Context, channels ...string) *redis.PubSub
	ConfigGet(ctx context.Context, parameter string) *redis.MapStringStringCmd
}

// subscribe listens to the keyspace notifications of the server until ctx
// ends (standalone and Sentinel: go-redis follows the master).
func (b *backend) subscribe(ctx context.Context) {
	defer close(b.done)
	var warned atomic.Bool
	b.listen(ctx, b.client, b.address, &warned)
}

// listen listens to c's keyspace notifications of the keys starting with
// the source's prefix until ctx ends or c is closed, invalidating each key
// announced and revalidating the whole cache on every subscription
// confirmed: the first one covers what changed on that server before the
// subscription, the later ones (go-redis re-subscribes on its own after a
// reconnection) what changed while the connection was down. addr names
// the server in logs; warned is set once the server's notification
// settings have been warned about, so that each server is warned about
// once.
func (b *backend) listen(ctx context.Context, c notifier, addr string, warned *atomic.Bool) {
	channelPrefix := fmt.Sprintf("__keyspace@%d__:", b.db)
	pattern := channelPrefix + globEscape(b.prefix) + "*"
	// PSubscribe dials; when that fails, the PubSub dials again on its
	// own until it subscribes, or is closed.
	ps := c.PSubscribe(ctx, pattern)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	invalidations := invalidationsTotal.WithLabelValues(b.name)
	reconnects := reconnectsTotal.WithLabelValues(b.name)
	subscribed := false
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Message:
				key, ok := strings.CutPrefix(m.Channel, channelPrefix)
				if !ok {
					continue
				}
				b.cache.Invalidate(key)
				invalidations.Inc()
				if ce := b.log().Check(zap.DebugLevel, "key changed in redis; invalidated"); ce != nil {
					ce.Write(zap.String("source", b.name), sources.LogString("key", key), sources.LogString("event", m.Payload))
				}
			case *redis.Subscription:
				if m.Kind != "psubscribe" {
					continue
				}
				b.cache.RevalidateAll()
				if subscribed {
					reconnects.Inc()
					b.log().Info("redis notifications resubscribed; the cache is revalidated",
						zap.String("source", b.name), zap.String("redis", addr))
				}
				subscribed = true
				if !warned.Load() && b.checkNotifyConfig(ctx, c, addr) {
					warned.Store(true)
				}
				b.subscriptions.Add(1)
			}
		}
	}
}

// clusterRescan is how often the masters of a cluster are enumerated
// again: a master that a failover or a resharding brings is heard from
// within this interval.
const clusterRescan = 2 * time.Second

// subscribeCluster listens to the keyspace notifications of every master
// of the cluster until ctx ends. A cluster node publishes the events of
// the keys it holds only, so each master has its own subscriber, keyed by
// its address. The masters are enumerated again every clusterRescan, and
// at once when a subscriber ends on its own: a node that is no longer a
// master, or whose client go-redis replaced, has its subscriber stopped,
// and a new master gets one (whose first confirmation revalidates the
// cache, as for any subscription). Every subscriber has returned when
// subscribeCluster returns.
func (b *backend) subscribeCluster(ctx context.Context, cc *redis.ClusterClient) {
	defer close(b.done)
	type node struct {
		client *redis.Client
		cancel context.CancelFunc
		done   chan struct{} // closed when its subscriber has returned
	}
	nodes := map[string]*node{}
	warned := map[string]*atomic.Bool{} // by address, kept across subscribers
	ended := make(chan struct{}, 1)
	stop := func(addr string) {
		n := nodes[addr]
		n.cancel()
		<-n.done
		delete(nodes, addr)
	}
	defer func() {
		for addr := range nodes {
			stop(addr)
		}
	}()
	tick := time.NewTicker(clusterRescan)
	defer tick.Stop()
	failing := false
	for {
		masters, err := b.masters(ctx, cc)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			b.log().Warn("redis cluster: cannot list the masters; retrying, and the subscriptions made stay",
				zap.String("source", b.name), zap.String("redis", b.address), zap.Error(err))
		case err == nil:
			failing = false
			for addr, n := range nodes {
				select {
				case <-n.done:
					stop(addr)
					continue
				default:
				}
				if masters[addr] != n.client {
					stop(addr)
				}
			}
			for addr, c := range masters {
				if nodes[addr] != nil {
					continue
				}
				if warned[addr] == nil {
					warned[addr] = new(atomic.Bool)
				}
				nctx, cancel := context.WithCancel(ctx)
				n := &node{client: c, cancel: cancel, done: make(chan struct{})}
				nodes[addr] = n
				go func(w *atomic.Bool) {
					defer close(n.done)
					b.listen(nctx, c, addr, w)
					select {
					case ended <- struct{}{}:
					default:
					}
				}(warned[addr])
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-ended:
			// A subscriber ends on its own when go-redis has closed its
			// node's client; the pause bounds the rescans while it does.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// masters returns the clients of the cluster's masters by address, as the
// cluster reports them now (ForEachMaster reloads the slot map).
func (b *backend) masters(ctx context.Context, cc *redis.ClusterClient) (map[string]*redis.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, b.fetchTimeout)
	defer cancel()
	var mu sync.Mutex
	masters := map[string]*redis.Client{}
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters[c.Options().Addr] = c
		return nil
	})
	return masters, err
}

// checkNotifyConfig logs one warning when the server c at addr does not
// send the keyspace notifications the source needs, or does not say, and
// reports whether it warned.
func (b *backend) checkNotifyConfig(ctx context.Context, c notifier, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, b.fetchTimeout)
	defer cancel()
	const fix = "CONFIG SET notify-keyspace-events KA (or K$hgxe), and notify-keyspace-events KA in redis.conf"
	const consequence = "changes made in Redis reach this replica only when cache_ttl expires"
	cfg, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		// Only the server's refusal is an answer; a connection lost
		// again, or a timeout, is not, and the check runs again at the
		// next subscription.
		var reply redis.Error
		if !errors.As(err, &reply) {
			return false
		}
		b.log().Warn("redis source: cannot read notify-keyspace-events (CONFIG GET refused); "+
			"if keyspace notifications are off, "+consequence,
			zap.String("source", b.name), zap.String("redis", addr),
			zap.String("needed", fix), zap.Error(err))
		return true
	}
	value := cfg["notify-keyspace-events"]
	if missing := missingClasses(value); missing != "" {
		b.log().Warn("redis source: the server does not send the keyspace notifications needed; "+consequence,
			zap.String("source", b.name), zap.String("redis", addr),
			zap.String("notify-keyspace-events", value), zap.String("missing", missing),
			zap.String("needed", fix))
		return true
	}
	return false
}

// missingClasses returns the notify-keyspace-events classes that value
// lacks for the source: K (keyspace events) and, unless A (all) is set,
// $ (string), h (hash), g (generic: DEL, RENAME...), x (expired) and
// e (evicted).
func missingClasses(value string) string {
	var missing strings.Builder
	if !strings.Contains(value, "K") {
		missing.WriteByte('K')
	}
	if strings.Contains(value, "A") {
		return missing.String()
	}
	for _, c := range "$hgxe" {
		if !strings.ContainsRune(value, c) {
			missing.WriteRune(c)
		}
	}
	return missing.String()
}

// globEscape escapes the characters that are special in a Redis glob
// pattern, so that s matches itself only.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
