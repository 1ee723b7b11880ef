package caddymodule

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-token-enrich/caddy-token-enrich/sources"
)

// probeTimeout bounds one probe of a source's origin: an origin that does
// not answer is logged within it of the config's start.
const probeTimeout = time.Second

// probeInterval is the time between two probes of an origin that did not
// answer.
const probeInterval = 5 * time.Second

// startProbes probes, in the background, the origin of every source that
// can be probed (sources.Prober), until it answers or ctx, the config's
// context, is done. An origin that does not answer the first probe is
// logged at warn, naming the source and the origin, and once more at info
// when it answers; an origin that answers at once is not logged.
func (h *Handler) startProbes(ctx context.Context) {
	for _, s := range h.Sources {
		p, ok := s.source.(sources.Prober)
		if !ok {
			continue
		}
		origin, ok := p.Origin()
		if !ok {
			continue
		}
		go h.probe(ctx, s.Name, origin, p)
	}
}

// probe probes one origin until it answers or ctx is done.
func (h *Handler) probe(ctx context.Context, name, origin string, p sources.Prober) {
	down := false
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := p.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if down {
				h.logger.Info("source reachable again", zap.String("source", name), zap.String("origin", origin))
			}
			return
		}
		if !down {
			h.logger.Warn("source unreachable: its fields are left out until it answers; probing it again every 5s",
				zap.String("source", name), zap.String("origin", origin), zap.Error(err))
			down = true
		}
		t := time.NewTimer(probeInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
