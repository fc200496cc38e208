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
	slots, err := hsm.Slots(ctx, module)
	if err != nil {
		return c.errorf(exitInternal, "slots: %v", err)
	}
	report := slotsReport{Module: module, Fallback: settings.Fallback.String()}
	for _, s := range slots {
		report.Slots = append(report.Slots, newSlotReport(s, settings.Fallback))
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
	ID            uint              `json:"id"`
	Description   string            `json:"description"`
	TokenPresent  bool              `json:"token_present"`
	Label         string            `json:"label,omitempty"`
	Serial        string            `json:"serial,omitempty"`
	Manufacturer  string            `json:"manufacturer,omitempty"`
	Model         string            `json:"model,omitempty"`
	Flags         []string          `json:"flags,omitempty"`
	MaxSessions   int               `json:"max_sessions"`
	MaxRWSessions int               `json:"max_rw_sessions"`
	Algorithms    []algorithmReport `json:"algorithms,omitempty"`
}

// algorithmReport says where an algorithm runs with this token: "token",
// "composed", "software" or "unavailable".
type algorithmReport struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Where string `json:"where"`
}

func newSlotReport(s hsm.SlotInfo, policy provider.Policy) slotReport {
	r := slotReport{
		ID: s.ID, Description: s.Description, TokenPresent: s.TokenPresent,
		Label: s.Label, Serial: s.Serial, Manufacturer: s.TokenManufacturer, Model: s.Model,
		Flags: s.FlagNames, MaxSessions: s.MaxSessions, MaxRWSessions: s.MaxRWSessions,
	}
	if !s.TokenPresent {
		return r
	}
	support := map[provider.Algorithm]map[provider.Operation]provider.Support{}
	for _, c := range s.Capabilities {
		if support[c.Algorithm] == nil {
			support[c.Algorithm] = map[provider.Operation]provider.Support{}
		}
		support[c.Algorithm][c.Operation] = c.Support
	}
	for _, alg := range provider.Algorithms() {
		r.Algorithms = append(r.Algorithms, algorithmReport{
			Name: alg.Name, Kind: alg.Kind.String(), Where: where(alg, support[alg], policy),
		})
	}
	return r
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
		_ = tw.Flush()
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ALGORITHM\tKIND\tRUNS ON")
		for _, a := range s.Algorithms {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, a.Kind, a.Where)
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
