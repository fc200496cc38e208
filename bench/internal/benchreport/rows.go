package benchreport

import (
	"fmt"
	"math"
	"slices"
)

// Kind is how a row compares its product with its baseline.
type Kind int

const (
	// TimeAtMost: the product's time (ns/op) over the baseline's is at
	// most Target.
	TimeAtMost Kind = iota + 1
	// SpeedAtLeast: the baseline's time over the product's (the product's
	// relative throughput) is at least Target.
	SpeedAtLeast
	// ZeroAllocs: the product's allocs/op is 0 in every run.
	ZeroAllocs
	// GrowthAtMost: the product's heap-B metric is at most Target bytes,
	// over at least MinCalls calls (its calls metric).
	GrowthAtMost
	// CPUAtMost: the product's CPU time (cpu-ns/op) over the baseline's is
	// at most Target.
	CPUAtMost
	// Info: the product's Metric, with no goal.
	Info
)

// Row is one line of the table.
type Row struct {
	Work     string // what is measured
	Product  string // benchmark of the product path
	Baseline string // benchmark of the baseline; empty for ZeroAllocs, GrowthAtMost, Info
	Against  string // the baseline in words
	Kind     Kind
	Target   float64
	Metric   string // the unit reported by Info rows
	MinCalls float64
	// Bound, for a SpeedAtLeast row, is a benchmark that does the
	// product's work at least as fast as the product can (native code
	// in the host): the baseline over it is the most the product could
	// measure, shown next to the measurement.
	Bound string
}

// Goals of the rows, each defined once: a token row of the default
// backend and its inline_calls twin share theirs.
const (
	// GoalSign: ES256 and EdDSA signing against raw miekg/pkcs11.
	GoalSign = 0.95
	// GoalShort: HS256 and A256GCM of 64 B against raw miekg/pkcs11, six
	// host calls around a token operation of a few microseconds.
	GoalShort = 0.85
	// GoalBulk: A256GCM of 1 MiB against raw miekg/pkcs11.
	GoalBulk = 0.9
	// GoalKeygen: ES256 and AES key generation against raw miekg/pkcs11.
	GoalKeygen = 0.85
	// GoalCPUOverInline: the default backend's CPU time per operation
	// against inline_calls': the call deadline's hand-off may use a CPU
	// that would otherwise idle, within this bound.
	GoalCPUOverInline = 1.5
	// GoalSaturation: the default backend's throughput against
	// inline_calls' when guests keep every CPU busy.
	GoalSaturation = 0.95
)

// tokenRows are the rows of one BenchmarkToken work on SoftHSM2: the
// default backend and inline_calls against raw miekg/pkcs11, and, with
// cpu, the default backend's CPU time against inline_calls'.
func tokenRows(work, bench string, goal float64, cpu bool) []Row {
	product, inline, raw := "BenchmarkToken/"+bench+"/product", "BenchmarkToken/"+bench+"/product-inline", "BenchmarkToken/"+bench+"/raw"
	rows := []Row{
		{Work: work + " (SoftHSM2)", Product: product, Baseline: raw, Against: "raw miekg/pkcs11", Kind: SpeedAtLeast, Target: goal},
		{Work: work + " (SoftHSM2, inline_calls)", Product: inline, Baseline: raw, Against: "raw miekg/pkcs11", Kind: SpeedAtLeast, Target: goal},
	}
	if cpu {
		rows = append(rows, Row{Work: work + " (SoftHSM2), CPU time per operation", Product: product, Baseline: inline, Against: "inline_calls", Kind: CPUAtMost, Target: GoalCPUOverInline})
	}
	return rows
}

