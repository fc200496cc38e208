package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/provider"
)

// slotsCommand implements `wasihsm slots [--json] [flags]`: the slots and
// tokens of the configured module and, per algorithm, where it would run.
func (c *cli) slotsCommand(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wasihsm slots", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgFlags := config.AddFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if code, done := c.parseFlagsOnly(fs, args); done {
		return code
	}
	settings, err := c.loadSettings(config.Input{Flags: cfgFlags.Values()})
	if err != nil {
		return c.errorf(exitUsage, "%v", err)
	}
	module := settings.PKCS11.Module
	if module == "" && len(settings.PKCS11.Tokens) > 0 {
		module = settings.PKCS11.Tokens[0].Module
	}
	if module == "" {
		return c.errorf(exitUsage, "slots: no PKCS#11 module: set --pkcs11-module, WASIHSM_PKCS11_MODULE or pkcs11.module")
	}
	if err := hsm.AllowModule(module, hsm.Config{Module: module, AllowedModules: settings.PKCS11.AllowedModules}); err != nil {
		return c.errorf(exitUsage, "slots: %v", err)
	}
	slots, err := hsm.Slots(ctx, module, settings.PKCS11.InitArgs)
	if err != nil {
		return c.errorf(exitInternal, "slots: %v", err)
	}
	report := slotsReport{Module: module, Fallback: settings.Fallback.String()}
	probed := c.probeToken(ctx, settings)
	for _, s := range slots {
		var tp *tokenProbe
		if probed != nil && probed.slot == s.ID {
			tp = probed
		}
		report.Slots = append(report.Slots, newSlotReport(s, settings.Fallback, tp))
	}
	if len(settings.PKCS11.Tokens) > 0 {
		g := c.reportGroup(ctx, settings)
		report.Group = &g
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return c.errorf(exitInternal, "slots: %v", err)
		}
		return exitOK
	}
	report.write(c.stdout)
	return exitOK
}

// slotsReport is the output of `wasihsm slots`, also as JSON.
type slotsReport struct {
	Module   string       `json:"module"`
	Fallback string       `json:"fallback"`
	Slots    []slotReport `json:"slots"`
	// Group is the group of tokens (pkcs11.tokens), when one is
	// configured: each token's state and managed keys.
	Group *groupReport `json:"group,omitempty"`
}

type slotReport struct {
	ID            uint     `json:"id"`
	Description   string   `json:"description"`
	TokenPresent  bool     `json:"token_present"`
	Label         string   `json:"label,omitempty"`
	Serial        string   `json:"serial,omitempty"`
	Manufacturer  string   `json:"manufacturer,omitempty"`
	Model         string   `json:"model,omitempty"`
	Flags         []string `json:"flags,omitempty"`
	MaxSessions   int      `json:"max_sessions"`
	MaxRWSessions int      `json:"max_rw_sessions"`
	// Probed says that the configured token's algorithms were tried for
	// real (see hsm.Backend.Probe); ProbeNote says why not, for the
	// configured token.
	Probed    bool   `json:"probed"`
	ProbeNote string `json:"probe_note,omitempty"`
	// Quirks are the quirks found on the token (hsm.Quirks describes them).
	Quirks     []string          `json:"quirks,omitempty"`
	Algorithms []algorithmReport `json:"algorithms,omitempty"`
}

// algorithmReport says where an algorithm runs with this token: "token",
// "composed", "software" or "unavailable".
// Probe is what probing found: "ok", "refused" (Refused says what, with
// the token's answers), "not probed: …", or "" when the mechanism list
// rules the algorithm out or the token was not probed.
type algorithmReport struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Where   string   `json:"where"`
	Probe   string   `json:"probe,omitempty"`
	Refused []string `json:"refused,omitempty"`
}

// tokenProbe is what probing the configured token found: the probes of
// hsm.Backend.Probe and the quirks found, or why it could not be probed.
type tokenProbe struct {
	slot   uint
	probes map[string]hsm.Probe
	quirks []string
	note   string
}

// probeToken opens the backend on the configured token, as run does, and
// probes it; nil when no token is configured. A backend that does not
// open gives a note in place of probes.
func (c *cli) probeToken(ctx context.Context, settings config.Settings) *tokenProbe {
	if !settings.PKCS11.Selector.IsSet() {
		return nil
	}
	cfg, err := hsmConfig(settings, c.lookupEnv)
	if err != nil {
		return nil
	}
	// Managed keys are doctor's to check; a wrong entry must not hide
	// what the token can do.
	cfg.ManagedKeys = nil
	b, err := hsm.Open(ctx, cfg)
	if err != nil {
		// Which slot it is, to say so there.
		admin, aerr := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{ReadOnly: true})
		if aerr != nil {
			return nil
		}
		return &tokenProbe{slot: admin.Slot(), note: "not probed: the backend does not open: " + err.Error()}
	}
	// Not closed: see newProvider.
	return newTokenProbe(b)
}

// newTokenProbe probes every algorithm on b.
func newTokenProbe(b *hsm.Backend) *tokenProbe {
	tp := &tokenProbe{slot: b.Slot(), probes: map[string]hsm.Probe{}}
	for _, p := range b.Probe() {
		tp.probes[p.Algorithm.Name] = p
	}
	tp.quirks = b.Quirks()
	return tp
}

