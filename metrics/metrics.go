// Package metrics exports what wasihsm does as Prometheus metrics: the host
// calls guests make, by function, algorithm, backend and errno, their
// latency, the calls that ran in the software fallback, and the PKCS#11
// token's session pool and health.
//
// # Use
//
// A [Collector] is both a [wasihost.Observer], which the host feeds with
// every call, and a [prometheus.Collector], which the embedder registers:
//
//	c := metrics.New(metrics.Config{Token: token}) // token: *hsm.Backend, or nil
//	prometheus.MustRegister(c)
//	host, err := wasihost.New(router, wasihost.Options{Observer: c})
//
// `wasihsm run --metrics-addr` does the same and serves /metrics.
//
// # Metrics
//
//	wasihsm_host_calls_total{function,algorithm,backend,errno}   counter
//	wasihsm_host_call_duration_seconds{function,algorithm,backend} histogram
//	wasihsm_fallback_calls_total{function,algorithm}            counter
//	wasihsm_token_sessions_open                                  gauge
//	wasihsm_token_sessions_in_use                                gauge
//	wasihsm_token_sessions_waiting                               gauge
//	wasihsm_token_healthy                                        gauge (1 or 0)
//	wasihsm_token_recoveries_total                               counter
//	wasihsm_group_token_state{token,state}                       gauge (1 or 0)
//	wasihsm_group_token_operations_total{token}                  counter
//	wasihsm_group_token_failovers_total{token}                   counter
//	wasihsm_group_token_latency_seconds_total{token}             counter
//
// The group_token series exist with a [Group] (pkcs11.tokens): token is
// the token's place in the list, from 0; the token_ series then sum the
// group's pools, and token_healthy is 1 while any token is healthy.
// algorithm and backend are "none" when the call named no known algorithm
// or involved no backend (see [wasihost.Event]). A fallback call is one
// whose backend is not the token's: only a collector with a Token counts
// them. The token metrics are read from [hsm.Backend.Stats] at each scrape.
// The guest is not a label: guest names are the embedder's to choose, and
// each would multiply the series; the logs name it.
//
// # Cost
//
// Observing a call does not allocate once its series exist: the collector
// keeps each label combination's counter and histogram in a map keyed by
// the labels themselves.
package metrics

import (
	"context"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Token is the PKCS#11 backend whose pool and health the collector
// reports; *hsm.Backend implements it.
type Token interface {
	// Name is the backend name that events of the token's keys carry.
	Name() string
	// Stats returns a snapshot of the pool and the token's health.
	Stats() hsm.Stats
}

// Group is a group of tokens whose members the collector reports, one
// series per token; *group.Group implements it.
type Group interface {
	// Status returns a snapshot of every token of the group.
	Status() []group.TokenStatus
}

// Config configures a Collector. The zero value is valid: host calls only.
type Config struct {
	// Group is the token group to report on per token, or nil. Its
	// summed pool and health are the Token's (a group is a Token too).
	Group Group
	// Token is the PKCS#11 backend to report on; nil (or a nil
	// *hsm.Backend) when there is none.
	// With a Token, calls on any other backend count as fallback calls.
	Token Token
	// Buckets are the upper bounds of the latency histogram, in seconds;
	// nil means DefaultBuckets.
	Buckets []float64
}

// DefaultBuckets spans a software hash update (about a microsecond) to a
// slow token's RSA signature (seconds), by factors of 4.
var DefaultBuckets = prometheus.ExponentialBuckets(1e-6, 4, 12)

// none is the label value for an empty algorithm or backend.
const none = "none"

// Collector is a wasihost.Observer and a prometheus.Collector. It is safe
// for concurrent use.
type Collector struct {
	token    Token
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	fallback *prometheus.CounterVec

	sessionsOpen, sessionsInUse, sessionsWaiting, healthy, recoveries *prometheus.Desc

	group                                                  Group
	memberState, memberOps, memberFailovers, memberLatency *prometheus.Desc

	mu     sync.RWMutex
	series map[seriesKey]*series
}

var (
	_ wasihost.Observer    = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// seriesKey is the labels of one call's series.
type seriesKey struct {
	function, algorithm, backend string
	errno                        wasihost.Errno
}

// series is the metrics one kind of call updates.
type series struct {
	calls    prometheus.Counter
	duration prometheus.Observer
	fallback prometheus.Counter // nil when the call is not a fallback
}

// New returns a Collector for cfg.
func New(cfg Config) *Collector {
	if b, ok := cfg.Token.(*hsm.Backend); ok && b == nil {
		cfg.Token = nil // a nil *hsm.Backend: no token, as documented for nil
	}
	buckets := cfg.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	const ns = "wasihsm"
	c := &Collector{
		token: cfg.Token,
		group: cfg.Group,
		memberState: prometheus.NewDesc(ns+"_group_token_state",
			"1 for the state each token of the group is in (healthy, recovering, down), 0 for the others.", []string{"token", "state"}, nil),
		memberOps: prometheus.NewDesc(ns+"_group_token_operations_total",
			"Attempts run on each token of the group.", []string{"token"}, nil),
		memberFailovers: prometheus.NewDesc(ns+"_group_token_failovers_total",
			"Attempts on each token of the group that failed and moved the operation to another token.", []string{"token"}, nil),
		memberLatency: prometheus.NewDesc(ns+"_group_token_latency_seconds_total",
			"Total time of the attempts on each token of the group (divide by operations for the mean).", []string{"token"}, nil),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "host_calls_total",
			Help: "Host calls made by guests, by host function, algorithm, backend and errno.",
		}, []string{"function", "algorithm", "backend", "errno"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "host_call_duration_seconds",
			Help:    "Time the host took to answer a call, by host function, algorithm and backend.",
			Buckets: buckets,
		}, []string{"function", "algorithm", "backend"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "fallback_calls_total",
			Help: "Host calls that ran in a backend other than the token (the software fallback).",
		}, []string{"function", "algorithm"}),
		series: make(map[seriesKey]*series),
	}
	if c.token != nil {
		desc := func(name, help string) *prometheus.Desc {
			return prometheus.NewDesc(prometheus.BuildFQName(ns, "token", name), help, nil, nil)
		}
		c.sessionsOpen = desc("sessions_open", "Pooled PKCS#11 sessions that are open, idle or in use.")
		c.sessionsInUse = desc("sessions_in_use", "Pooled PKCS#11 sessions in use by an operation.")
		c.sessionsWaiting = desc("sessions_waiting", "Operations waiting for a free PKCS#11 session.")
		c.healthy = desc("healthy", "1 while the token serves calls, 0 while it is being recovered.")
		c.recoveries = desc("recoveries_total", "Times the backend brought the token back after a failure.")
	}
	return c
}

