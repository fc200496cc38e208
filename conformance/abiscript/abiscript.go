// Package abiscript holds ABI scenarios of the contract (docs/semantics.md:
// #handles, #memory, #algorithms, #errors) as data: scripts of raw import
// calls, with addresses and handles of the script's choosing, wrong ones
// included, and the errno or memory each must leave. A guest in any
// language runs them by interpreting a few commands, so the guests that
// run them — in C and Rust (conformance/guests/contract-c, contract-rust)
// and in Go (conformance/guests/script) — hold no copy of the rules: the host sends a scenario's commands on
// stdin, the guest answers each, and [Scenario.Check] grades the answers.
//
// # Scripts
//
// scenarios.txt holds them: "scenario NAME", then its steps, one per line
// (a line starting with "#" is a comment). The guest understands these commands and
// answers each with one line:
//
//	buf NAME HEX      names HEX's bytes (- is empty)          → ok
//	str NAME TEXT     names TEXT's bytes (no NUL)              → ok
//	fill NAME N       names N bytes of 0xA5                    → ok
//	read NAME         the bytes of NAME                        → ok HEX (- if empty)
//	call FN ARG...    calls the import FN                      → ok ERRNO (a number)
//
// An ARG is a number (decimal or 0x…), &NAME or &NAME+N (the address of
// NAME's bytes, N further), #NAME (their length) or $NAME (the
// little-endian u32 they start with: a handle the host wrote). The script
// adds "slot NAME" (fill NAME 4: an out-parameter pre-filled with the
// marker a5a5a5a5), and the expectations the host checks: a call ends
// with "= ERRNO" (a name); a read with "= HEX", "= HEX | HEX" (either) or
// "!= HEX". In HEX, "hh*N" is the byte hh N times.
package abiscript

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/wasihsm/wasihsm/spec"
)

//go:embed scenarios.txt
var scenariosText string

// ErrSyntax is wrapped by the errors of [Parse].
var ErrSyntax = errors.New("abiscript: syntax error")

// ErrMismatch is wrapped by the errors of [Scenario.Check].
var ErrMismatch = errors.New("abiscript: the guest's answers break the contract")

// Scenario is one script: a fresh guest instance runs its steps in order.
type Scenario struct {
	Name  string
	Steps []Step
}

// Step is one command and what its answer must be.
type Step struct {
	// Line is the step's line in the script.
	Line int
	// Command is what the guest is sent.
	Command string
	// Want are the acceptable answers after "ok" (an errno name for a
	// call, hex for a read); nil for a command that only answers "ok".
	Want []string
	// Not inverts Want: the answer must be none of them.
	Not bool
}

// Scenarios returns the scenarios of scenarios.txt.
func Scenarios() ([]Scenario, error) { return Parse(scenariosText) }

var repeat = regexp.MustCompile(`([0-9a-f]{2})\*([0-9]+)`)

// expand writes out the "hh*N" repetitions of a hex string.
func expand(h string) string {
	return repeat.ReplaceAllStringFunc(h, func(m string) string {
		sub := repeat.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		return strings.Repeat(sub[1], n)
	})
}

// Parse reads scripts in the form of the package documentation.
func Parse(text string) ([]Scenario, error) {
	var out []Scenario
	names := map[string]bool{}
	for i, raw := range strings.Split(text, "\n") {
		line := i + 1
		f := strings.Fields(raw)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%w: line %d: %s: %q", ErrSyntax, line, why, strings.TrimSpace(raw))
		}
		if f[0] == "scenario" {
			if len(f) != 2 || names[f[1]] {
				return nil, bad("want scenario NAME, a name not used before")
			}
			names[f[1]] = true
			out = append(out, Scenario{Name: f[1]})
			continue
		}
		if len(out) == 0 {
			return nil, bad("a step before the first scenario")
		}
		st := Step{Line: line}
		cmd := f
		if k := slicesIndex(f, "=", "!="); k >= 0 {
			cmd = f[:k]
			st.Not = f[k] == "!="
			for _, w := range strings.Split(strings.Join(f[k+1:], " "), "|") {
				if w = strings.TrimSpace(w); w != "" {
					st.Want = append(st.Want, expand(w))
				}
			}
			if len(st.Want) == 0 {
				return nil, bad("nothing after " + f[k])
			}
		}
		switch {
		case cmd[0] == "slot" && len(cmd) == 2 && st.Want == nil:
			cmd = []string{"fill", cmd[1], "4"}
		case (cmd[0] == "buf" || cmd[0] == "str" || cmd[0] == "fill") && len(cmd) == 3 && st.Want == nil:
			if cmd[0] == "buf" {
				cmd[2] = expand(cmd[2])
			}
		case cmd[0] == "read" && len(cmd) == 2 && st.Want != nil:
		case cmd[0] == "call" && len(cmd) >= 2 && len(st.Want) == 1 && !st.Not:
			if st.Want[0] != "success" && !isErrnoName(st.Want[0]) {
				return nil, bad("no errno " + st.Want[0])
			}
		default:
			return nil, bad("unknown command, or a call without its one \"= ERRNO\", or a read without its expectation")
		}
		st.Command = strings.Join(cmd, " ")
		out[len(out)-1].Steps = append(out[len(out)-1].Steps, st)
	}
	return out, nil
}

func slicesIndex(f []string, any ...string) int {
	for i, s := range f {
		for _, a := range any {
			if s == a {
				return i
			}
		}
	}
	return -1
}

func isErrnoName(name string) bool {
	for _, e := range spec.Errnos() {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// Input is what the guest is sent: the commands, one per line.
func (s Scenario) Input() string {
	var b strings.Builder
	for _, st := range s.Steps {
		b.WriteString(st.Command + "\n")
	}
	return b.String()
}

// Check grades the guest's output for s (one answer per step) and
// returns every step whose answer breaks the contract, wrapping
// [ErrMismatch]; nil when all hold.
func (s Scenario) Check(output string) error {
	answers := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
	if output == "" {
		answers = nil
	}
	var problems []string
	for i, st := range s.Steps {
		if i >= len(answers) {
			problems = append(problems, fmt.Sprintf("line %d: %s: no answer (%d answers to %d steps)", st.Line, st.Command, len(answers), len(s.Steps)))
			break
		}
		got, ok := strings.CutPrefix(answers[i], "ok")
		got = strings.TrimSpace(got)
		if !ok {
			problems = append(problems, fmt.Sprintf("line %d: %s: the guest answered %q", st.Line, st.Command, answers[i]))
			continue
		}
		if strings.HasPrefix(st.Command, "call ") {
			n, err := strconv.ParseUint(got, 10, 32)
			if err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %s: errno %q is no number", st.Line, st.Command, got))
				continue
			}
			got = spec.Errno(n).String()
		}
		match := false
		for _, w := range st.Want {
			match = match || w == got
		}
		switch {
		case st.Want == nil && got != "":
			problems = append(problems, fmt.Sprintf("line %d: %s: answered %q", st.Line, st.Command, answers[i]))
		case st.Want != nil && match == st.Not:
			op := "="
			if st.Not {
				op = "!="
			}
			problems = append(problems, fmt.Sprintf("line %d: %s = %s, want %s %s", st.Line, st.Command, got, op, strings.Join(st.Want, " | ")))
		}
	}
	if len(answers) > len(s.Steps) {
		problems = append(problems, fmt.Sprintf("%d answers to %d steps", len(answers), len(s.Steps)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrMismatch, s.Name, strings.Join(problems, "; "))
	}
	return nil
}
