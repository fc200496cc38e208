package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/provider"
)

// exitFailed is the exit code of keys and doctor when the command ran and
// its work failed: no such key, a key already there, a check that failed.
const exitFailed = 1

// keysUsage is the text of `wasihsm keys help`.
const keysUsage = `Usage:
  wasihsm keys list [--json] [flags]
  wasihsm keys show (--label LABEL | --id HEX) [--algorithm ALG] [grant flags] [--json] [flags]
  wasihsm keys generate --algorithm ALG --label LABEL [--id HEX] [grant flags] [--json] [flags]
  wasihsm keys import --algorithm ALG --label LABEL [--id HEX] [grant flags] [--json] [flags] FILE
  wasihsm keys delete (--label LABEL | --id HEX) [flags]

keys manages the managed keys of the token that the configuration names
(the same module, token and PIN as run): token objects that outlive every
process, sensitive, not extractable and private, that guests open by name
with private_key_open once the configuration grants them. With a group of
tokens (pkcs11.tokens), list shows on which tokens each key is, import
writes the same key to every token (or to none), delete removes it from
every token, and generate is refused (a generated key cannot leave its
token).

list shows every key on the token with its type, the algorithms it can
serve and its attributes. generate makes a key inside the token; import
stores FILE (- for stdin): a PKCS#8 private key (DER, or PEM "PRIVATE KEY")
for signature and key-agreement algorithms, the raw key bytes for AES-GCM
(exactly the key size) and HMAC (at least the hash length). generate,
import and show print the public key (PEM, for key pairs) and, with
--guest, the configuration that grants the key: paste it under keys: in
the configuration file. delete removes every object with that label (and
id).

Flags:
  --algorithm ALG     ES256 ES384 ES512 EdDSA RS256..RS512 PS256..PS512
                      A128GCM A192GCM A256GCM HS256 HS384 HS512 ECDH-P256
                      ECDH-P384
  --label LABEL       the key's CKA_LABEL
  --id HEX            the key's CKA_ID (generate, import: default 8 random bytes)
Grant flags (for the configuration printed):
  --guest GUEST       a guest that may open the key, repeatable: a wasm
                      file's path with a slash (./jws.wasm), granted by
                      the file's SHA-256; sha256:HEX; or a module name
                      (jws.wasm), which trusts whoever can place a file
                      of that name (doctor warns)
  --name NAME         the name guests open it by (default: the label)
  --operations LIST   comma-separated operations to allow (default: all the
                      algorithm has)
  --print WHAT        all (default), public (the PEM only) or config (the
                      configuration only)
  --json              print JSON for scripts
and --config, --pkcs11-module, --token and the other configuration flags of
run. Exit status: 0 done, 1 failed (no such key, label taken, bad key
material), 2 usage or configuration error, 125 the token cannot be reached.
`

// keysCommand implements `wasihsm keys`.
func (c *cli) keysCommand(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return c.keysUsageError("keys: no subcommand; want list, show, generate, import or delete")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "list":
		return c.keysList(ctx, rest)
	case "show":
		return c.keysShow(ctx, rest)
	case "generate":
		return c.keysGenerate(ctx, rest)
	case "import":
		return c.keysImport(ctx, rest)
	case "delete":
		return c.keysDelete(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, keysUsage)
		return exitOK
	default:
		return c.keysUsageError(fmt.Sprintf("keys: unknown subcommand %q; want list, show, generate, import or delete", sub))
	}
}

func (c *cli) keysUsageError(msg string) int {
	c.sayf("%s", msg)
	fmt.Fprint(c.stderr, "\n"+keysUsage)
	return exitUsage
}

// keysFlags are the flags of a keys subcommand.
type keysFlags struct {
	sub        string // list, show, generate, import or delete
	fs         *flag.FlagSet
	config     *config.Flags
	algorithm  string
	label      string
	id         string
	guests     []config.KeyGuest
	name       string
	operations string
	print      string // all, public or config
	json       bool
	file       string // the FILE of import
}