// Rows are the rows of the benchmark table, in its order. Each token row in the
// process has a twin "inline_calls" row: the same work with
// hsm.Config.InlineCalls (which the configuration file once called
// pkcs11.inline_calls), which gives up the
// deadline inside the token, measured against the same baseline; and a
// row of the default backend's CPU time against the twin's.
var Rows = slices.Concat(
	[]Row{
		{Work: "cheapest call: hash_update of 0 B (software)", Product: "BenchmarkCheapestCall/product", Baseline: "BenchmarkCheapestCall/baseline", Against: "bare api.GoModuleFunc import", Kind: TimeAtMost, Target: 1.5},
		{Work: "instance budget: one charge and release, as a staging call makes", Product: "BenchmarkBudget/charge-release", Baseline: "BenchmarkBudget/cheapest-call", Against: "the cheapest call (hash_update of 0 B, software), which charges nothing", Kind: TimeAtMost, Target: 0.25},
		{Work: "SHA-256 of 1 MiB (software)", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/native", Against: "native Go in the host", Kind: SpeedAtLeast, Target: 0.9},
		{Work: "SHA-512 of 1 MiB (software)", Product: "BenchmarkHash/SHA-512/host", Baseline: "BenchmarkHash/SHA-512/native", Against: "native Go in the host", Kind: SpeedAtLeast, Target: 0.9},
		{Work: "SHA3-256 of 1 MiB (software)", Product: "BenchmarkHash/SHA3-256/host", Baseline: "BenchmarkHash/SHA3-256/native", Against: "native Go in the host", Kind: SpeedAtLeast, Target: 0.9},
		{Work: "SHA-256 of 1 MiB (software)", Product: "BenchmarkHash/SHA-256/host", Baseline: "BenchmarkHash/SHA-256/in-guest", Against: "the same Go code in the guest", Kind: SpeedAtLeast, Target: 30, Bound: "BenchmarkHash/SHA-256/native"},
		{Work: "SHA-256 of 1 MiB from a C guest (software)", Product: "BenchmarkGuestLanguage/SHA-256/c", Baseline: "BenchmarkGuestLanguage/SHA-256/go", Against: "the same from a Go guest", Kind: SpeedAtLeast, Target: 0.95},
		{Work: "SHA-512 of 1 MiB (software)", Product: "BenchmarkHash/SHA-512/host", Baseline: "BenchmarkHash/SHA-512/in-guest", Against: "the same Go code in the guest", Kind: SpeedAtLeast, Target: 30, Bound: "BenchmarkHash/SHA-512/native"},
		{Work: "SHA3-256 of 1 MiB (software)", Product: "BenchmarkHash/SHA3-256/host", Baseline: "BenchmarkHash/SHA3-256/in-guest", Against: "the same Go code in the guest", Kind: SpeedAtLeast, Target: 30, Bound: "BenchmarkHash/SHA3-256/native"},
	},
	tokenRows("ES256 sign", "ES256-sign", GoalSign, true),
	tokenRows("EdDSA sign", "EdDSA-sign", GoalSign, true),
	tokenRows("HS256 of 64 B", "HS256-64B", GoalShort, true),
	tokenRows("A256GCM seal of 64 B", "A256GCM-64B", GoalShort, true),
	tokenRows("A256GCM seal of 1 MiB", "A256GCM-1MiB", GoalBulk, false),
	tokenRows("ES256 key generation", "ES256-keygen", GoalKeygen, true),
	tokenRows("AES-256 key generation", "AES-keygen", GoalKeygen, true),
	[]Row{
		{Work: "ES256 sign (SoftHSM2)", Product: "BenchmarkToken/ES256-sign/product", Baseline: "BenchmarkToken/ES256-sign/crypto11", Against: "crypto11 Signer", Kind: SpeedAtLeast, Target: 1.0},
		{Work: "ES256 sign (SoftHSM2, inline_calls)", Product: "BenchmarkToken/ES256-sign/product-inline", Baseline: "BenchmarkToken/ES256-sign/crypto11", Against: "crypto11 Signer", Kind: SpeedAtLeast, Target: 1.0},
		{Work: "ES256 sign through p11-kit remoting", Product: "BenchmarkRemote/ES256-sign/product", Baseline: "BenchmarkRemote/ES256-sign/raw", Against: "raw miekg/pkcs11 over the same remote", Kind: SpeedAtLeast, Target: 0.95},
		{Work: "second `wasihsm run` of a 2.8 MB Go guest, start to first host call", Product: "BenchmarkStartup/wasihsm-run", Baseline: "BenchmarkStartup/compile-instantiate", Against: "wazero compile from cache + instantiate", Kind: TimeAtMost, Target: 1.5},
		{Work: "the same run in process (no process start), for the split", Product: "BenchmarkStartup/in-process-run", Kind: Info, Metric: "ns/op"},
		{Work: "the baseline in a process of its own (bench/cmd/startupbaseline), start to instantiated", Product: "BenchmarkStartup/compile-instantiate-process", Kind: Info, Metric: "ns/op"},
		{Work: "ES256 sign, 2 instances in parallel (software)", Product: "BenchmarkParallelSoftware/2-instances", Baseline: "BenchmarkParallelSoftware/1-instance", Against: "1 instance", Kind: SpeedAtLeast, Target: 1.7},
		{Work: "ES256 sign, 2 instances in parallel (SoftHSM2)", Product: "BenchmarkParallelToken/2-instances", Baseline: "BenchmarkParallelToken/raw-2-goroutines", Against: "raw miekg/pkcs11, 2 goroutines", Kind: SpeedAtLeast, Target: 0.95},
		{Work: "ES256 sign, 2 instances in parallel (SoftHSM2, inline_calls)", Product: "BenchmarkParallelToken/2-instances-inline", Baseline: "BenchmarkParallelToken/raw-2-goroutines", Against: "raw miekg/pkcs11, 2 goroutines", Kind: SpeedAtLeast, Target: 0.95},
		{Work: "ES256 sign with a managed key, 2 guests, a group of 2 tokens (each behind its own p11-kit server)", Product: "BenchmarkGroup/ES256-managed/2-tokens", Baseline: "BenchmarkGroup/ES256-managed/1-token", Against: "1 token (pkcs11.token), same set-up", Kind: SpeedAtLeast, Target: 1.7},
		{Work: "the same on one token configured as a group of one", Product: "BenchmarkGroup/ES256-managed/group-of-1", Baseline: "BenchmarkGroup/ES256-managed/1-token", Against: "1 token (pkcs11.token)", Kind: TimeAtMost, Target: 1.1},
		{Work: "HS256 of 64 B, 4 guests with keys of their own on 2 CPUs (SoftHSM2), throughput", Product: "BenchmarkSaturation/HS256-64B/product", Baseline: "BenchmarkSaturation/HS256-64B/product-inline", Against: "inline_calls", Kind: SpeedAtLeast, Target: GoalSaturation},
		{Work: "diagnostic: raw HS256 of 64 B (SoftHSM2) on the caller's goroutine", Product: "BenchmarkHandoff/HS256-64B/inline", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same on a goroutine per call, as the default backend's deadline did", Product: "BenchmarkHandoff/HS256-64B/goroutine", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same with every other CPU busy (no idle P for the scheduler to wake)", Product: "BenchmarkHandoff/HS256-64B/goroutine-no-idle-cpu", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same on a kept coroutine, as the default backend's deadline does now", Product: "BenchmarkHandoff/HS256-64B/coroutine", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: raw ES256 sign (SoftHSM2) on the caller's goroutine", Product: "BenchmarkHandoff/ES256-sign/inline", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same on a goroutine per call", Product: "BenchmarkHandoff/ES256-sign/goroutine", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same with every other CPU busy", Product: "BenchmarkHandoff/ES256-sign/goroutine-no-idle-cpu", Kind: Info, Metric: "ns/op"},
		{Work: "diagnostic: the same on a kept coroutine", Product: "BenchmarkHandoff/ES256-sign/coroutine", Kind: Info, Metric: "ns/op"},
		{Work: "hash_update of 0 B, allocations per call", Product: "BenchmarkHotPath/hash_update-0B", Kind: ZeroAllocs},
		{Work: "hash_digest of 32 B, allocations per call", Product: "BenchmarkHotPath/hash_digest-32B", Kind: ZeroAllocs},
		{Work: "sign_update of 64 B, allocations per call", Product: "BenchmarkHotPath/sign_update-64B", Kind: ZeroAllocs},
		{Work: "host memory per idle guest instance (loop guest)", Product: "BenchmarkIdleInstance", Kind: Info, Metric: "B/instance"},
		{Work: "heap growth over ≥ 10^6 calls (hash open/update/digest/close)", Product: "BenchmarkGrowth", Kind: GrowthAtMost, Target: 64 << 10, MinCalls: 1e6},
	},
)

// Outcome is a row evaluated against the results.
type Outcome struct {
	Row
	// Measured is the ratio (TimeAtMost, SpeedAtLeast), the largest
	// allocs/op (ZeroAllocs), the median growth (GrowthAtMost) or the
	// median metric (Info).
	Measured float64
	// ProductMedian and BaselineMedian are the median ns/op (cpu-ns/op
	// for CPUAtMost).
	ProductMedian, BaselineMedian float64
	// Runs is the number of product samples.
	Runs int
	// Bound is the baseline's median over the Bound benchmark's, or 0.
	Bound float64
	// CPU is the ratio of the medians of cpu-ns/op (the process's CPU
	// time, which does not count waiting for a core), oriented as
	// Measured; 0 when either side did not report it.
	CPU float64
	// RoundMin and RoundMax, for a ratio row whose product and baseline
	// ran the same number of times (more than once), are the smallest
	// and largest ratio of the two measured in the same round (sample i
	// of each): how far the machine moved the ratio within the run. 0
	// otherwise. They do not decide the row; Measured does.
	RoundMin, RoundMax float64
	// Missing names a benchmark without samples; the row was not run.
	Missing string
	// Pass says whether the goal is met (Info rows always pass).
	Pass bool
}

// Median is the median of xs (the mean of the middle two for an even
// count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Evaluate computes each row from the results.
func Evaluate(rows []Row, results map[string]Samples) []Outcome {
	out := make([]Outcome, 0, len(rows))
	for _, r := range rows {
		out = append(out, evaluate(r, results))
	}
	return out
}

func evaluate(r Row, results map[string]Samples) Outcome {
	o := Outcome{Row: r}
	p := results[r.Product]
	o.Runs = len(p["ns/op"])
	need := map[Kind]string{TimeAtMost: "ns/op", SpeedAtLeast: "ns/op", CPUAtMost: "cpu-ns/op", ZeroAllocs: "allocs/op", GrowthAtMost: "heap-B", Info: r.Metric}[r.Kind]
	if len(p[need]) == 0 {
		o.Missing = fmt.Sprintf("%s (%s)", r.Product, need)
		return o
	}
	switch r.Kind {
	case TimeAtMost, SpeedAtLeast:
		b := results[r.Baseline]
		if len(b["ns/op"]) == 0 {
			o.Missing = r.Baseline + " (ns/op)"
			return o
		}
		o.ProductMedian, o.BaselineMedian = Median(p["ns/op"]), Median(b["ns/op"])
		if bound := results[r.Bound]["ns/op"]; len(bound) > 0 {
			o.Bound = o.BaselineMedian / Median(bound)
		}
		pc, bc := Median(p["cpu-ns/op"]), Median(b["cpu-ns/op"])
		if pc > 0 && bc > 0 {
			o.CPU = bc / pc
			if r.Kind == TimeAtMost {
				o.CPU = pc / bc
			}
		}
		ratio := func(product, baseline float64) float64 {
			if r.Kind == TimeAtMost {
				return product / baseline
			}
			return baseline / product
		}
		o.Measured = ratio(o.ProductMedian, o.BaselineMedian)
		if r.Kind == TimeAtMost {
			o.Pass = o.Measured <= r.Target
		} else {
			o.Pass = o.Measured >= r.Target
		}
		if ps, bs := p["ns/op"], b["ns/op"]; len(ps) == len(bs) && len(ps) > 1 {
			o.RoundMin, o.RoundMax = math.Inf(1), math.Inf(-1)
			for i := range ps {
				x := ratio(ps[i], bs[i])
				o.RoundMin, o.RoundMax = min(o.RoundMin, x), max(o.RoundMax, x)
			}
		}
	case CPUAtMost:
		b := results[r.Baseline]
		if len(b["cpu-ns/op"]) == 0 {
			o.Missing = r.Baseline + " (cpu-ns/op)"
			return o
		}
		o.ProductMedian, o.BaselineMedian = Median(p["cpu-ns/op"]), Median(b["cpu-ns/op"])
		o.Measured = o.ProductMedian / o.BaselineMedian
		o.Pass = o.Measured <= r.Target
		if ps, bs := p["cpu-ns/op"], b["cpu-ns/op"]; len(ps) == len(bs) && len(ps) > 1 {
			o.RoundMin, o.RoundMax = math.Inf(1), math.Inf(-1)
			for i := range ps {
				o.RoundMin, o.RoundMax = min(o.RoundMin, ps[i]/bs[i]), max(o.RoundMax, ps[i]/bs[i])
			}
		}
	case ZeroAllocs:
		o.Measured = slices.Max(p["allocs/op"])
		o.Pass = o.Measured == 0
	case GrowthAtMost:
		o.Measured = Median(p["heap-B"])
		calls := Median(p["calls"])
		o.Pass = o.Measured <= r.Target && calls >= r.MinCalls
		if calls < r.MinCalls {
			o.Missing = fmt.Sprintf("%s ran %.0f calls, fewer than %.0f", r.Product, calls, r.MinCalls)
		}
	case Info:
		o.Measured = Median(p[r.Metric])
		o.Pass = true
	}
	return o
}
