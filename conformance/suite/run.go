package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Target is one column of the matrix: a configuration of backends.
type Target struct {
	// Name heads the column ("software", "softhsm2 deny").
	Name string
	// Primary, Fallback and Policy are as in provider.RouterConfig. The
	// suite builds its own router from them, with a managed-key store of
	// its own (see Run); it does not close the backends.
	Primary  provider.Backend
	Fallback provider.Backend
	Policy   provider.Policy
}

// Options tune a run.
type Options struct {
	// Guest is the contract guest's wasm; nil means the embedded copy
	// ([Guest]).
	Guest []byte
	// Cache is the wazero compilation cache; nil compiles without one.
	Cache wazero.CompilationCache
}

// Limits the contract guest is built for (conformance/guests/contract/
// harness_wasip1.go): its scenarios check them.
var scenarioOptions = wasihost.Options{MaxHandles: 64, MaxBufferedBytes: 4096}

// katOptions let the known-answer run keep its refused imports open
// until the instance closes (docs/semantics.md#handles), thousands of them.
var katOptions = wasihost.Options{MaxHandles: 1 << 16}

// NotRun are the contract guest's scenarios that need a host made for
// them, and where they run instead.
var NotRun = map[string]string{
	"errno/provider-faults": "needs a key store that injects every backend failure: wasihost TestContract",
	"policy/deny-notsup":    "needs a software primary with algorithms taken away: wasihost TestContractDenyPolicy",
}

// Run runs the whole suite against t: every scenario of the contract guest
// (each in a fresh instance) and every known-answer vector and probe (in
// one instance), and returns the cells. It returns an error only when the
// suite cannot run at all (the guest does not compile, the vectors do not
// load); failed checks are in the result.
//
// Every key the guests create is destroyed when their instance closes, and
// the one managed key the suite serves is an ES256 key it generates
// through t's router and destroys before returning: on a token, Run
// creates session objects only.
func Run(ctx context.Context, t Target, opts Options) (res *Result, err error) {
	start := time.Now()
	wasm := opts.Guest
	if wasm == nil {
		if wasm, err = Guest(); err != nil {
			return nil, err
		}
	}
	checks, err := buildChecks()
	if err != nil {
		return nil, err
	}
	keys := &sessionKeys{}
	router, err := provider.NewRouter(provider.RouterConfig{
		Primary: t.Primary, Fallback: t.Fallback, Policy: t.Policy, ManagedKeys: keys})
	if err != nil {
		return nil, fmt.Errorf("suite: %s: %w", t.Name, err)
	}
	keys.generate = router.GenerateKey
	defer func() {
		if cerr := keys.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("suite: %s: destroying the managed key: %w", t.Name, cerr)
		}
	}()

	res = &Result{Target: t.Name, Policy: t.Policy.String(), Primary: t.Primary.Name(), NotRun: NotRun}
	sc, err := newRunner(ctx, router, scenarioOptions, wasm, opts.Cache)
	if err != nil {
		return nil, err
	}
	defer sc.close(ctx)
	if err := res.runScenarios(ctx, sc, t); err != nil {
		return nil, err
	}
	kr, err := newRunner(ctx, router, katOptions, wasm, opts.Cache)
	if err != nil {
		return nil, err
	}
	defer kr.close(ctx)
	if err := res.runChecks(ctx, kr, t, checks); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

// runner is a wazero runtime with a wasihost.Host and the compiled guest.
type runner struct {
	rt       wazero.Runtime
	host     *wasihost.Host
	compiled wazero.CompiledModule
}

func newRunner(ctx context.Context, p provider.Provider, opts wasihost.Options, wasm []byte, cache wazero.CompilationCache) (*runner, error) {
	host, err := wasihost.New(p, opts)
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	r := &runner{rt: rt, host: host}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		r.close(ctx)
		return nil, fmt.Errorf("suite: wasi: %w", err)
	}
	if err := host.Instantiate(ctx, rt); err != nil {
		r.close(ctx)
		return nil, fmt.Errorf("suite: %w", err)
	}
	if r.compiled, err = rt.CompileModule(ctx, wasm); err != nil {
		r.close(ctx)
		return nil, fmt.Errorf("suite: compile the contract guest: %w", err)
	}
	return r, nil
}