// newKeysFlags returns the flags that every keys subcommand has: the
// configuration flags and --json.
func newKeysFlags(sub string) *keysFlags {
	f := &keysFlags{sub: sub, fs: flag.NewFlagSet("wasihsm keys "+sub, flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard)
	f.config = config.AddFlags(f.fs)
	f.fs.BoolVar(&f.json, "json", false, "print JSON")
	return f
}

// addKey adds the flags that name a key: --label and --id.
func (f *keysFlags) addKey() *keysFlags {
	f.fs.StringVar(&f.label, "label", "", "the key's CKA_LABEL")
	f.fs.StringVar(&f.id, "id", "", "the key's CKA_ID in hex")
	return f
}

// addGrant adds --algorithm and the flags of the grant and of what is
// printed.
func (f *keysFlags) addGrant() *keysFlags {
	f.fs.StringVar(&f.algorithm, "algorithm", "", "the key's algorithm")
	f.fs.StringVar(&f.name, "name", "", "the name guests open the key by")
	f.fs.StringVar(&f.operations, "operations", "", "operations to allow")
	f.fs.StringVar(&f.print, "print", "all", "what to print: all, public or config")
	f.fs.Func("guest", "a guest that may open the key", func(v string) error {
		g, err := parseGuest(v)
		if err == nil {
			f.guests = append(f.guests, g)
		}
		return err
	})
	return f
}

// parseKeysFlags parses the arguments of a keys subcommand: flags, then a
// FILE when file is set, else nothing. It reports whether the command is
// done (help, or a usage error), with its exit code.
func (c *cli) parseKeysFlags(f *keysFlags, args []string, file bool) (code int, done bool) {
	switch err := f.fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, keysUsage)
		return exitOK, true
	case err != nil:
		return c.keysUsageError(fmt.Sprintf("keys %s: %v", f.sub, err)), true
	}
	switch {
	case file && f.fs.NArg() != 1:
		return c.keysUsageError(fmt.Sprintf("keys %s: want one FILE (- for stdin) after the flags", f.sub)), true
	case file:
		f.file = f.fs.Arg(0)
	case f.fs.NArg() > 0:
		return c.keysUsageError(fmt.Sprintf("keys %s takes no arguments", f.sub)), true
	}
	return exitOK, false
}

// grantProblem returns what is wrong with --print and --guest, or "".
func (f *keysFlags) grantProblem() string {
	if f.print != "" && f.print != "all" && f.print != "public" && f.print != "config" {
		return fmt.Sprintf("keys %s: --print %q: want all, public or config", f.sub, f.print)
	}
	if f.print == "config" && len(f.guests) == 0 {
		return fmt.Sprintf("keys %s: --print config needs --guest: the configuration grants the key to guests", f.sub)
	}
	return ""
}

// keyID returns --id, decoded, or what is wrong with it.
func (f *keysFlags) keyID() ([]byte, string) {
	id, err := hex.DecodeString(f.id)
	if err != nil {
		return nil, fmt.Sprintf("keys %s: --id %q is not hex; want an even number of hex digits, such as 01a2", f.sub, f.id)
	}
	return id, ""
}

// parseKeySelector parses the flags of show and delete, which name a key
// by --label, --id or both, and returns the id.
func (c *cli) parseKeySelector(f *keysFlags, args []string) (id []byte, code int, done bool) {
	if code, done := c.parseKeysFlags(f, args, false); done {
		return nil, code, true
	}
	if msg := f.grantProblem(); msg != "" {
		return nil, c.keysUsageError(msg), true
	}
	id, msg := f.keyID()
	if msg == "" && f.label == "" && len(id) == 0 {
		msg = fmt.Sprintf("keys %s: --label or --id (or both) is required", f.sub)
	}
	if msg != "" {
		return nil, c.keysUsageError(msg), true
	}
	return id, exitOK, false
}

// parseNewKey parses the flags of generate and import (with its FILE when
// file is set), and returns the id of the key to make: --id, or 8 random
// bytes.
func (c *cli) parseNewKey(f *keysFlags, args []string, file bool) (id []byte, code int, done bool) {
	if code, done := c.parseKeysFlags(f, args, file); done {
		return nil, code, true
	}
	if msg := f.grantProblem(); msg != "" {
		return nil, c.keysUsageError(msg), true
	}
	id, msg := f.keyID()
	if msg == "" && (f.algorithm == "" || f.label == "") {
		msg = fmt.Sprintf("keys %s: --algorithm and --label are required", f.sub)
	}
	if msg != "" {
		return nil, c.keysUsageError(msg), true
	}
	if len(id) == 0 {
		id = make([]byte, 8)
		_, _ = rand.Read(id)
	}
	return id, exitOK, false
}

