package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
)

// The keys subcommands on a group of tokens (pkcs11.tokens): list shows on
// which tokens each key is, import writes the same key to every token,
// delete removes it from every token, show shows it from the first token
// that has it. generate is refused: a key made inside one token cannot
// leave it, so the others could never hold the same key.

// groupTokenConfigs returns the hsm.Config of each token of the group.
func (c *cli) groupTokenConfigs(settings config.Settings) ([]hsm.Config, error) {
	cfg, err := groupConfig(settings, c.lookupEnv)
	if err != nil {
		return nil, err
	}
	return cfg.Tokens, nil
}

// groupAdmins opens every token of the group and logs in.
func (c *cli) groupAdmins(ctx context.Context, f *keysFlags, settings config.Settings, readOnly bool) ([]*hsm.Admin, int) {
	cfgs, err := c.groupTokenConfigs(settings)
	if err != nil {
		return nil, c.errorf(exitUsage, "keys %s: %v", f.sub, err)
	}
	var admins []*hsm.Admin
	for i, cfg := range cfgs {
		// The CLI never closes what it opened on the token: see newProvider.
		admin, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{ReadOnly: readOnly})
		if err == nil {
			err = admin.Login(ctx)
		}
		if err != nil {
			return nil, c.errorf(exitInternal, "keys %s: %s[%d] (%s): %v", f.sub, config.FieldTokens, i, cfg.Token, err)
		}
		admins = append(admins, admin)
	}
	return admins, exitOK
}

// reachableAdmins opens every token of the group it can reach, read-only,
// and logs in: admins has nil for a token that cannot be opened, and errs
// says why, by place.
func (c *cli) reachableAdmins(ctx context.Context, f *keysFlags, settings config.Settings) (admins []*hsm.Admin, errs map[int]error, code int) {
	cfgs, err := c.groupTokenConfigs(settings)
	if err != nil {
		return nil, nil, c.errorf(exitUsage, "keys %s: %v", f.sub, err)
	}
	errs = map[int]error{}
	for i, cfg := range cfgs {
		// The CLI never closes what it opened on the token: see newProvider.
		admin, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{ReadOnly: true})
		if err == nil {
			err = admin.Login(ctx)
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s[%d] (%s): %w", config.FieldTokens, i, cfg.Token, err)
			admin = nil
		}
		admins = append(admins, admin)
	}
	if len(errs) == len(cfgs) {
		return nil, nil, c.errorf(exitInternal, "keys %s: no token of the group can be read: %v", f.sub, errors.Join(mapValues(errs)...))
	}
	return admins, errs, exitOK
}

// mapValues returns m's values in the order of their keys.
func mapValues(m map[int]error) []error {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]error, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// groupKeyRow is a key as the tokens of a group hold it.
type groupKeyRow struct {
	key    hsm.TokenKey
	tokens []int
}

