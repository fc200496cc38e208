package benchreport

import (
	"bytes"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestName(t *testing.T) {
	tests := []struct{ printed, want string }{
		{"BenchmarkToken/ES256-sign/raw-2", "BenchmarkToken/ES256-sign/raw"},
		{"BenchmarkToken/ES256-sign/raw#02-2", "BenchmarkToken/ES256-sign/raw"},
		{"BenchmarkToken/ES256-sign/raw#02", "BenchmarkToken/ES256-sign/raw"},
		{"BenchmarkParallelToken/raw-2-goroutines-16", "BenchmarkParallelToken/raw-2-goroutines"},
		{"BenchmarkHotPath/hash_update-0B-2", "BenchmarkHotPath/hash_update-0B"},
		{"BenchmarkToken/A256GCM-1MiB/product", "BenchmarkToken/A256GCM-1MiB/product"},
		{"BenchmarkIdleInstance-2", "BenchmarkIdleInstance"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Name(tt.printed), tt.printed)
	}
}

func parseSample(t *testing.T) map[string]Samples {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	require.NoError(t, err)
	defer f.Close()
	results, env, err := Parse(f)
	require.NoError(t, err)
	assert.Equal(t, Env{"goos": "linux", "goarch": "amd64", "pkg": "github.com/wasihsm/wasihsm/bench", "cpu": "AMD EPYC"}, env)
	return results
}

func TestParse(t *testing.T) {
	results := parseSample(t)
	assert.Equal(t, []float64{150, 140, 900}, results["BenchmarkCheapestCall/product"]["ns/op"])
	assert.Equal(t, []float64{1459.02}, results["BenchmarkHash/SHA-256/host"]["MB/s"])
	assert.Equal(t, []float64{4343460}, results["BenchmarkIdleInstance"]["B/instance"])
	assert.Equal(t, []float64{-664}, results["BenchmarkGrowth"]["heap-B"])
	assert.Contains(t, results, "BenchmarkParallelToken/raw-2-goroutines")
	assert.NotContains(t, results, "BenchmarkSomething")
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"odd pairs", "BenchmarkX-2 10 5 ns/op 3\n", "line 1: want a name"},
		{"no pairs", "BenchmarkX-2 10\n", "line 1: want a name"},
		{"bad value", "goos: linux\nBenchmarkX-2 10 fast ns/op\n", `line 2: value "fast"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Median(tt.xs), "%v", tt.xs)
	}
}

func TestEvaluate(t *testing.T) {
	results := parseSample(t)
	rows := []Row{
		{Work: "cheap", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkCheapestCall/baseline", Kind: TimeAtMost, Target: 1.5},
		{Work: "cheap strict", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkCheapestCall/baseline", Kind: TimeAtMost, Target: 1.4},
		{Work: "sha", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Kind: SpeedAtLeast, Target: 0.9},
		{Work: "sha fast", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Kind: SpeedAtLeast, Target: 1},
		{Work: "bound", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Kind: SpeedAtLeast, Target: 0.9, Bound: "BenchmarkHash/SHA-256/host"},
		{Work: "update", Product: "BenchmarkHotPath/hash_update-0B", Kind: ZeroAllocs},
		{Work: "digest", Product: "BenchmarkHotPath/hash_digest-32B", Kind: ZeroAllocs},
		{Work: "growth", Product: "BenchmarkGrowth", Kind: GrowthAtMost, Target: 1024, MinCalls: 1e6},
		{Work: "growth long", Product: "BenchmarkGrowth", Kind: GrowthAtMost, Target: 1024, MinCalls: 1e7},
		{Work: "idle", Product: "BenchmarkIdleInstance", Kind: Info, Metric: "B/instance"},
		{Work: "absent", Product: "BenchmarkToken/ES256-sign/product", Baseline: "BenchmarkToken/ES256-sign/raw", Kind: SpeedAtLeast, Target: 0.95},
		{Work: "no baseline", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkNope", Kind: TimeAtMost, Target: 1.5},
		{Work: "unpaired", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkHotPath/hash_update-0B", Kind: TimeAtMost, Target: 2},
		{Work: "sha cpu", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Kind: CPUAtMost, Target: 1.2},
		{Work: "sha cpu strict", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Kind: CPUAtMost, Target: 1.05},
		{Work: "cheap cpu", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkCheapestCall/baseline", Kind: CPUAtMost, Target: 1.5},
	}
	got := map[string]string{}
	measured := map[string]float64{}
	values := map[string]string{}
	for _, o := range Evaluate(rows, results) {
		got[o.Work] = o.Verdict()
		measured[o.Work] = o.Measured
		values[o.Work] = o.Value()
	}
	assert.Equal(t, "0.95× (718.7 µs vs 681.8 µs); native code reaches 0.95×; CPU time 0.90×", values["bound"])
	assert.Equal(t, "0.95× (718.7 µs vs 681.8 µs); CPU time 0.90×", values["sha"])
	assert.Equal(t, "1.50× (150 ns vs 100 ns); rounds 1.40–9.00×", values["cheap"], "no CPU ratio without cpu-ns/op; the rounds paired")
	assert.Equal(t, map[string]string{
		"cheap": "pass", "cheap strict": "FAIL", "sha": "pass", "sha fast": "FAIL", "bound": "pass",
		"update": "pass", "digest": "FAIL", "growth": "pass", "growth long": "FAIL (too few calls)",
		"idle": "—", "absent": "not run", "no baseline": "not run", "unpaired": "pass",
		"sha cpu": "pass", "sha cpu strict": "FAIL", "cheap cpu": "not run",
	}, got)
	assert.InDelta(t, 1/0.90, measured["sha cpu"], 0.01, "the product's CPU time over the baseline's, the inverse of the speed row's CPU ratio")
	assert.Equal(t, "≤ 1.05× CPU time", Evaluate(rows[len(rows)-2:len(rows)-1], results)[0].Goal())
	assert.Equal(t, "0.95× (150 ns vs 158 ns)", values["unpaired"], "3 runs against 1 are not paired into rounds")
	assert.Equal(t, 1.5, measured["cheap"], "the median of 150, 140, 900 over the median of 100s: one disturbed run does not decide")
	assert.InDelta(t, 681753.0/718684.0, measured["sha"], 1e-9)
	assert.Equal(t, 4343460.0, measured["idle"])
}

func TestWriteMarkdownAndSVG(t *testing.T) {
	outcomes := Evaluate(Rows, parseSample(t))
	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, outcomes, Report{Env: Env{"cpu": "AMD EPYC"}, When: "now", Notes: "## Notes\n\ntext"}))
	s := md.String()
	assert.Contains(t, s, "| cheapest call: hash_update of 0 B (software) | bare api.GoModuleFunc import | ≤ 1.5× time | 1.50× (150 ns vs 100 ns); rounds 1.40–9.00× | pass |")
	assert.Contains(t, s, "| ES256 sign (SoftHSM2) | raw miekg/pkcs11 | ≥ 0.95× | not run | not run |")
	assert.Contains(t, s, "- cpu: AMD EPYC\n")
	assert.Contains(t, s, "![ratios against their goals](ratios.svg)")
	assert.True(t, strings.HasSuffix(s, "## Notes\n\ntext\n"))
	assert.Equal(t, len(Rows)+2, strings.Count(s, "\n|"), "a header, a rule and one line per row")

	var svg bytes.Buffer
	require.NoError(t, WriteSVG(&svg, outcomes))
	dec := xml.NewDecoder(&svg)
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	assert.Equal(t, 1+2, rects, "the background and one bar per ratio row that ran: the cheapest call and SHA-256 against native")
}

func FuzzParse(f *testing.F) {
	sample, err := os.ReadFile("testdata/sample.txt")
	require.NoError(f, err)
	f.Add(string(sample))
	f.Add("BenchmarkX-2 1 2 ns/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		results, _, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for name, s := range results {
			if !strings.HasPrefix(name, "Benchmark") {
				t.Fatalf("a result that is no benchmark: %q", name)
			}
			for _, vs := range s {
				if len(vs) == 0 {
					t.Fatalf("an empty sample list for %q", name)
				}
			}
		}
	})
}