// keysToken loads the configuration of a keys subcommand and the backend
// configuration of the token it names. It reports failures itself and
// returns their exit code; exitOK otherwise.
func (c *cli) keysToken(f *keysFlags) (config.Settings, hsm.Config, int) {
	settings, err := c.loadSettings(config.Input{Flags: f.config.Values()})
	if err != nil {
		return settings, hsm.Config{}, c.errorf(exitUsage, "%v", err)
	}
	if err := settings.CheckPKCS11(); err != nil {
		return settings, hsm.Config{}, c.errorf(exitUsage, "keys: the token to manage: %v", err)
	}
	cfg, err := hsmConfig(settings, c.lookupEnv)
	if err != nil {
		return settings, cfg, c.errorf(exitUsage, "keys: %v", err)
	}
	return settings, cfg, exitOK
}

// openAdmin opens the token of a keys subcommand and logs in. It reports
// failures itself and returns their exit code; exitOK otherwise.
func (c *cli) openAdmin(ctx context.Context, settings config.Settings, cfg hsm.Config, readOnly bool) (*hsm.Admin, int) {
	// The CLI never closes what it opened on the token: see newProvider.
	admin, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{ReadOnly: readOnly})
	if err == nil {
		err = admin.Login(ctx)
	}
	if err != nil {
		return nil, c.errorf(exitInternal, "keys: token %s: %v", settings.PKCS11.Selector, err)
	}
	return admin, exitOK
}

// keysList implements `wasihsm keys list`.
func (c *cli) keysList(ctx context.Context, args []string) int {
	f := newKeysFlags("list")
	if code, done := c.parseKeysFlags(f, args, false); done {
		return code
	}
	settings, cfg, code := c.keysToken(f)
	if code != exitOK {
		return code
	}
	if len(settings.PKCS11.Tokens) > 0 {
		return c.keysGroupList(ctx, f, settings)
	}
	admin, code := c.openAdmin(ctx, settings, cfg, true)
	if code != exitOK {
		return code
	}
	keys, err := admin.List(ctx)
	if err != nil {
		return c.errorf(exitInternal, "keys list: %v", err)
	}
	return c.printKeyList(admin.Label(), keys, excessUsage(admin, keys, settings.Keys), f.json)
}

// keysShow implements `wasihsm keys show`.
func (c *cli) keysShow(ctx context.Context, args []string) int {
	f := newKeysFlags("show").addKey().addGrant()
	id, code, done := c.parseKeySelector(f, args)
	if done {
		return code
	}
	settings, cfg, code := c.keysToken(f)
	if code != exitOK {
		return code
	}
	if len(settings.PKCS11.Tokens) > 0 {
		return c.keysGroupShow(ctx, f, settings, id)
	}
	admin, code := c.openAdmin(ctx, settings, cfg, true)
	if code != exitOK {
		return code
	}
	found, err := admin.Find(ctx, f.label, id)
	switch {
	case err != nil:
		return c.errorf(exitInternal, "keys show: %v", err)
	case len(found) == 0:
		return c.errorf(exitFailed, "keys show: no private or secret key with label %q and id %x on token %q", f.label, id, admin.Label())
	case len(found) > 1:
		return c.errorf(exitFailed, "keys show: %d keys match label %q and id %x; give both --label and --id", len(found), f.label, id)
	}
	// The grant names one algorithm: the one asked for, else the first
	// the key serves (an RSA key serves six).
	alg := f.algorithm
	if alg == "" && len(found[0].Algorithms) > 0 {
		alg = found[0].Algorithms[0]
	}
	return c.printKey(found[0], alg, f)
}

// keysGenerate implements `wasihsm keys generate`.
func (c *cli) keysGenerate(ctx context.Context, args []string) int {
	f := newKeysFlags("generate").addKey().addGrant()
	id, code, done := c.parseNewKey(f, args, false)
	if done {
		return code
	}
	settings, cfg, code := c.keysToken(f)
	if code != exitOK {
		return code
	}
	if len(settings.PKCS11.Tokens) > 0 {
		return c.errorf(exitFailed, "keys generate: a key generated inside one token of a group cannot leave it, so the others "+
			"could never hold the same key; import one key into every token (keys import), or replicate it with the HSM's own tools")
	}
	return c.createKey(ctx, f, settings, cfg, hsm.KeySpec{Label: f.label, ID: id, Algorithm: f.algorithm}, "generated")
}