// keysGroupList implements `wasihsm keys list` on a group.
func (c *cli) keysGroupList(ctx context.Context, f *keysFlags, settings config.Settings) int {
	admins, unreachable, code := c.reachableAdmins(ctx, f, settings)
	if code != exitOK {
		return code
	}
	var rows []*groupKeyRow
	for i, admin := range admins {
		if admin == nil {
			continue
		}
		keys, err := admin.List(ctx)
		if err != nil {
			return c.errorf(exitInternal, "keys list: %s[%d]: %v", config.FieldTokens, i, err)
		}
	next:
		for _, k := range keys {
			for _, r := range rows {
				if r.key.Label == k.Label && bytes.Equal(r.key.ID, k.ID) && r.key.Class == k.Class && r.key.Type == k.Type {
					r.tokens = append(r.tokens, i)
					continue next
				}
			}
			rows = append(rows, &groupKeyRow{key: k, tokens: []int{i}})
		}
	}
	if f.json {
		type row struct {
			keyJSON
			Tokens []int `json:"tokens"`
		}
		out := make([]row, 0, len(rows))
		for _, r := range rows {
			out = append(out, row{newKeyJSON(r.key), r.tokens})
		}
		if code := c.writeJSON(out); code != exitOK {
			return code
		}
		return c.unreachableTokens(unreachable)
	}
	if len(rows) == 0 {
		fmt.Fprintf(c.stdout, "no keys on the %d tokens of the group\n", len(admins)-len(unreachable))
		return c.unreachableTokens(unreachable)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tID\tCLASS\tTYPE\tALGORITHMS\tTOKENS")
	for _, r := range rows {
		algs := strings.Join(r.key.Algorithms, ",")
		if algs == "" {
			algs = "-"
		}
		fmt.Fprintf(tw, "%s\t%x\t%s\t%s\t%s\t%s\n", r.key.Label, r.key.ID, r.key.Class, r.key.Type, algs, tokenList(r.tokens, len(admins)-len(unreachable)))
	}
	_ = tw.Flush()
	fmt.Fprintln(c.stdout, "\nTOKENS are places in pkcs11.tokens, from 0; doctor proves that a key is the same on each.")
	return c.unreachableTokens(unreachable)
}

// unreachableTokens reports the tokens keys list could not read: the
// listing is then incomplete, and the exit status says so.
func (c *cli) unreachableTokens(errs map[int]error) int {
	if len(errs) == 0 {
		return exitOK
	}
	for _, err := range mapValues(errs) {
		fmt.Fprintf(c.stderr, "wasihsm: keys list: not listed, the token cannot be read: %v\n", err)
	}
	return exitFailed
}

// tokenList says on which of n tokens a key is.
func tokenList(tokens []int, n int) string {
	words := make([]string, len(tokens))
	for i, t := range tokens {
		words[i] = fmt.Sprint(t)
	}
	s := strings.Join(words, ",")
	if len(tokens) < n {
		s += fmt.Sprintf(" (MISSING on %d of %d)", n-len(tokens), n)
	}
	return s
}

// keysGroupImport implements `wasihsm keys import` on a group: the same
// key to every token, or to none. A label or id already on any token
// refuses the import before anything is written; a token that fails while
// the key is written has it removed again from the tokens that took it.
func (c *cli) keysGroupImport(ctx context.Context, f *keysFlags, settings config.Settings, spec hsm.KeySpec) int {
	admins, code := c.groupAdmins(ctx, f, settings, false)
	if code != exitOK {
		return code
	}
	for i, admin := range admins {
		for _, find := range []func() ([]hsm.TokenKey, error){
			func() ([]hsm.TokenKey, error) { return admin.Find(ctx, spec.Label, nil) },
			func() ([]hsm.TokenKey, error) { return admin.Find(ctx, "", spec.ID) },
		} {
			found, err := find()
			if err != nil {
				return c.errorf(exitInternal, "keys import: %s[%d]: %v", config.FieldTokens, i, err)
			}
			if len(found) > 0 {
				return c.errorf(exitFailed, "keys import: %s[%d] has a key with label %q or id %x already; nothing was imported",
					config.FieldTokens, i, spec.Label, spec.ID)
			}
		}
	}
	var made hsm.TokenKey
	for i, admin := range admins {
		k, err := admin.Create(ctx, spec)
		if err != nil {
			var undo []error
			for j := range i {
				if _, derr := admins[j].Delete(ctx, spec.Label, spec.ID); derr != nil {
					undo = append(undo, fmt.Errorf("%s[%d]: %w", config.FieldTokens, j, derr))
				}
			}
			if len(undo) > 0 {
				return c.errorf(exitInternal, "keys import: %s[%d]: %v; and the key could not be removed again from: %v",
					config.FieldTokens, i, err, errors.Join(undo...))
			}
			return c.errorf(keysExit(err), "keys import: %s[%d]: %v; removed again from the %d token(s) before it", config.FieldTokens, i, err, i)
		}
		made = k
	}
	c.sayf("imported %s key %q (id %x) on each of the %d tokens of the group: %s", f.algorithm, made.Label, made.ID, len(admins), attributeWords(made))
	return c.printKey(made, f.algorithm, f)
}

// keysGroupDelete implements `wasihsm keys delete` on a group: from every
// token that has the key.
func (c *cli) keysGroupDelete(ctx context.Context, f *keysFlags, settings config.Settings, id []byte) int {
	admins, code := c.groupAdmins(ctx, f, settings, false)
	if code != exitOK {
		return code
	}
	total := 0
	for i, admin := range admins {
		n, err := admin.Delete(ctx, f.label, id)
		if err != nil && keysExit(err) != exitFailed {
			return c.errorf(exitInternal, "keys delete: %s[%d]: %v (deleted %d object(s) before)", config.FieldTokens, i, err, total)
		}
		total += n
	}
	if total == 0 {
		return c.errorf(exitFailed, "keys delete: no object with label %q and id %x on any token of the group", f.label, id)
	}
	c.sayf("deleted %d object(s) with label %q and id %x from the %d tokens of the group", total, f.label, id, len(admins))
	return exitOK
}

// keysGroupShow implements `wasihsm keys show` on a group: the key as the
// first token that has it holds it.
func (c *cli) keysGroupShow(ctx context.Context, f *keysFlags, settings config.Settings, id []byte) int {
	admins, code := c.groupAdmins(ctx, f, settings, true)
	if code != exitOK {
		return code
	}
	for _, admin := range admins {
		found, err := admin.Find(ctx, f.label, id)
		switch {
		case err != nil:
			return c.errorf(exitInternal, "keys show: %v", err)
		case len(found) == 0:
			continue
		case len(found) > 1:
			return c.errorf(exitFailed, "keys show: %d keys match label %q and id %x; give both --label and --id", len(found), f.label, id)
		}
		alg := f.algorithm
		if alg == "" && len(found[0].Algorithms) > 0 {
			alg = found[0].Algorithms[0]
		}
		return c.printKey(found[0], alg, f)
	}
	return c.errorf(exitFailed, "keys show: no private or secret key with label %q and id %x on any token of the group", f.label, id)
}