func (r *runner) close(ctx context.Context) { _ = r.rt.Close(context.WithoutCancel(ctx)) }

// run instantiates the guest as guestName with args and stdin and waits for
// it; a trap is an error.
func (r *runner) run(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, code uint32, err error) {
	var out, errOut bytes.Buffer
	if stdin == nil {
		stdin = bytes.NewReader(nil)
	}
	cfg := wazero.NewModuleConfig().WithName("").
		WithArgs(append([]string{guestName}, args...)...).
		WithStdin(stdin).WithStdout(&out).WithStderr(&errOut).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	mod, err := r.host.InstantiateGuest(ctx, r.rt, r.compiled, cfg, provider.Guest{Name: guestName})
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		code, err = exit.ExitCode(), nil
	case err != nil:
		err = fmt.Errorf("suite: contract guest %v: %w (stderr: %.200s)", args, err, errOut.String())
	}
	if mod != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
	}
	return out.String(), errOut.String(), code, err
}

// runScenarios runs each scenario in a fresh instance.
func (res *Result) runScenarios(ctx context.Context, r *runner, t Target) error {
	list, stderr, code, err := r.run(ctx, nil, "-list")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("suite: contract guest -list: exit %d: %.200s", code, stderr)
	}
	for _, name := range strings.Fields(list) {
		if _, skip := NotRun[name]; skip {
			continue
		}
		s := ScenarioResult{Name: name, Status: Pass}
		out, stderr, code, err := r.run(ctx, nil, name)
		if err != nil {
			return err
		}
		var problems []string
		failed := !strings.Contains(out, "ok "+name+"\n") || code != 0
		for _, line := range strings.Split(out, "\n") {
			if p := checkLine(line, t); p != "" {
				problems = append(problems, p)
			}
		}
		if st := r.host.Stats(); st != (wasihost.Stats{}) {
			problems = append(problems, fmt.Sprintf("%d handles in %d instances outlived the instance", st.Handles, st.Instances))
		}
		switch why := failure(out, stderr, code); {
		case failed && len(problems) == 0 && onlyUnservable(why, t) != "":
			_, errs, _ := strings.Cut(why, ": ")
			s.Status, s.Detail = NotSup, "needs "+onlyUnservable(why, t)+", which this target cannot serve ("+errs+")"
		case failed:
			problems = append([]string{why}, problems...)
		}
		if len(problems) > 0 {
			s.Status, s.Detail = Fail, strings.Join(problems, "; ")
		}
		res.Scenarios = append(res.Scenarios, s)
	}
	if len(res.Scenarios) == 0 {
		return fmt.Errorf("suite: the contract guest lists no scenarios")
	}
	return nil
}

// failure summarises a failed scenario's output.
func failure(out, stderr string, code uint32) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FAIL ") {
			return strings.TrimPrefix(line, "FAIL ")
		}
	}
	return fmt.Sprintf("exit %d without a result line (stderr: %.200s)", code, strings.TrimSpace(stderr))
}

// onlyUnservable returns the algorithms named in a scenario's failure when
// every one of its errors is a notsup answered for an algorithm that t
// cannot serve with any kind of key (the guest names the algorithm in each
// message: "generate_key X25519 = notsup, want success"), and "" when any
// error is something else. Such a scenario is notsup on t: it needs an
// algorithm that the token lacks and the policy keeps out of software.
func onlyUnservable(why string, t Target) string {
	_, errs, _ := strings.Cut(why, ": ")
	var names []string
	for _, e := range strings.Split(errs, "; ") {
		if !strings.Contains(e, " = notsup, want ") {
			return ""
		}
		var found string
		for _, w := range strings.FieldsFunc(e, func(r rune) bool { return strings.ContainsRune(" ()=,:;", r) }) {
			alg, ok := provider.Lookup(w)
			if ok && !serves(t, alg, provider.OpGenerate) && !serves(t, alg, provider.OpImport) && !serves(t, alg, provider.OpHash) {
				found = alg.Name
				break
			}
		}
		if found == "" {
			return ""
		}
		if !slices.Contains(names, found) {
			names = append(names, found)
		}
	}
	return strings.Join(names, ", ")
}

