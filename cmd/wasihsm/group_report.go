package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/config"
)

// groupReport is what slots and doctor say of a group of tokens: each
// token's state and, per managed key, whether it serves it.
type groupReport struct {
	Policy string `json:"policy"`
	// Error is why the group did not open at all, or "".
	Error  string             `json:"error,omitempty"`
	Tokens []groupTokenReport `json:"tokens"`
}

type groupTokenReport struct {
	Index    int    `json:"index"`
	Selector string `json:"selector"`
	State    string `json:"state"`
	// Keys says, per managed key name: present, missing, different or
	// unchecked.
	Keys      map[string]string `json:"keys,omitempty"`
	LastError string            `json:"last_error,omitempty"`
}

// reportGroup opens the group of s as run would, which finds and proves
// the managed keys on every token, and reports it.
func (c *cli) reportGroup(ctx context.Context, s config.Settings) groupReport {
	r := groupReport{Policy: s.PKCS11.Policy}
	g, err := openGroup(ctx, s, c.lookupEnv, slog.New(slog.DiscardHandler))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	// Not closed: see newProvider.
	opened := map[int]bool{}
	for _, st := range g.Status() {
		opened[st.Index] = true
		t := groupTokenReport{Index: st.Index, Selector: s.PKCS11.Tokens[st.Index].Selector.String(), State: st.State.String(), Keys: map[string]string{}}
		for name, ks := range st.Keys {
			t.Keys[name] = ks.String()
		}
		for _, k := range s.Keys {
			if _, ok := t.Keys[k.Name]; !ok {
				t.Keys[k.Name] = group.KeyUnchecked.String()
			}
		}
		if st.LastError != nil {
			t.LastError = st.LastError.Error()
		}
		r.Tokens = append(r.Tokens, t)
	}
	errs := g.OpenErrors()
	for i, tok := range s.PKCS11.Tokens {
		if opened[i] {
			continue
		}
		t := groupTokenReport{Index: i, Selector: tok.Selector.String(), State: "not opened"}
		if len(errs) > 0 {
			t.LastError, errs = errs[0].Error(), errs[1:]
		}
		r.Tokens = append(r.Tokens, t)
	}
	slices.SortFunc(r.Tokens, func(a, b groupTokenReport) int { return a.Index - b.Index })
	return r
}

func (r groupReport) write(w io.Writer) {
	fmt.Fprintf(w, "\ngroup of %d tokens (pkcs11.tokens, policy %s)\n", len(r.Tokens), r.Policy)
	if r.Error != "" {
		fmt.Fprintf(w, "  does not open: %s\n", r.Error)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOKEN\tSELECTOR\tSTATE\tMANAGED KEYS")
	for _, t := range r.Tokens {
		names := make([]string, 0, len(t.Keys))
		for n := range t.Keys {
			names = append(names, n)
		}
		slices.Sort(names)
		keys := make([]string, len(names))
		for i, n := range names {
			keys[i] = n + ": " + t.Keys[n]
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", t.Index, t.Selector, t.State, dash(strings.Join(keys, ", ")))
		if t.LastError != "" {
			fmt.Fprintf(tw, "  \t\t\tlast error: %s\n", t.LastError)
		}
	}
	_ = tw.Flush()
}

// dash is s, or "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// diagnoseGroup runs the doctor's checks of a group: each token opens and
// is healthy, and each managed key is on every token, proven the same.
func (c *cli) diagnoseGroup(ctx context.Context, r *doctorReport, s config.Settings) {
	checkConfigFile(r, s.ConfigFile)
	c.checkPIN(r, s)
	checkGuestGrants(r, s.Keys)
	g := c.reportGroup(ctx, s)
	if g.Error != "" {
		r.fail(chkGroup, g.Error, "each token must be reachable with its module, selector and PIN: wasihsm slots lists what the modules show")
		return
	}
	r.pass(chkGroup, "%d tokens, policy %s", len(g.Tokens), g.Policy)
	for _, t := range g.Tokens {
		name := fmt.Sprintf("token %d (%s)", t.Index, t.Selector)
		switch t.State {
		case group.Healthy.String():
			r.pass(name, "healthy")
		default:
			r.fail(name, fmt.Sprintf("%s: %s", t.State, dash(t.LastError)),
				"the group runs without it until it answers; check its module, selector (serial or URI) and PIN")
		}
	}
	for _, k := range s.Keys {
		var on, off []string
		for _, t := range g.Tokens {
			if t.Keys[k.Name] == group.KeyPresent.String() {
				on = append(on, fmt.Sprint(t.Index))
			} else {
				off = append(off, fmt.Sprintf("token %d: %s", t.Index, t.Keys[k.Name]))
			}
		}
		switch {
		case len(on) == 0 && unsupportedEverywhere(g.Tokens, k.Name):
			r.fail(keyCheck(k), fmt.Sprintf("no token of the group, as wasihsm reaches them, can run %s: %s", k.Algorithm.Name, strings.Join(off, ", ")),
				"the module refuses the algorithm (p11-kit's remoting carries no AES-GCM, docs/operations.md#token-groups): reach the tokens with their own modules, or use the key on one token")
		case len(on) == 0:
			r.fail(keyCheck(k), "on no token of the group: "+strings.Join(off, ", "),
				"provision it on every token: wasihsm keys import --label LABEL --id HEX --algorithm ALG FILE")
		case len(off) > 0:
			r.add(keyCheck(k), checkWarn, fmt.Sprintf("served by token(s) %s only; %s", strings.Join(on, ", "), strings.Join(off, ", ")),
				"a token that lacks the key, or holds another under its label and id, does not serve it: import the same key there")
		default:
			r.pass(keyCheck(k), "on every token, proven the same key (%s)", k.Algorithm.Name)
		}
	}
}

// unsupportedEverywhere reports whether every token of the report found
// managed key name unsupported: its module cannot run the algorithm.
func unsupportedEverywhere(tokens []groupTokenReport, name string) bool {
	for _, t := range tokens {
		if t.Keys[name] != group.KeyUnsupported.String() {
			return false
		}
	}
	return len(tokens) > 0
}

// chkGroup is the doctor's check of a group of tokens.
const chkGroup = "group of tokens"
