package metrics_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/metricstest"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/metrics"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// OpsPath is the import path of the guest that makes a known sequence of
// calls.
const OpsPath = "github.com/wasihsm/wasihsm/metrics/testdata/guests/ops"

// opsCalls is the number of calls the ops guest makes.
const opsCalls = 38

// call is one line of the ops guest's output.
type call struct {
	function, algorithm string
	errno               wasihost.Errno
}

// ParseCalls reads the ops guest's output.
func parseCalls(t *testing.T, stdout string) []call {
	t.Helper()
	var calls []call
	for line := range strings.Lines(stdout) {
		f := strings.Fields(line)
		require.Len(t, f, 3, "line %q", line)
		n, err := strconv.Atoi(f[2])
		require.NoError(t, err)
		alg := f[1]
		if alg == "-" {
			alg = ""
		}
		calls = append(calls, call{f[0], alg, wasihost.Errno(n)})
	}
	return calls
}

// expected is what the metrics must show for calls.
type expected struct {
	calls    map[string]float64
	duration map[string]uint64
	fallback map[string]float64
}

// expect computes the series of calls: backendOf says where the router
// placed each algorithm, token is the token's backend name ("" without a
// token).
func expect(calls []call, backendOf func(alg string) string, token string) expected {
	e := expected{calls: map[string]float64{}, duration: map[string]uint64{}, fallback: map[string]float64{}}
	or := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	for _, c := range calls {
		backend := ""
		if c.algorithm != "" && c.function != "generate_key_prepare" {
			backend = backendOf(c.algorithm)
		}
		e.calls[metricstest.Key(map[string]string{"function": c.function, "algorithm": or(c.algorithm),
			"backend": or(backend), "errno": c.errno.String()})]++
		e.duration[metricstest.Key(map[string]string{"function": c.function, "algorithm": or(c.algorithm), "backend": or(backend)})]++
		if token != "" && backend != "" && backend != token {
			e.fallback[metricstest.Key(map[string]string{"function": c.function, "algorithm": or(c.algorithm)})]++
		}
	}
	return e
}

// placement returns where router puts each algorithm: the router's choice
// for a hash, the backend of a key it generates otherwise.
func placement(t *testing.T, router *provider.Router) func(string) string {
	return func(name string) string {
		alg, ok := provider.Lookup(name)
		require.True(t, ok, name)
		if !alg.Kind.Keyed() {
			b, _, err := router.Route(alg, provider.OpHash)
			require.NoError(t, err)
			return b.Name()
		}
		k, err := router.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: alg})
		require.NoError(t, err)
		defer func() { require.NoError(t, k.Destroy(context.Background())) }()
		return k.Backend()
	}
}

