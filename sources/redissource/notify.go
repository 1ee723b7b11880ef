package redissource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// subscribe listens to the keyspace notifications of the keys starting
// with the source's prefix until ctx ends, invalidating each key announced
// and revalidating the whole cache on every subscription confirmed: the
// first one covers what changed between provisioning and the
// subscription, the later ones (go-redis re-subscribes on its own after a
// reconnection) what changed while the connection was down.
func (b *backend) subscribe(ctx context.Context) {
	defer close(b.done)
	channelPrefix := fmt.Sprintf("__keyspace@%d__:", b.db)
	pattern := channelPrefix + globEscape(b.prefix) + "*"
	// PSubscribe dials; when that fails, the PubSub dials again on its
	// own until it subscribes, or is closed.
	ps := b.client.PSubscribe(ctx, pattern)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	invalidations := invalidationsTotal.WithLabelValues(b.name)
	reconnects := reconnectsTotal.WithLabelValues(b.name)
	subscribed := false
	warned := false
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
					ce.Write(zap.String("source", b.name), zap.String("key", key), zap.String("event", m.Payload))
				}
			case *redis.Subscription:
				if m.Kind != "psubscribe" {
					continue
				}
				b.cache.RevalidateAll()
				if subscribed {
					reconnects.Inc()
					b.log().Info("redis notifications resubscribed; the cache is revalidated",
						zap.String("source", b.name), zap.String("redis", b.address))
				}
				subscribed = true
				if !warned {
					warned = b.checkNotifyConfig(ctx)
				}
				b.subscriptions.Add(1)
			}
		}
	}
}

// checkNotifyConfig logs one warning when the server does not send the
// keyspace notifications the source needs, or does not say, and reports
// whether it warned.
func (b *backend) checkNotifyConfig(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, b.fetchTimeout)
	defer cancel()
	const fix = "CONFIG SET notify-keyspace-events KA (or K$hgxe), and notify-keyspace-events KA in redis.conf"
	const consequence = "changes made in Redis reach this replica only when cache_ttl expires"
	cfg, err := b.client.ConfigGet(ctx, "notify-keyspace-events").Result()
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
			zap.String("source", b.name), zap.String("redis", b.address),
			zap.String("needed", fix), zap.Error(err))
		return true
	}
	value := cfg["notify-keyspace-events"]
	if missing := missingClasses(value); missing != "" {
		b.log().Warn("redis source: the server does not send the keyspace notifications needed; "+consequence,
			zap.String("source", b.name), zap.String("redis", b.address),
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