func newSlotReport(s hsm.SlotInfo, policy provider.Policy, tp *tokenProbe) slotReport {
	r := slotReport{
		ID: s.ID, Description: s.Description, TokenPresent: s.TokenPresent,
		Label: s.Label, Serial: s.Serial, Manufacturer: s.TokenManufacturer, Model: s.Model,
		Flags: s.FlagNames, MaxSessions: s.MaxSessions, MaxRWSessions: s.MaxRWSessions,
	}
	if !s.TokenPresent {
		return r
	}
	if tp != nil {
		r.Probed, r.ProbeNote, r.Quirks = tp.probes != nil, tp.note, tp.quirks
	}
	support := map[provider.Algorithm]map[provider.Operation]provider.Support{}
	for _, c := range s.Capabilities {
		if support[c.Algorithm] == nil {
			support[c.Algorithm] = map[provider.Operation]provider.Support{}
		}
		support[c.Algorithm][c.Operation] = c.Support
	}
	for _, alg := range provider.Algorithms() {
		a := algorithmReport{Name: alg.Name, Kind: alg.Kind.String()}
		if p, ok := tp.probe(alg); ok {
			a.Probe = "ok"
			switch {
			case p.Err != nil:
				a.Probe = "not probed: " + p.Err.Error()
			case len(p.Refusals) > 0:
				a.Probe = "refused"
			}
			for _, f := range p.Refusals {
				a.Refused = append(a.Refused, f.String())
				support[alg][f.Operation] = provider.Unsupported
			}
		}
		a.Where = where(alg, support[alg], policy)
		r.Algorithms = append(r.Algorithms, a)
	}
	return r
}

// probe is the probe of alg, if the token was probed and alg with it.
func (tp *tokenProbe) probe(alg provider.Algorithm) (hsm.Probe, bool) {
	if tp == nil {
		return hsm.Probe{}, false
	}
	p, ok := tp.probes[alg.Name]
	return p, ok
}

// where says where the router would run alg with this token and policy:
// the least support over what the algorithm needs (a key must be created
// and used in one place), else software if the policy permits.
func where(alg provider.Algorithm, ops map[provider.Operation]provider.Support, policy provider.Policy) string {
	needed := []provider.Operation{provider.OpHash}
	if alg.Kind.Keyed() {
		create := provider.OpGenerate
		if alg.Kind == provider.KindKDF {
			create = provider.OpImport // HKDF keys always have input
		}
		needed = append([]provider.Operation{create}, provider.KeyOperations(alg)...)
	}
	least := provider.Native
	for _, op := range needed {
		least = min(least, ops[op])
	}
	switch {
	case least != provider.Unsupported:
		return least.String()
	case policy == provider.FallbackAllow, policy == provider.FallbackPublicOnly && !alg.Kind.Keyed():
		return provider.Software.String()
	}
	return provider.Unsupported.String()
}

func (r slotsReport) write(w io.Writer) {
	fmt.Fprintf(w, "module %s (fallback: %s)\n", r.Module, r.Fallback)
	for _, s := range r.Slots {
		fmt.Fprintf(w, "\nslot %d: %s\n", s.ID, s.Description)
		if !s.TokenPresent {
			fmt.Fprintln(w, "  no token")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  label\t%s\n", s.Label)
		fmt.Fprintf(tw, "  serial\t%s\n", s.Serial)
		fmt.Fprintf(tw, "  manufacturer\t%s\n", s.Manufacturer)
		fmt.Fprintf(tw, "  model\t%s\n", s.Model)
		fmt.Fprintf(tw, "  flags\t%s\n", strings.Join(s.Flags, " "))
		fmt.Fprintf(tw, "  sessions\tmax %s, read-write max %s\n", sessionLimit(s.MaxSessions), sessionLimit(s.MaxRWSessions))
		switch {
		case s.Probed:
			fmt.Fprintf(tw, "  probed\tyes (each algorithm tried on throwaway keys)\n")
			fmt.Fprintf(tw, "  quirks\t%s\n", dashIfNone(strings.Join(s.Quirks, " ")))
		case s.ProbeNote != "":
			fmt.Fprintf(tw, "  probed\t%s\n", s.ProbeNote)
		}
		_ = tw.Flush()
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if s.Probed {
			fmt.Fprintln(tw, "  ALGORITHM\tKIND\tRUNS ON\tPROBE")
		} else {
			fmt.Fprintln(tw, "  ALGORITHM\tKIND\tRUNS ON")
		}
		for _, a := range s.Algorithms {
			if !s.Probed {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, a.Kind, a.Where)
				continue
			}
			probe := dashIfNone(a.Probe)
			if len(a.Refused) > 0 {
				probe = "refused: " + strings.Join(a.Refused, "; ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Name, a.Kind, a.Where, probe)
		}
		_ = tw.Flush()
	}
	if r.Group != nil {
		r.Group.write(w)
	}
}

func sessionLimit(n int) string {
	switch n {
	case 0:
		return "unlimited"
	case -1:
		return "unknown"
	}
	return fmt.Sprint(n)
}

// dashIfNone is s, or "-" when it is empty.
func dashIfNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