// Observe implements wasihost.Observer.
func (c *Collector) Observe(_ context.Context, ev wasihost.Event) {
	k := seriesKey{function: ev.Function, algorithm: ev.Algorithm, backend: ev.Backend, errno: ev.Errno}
	c.mu.RLock()
	s, ok := c.series[k]
	c.mu.RUnlock()
	if !ok {
		s = c.newSeries(k)
	}
	s.calls.Inc()
	s.duration.Observe(ev.Duration.Seconds())
	if s.fallback != nil {
		s.fallback.Inc()
	}
}

// newSeries makes and keeps the series of k.
func (c *Collector) newSeries(k seriesKey) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.series[k]; ok {
		return s
	}
	alg, backend := orNone(k.algorithm), orNone(k.backend)
	s := &series{
		calls:    c.calls.WithLabelValues(k.function, alg, backend, k.errno.String()),
		duration: c.duration.WithLabelValues(k.function, alg, backend),
	}
	if c.token != nil && k.backend != "" && k.backend != c.token.Name() {
		s.fallback = c.fallback.WithLabelValues(k.function, alg)
	}
	c.series[k] = s
	return s
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.calls.Describe(ch)
	c.duration.Describe(ch)
	c.fallback.Describe(ch)
	if c.token != nil {
		for _, d := range []*prometheus.Desc{c.sessionsOpen, c.sessionsInUse, c.sessionsWaiting, c.healthy, c.recoveries} {
			ch <- d
		}
	}
	if c.group != nil {
		for _, d := range []*prometheus.Desc{c.memberState, c.memberOps, c.memberFailovers, c.memberLatency} {
			ch <- d
		}
	}
}

// collectGroup reports each token of the group; a token is labelled by
// its place in pkcs11.tokens.
func (c *Collector) collectGroup(ch chan<- prometheus.Metric) {
	for _, t := range c.group.Status() {
		token := strconv.Itoa(t.Index)
		for _, st := range []group.State{group.Healthy, group.Recovering, group.Down} {
			v := 0.0
			if t.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.memberState, prometheus.GaugeValue, v, token, st.String())
		}
		ch <- prometheus.MustNewConstMetric(c.memberOps, prometheus.CounterValue, float64(t.Operations), token)
		ch <- prometheus.MustNewConstMetric(c.memberFailovers, prometheus.CounterValue, float64(t.Failovers), token)
		ch <- prometheus.MustNewConstMetric(c.memberLatency, prometheus.CounterValue, t.Latency.Seconds(), token)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.calls.Collect(ch)
	c.duration.Collect(ch)
	c.fallback.Collect(ch)
	if c.group != nil {
		c.collectGroup(ch)
	}
	if c.token == nil {
		return
	}
	s := c.token.Stats()
	healthy := 0.0
	if s.Healthy {
		healthy = 1
	}
	ch <- prometheus.MustNewConstMetric(c.sessionsOpen, prometheus.GaugeValue, float64(s.SessionsOpen))
	ch <- prometheus.MustNewConstMetric(c.sessionsInUse, prometheus.GaugeValue, float64(s.SessionsInUse))
	ch <- prometheus.MustNewConstMetric(c.sessionsWaiting, prometheus.GaugeValue, float64(s.SessionsWaiting))
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, healthy)
	ch <- prometheus.MustNewConstMetric(c.recoveries, prometheus.CounterValue, float64(s.Recoveries))
}