// keysImport implements `wasihsm keys import`.
func (c *cli) keysImport(ctx context.Context, args []string) int {
	f := newKeysFlags("import").addKey().addGrant()
	id, code, done := c.parseNewKey(f, args, true)
	if done {
		return code
	}
	settings, cfg, code := c.keysToken(f)
	if code != exitOK {
		return code
	}
	// Read first, so that bad input changes nothing and needs no token.
	material, err := c.readKeyFile(f.file, f.algorithm)
	if err != nil {
		return c.errorf(exitFailed, "keys import: %v", err)
	}
	defer clear(material)
	if len(settings.PKCS11.Tokens) > 0 {
		return c.keysGroupImport(ctx, f, settings, hsm.KeySpec{Label: f.label, ID: id, Algorithm: f.algorithm, Material: material})
	}
	return c.createKey(ctx, f, settings, cfg, hsm.KeySpec{Label: f.label, ID: id, Algorithm: f.algorithm, Material: material}, "imported")
}

// createKey makes the key of spec on the token, generated or imported (as
// made says), and prints it.
func (c *cli) createKey(ctx context.Context, f *keysFlags, settings config.Settings, cfg hsm.Config, spec hsm.KeySpec, made string) int {
	admin, code := c.openAdmin(ctx, settings, cfg, false)
	if code != exitOK {
		return code
	}
	k, err := admin.Create(ctx, spec)
	if err != nil {
		return c.errorf(keysExit(err), "keys %s: %v", f.sub, err)
	}
	c.sayf("%s %s key %q (id %x) on token %q: %s", made, f.algorithm, k.Label, k.ID, admin.Label(), attributeWords(k))
	if q := admin.Quirks(); len(q) > 0 {
		c.sayf("made the token's way (docs/operations.md#token-quirks): %s", strings.Join(q, ", "))
	}
	return c.printKey(k, f.algorithm, f)
}

// keysDelete implements `wasihsm keys delete`.
func (c *cli) keysDelete(ctx context.Context, args []string) int {
	f := newKeysFlags("delete").addKey()
	id, code, done := c.parseKeySelector(f, args)
	if done {
		return code
	}
	settings, cfg, code := c.keysToken(f)
	if code != exitOK {
		return code
	}
	if len(settings.PKCS11.Tokens) > 0 {
		return c.keysGroupDelete(ctx, f, settings, id)
	}
	admin, code := c.openAdmin(ctx, settings, cfg, false)
	if code != exitOK {
		return code
	}
	n, err := admin.Delete(ctx, f.label, id)
	if err != nil {
		return c.errorf(keysExit(err), "keys delete: %v", err)
	}
	c.sayf("deleted %d object(s) with label %q and id %x from token %q", n, f.label, id, admin.Label())
	return exitOK
}

// keysExit maps the error of a key operation to the exit code: 1 for what
// the operator asked wrongly (exists, absent, bad material), 125 for the
// token failing.
func keysExit(err error) int {
	for _, s := range []error{provider.ErrInvalidArgument, provider.ErrNotFound, provider.ErrNotSupported} {
		if errors.Is(err, s) {
			return exitFailed
		}
	}
	return exitInternal
}

