package sources

import (
	"errors"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics adds collectors to the config's metrics registry, the one
// way token_enrich and its sources register theirs. Collectors are created
// once per process and registered with every new config's registry on
// Provision: a collector created per Provision stops reporting after a
// reload, and registering one twice is refused, which is no error here.
func RegisterMetrics(ctx caddy.Context, collectors ...prometheus.Collector) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}
