// Command benchreport reads the output of `go test -bench` for package
// bench, prints the benchmark table (work, goal, measured ratio of
// medians, pass or FAIL) and writes it, with the analysis notes and an SVG
// chart, to bench/RESULTS.md and bench/ratios.svg. `make bench` runs it.
//
// Usage:
//
//	benchreport [-in FILE] [-md FILE] [-svg FILE] [-notes FILE] [-command TEXT] [-strict]
//
// It exits 1 when the input cannot be read or parsed, or, with -strict,
// when a row fails or did not run.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wasihsm/wasihsm/bench/internal/benchreport"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	in := fs.String("in", "", "`file` with the go test -bench output (default stdin)")
	md := fs.String("md", "", "write the Markdown report to `file`")
	svg := fs.String("svg", "", "write the SVG chart to `file`")
	notes := fs.String("notes", "", "Markdown `file` appended to the report (the analysis)")
	command := fs.String("command", "", "how the benchmarks were run, for the report")
	strict := fs.Bool("strict", false, "exit 1 when a row fails or did not run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	r := stdin
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	results, env, err := benchreport.Parse(r)
	if err != nil {
		return err
	}
	outcomes := benchreport.Evaluate(benchreport.Rows, results)
	if err := benchreport.WriteTable(stdout, outcomes); err != nil {
		return err
	}
	pass, fail, notRun := benchreport.Summary(outcomes)
	fmt.Fprintf(stdout, "\n%d rows pass, %d fail, %d not run\n", pass, fail, notRun)

	// When the benchmarks ended: the input's last write, or now for stdin.
	when := time.Now()
	if *in != "" {
		if st, err := os.Stat(*in); err == nil {
			when = st.ModTime()
		}
	}
	report := benchreport.Report{Env: env, When: when.UTC().Format("2006-01-02 15:04 MST"), Command: *command}
	if *notes != "" {
		b, err := os.ReadFile(*notes)
		if err != nil {
			return err
		}
		report.Notes = string(b)
	}
	if *md != "" {
		var b bytes.Buffer
		if err := benchreport.WriteMarkdown(&b, outcomes, report); err != nil {
			return err
		}
		if err := os.WriteFile(*md, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *svg != "" {
		var b bytes.Buffer
		if err := benchreport.WriteSVG(&b, outcomes); err != nil {
			return err
		}
		if err := os.WriteFile(*svg, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *strict && (fail > 0 || notRun > 0) {
		return fmt.Errorf("%d rows fail, %d did not run", fail, notRun)
	}
	return nil
}
