package redissource

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The go-redis client's own lines go to Caddy's default logger, at debug,
// instead of straight to stderr in a format of their own: Caddy's log
// stays one format, and a server that is down is not one stderr line per
// dial. The source logs its failures itself (the handler's failed-lookup
// warnings, the probe, the background refresh).
func init() { redis.SetLogger(goRedisLog{}) }

// goRedisLog writes go-redis's lines to caddy.Log(), at debug.
type goRedisLog struct{}

func (goRedisLog) Printf(_ context.Context, format string, v ...any) {
	log := caddy.Log().Named("http.handlers.token_enrich.sources.redis.client")
	if ce := log.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("line", fmt.Sprintf(format, v...)))
	}
}
