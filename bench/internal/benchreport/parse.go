// Package benchreport turns the output of `go test -bench` for package
// bench into the benchmark table: for each row, the median of the
// product's and the baseline's samples, their ratio, and whether it meets
// the goal; as Markdown (bench/RESULTS.md) and as an SVG chart
// (bench/ratios.svg).
//
// # Use
//
//	results, env, err := benchreport.Parse(r) // go test -bench output
//	rows := benchreport.Evaluate(benchreport.Rows, results)
//	benchreport.WriteMarkdown(w, rows, benchreport.Report{Env: env, Notes: notes})
//	benchreport.WriteSVG(w, rows)
//
// A benchmark that ran several times (-count, or rounds of sub-benchmarks
// named name#01, name#02, …) contributes one sample per run; the median
// of the samples is what counts, so one disturbed run does not decide a
// row.
package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Samples are the measurements of one benchmark: for each unit (ns/op,
// MB/s, B/op, allocs/op or a custom metric) the value of each run, in the
// order of the output.
type Samples map[string][]float64

// Env is what `go test` says about the machine (goos, goarch, cpu, pkg).
type Env map[string]string

// suffix is what the testing package appends to a benchmark's name: #NN
// for a repeated sub-benchmark name, -N for GOMAXPROCS.
var suffix = regexp.MustCompile(`(#\d+)?(-\d+)?$`)

// Name strips the run number and the GOMAXPROCS suffix from a benchmark
// name as printed ("BenchmarkToken/ES256-sign/raw#02-2" →
// "BenchmarkToken/ES256-sign/raw").
func Name(printed string) string {
	return suffix.ReplaceAllString(printed, "")
}

// Parse reads `go test -bench` output. Lines that are not benchmark
// results are skipped, except the "key: value" header lines, which go to
// Env. A result line that is malformed is an error naming its line.
func Parse(r io.Reader) (map[string]Samples, Env, error) {
	results := map[string]Samples{}
	env := Env{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(text, ": "); ok && (k == "goos" || k == "goarch" || k == "cpu" || k == "pkg") {
			env[k] = v
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // "BenchmarkX" alone, or a log line that starts so
		}
		if len(fields)%2 != 0 || len(fields) < 4 {
			return nil, nil, fmt.Errorf("benchreport: line %d: want a name, an iteration count and value-unit pairs: %q", line, text)
		}
		name := Name(fields[0])
		s := results[name]
		if s == nil {
			s = Samples{}
			results[name] = s
		}
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("benchreport: line %d: value %q: %w", line, fields[i], err)
			}
			s[fields[i+1]] = append(s[fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("benchreport: read: %w", err)
	}
	return results, env, nil
}