// openToken opens the test process's SoftHSM2 token.
func openToken(t *testing.T) *hsm.Backend {
	t.Helper()
	fx := softhsmtest.Token(t)
	b, err := hsm.Open(context.Background(), hsm.Config{
		Module: fx.Module, Token: hsm.TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestScrape runs the ops guest on each backend with the collector as the
// host's Observer, scrapes /metrics over HTTP and checks that the
// counters show exactly the calls the guest made.
func TestScrape(t *testing.T) {
	wasm := testguest.Build(t, OpsPath)
	tests := []struct {
		name  string
		setup func(t *testing.T) (*provider.Router, metrics.Config)
	}{
		{"software", func(t *testing.T) (*provider.Router, metrics.Config) {
			r, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
			require.NoError(t, err)
			return r, metrics.Config{}
		}},
		{"softhsm2", func(t *testing.T) (*provider.Router, metrics.Config) {
			token := openToken(t)
			r, err := provider.NewRouter(provider.RouterConfig{Primary: token, Fallback: softfallback.New(),
				Policy: provider.FallbackAllow, ManagedKeys: token})
			require.NoError(t, err)
			return r, metrics.Config{Token: token}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router, cfg := tt.setup(t)
			c := metrics.New(cfg)
			reg := prometheus.NewPedanticRegistry()
			require.NoError(t, reg.Register(c))
			srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			t.Cleanup(srv.Close)

			before := metricstest.Scrape(t, srv.URL)
			assert.Nil(t, before.Counters("wasihsm_host_calls_total"), "no call yet")

			h := testguest.NewHarness(t, router, wasihost.Options{Observer: c}, wasm)
			res := h.Run("ops", nil, nil)
			require.Zero(t, res.ExitCode, "stderr: %s", res.Stderr)
			calls := parseCalls(t, res.Stdout)
			require.Len(t, calls, opsCalls)

			tokenName := ""
			if cfg.Token != nil {
				tokenName = cfg.Token.Name()
			}
			backendOf := placement(t, router)
			want := expect(calls, backendOf, tokenName)
			got := metricstest.Scrape(t, srv.URL)
			assert.Equal(t, want.calls, got.Counters("wasihsm_host_calls_total"))
			assert.Equal(t, want.duration, got.HistogramCounts("wasihsm_host_call_duration_seconds"))

			if cfg.Token == nil {
				assert.Nil(t, got.Counters("wasihsm_fallback_calls_total"))
				for _, name := range []string{"sessions_open", "sessions_in_use", "sessions_waiting", "healthy", "recoveries_total"} {
					_, ok := got.Gauge("wasihsm_token_" + name)
					assert.False(t, ok, name)
				}
				return
			}
			// Keys live in the token; SoftHSM2 has no SHAKE, which falls
			// back to software, so the fallback counter has something to
			// count.
			assert.Equal(t, hsm.BackendName, backendOf("ES256"))
			assert.Equal(t, hsm.BackendName, backendOf("A256GCM"))
			require.Equal(t, softfallback.BackendName, backendOf("SHAKE128"))
			require.NotEmpty(t, want.fallback)
			assert.Equal(t, want.fallback, got.Counters("wasihsm_fallback_calls_total"))

			stats := cfg.Token.Stats()
			for name, want := range map[string]float64{
				"sessions_open":    float64(stats.SessionsOpen),
				"sessions_in_use":  0,
				"sessions_waiting": 0,
				"healthy":          1,
				"recoveries_total": 0,
			} {
				v, ok := got.Gauge("wasihsm_token_" + name)
				assert.True(t, ok, name)
				assert.Equal(t, want, v, name)
			}
			assert.Positive(t, stats.SessionsOpen, "the guest's calls used pooled sessions")
		})
	}
}

// fakeToken is a Token whose stats a test sets: the pool's busy and
// unhealthy states cannot be produced on demand with a real token
// without the fault machinery of package hsm's own tests.
type fakeToken struct{ stats hsm.Stats }

func (f *fakeToken) Name() string     { return hsm.BackendName }
func (f *fakeToken) Stats() hsm.Stats { return f.stats }

func TestTokenGauges(t *testing.T) {
	tok := &fakeToken{stats: hsm.Stats{SessionsOpen: 7, SessionsInUse: 5, SessionsWaiting: 3, Healthy: false, Recoveries: 2}}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.New(metrics.Config{Token: tok})))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	got := metricstest.Scrape(t, srv.URL)
	for name, want := range map[string]float64{
		"sessions_open": 7, "sessions_in_use": 5, "sessions_waiting": 3, "healthy": 0, "recoveries_total": 2,
	} {
		v, ok := got.Gauge("wasihsm_token_" + name)
		assert.True(t, ok, name)
		assert.Equal(t, want, v, name)
	}
	tok.stats = hsm.Stats{Healthy: true, Recoveries: 3}
	got = metricstest.Scrape(t, srv.URL)
	v, _ := got.Gauge("wasihsm_token_healthy")
	assert.Equal(t, 1.0, v)
	v, _ = got.Gauge("wasihsm_token_recoveries_total")
	assert.Equal(t, 3.0, v)
}

// TestNilBackend: a nil *hsm.Backend is no token, not a crash at scrape.
func TestNilBackend(t *testing.T) {
	var b *hsm.Backend
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.New(metrics.Config{Token: b})))
	_, err := reg.Gather()
	require.NoError(t, err)
}

// TestObserveAllocs holds the collector's promise: observing a call whose
// series exists does not allocate.
func TestObserveAllocs(t *testing.T) {
	c := metrics.New(metrics.Config{Token: &fakeToken{}})
	ev := wasihost.Event{Function: "sign", Algorithm: "ES256", Backend: softfallback.BackendName}
	ctx := context.Background()
	c.Observe(ctx, ev)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.Observe(ctx, ev) }))
}
