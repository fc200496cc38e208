package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/metrics"
	"github.com/wasihsm/wasihsm/wasihost"
)

// newLogger returns run's logger on w, as log.level and log.format say.
// Text records leave out the time (one run, one process: it adds
// nothing); JSON records keep it for the log shipper.
func newLogger(w io.Writer, l config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.Level}
	if l.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// metricsServer serves /metrics for the life of a run.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// startMetrics registers a collector of the host's calls and of token
// (nil without one) with a registry of its own, with the Go runtime's and
// the process's metrics, and serves it on addr. The collector is to be
// the host's Observer.
func startMetrics(addr string, token metrics.Token, logger *slog.Logger) (*metricsServer, *metrics.Collector, error) {
	cfg := metrics.Config{Token: token}
	if g, ok := token.(metrics.Group); ok {
		// A group of tokens: each token's series too.
		cfg.Group = g
	}
	c := metrics.New(cfg)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s := &metricsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return s, c, nil
}

// close stops serving, waiting briefly for a scrape in flight.
func (s *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// observer is run's wasihost.Observer: the log, and the metrics when
// they are served.
func observer(logger *slog.Logger, c *metrics.Collector) wasihost.Observer {
	if c == nil {
		return wasihost.LogObserver(logger)
	}
	return wasihost.Observers(wasihost.LogObserver(logger), c)
}