// checkLine verifies the extra lines a scenario prints: "sig ALG SPKI MSG
// SIG" (the host verifies the signature) and "matrix ALG ERRNO" (success
// exactly where the target can serve ALG, notsup elsewhere).
func checkLine(line string, t Target) string {
	f := strings.Fields(line)
	switch {
	case len(f) == 5 && f[0] == "sig":
		alg, ok := provider.Lookup(f[1])
		spki, e1 := hex.DecodeString(f[2])
		msg, e2 := hex.DecodeString(f[3])
		sig, e3 := hex.DecodeString(f[4])
		if !ok || e1 != nil || e2 != nil || e3 != nil {
			return "malformed line: " + line
		}
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err != nil {
			return fmt.Sprintf("sig %s: public key: %v", alg.Name, err)
		}
		if err := VerifySignature(alg, pub, msg, sig); err != nil {
			return "sig: " + err.Error()
		}
	case len(f) == 3 && f[0] == "matrix":
		alg, ok := provider.Lookup(f[1])
		if !ok {
			return "unknown algorithm in " + line
		}
		want := "notsup"
		if serves(t, alg, matrixCreate(alg)) && servesHashes(t, matrixHashes(alg)...) {
			want = "success"
		}
		if f[2] != want {
			return fmt.Sprintf("matrix %s: %s, want %s", alg.Name, f[2], want)
		}
	}
	return ""
}

// matrixCreate is how the matrix scenario makes a key of alg: it imports
// RSA keys and the HKDF input, and generates the others.
func matrixCreate(alg provider.Algorithm) provider.Operation {
	switch {
	case !alg.Kind.Keyed():
		return provider.OpHash
	case alg.IsRSA() || alg.Kind == provider.KindKDF:
		return provider.OpImport
	}
	return provider.OpGenerate
}

// matrixHashes are the hashes whose states the matrix scenario opens to
// make a key of alg: an HKDF key's hash is named by a SHA-256 state
// (matrixKey, conformance/guests/contract/matrix_wasip1.go).
func matrixHashes(alg provider.Algorithm) []provider.Algorithm {
	if alg.Kind == provider.KindKDF {
		return []provider.Algorithm{provider.MustLookup("SHA-256")}
	}
	return nil
}

// servesHashes reports whether t can open a state of each of hashes. A
// guest names an HKDF key's hash with a hash state (docs/semantics.md#derivation),
// so on a target that cannot open one, HKDF cannot be used either.
func servesHashes(t Target, hashes ...provider.Algorithm) bool {
	for _, h := range hashes {
		if !serves(t, h, provider.OpHash) {
			return false
		}
	}
	return true
}

// serves reports whether t can serve alg with keys made by create: the
// router's own rule (a key lives in one backend, which must serve its
// creation and every operation of its algorithm), with the fallback only
// as the policy permits. On a token, Supports comes from the token's
// mechanism list, so "cannot serve" means the token lacks a mechanism.
func serves(t Target, alg provider.Algorithm, create provider.Operation) bool {
	ok := func(b provider.Backend) bool {
		if b == nil || b.Supports(alg, create) == provider.Unsupported {
			return false
		}
		if !alg.Kind.Keyed() {
			return true
		}
		for _, op := range provider.KeyOperations(alg) {
			if b.Supports(alg, op) == provider.Unsupported {
				return false
			}
		}
		return true
	}
	if ok(t.Primary) {
		return true
	}
	switch t.Policy {
	case provider.FallbackAllow:
		return ok(t.Fallback)
	case provider.FallbackPublicOnly:
		return !alg.Kind.Keyed() && ok(t.Fallback)
	}
	return false
}