// parseGuest parses --guest: sha256:HEX, the path of a wasm file (any
// value with a slash: ./jws.wasm, build/jws.wasm), granted by its
// SHA-256, or a module name.
func parseGuest(v string) (config.KeyGuest, error) {
	if h, ok := strings.CutPrefix(v, "sha256:"); ok {
		if !provider.IsSHA256Hex(h) {
			return config.KeyGuest{}, fmt.Errorf("%q: want sha256: and the 64 hex digits of the wasm file's SHA-256", v)
		}
		return config.KeyGuest{SHA256: strings.ToLower(h)}, nil
	}
	if isGuestPath(v) {
		return guestFileGrant(v)
	}
	if v == "" || strings.ContainsAny(v, `/\`) {
		return config.KeyGuest{}, fmt.Errorf("%q: want a module name, the base name of the wasm file such as jws.wasm, or sha256:HEX", v)
	}
	return config.KeyGuest{Module: v}, nil
}

// readKeyFile reads the key material to import: PKCS#8 (DER, or PEM
// "PRIVATE KEY") for key pairs, the raw bytes for secret keys.
func (c *cli) readKeyFile(path, algName string) ([]byte, error) {
	alg, ok := provider.Lookup(algName)
	if !ok {
		return nil, fmt.Errorf("--algorithm %q: not an algorithm", algName)
	}
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(c.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if alg.Kind.Symmetric() {
		return data, nil
	}
	if block, rest := pem.Decode(data); block != nil {
		clear(data)
		defer clear(block.Bytes)
		if block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("%s: a PEM %q; want one PKCS#8 \"PRIVATE KEY\" (convert with: openssl pkcs8 -topk8 -nocrypt -in %s)", path, block.Type, path)
		}
		return bytes.Clone(block.Bytes), nil
	}
	return data, nil
}

// keyJSON is a key in the JSON output of keys.
type keyJSON struct {
	Label            string   `json:"label"`
	ID               string   `json:"id"`
	Class            string   `json:"class"`
	Type             string   `json:"type"`
	Algorithms       []string `json:"algorithms"`
	Token            bool     `json:"token"`
	Private          bool     `json:"private"`
	Sensitive        bool     `json:"sensitive"`
	Extractable      bool     `json:"extractable"`
	AlwaysSensitive  bool     `json:"always_sensitive"`
	NeverExtractable bool     `json:"never_extractable"`
	PublicKeyPEM     string   `json:"public_key_pem,omitempty"`
	ExcessUsage      []string `json:"excess_usage,omitempty"`
	Config           string   `json:"config,omitempty"`
}

func newKeyJSON(k hsm.TokenKey) keyJSON {
	return keyJSON{
		Label: k.Label, ID: hex.EncodeToString(k.ID), Class: k.Class, Type: k.Type, Algorithms: k.Algorithms,
		Token: k.Token, Private: k.Private, Sensitive: k.Sensitive, Extractable: k.Extractable,
		AlwaysSensitive: k.AlwaysSensitive, NeverExtractable: k.NeverExtractable, PublicKeyPEM: publicPEM(k),
	}
}

func publicPEM(k hsm.TokenKey) string {
	if k.PublicKey == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.PublicKey}))
}

// attributeWords says what the key's attributes are, in words.
func attributeWords(k hsm.TokenKey) string {
	w := []string{map[bool]string{true: "token object", false: "session object"}[k.Token]}
	if k.Class != "public" {
		w = append(w,
			map[bool]string{true: "sensitive", false: "NOT sensitive"}[k.Sensitive],
			map[bool]string{true: "EXTRACTABLE", false: "not extractable"}[k.Extractable],
			map[bool]string{true: "private", false: "NOT private"}[k.Private])
	}
	return strings.Join(w, ", ")
}

func (c *cli) printKeyList(token string, keys []hsm.TokenKey, excess [][]string, asJSON bool) int {
	if asJSON {
		out := make([]keyJSON, 0, len(keys))
		for i, k := range keys {
			j := newKeyJSON(k)
			j.ExcessUsage = excess[i]
			out = append(out, j)
		}
		return c.writeJSON(out)
	}
	if len(keys) == 0 {
		fmt.Fprintf(c.stdout, "no keys on token %q\n", token)
		return exitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tID\tCLASS\tTYPE\tALGORITHMS\tATTRIBUTES")
	for i, k := range keys {
		algs := strings.Join(k.Algorithms, ",")
		if algs == "" {
			algs = "-"
		}
		fmt.Fprintf(tw, "%s\t%x\t%s\t%s\t%s\t%s%s\n", k.Label, k.ID, k.Class, k.Type, algs, attributeWords(k), excessWords(excess[i]))
	}
	_ = tw.Flush()
	return exitOK
}

// printKey prints a key's public key (PEM) and, with guests, the
// configuration that grants it to them.
func (c *cli) printKey(k hsm.TokenKey, alg string, f *keysFlags) int {
	stanza := ""
	if len(f.guests) > 0 {
		var err error
		if stanza, err = grantStanza(k, alg, f); err != nil {
			return c.errorf(exitUsage, "keys: %v", err)
		}
	}
	if f.json {
		j := newKeyJSON(k)
		j.Config = stanza
		return c.writeJSON(j)
	}
	if f.print != "config" {
		fmt.Fprint(c.stdout, publicPEM(k))
	}
	if f.print == "public" {
		return exitOK
	}
	if stanza == "" {
		c.sayf("give --guest PATH/NAME.wasm (or sha256:HEX, or a module name) to print the configuration that grants the key to guests")
		return exitOK
	}
	fmt.Fprint(c.stdout, stanza)
	return exitOK
}

// grantStanza is the configuration (the keys: field that internal/config
// parses) granting k to the guests of f.
func grantStanza(k hsm.TokenKey, algName string, f *keysFlags) (string, error) {
	alg, ok := provider.Lookup(algName)
	if !ok || !slices.Contains(k.Algorithms, algName) {
		return "", fmt.Errorf("the key serves %s, not %q", orNone(k.Algorithms), algName)
	}
	ops := provider.KeyOperations(alg)
	if f.operations != "" {
		ops = nil
		for name := range strings.SplitSeq(f.operations, ",") {
			name = strings.TrimSpace(name)
			i := slices.IndexFunc(provider.KeyOperations(alg), func(op provider.Operation) bool { return op.String() == name })
			if i < 0 {
				return "", fmt.Errorf("--operations: %q does not apply to %s keys; want some of %s", name, alg.Name, opList(provider.KeyOperations(alg)))
			}
			ops = append(ops, provider.KeyOperations(alg)[i])
		}
		if err := config.CheckOperations(alg, ops); err != nil {
			return "", fmt.Errorf("--operations: %w", err)
		}
	}
	name := f.name
	if name == "" {
		name = k.Label
	}
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", fmt.Errorf("%q cannot be a managed key's name (no blanks or control characters): give --name", name)
	}
	if k.Label == "" && len(k.ID) == 0 {
		return "", errors.New("the key has neither label nor id to be found by")
	}
	if !utf8.ValidString(k.Label) || strings.ContainsFunc(k.Label, unicode.IsControl) {
		return "", fmt.Errorf("the key's label %q cannot be written in the configuration; give the key a plain label", k.Label)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Grants the %s key %q to its guests: put it in the configuration file.\n", alg.Name, k.Label)
	fmt.Fprintf(&b, "keys:\n  - name: %s\n", yamlScalar(name))
	if k.Label != "" {
		fmt.Fprintf(&b, "    label: %s\n", yamlScalar(k.Label))
	}
	if len(k.ID) > 0 {
		fmt.Fprintf(&b, "    id: %x\n", k.ID)
	}
	fmt.Fprintf(&b, "    algorithm: %s\n    guests:\n", alg.Name)
	for _, g := range f.guests {
		if g.SHA256 != "" {
			fmt.Fprintf(&b, "      - sha256: %s\n", g.SHA256)
		} else {
			fmt.Fprintf(&b, "      - module: %s\n", yamlScalar(g.Module))
		}
	}
	fmt.Fprintf(&b, "    operations: [%s]\n", opList(ops))
	return b.String(), nil
}

func opList(ops []provider.Operation) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = op.String()
	}
	return strings.Join(names, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no algorithm"
	}
	return strings.Join(s, ", ")
}

// yamlScalar quotes s for YAML unless it is a plain word that starts with
// a letter or digit and that YAML does not read as null.
func yamlScalar(s string) string {
	plain := s != "" && !strings.EqualFold(s, "null") && unicode.In(rune(s[0]), unicode.Letter, unicode.Digit)
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			plain = false
		}
	}
	if plain {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}

func (c *cli) writeJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.errorf(exitInternal, "%v", err)
	}
	return exitOK
}

// excessUsage says, for each key, what its attributes allow beyond what
// its algorithms need (see hsm.Admin.Excess): measured against the
// algorithm of the managed key of the configuration that names it, else
// against every algorithm the key serves.
func excessUsage(admin *hsm.Admin, keys []hsm.TokenKey, managed []config.ManagedKey) [][]string {
	out := make([][]string, len(keys))
	for i, k := range keys {
		algs := k.Algorithms
		for _, m := range managed {
			if k.Class != "public" && (m.Label == "" || m.Label == k.Label) && (len(m.ID) == 0 || bytes.Equal(m.ID, k.ID)) {
				algs = []string{m.Algorithm.Name}
				break
			}
		}
		out[i] = admin.Excess(k, algs...)
	}
	return out
}

// excessWords is what keys list adds to a key's attributes when they
// allow more than its algorithms need.
func excessWords(excess []string) string {
	if len(excess) == 0 {
		return ""
	}
	return "; ALSO ALLOWS " + strings.Join(excess, ", ")
}
