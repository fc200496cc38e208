//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/metricstest"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/wasihost"
)

// opsPath is the guest that makes a known sequence of calls and prints
// one line "function algorithm errno" per call (package metrics' tests).
const opsPath = "github.com/wasihsm/wasihsm/metrics/testdata/guests/ops"

// opsLine is one call the ops guest reports.
type opsLine struct {
	function, algorithm string
	errno               wasihost.Errno
}

func parseOps(t *testing.T, stdout string) []opsLine {
	t.Helper()
	var out []opsLine
	for line := range strings.Lines(stdout) {
		f := strings.Fields(line)
		require.Len(t, f, 3, "%q", line)
		n, err := strconv.Atoi(f[2])
		require.NoError(t, err)
		alg := f[1]
		if alg == "-" {
			alg = "none"
		}
		out = append(out, opsLine{f[0], alg, wasihost.Errno(n)})
	}
	return out
}

// TestRunServesMetrics runs `wasihsm run --metrics-addr` as a user would,
// with the ops guest waiting on stdin after its calls, on software and on
// SoftHSM2; it scrapes /metrics while the guest runs and checks the calls
// the guest made, by function, algorithm, backend and errno, and the
// token's gauges; the debug log in JSON names every call and never the
// PIN; and the endpoint goes away with the run.
func TestRunServesMetrics(t *testing.T) {
	fx := softhsmtest.Token(t)
	dir := t.TempDir()
	wasmPath := filepath.Join(dir, "ops.wasm")
	require.NoError(t, os.WriteFile(wasmPath, testguest.Build(t, opsPath), 0o644))
	tests := []struct {
		name  string
		env   map[string]string
		token bool
	}{
		{"software", map[string]string{"WASIHSM_BACKEND": "software"}, false},
		{"softhsm2", map[string]string{"WASIHSM_PKCS11_MODULE": fx.Module, "WASIHSM_TOKEN": fx.Label, "WASIHSM_PIN": fx.PIN}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, stdout, stderr := newTestCLI(tt.env)
			stdin, closeStdin := io.Pipe()
			c.stdin = stdin
			done := make(chan int, 1)
			go func() {
				done <- runCLI(c, "run", "--cache-dir", filepath.Join(dir, "cache"), "--metrics-addr", "127.0.0.1:0",
					"--log-format", "json", "--log-level", "debug", wasmPath, "wait")
			}()
			t.Cleanup(func() { _ = closeStdin.Close() })
			const calls = 38
			require.Eventually(t, func() bool {
				select {
				case code := <-done:
					t.Fatalf("run ended early with %d: %s", code, stderr.String())
				default:
				}
				return strings.Count(stdout.String(), "\n") == calls
			}, 2*time.Minute, 10*time.Millisecond, "the guest's calls")
			guestCalls := parseOps(t, stdout.String())
			records := logRecords(t, stderr.String())
			url := ""
			for _, r := range records {
				if r["msg"] == "serving metrics" {
					url, _ = r["url"].(string)
				}
			}
			require.NotEmpty(t, url, "stderr: %s", stderr.String())

			fams := metricstest.Scrape(t, url)
			series := fams.Counters("wasihsm_host_calls_total")
			// Per function, algorithm and errno, the counts are the
			// guest's; the backend is where the algorithm lives.
			want := map[string]float64{}
			for _, l := range guestCalls {
				want[fmt.Sprintf("%s %s %s", l.function, l.algorithm, l.errno)]++
			}
			got := map[string]float64{}
			softwareCalls := 0.0
			for key, v := range series {
				labels := parseKey(key)
				got[fmt.Sprintf("%s %s %s", labels["function"], labels["algorithm"], labels["errno"])] += v
				backend := labels["backend"]
				switch {
				case labels["algorithm"] == "none" || labels["function"] == "generate_key_prepare":
					assert.Equal(t, "none", backend, key)
				case !tt.token:
					assert.Equal(t, "software", backend, key)
				case labels["algorithm"] == "ES256" || labels["algorithm"] == "A256GCM":
					assert.Equal(t, "pkcs11", backend, "keys live in the token: %s", key)
				case labels["algorithm"] == "SHAKE128":
					assert.Equal(t, "software", backend, "SoftHSM2 has no SHAKE: %s", key)
				}
				if backend == "software" {
					softwareCalls += v
				}
			}
			assert.Equal(t, want, got)

			fallback := 0.0
			for _, v := range fams.Counters("wasihsm_fallback_calls_total") {
				fallback += v
			}
			gauges := map[string]float64{}
			for _, name := range []string{"sessions_open", "sessions_in_use", "sessions_waiting", "healthy", "recoveries_total"} {
				if v, ok := fams.Gauge("wasihsm_token_" + name); ok {
					gauges[name] = v
				}
			}
			if tt.token {
				assert.Equal(t, softwareCalls, fallback, "every software call is a fallback with a token")
				assert.Positive(t, fallback)
				assert.Positive(t, gauges["sessions_open"])
				delete(gauges, "sessions_open")
				assert.Equal(t, map[string]float64{"sessions_in_use": 0, "sessions_waiting": 0, "healthy": 1, "recoveries_total": 0}, gauges)
			} else {
				assert.Zero(t, fallback)
				assert.Empty(t, gauges)
			}
			_, ok := fams.Gauge("go_goroutines")
			assert.True(t, ok, "the Go runtime's metrics are served too")

			require.NoError(t, closeStdin.Close())
			select {
			case code := <-done:
				require.Zero(t, code, "stderr: %s", stderr.String())
			case <-time.After(time.Minute):
				t.Fatal("run did not end after stdin closed")
			}
			_, err := http.Get(url)
			assert.Error(t, err, "the endpoint ends with the run")

			// The debug log: one record per call, in order, with every
			// field; the PIN appears nowhere.
			var logged []opsLine
			for _, r := range logRecords(t, stderr.String()) {
				if r["msg"] != "host call" {
					continue
				}
				assert.Equal(t, "ops.wasm", r["guest"])
				assert.Contains(t, r, "latency")
				assert.Contains(t, r, "backend")
				alg, _ := r["algorithm"].(string)
				if alg == "" {
					alg = "none"
				}
				errno := wasihost.ErrnoSuccess
				for e := range wasihost.Errno(100) {
					if e.String() == r["errno"] {
						errno = e
					}
				}
				logged = append(logged, opsLine{r["function"].(string), alg, errno})
			}
			assert.Equal(t, guestCalls, logged)
			assert.NotContains(t, stderr.String(), fx.PIN)
		})
	}
}

// TestRunMetricsAddrInUse: a port that cannot be had stops run before
// the guest starts, saying which setting named it.
func TestRunMetricsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, stdout, stderr := newTestCLI(map[string]string{"WASIHSM_BACKEND": "software", "WASIHSM_METRICS_ADDR": ln.Addr().String()})
	module := filepath.Join(t.TempDir(), "never-compiled.wasm")
	require.NoError(t, os.WriteFile(module, []byte("not wasm"), 0o644))
	code := runCLI(c, "run", "--no-cache", module)
	assert.Equal(t, exitInternal, code)
	assert.Empty(t, stdout.String())
	assert.Regexp(t, `^wasihsm: metrics.addr \(env WASIHSM_METRICS_ADDR\): metrics: listen tcp 127\.0\.0\.1:[0-9]+: bind: address already in use`, stderr.String())
}

// logRecords parses JSON log lines; lines that are not JSON (wasihsm's
// own messages) are skipped.
func logRecords(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(stderr) {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r), "%q", line)
		out = append(out, r)
	}
	return out
}

// parseKey reverses metricstest.Key.
func parseKey(key string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(key, ",") {
		k, v, _ := strings.Cut(part, "=")
		out[k], _ = strconv.Unquote(v)
	}
	return out
}