// runChecks sends every check to one instance in -kat mode and grades the
// answers into cells.
func (res *Result) runChecks(ctx context.Context, r *runner, t Target, checks []check) error {
	var stdin bytes.Buffer
	for _, c := range checks {
		stdin.WriteString(c.request + "\n")
	}
	out, stderr, code, err := r.run(ctx, &stdin, "-kat")
	if err != nil {
		return err
	}
	answers := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(answers) != len(checks) {
		return fmt.Errorf("suite: contract guest -kat: exit %d, %d answers to %d requests (stderr: %.300s)",
			code, len(answers), len(checks), strings.TrimSpace(stderr))
	}
	cells := map[Row]*Cell{}
	for _, row := range Rows() {
		cells[row] = &Cell{Row: row, Status: Fail}
	}
	type tally struct{ pass, notsup, fail int }
	tallies := map[Row]*tally{}
	for i, c := range checks {
		got := answers[i]
		servable := serves(t, c.alg, c.create) && servesHashes(t, c.hashes...)
		var problem string
		switch {
		case !servable && got == "err notsup":
		case !servable:
			problem = fmt.Sprintf("answered %.60q, but %s cannot serve %s (%s): want notsup", got, t.Name, c.alg.Name, c.create)
		case c.verify != nil:
			if err := c.verify(got); err != nil {
				problem = err.Error()
			}
		case got != c.want:
			problem = fmt.Sprintf("got %.60q, want %.60q", got, c.want)
		}
		for _, op := range c.ops {
			k := Row{c.alg.Name, op.String()}
			cell, ok := cells[k]
			if !ok {
				return fmt.Errorf("suite: check %q counts for %s %s, which is not a row", c.name, k.Algorithm, k.Operation)
			}
			tl := tallies[k]
			if tl == nil {
				tl = &tally{}
				tallies[k] = tl
			}
			switch {
			case problem != "":
				tl.fail++
				if len(cell.Failures) < 3 {
					cell.Failures = append(cell.Failures, c.name+": "+problem)
				}
			case !servable:
				tl.notsup++
			default:
				tl.pass++
				cell.Passed++
				if c.vector {
					cell.Vectors++
				}
			}
		}
		if problem == "" && servable {
			res.ChecksPassed++
			if c.vector {
				res.VectorsPassed++
			}
		}
	}
	for _, row := range Rows() {
		cell, tl := cells[row], tallies[row]
		switch {
		case tl == nil:
			cell.Failures = []string{"no check exercises this cell"}
		case tl.fail > 0:
		case tl.pass > 0:
			cell.Status = Pass
		case tl.notsup > 0:
			cell.Status = NotSup
		}
		res.Cells = append(res.Cells, *cell)
	}
	return nil
}

// Row names a row of the matrix: an algorithm and an operation.
type Row struct {
	Algorithm string `json:"algorithm"`
	Operation string `json:"operation"`
}

// Rows returns the matrix rows, algorithm × operation, in the registry's
// order: hashes have "hash"; key algorithms have "generate" (except HKDF,
// whose key is always derived from input), "import", then the operations
// of provider.KeyOperations.
func Rows() []Row {
	var rows []Row
	for _, alg := range provider.Algorithms() {
		if !alg.Kind.Keyed() {
			rows = append(rows, Row{alg.Name, provider.OpHash.String()})
			continue
		}
		ops := []provider.Operation{provider.OpGenerate, provider.OpImport}
		if alg.Kind == provider.KindKDF {
			ops = ops[1:]
		}
		for _, op := range slices.Concat(ops, provider.KeyOperations(alg)) {
			rows = append(rows, Row{alg.Name, op.String()})
		}
	}
	return rows
}
