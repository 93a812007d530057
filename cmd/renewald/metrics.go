package main

import (
	"context"

	"github.com/renewald/renewald/scheduler"
)

// startMetrics serves /metrics and /healthz when metrics.listen is set.
func (m *Main) startMetrics(ctx context.Context, cfg Config, a *app, svc *scheduler.Service) (stop func(), err error) {
	if cfg.Metrics.Listen == "" {
		return func() {}, nil
	}
	return nil, usageErrorf("metrics.listen = %q: metrics are not built in yet", cfg.Metrics.Listen)
}
