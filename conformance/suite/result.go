package suite

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Status is the verdict of a cell or scenario.
type Status string

// The verdicts.
const (
	// Pass: every check ran and passed.
	Pass Status = "pass"
	// Fail: a check failed, or a cell had no check.
	Fail Status = "fail"
	// NotSup: every check answered notsup, and the target's backends
	// cannot serve the algorithm under its policy (on a token: the token
	// lacks a mechanism).
	NotSup Status = "notsup"
)

// Cell is one algorithm × operation on one target.
type Cell struct {
	Row
	Status Status `json:"status"`
	// Passed counts the checks that passed; Vectors, those of them that
	// are published known answers.
	Passed  int `json:"passed"`
	Vectors int `json:"vectors"`
	// Failures are the first failed checks, with why.
	Failures []string `json:"failures,omitempty"`
}

// ScenarioResult is one scenario of the contract guest on one target.
type ScenarioResult struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Result is the suite's outcome on one target.
type Result struct {
	Target  string `json:"target"`
	Primary string `json:"primary"`
	Policy  string `json:"fallback"`
	// Cells are the algorithm × operation cells, in Rows order.
	Cells []Cell `json:"cells"`
	// Scenarios are the contract guest's scenarios.
	Scenarios []ScenarioResult `json:"scenarios"`
	// NotRun names the scenarios not run here, and where they run.
	NotRun map[string]string `json:"not_run"`
	// VectorsPassed and ChecksPassed count the known-answer vectors and
	// all checks (vectors and probes) that passed.
	VectorsPassed int    `json:"vectors_passed"`
	ChecksPassed  int    `json:"checks_passed"`
	Duration      string `json:"duration"`
}

// Failed reports whether any cell or scenario failed.
func (r *Result) Failed() bool {
	for _, c := range r.Cells {
		if c.Status == Fail {
			return true
		}
	}
	for _, s := range r.Scenarios {
		if s.Status == Fail {
			return true
		}
	}
	return false
}

// Failed reports whether any of results failed.
func Failed(results []*Result) bool {
	return slices.ContainsFunc(results, (*Result).Failed)
}

func cellText(c Cell) string {
	if c.Status != Pass {
		return string(c.Status)
	}
	if c.Vectors > 0 {
		return fmt.Sprintf("pass (%d, %d vectors)", c.Passed, c.Vectors)
	}
	return fmt.Sprintf("pass (%d)", c.Passed)
}

// table is the matrix as rows of cells, with a header.
func table(results []*Result) (header []string, rows [][]string) {
	header = []string{"algorithm", "operation"}
	for _, r := range results {
		header = append(header, r.Target)
	}
	for i, row := range Rows() {
		line := []string{row.Algorithm, row.Operation}
		for _, r := range results {
			line = append(line, cellText(r.Cells[i]))
		}
		rows = append(rows, line)
	}
	return header, rows
}

func scenarioTable(results []*Result) (header []string, rows [][]string) {
	header = []string{"scenario"}
	for _, r := range results {
		header = append(header, r.Target)
	}
	if len(results) == 0 {
		return header, nil
	}
	for i, s := range results[0].Scenarios {
		line := []string{s.Name}
		for _, r := range results {
			line = append(line, string(r.Scenarios[i].Status))
		}
		rows = append(rows, line)
	}
	return header, rows
}

// WriteText writes the matrix as aligned text columns, then the contract
// scenarios, the totals and every failure.
func WriteText(w io.Writer, results []*Result) {
	writeAligned := func(header []string, rows [][]string) {
		width := make([]int, len(header))
		for _, line := range append([][]string{header}, rows...) {
			for i, c := range line {
				width[i] = max(width[i], len(c))
			}
		}
		for _, line := range append([][]string{header}, rows...) {
			var b strings.Builder
			for i, c := range line {
				if i < len(line)-1 {
					fmt.Fprintf(&b, "%-*s  ", width[i], c)
				} else {
					b.WriteString(c)
				}
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	writeAligned(table(results))
	fmt.Fprintln(w)
	writeAligned(scenarioTable(results))
	fmt.Fprintln(w)
	writeSummary(w, results, "")
}

// WriteMarkdown writes the matrix as Markdown tables (conformance/RESULTS.md).
func WriteMarkdown(w io.Writer, results []*Result) {
	writeTable := func(header []string, rows [][]string) {
		fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
		for _, line := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(line, " | "))
		}
	}
	fmt.Fprintf(w, "## Algorithms × operations\n\n")
	writeTable(table(results))
	fmt.Fprintf(w, "\n## Contract scenarios\n\n")
	writeTable(scenarioTable(results))
	fmt.Fprintf(w, "\n## Totals\n\n")
	writeSummary(w, results, "- ")
}

func writeSummary(w io.Writer, results []*Result, bullet string) {
	for _, r := range results {
		count := map[Status]int{}
		for _, c := range r.Cells {
			count[c.Status]++
		}
		sc := map[Status]int{}
		for _, s := range r.Scenarios {
			sc[s.Status]++
		}
		fmt.Fprintf(w, "%s%s (primary %s, fallback %s): cells %d pass, %d notsup, %d fail; scenarios %d pass, %d notsup, %d fail; %d vectors and %d checks passed\n",
			bullet, r.Target, r.Primary, r.Policy, count[Pass], count[NotSup], count[Fail], sc[Pass], sc[NotSup], sc[Fail], r.VectorsPassed, r.ChecksPassed)
	}
	if len(results) > 0 {
		var names []string
		for n := range results[0].NotRun {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(w, "%snot run here: %s (%s)\n", bullet, n, results[0].NotRun[n])
		}
	}
	for _, r := range results {
		var notsup []string
		for _, c := range r.Cells {
			if c.Status == NotSup && !slices.Contains(notsup, c.Algorithm) {
				notsup = append(notsup, c.Algorithm)
			}
		}
		if len(notsup) > 0 {
			fmt.Fprintf(w, "%snotsup on %s: %s (no backend that fallback %s permits has the mechanisms)\n",
				bullet, r.Target, strings.Join(notsup, ", "), r.Policy)
		}
		for _, s := range r.Scenarios {
			if s.Status == NotSup {
				fmt.Fprintf(w, "%snotsup on %s: scenario %s %s\n", bullet, r.Target, s.Name, s.Detail)
			}
		}
	}
	for _, r := range results {
		for _, c := range r.Cells {
			for _, f := range c.Failures {
				if c.Status == Fail {
					fmt.Fprintf(w, "%sFAIL %s: %s %s: %s\n", bullet, r.Target, c.Algorithm, c.Operation, f)
				}
			}
		}
		for _, s := range r.Scenarios {
			if s.Status == Fail {
				fmt.Fprintf(w, "%sFAIL %s: %s: %s\n", bullet, r.Target, s.Name, s.Detail)
			}
		}
	}
}
