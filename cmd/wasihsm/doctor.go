package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/internal/trusted"
	"github.com/wasihsm/wasihsm/provider"
)

// The outcomes of a doctor check.
const (
	checkPass = "pass"
	checkWarn = "warn" // works, but the operator should know
	checkFail = "fail"
	checkSkip = "skip" // not run: an earlier check failed
)

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctorReport is the doctor's output, also as JSON.
type doctorReport struct {
	Config string  `json:"config,omitempty"`
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

func (r *doctorReport) add(name, status, detail, fix string) {
	r.Checks = append(r.Checks, check{Name: name, Status: status, Detail: detail, Fix: fix})
}

func (r *doctorReport) pass(name, format string, args ...any) {
	r.add(name, checkPass, fmt.Sprintf(format, args...), "")
}

func (r *doctorReport) fail(name, detail, fix string) { r.add(name, checkFail, detail, fix) }

// skip records the checks that cannot run after a failure.
func (r *doctorReport) skip(because string, names ...string) {
	for _, n := range names {
		r.add(n, checkSkip, "not checked: "+because, "")
	}
}

// skipRest records as skipped every check of the run, and of each managed
// key, that has no line yet: an earlier failure stops the run.
func (r *doctorReport) skipRest(because string, keys []config.ManagedKey) {
	names := slices.Clone(checkOrder)
	for _, k := range keys {
		names = append(names, keyCheck(k))
	}
	for _, n := range names {
		if !slices.ContainsFunc(r.Checks, func(ch check) bool { return ch.Name == n }) {
			r.skip(because, n)
		}
	}
}

func keyCheck(k config.ManagedKey) string { return fmt.Sprintf("managed key %q", k.Name) }

// doctorCommand implements `wasihsm doctor [--json] [flags]`: it checks a
// configuration end to end, as `run` would use it, and says how to fix
// each failure.
func (c *cli) doctorCommand(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("wasihsm doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgFlags := config.AddFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if code, done := c.parseFlagsOnly(fs, args); done {
		return code
	}
	r := c.diagnose(ctx, cfgFlags.Values())
	r.OK = !slices.ContainsFunc(r.Checks, func(ch check) bool { return ch.Status == checkFail })
	if *asJSON {
		if code := c.writeJSON(r); code != exitOK {
			return code
		}
	} else {
		r.write(c.stdout)
	}
	if !r.OK {
		return exitFailed
	}
	return exitOK
}

func (r *doctorReport) write(w io.Writer) {
	counts := map[string]int{}
	for _, ch := range r.Checks {
		counts[ch.Status]++
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(ch.Status), ch.Name, ch.Detail)
		if ch.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", strings.ReplaceAll(ch.Fix, "\n", "\n           "))
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed, %d not checked\n",
		counts[checkPass], counts[checkWarn], counts[checkFail], counts[checkSkip])
}

// checkOrder is the order in which the checks run; the managed keys come
// last, one check each.
var checkOrder = []string{chkConfig, chkConfigFile, chkPIN, chkModule, chkToken, chkLogin, chkSessions, chkBackend, chkProbe, chkMechs, chkFallback}

// The names of the checks.
const (
	chkConfig     = "configuration"
	chkConfigFile = "configuration file"
	chkPIN        = "PIN source"
	chkModule     = "module loads"
	chkToken      = "token found"
	chkLogin      = "login"
	chkSessions   = "session limits"
	chkBackend    = "backend opens"
	chkProbe      = "token probed"
	chkMechs      = "mechanisms for managed keys"
	chkFallback   = "fallback policy"
)

// diagnose runs the checks.
func (c *cli) diagnose(ctx context.Context, flags map[string]string) *doctorReport {
	r := &doctorReport{}
	s, err := c.loadSettings(config.Input{Flags: flags, AllowUntrustedFile: true})
	if err != nil {
		r.fail(chkConfig, err.Error(), "correct each field named above (docs/configuration.md describes them; wasihsm.example.yaml is an example)")
		r.skipRest("the configuration is invalid", nil)
		return r
	}
	r.Config = s.ConfigFile
	if s.Backend == config.BackendSoftware {
		r.add(chkConfig, checkWarn, fmt.Sprintf("backend software (%s): keys live in host memory, there is no token to check", backendReason(s)),
			"to keep keys in a token, set pkcs11.module and pkcs11.token (or --pkcs11-module, --token)")
		return r
	}
	if err := s.CheckPKCS11(); err != nil {
		r.fail(chkConfig, err.Error(), "set the module and the token: pkcs11.module and pkcs11.token in the configuration file")
		r.skipRest("the configuration is incomplete", s.Keys)
		return r
	}
	if len(s.PKCS11.Tokens) > 0 {
		r.pass(chkConfig, "%s: backend pkcs11, a group of %d tokens, policy %s, fallback %s, %d managed key(s)",
			dash(s.ConfigFile), len(s.PKCS11.Tokens), s.PKCS11.Policy, s.Fallback, len(s.Keys))
		c.diagnoseGroup(ctx, r, s)
		return r
	}
	cfg, err := hsmConfig(s, c.lookupEnv)
	if err != nil {
		r.fail(chkConfig, err.Error(), "select the token by label, serial or slot id")
		r.skipRest("the configuration is invalid", s.Keys)
		return r
	}
	where := "flags and environment"
	if s.ConfigFile != "" {
		where = s.ConfigFile
	}
	r.pass(chkConfig, "%s: backend pkcs11, module %s, token %s, fallback %s, %d managed key(s)",
		where, s.PKCS11.Module, s.PKCS11.Selector, s.Fallback, len(s.Keys))

	checkConfigFile(r, s.ConfigFile)
	c.checkPIN(r, s)
	checkGuestGrants(r, s.Keys)

	// The module: it is in the allow-list (Load checked), and it loads.
	slots, err := hsm.Slots(ctx, s.PKCS11.Module, s.PKCS11.InitArgs)
	if err != nil {
		r.fail(chkModule, err.Error(), moduleFix(s, err))
		r.skipRest("the module did not load", s.Keys)
		return r
	}
	tokens := 0
	for _, sl := range slots {
		if initialised(sl) {
			tokens++
		}
	}
	r.pass(chkModule, "%s (in the allowed modules: %s): %d slot(s), %d initialised token(s)", s.PKCS11.Module, strings.Join(s.PKCS11.AllowedModules, ", "), len(slots), tokens)

	admin, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{ReadOnly: true})
	if err != nil {
		r.fail(chkToken, err.Error(), tokenFix(s, slots, err))
		r.skipRest("the token was not found", s.Keys)
		return r
	}
	// Not closed: see newProvider.
	var slot hsm.SlotInfo
	for _, sl := range slots {
		if sl.ID == admin.Slot() {
			slot = sl
		}
	}
	r.pass(chkToken, "%q in slot %d (serial %s, %s %s)", slot.Label, slot.ID, slot.Serial, slot.TokenManufacturer, slot.Model)

	if err := admin.Login(ctx); err != nil {
		r.fail(chkLogin, err.Error(), loginFix(s, err, admin.LoginRequired()))
		r.skipRest("the login failed", s.Keys)
		return r
	}
	switch {
	case !admin.LoginRequired() && !s.PKCS11.PIN.IsSet():
		r.add(chkLogin, checkWarn, "the token needs no login, and none is configured: its keys are not private (CKA_PRIVATE false)",
			"initialise the token with a user PIN and set pkcs11.pin: file:PATH, so that only the PIN holder can use its keys")
	default:
		r.pass(chkLogin, "logged in as the user with the PIN from %s", s.PKCS11.PIN)
	}

	checkSessions(r, s, slot)

	b, err := hsm.Open(ctx, cfg)
	var probed *tokenProbe
	if err != nil {
		r.fail(chkBackend, err.Error(), backendFix(s, slot, err))
	} else {
		r.pass(chkBackend, "the PKCS#11 backend opens as run opens it")
		probed = newTokenProbe(b)
		checkProbe(r, probed)
	}
	checkMechanisms(r, s, admin, b)
	checkFallback(r, s, slot, probed)
	for _, k := range s.Keys {
		checkManagedKey(ctx, r, k, s.PKCS11.PIN.IsSet(), admin, b)
	}
	return r
}

// backendFix says how to fix a backend that the checks before let pass,
// from what Open answered (err) and the token's slot.
func backendFix(s config.Settings, slot hsm.SlotInfo, err error) string {
	switch code := tokenAnswer(err); {
	case errors.As(err, new(*hsm.ManagedKeyError)):
		return "correct or remove that entry of keys: in the configuration"
	case code == pkcs11.CKR_SESSION_COUNT:
		return fmt.Sprintf("the token has no session left for wasihsm (%s open of at most %s): other programs hold them; "+
			"stop those you do not need, or raise the token's own session limit", sessionLimit(slot.Sessions), sessionLimit(slot.MaxSessions))
	case errors.Is(err, provider.ErrNoResources) && hsm.SessionLimit(slot.MaxSessions, s.PKCS11.MaxSessions) < 2:
		return sessionsFix(s, slot)
	case errors.Is(err, provider.ErrNoResources):
		return "the token is short of memory or sessions: stop other programs that use it, or delete objects it no longer needs (wasihsm keys list)"
	case errors.Is(err, provider.ErrTimeout):
		return "the token did not answer within the deadline of opening (a multiple of pkcs11.call_timeout): " +
			"check that it answers (wasihsm slots), or raise pkcs11.call_timeout"
	}
	return "run opens the backend the same way and would fail too: see the error (wasihsm slots shows the token's state)"
}

// sessionsFix says how to give the backend the 2 sessions it needs (one
// persistent, one or more for operations) when the configuration or the
// token's limit allows fewer.
func sessionsFix(s config.Settings, slot hsm.SlotInfo) string {
	if n := s.PKCS11.MaxSessions; n > 0 && n < 2 {
		return fmt.Sprintf("the backend needs 2 sessions or more (one persistent, one for operations): set pkcs11.max_sessions to 2 or more, "+
			"or leave it out to use as many as the token allows (%s)", sessionLimit(slot.MaxSessions))
	}
	return fmt.Sprintf("the backend needs 2 sessions or more (one persistent, one for operations) and the token allows %s: "+
		"raise the token's own session limit (its configuration), or use another token", sessionLimit(slot.MaxSessions))
}

// checkConfigFile fails a configuration file that another user could
// have written, which the other commands refuse (config.CheckFile): it
// names the module that wasihsm loads, so whoever can change it runs code
// as wasihsm.
func checkConfigFile(r *doctorReport, path string) {
	if path == "" {
		r.pass(chkConfigFile, "none: the settings come from flags and the environment")
		return
	}
	err := config.CheckFile(path)
	switch {
	case errors.Is(err, trusted.ErrNotOwned):
		r.fail(chkConfigFile, err.Error()+"; the other commands refuse it",
			fmt.Sprintf("chown the file to the user that runs wasihsm (or root), and chmod go-w %s", path))
	case errors.Is(err, trusted.ErrWritable):
		r.fail(chkConfigFile, err.Error()+"; the other commands refuse it", fmt.Sprintf("chmod go-w %s", path))
	case err != nil:
		r.fail(chkConfigFile, err.Error(), "")
	default:
		fi, err := os.Stat(path)
		if err != nil {
			r.fail(chkConfigFile, err.Error(), "")
			return
		}
		r.pass(chkConfigFile, "%s, mode %04o, not writable by others, owned by this user or root", path, fi.Mode().Perm())
	}
}

// checkPIN checks where the PIN comes from: a file must be readable by its
// owner only, a variable must be set.
func (c *cli) checkPIN(r *doctorReport, s config.Settings) {
	src := s.PKCS11.PIN
	origin := s.Origin(config.FieldPIN)
	switch kind, ref, _ := strings.Cut(src.String(), ":"); {
	case !src.IsSet():
		r.add(chkPIN, checkWarn, "no PIN source is configured; only a token that needs no login works without one",
			"set pkcs11.pin: file:PATH in the configuration file (a file of mode 0600 holding the user PIN)")
	case kind == "file":
		fi, err := os.Stat(ref)
		switch {
		case err != nil:
			r.fail(chkPIN, fmt.Sprintf("%s (from %s): %v", src, origin, err),
				fmt.Sprintf("write the token's user PIN to %s, readable by the user that runs wasihsm only: umask 077; printf '%%s' PIN > %s", ref, ref))
		case !fi.Mode().IsRegular():
			r.fail(chkPIN, fmt.Sprintf("%s (from %s): not a regular file", src, origin), "point pkcs11.pin at a file that holds the PIN")
		case fi.Mode().Perm()&0o077 != 0:
			r.fail(chkPIN, fmt.Sprintf("%s (from %s) is readable or writable by others (mode %04o)", src, origin, fi.Mode().Perm()),
				fmt.Sprintf("chmod 600 %s (and check who owns it: it holds the token's user PIN)", ref))
		default:
			r.pass(chkPIN, "%s (from %s), mode %04o", src, origin, fi.Mode().Perm())
		}
	case kind == "env":
		if _, ok := c.lookupEnv(ref); !ok {
			r.fail(chkPIN, fmt.Sprintf("%s (from %s): the variable %s is not set", src, origin, ref),
				fmt.Sprintf("set %s in the environment of wasihsm, or use pkcs11.pin: file:PATH", ref))
			return
		}
		r.pass(chkPIN, "%s (from %s) is set", src, origin)
	case src.String() == config.EnvPIN:
		r.add(chkPIN, checkWarn, config.EnvPIN+" holds the PIN: processes of the same user can read it (/proc/PID/environ)",
			"prefer pkcs11.pin: file:PATH, a file of mode 0600")
	default:
		r.pass(chkPIN, "%s (from %s)", src, origin)
	}
}

// moduleFix says how to fix a module that did not load or initialise
// (err).
func moduleFix(s config.Settings, err error) string {
	module := s.PKCS11.Module
	if tokenAnswer(err) == pkcs11.CKR_ARGUMENTS_BAD {
		// The library loaded; C_Initialize refused its arguments.
		if s.PKCS11.InitArgs == "" {
			return "the module refused to initialise without arguments: it may need pkcs11.init_args " +
				"(NSS softokn: \"configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db' flags=\"; docs/configuration.md, \"Init arguments\")"
		}
		return "the module refused pkcs11.init_args: correct them as its documentation says, or leave them out (SoftHSM2, for one, takes none)"
	}
	fix := fmt.Sprintf("check that %s exists and is a PKCS#11 module for this machine (ls -l %s; file %s)", module, module, module)
	switch {
	case strings.Contains(module, "softhsm"):
		fix += "; SoftHSM2 comes with: apt-get install softhsm2 (/usr/lib/softhsm/libsofthsm2.so)"
	case strings.Contains(module, "p11-kit-client"):
		fix += "; it comes with: apt-get install p11-kit-modules, and needs P11_KIT_SERVER_ADDRESS=unix:path=SOCKET of a running p11-kit server"
	}
	return fix
}

// initialised reports whether a slot holds an initialised token (SoftHSM2
// shows a free slot with an uninitialised one).
func initialised(sl hsm.SlotInfo) bool {
	return sl.TokenPresent && slices.Contains(sl.FlagNames, "token-initialized")
}

func tokenFix(s config.Settings, slots []hsm.SlotInfo, err error) string {
	var have []string
	for _, sl := range slots {
		if initialised(sl) {
			have = append(have, fmt.Sprintf("%q (serial %s, slot %d)", sl.Label, sl.Serial, sl.ID))
		}
	}
	switch {
	case errors.Is(err, provider.ErrInvalidArgument):
		return "several tokens match: select one by serial (pkcs11.serial) or slot id (pkcs11.slot_id); tokens: " + strings.Join(have, ", ")
	case len(have) == 0:
		return "the module shows no token: initialise one (SoftHSM2: softhsm2-util --init-token --free --label LABEL), " +
			"or, through p11-kit, check that the server runs and P11_KIT_SERVER_ADDRESS names its socket"
	}
	return "set pkcs11.token (or --token, WASIHSM_TOKEN) to the label of one of the module's tokens: " + strings.Join(have, ", ")
}

// loginFix says how to fix a failed login, from the token's answer (an
// hsm.TokenError) or the failure to read the PIN (an errPINRead), and
// whether the token says it needs a login at all (CKF_LOGIN_REQUIRED): one
// that does not, and refuses the configured PIN, is an NSS database
// without a password, which wants no PIN.
func loginFix(s config.Settings, err error, loginRequired bool) string {
	src := s.PKCS11.PIN.String()
	switch code := tokenAnswer(err); {
	case code == pkcs11.CKR_PIN_INCORRECT && !loginRequired && s.PKCS11.PIN.IsSet():
		return fmt.Sprintf("the token needs no login (it does not set CKF_LOGIN_REQUIRED, as an NSS database made with --empty-password): "+
			"remove pkcs11.pin from the configuration; if the token does have a password, put that one in %s", src)
	case code == pkcs11.CKR_PIN_INCORRECT:
		return fmt.Sprintf("the PIN from %s is not the token's user PIN: put the right one there (a wrong PIN counts toward the token's lockout)", src)
	case code == pkcs11.CKR_PIN_LOCKED:
		return "the user PIN is locked: the security officer sets a new one (pkcs11-tool --login --login-type so --so-pin SO --init-pin --new-pin NEW; " +
			"a real HSM: its admin tool), then put it in " + src
	case code == pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return "the token has no user PIN yet: the security officer sets one (pkcs11-tool --login --login-type so --so-pin SO --init-pin --new-pin NEW)"
	case !s.PKCS11.PIN.IsSet():
		return "the token requires a login: set pkcs11.pin: file:PATH (mode 0600) in the configuration file"
	case errors.As(err, new(errPINRead)):
		return fmt.Sprintf("make %s readable by the user that runs wasihsm, holding the PIN on its first line", src)
	}
	return "check the token's state with wasihsm slots (flags such as user-pin-locked) and its logs"
}

// tokenAnswer returns the return value that the token answered in err, or
// CKR_OK when err is not a token's answer.
func tokenAnswer(err error) uint {
	var te *hsm.TokenError
	if errors.As(err, &te) {
		return te.Code
	}
	return pkcs11.CKR_OK
}

// checkSessions checks that the backend gets the sessions it needs: the
// persistent one and at least one pooled.
func checkSessions(r *doctorReport, s config.Settings, slot hsm.SlotInfo) {
	use := hsm.SessionLimit(slot.MaxSessions, s.PKCS11.MaxSessions)
	detail := fmt.Sprintf("the token's limit: %s sessions (read-write: %s); the backend will use up to %d, waiting up to %v for a free one",
		sessionLimit(slot.MaxSessions), sessionLimit(slot.MaxRWSessions), use, s.PKCS11.SessionWait)
	switch {
	case use < 2:
		r.fail(chkSessions, detail, sessionsFix(s, slot))
	case s.PKCS11.MaxSessions > 0 && slot.MaxSessions > 0 && s.PKCS11.MaxSessions > slot.MaxSessions:
		r.add(chkSessions, checkWarn, detail+fmt.Sprintf("; pkcs11.max_sessions %d is more than the token allows", s.PKCS11.MaxSessions),
			fmt.Sprintf("set pkcs11.max_sessions to %d or less", slot.MaxSessions))
	default:
		r.add(chkSessions, checkPass, detail, "")
	}
}

// checkMechanisms checks that the token can do what each managed key
// allows: managed keys never fall back to software.
func checkMechanisms(r *doctorReport, s config.Settings, admin *hsm.Admin, b *hsm.Backend) {
	// The backend's answer takes in what probing found; the admin's is
	// the mechanism list's.
	var supports interface {
		Supports(provider.Algorithm, provider.Operation) provider.Support
	} = admin
	if b != nil {
		supports = b
	}
	if len(s.Keys) == 0 {
		r.pass(chkMechs, "no managed keys configured")
		return
	}
	var missing []string
	for _, k := range s.Keys {
		for _, op := range k.Operations {
			if supports.Supports(k.Algorithm, op) == provider.Unsupported {
				missing = append(missing, fmt.Sprintf("%s (%s %s)", k.Name, k.Algorithm.Name, op))
			}
		}
	}
	if len(missing) > 0 {
		r.fail(chkMechs, "the token lacks the mechanisms for: "+strings.Join(missing, ", "),
			"managed keys run on the token only: choose algorithms the token has (wasihsm slots lists them), drop those operations, or use another token")
		return
	}
	r.pass(chkMechs, "the token has the mechanisms for every operation the managed keys allow")
}

// checkProbe reports what probing the token found: the algorithms it
// refuses (each with the token's answer), the quirks found, and the
// algorithms whose probe could not finish.
func checkProbe(r *doctorReport, tp *tokenProbe) {
	var refused, unfinished []string
	for _, alg := range provider.Algorithms() {
		p, ok := tp.probe(alg)
		if !ok {
			continue
		}
		if p.Err != nil {
			unfinished = append(unfinished, fmt.Sprintf("%s (%v)", alg.Name, p.Err))
			continue
		}
		if len(p.Refusals) > 0 {
			var what []string
			for _, f := range p.Refusals {
				what = append(what, f.String())
			}
			refused = append(refused, fmt.Sprintf("%s (%s)", alg.Name, strings.Join(what, "; ")))
		}
	}
	detail := fmt.Sprintf("%d algorithm(s) tried on throwaway keys; quirks found: %s", len(tp.probes), dashIfNone(strings.Join(tp.quirks, " ")))
	if len(refused) > 0 {
		detail += "; the token refuses: " + strings.Join(refused, ", ")
	}
	if len(unfinished) > 0 {
		r.add(chkProbe, checkWarn, detail+"; could not finish: "+strings.Join(unfinished, ", "),
			"the token was busy or failing while doctor probed it: run doctor again; wasihsm slots shows the probes")
		return
	}
	r.pass(chkProbe, "%s", detail)
}

// checkFallback says what guests lose or move to software under the
// fallback policy with this token.
func checkFallback(r *doctorReport, s config.Settings, slot hsm.SlotInfo, probed *tokenProbe) {
	report := newSlotReport(slot, s.Fallback, probed)
	var software, unavailable []string
	for _, a := range report.Algorithms {
		switch a.Where {
		case provider.Software.String():
			software = append(software, a.Name)
		case provider.Unsupported.String():
			unavailable = append(unavailable, a.Name)
		}
	}
	detail := fmt.Sprintf("fallback %s", s.Fallback)
	if len(software) > 0 {
		detail += "; in software (keys in host memory): " + strings.Join(software, " ")
	}
	if len(unavailable) == 0 {
		r.pass(chkFallback, "%s; every algorithm is available to guests", detail)
		return
	}
	r.add(chkFallback, checkWarn, detail+"; guests get notsup for: "+strings.Join(unavailable, " "),
		"if guests need them, set fallback: allow (software with keys in host memory), or use a token that has them")
}

// checkManagedKey checks one managed key: on the token once, with the
// attributes of docs/semantics.md#where-keys-live, of the configured algorithm, and it opens for
// a guest it is granted to.
// loggedIn says whether the configuration logs in, which makes CKA_PRIVATE
// required.
func checkManagedKey(ctx context.Context, r *doctorReport, k config.ManagedKey, loggedIn bool, admin *hsm.Admin, b *hsm.Backend) {
	name := keyCheck(k)
	sel := fmt.Sprintf("label %q", k.Label)
	if k.Label == "" {
		sel = fmt.Sprintf("id %x", k.ID)
	} else if len(k.ID) > 0 {
		sel += fmt.Sprintf(" and id %x", k.ID)
	}
	for _, op := range k.Operations {
		if admin.Supports(k.Algorithm, op) == provider.Unsupported {
			r.skip(fmt.Sprintf("the token cannot %s %s keys (see %s)", op, k.Algorithm.Name, chkMechs), name)
			return
		}
	}
	found, err := admin.Find(ctx, k.Label, k.ID)
	switch {
	case err != nil:
		r.fail(name, err.Error(), "check the token (wasihsm keys list)")
		return
	case len(found) == 0:
		r.fail(name, fmt.Sprintf("no private or secret key with %s on the token", sel), provisionFix(k))
		return
	case len(found) > 1:
		r.fail(name, fmt.Sprintf("%d keys match %s", len(found), sel),
			"give both label and id in the configuration, or delete the extra keys (wasihsm keys list; wasihsm keys delete --label L --id HEX)")
		return
	}
	key := found[0]
	if bad := key.Compliant(loggedIn); len(bad) > 0 {
		r.fail(name, fmt.Sprintf("%s (%s): %s", sel, key.Type, strings.Join(bad, "; ")),
			"its value may already have left the token: replace it with a key made to stay there: "+
				fmt.Sprintf("wasihsm keys delete --label %s, then %s", k.Label, provisionCommand(k)))
		return
	}
	if err := admin.Fits(ctx, key, k.Algorithm.Name); err != nil {
		r.fail(name, fmt.Sprintf("%s is %s (serves %s): %v", sel, key.Type, orNone(key.Algorithms), err),
			fmt.Sprintf("set algorithm: to one the key serves (%s), or provision a key for %s: %s", orNone(key.Algorithms), k.Algorithm.Name, provisionCommand(k)))
		return
	}
	if k.AllowsOperation(provider.OpExportPublic) && !k.Algorithm.IsRSA() && !key.HasPublic {
		r.fail(name, sel+": its public key object is not on the token, and export-public is allowed",
			fmt.Sprintf("store the public key with the same id (pkcs11-tool --write-object pub.der --type pubkey --id %x), or drop export-public from operations", key.ID))
		return
	}
	if b != nil && len(k.Guests) > 0 {
		g := k.Guests[0]
		mk, err := b.OpenManagedKey(ctx, k.Name, provider.Guest{Name: g.Module, SHA256: g.SHA256})
		if unusable := (*hsm.UnusableKeyError)(nil); errors.As(err, &unusable) {
			r.fail(name, fmt.Sprintf("%s (%s): the token holds it but cannot serve it as %s: %s (guests are told notsup)", sel, key.Type, k.Algorithm.Name, unusable.Problem),
				reprovisionFix(k))
			return
		}
		if err != nil {
			r.fail(name, fmt.Sprintf("%s: opening it for guest %s fails: %v", sel, guestName(g), err),
				fmt.Sprintf("if the token cannot serve the key as %s: %s; wasihsm keys show --label %s shows the key", k.Algorithm.Name, reprovisionFix(k), k.Label))
			return
		}
		refused, err := b.Exercise(ctx, mk, k.Operations)
		_ = mk.Destroy(ctx) // a managed key is only released
		switch {
		case err != nil:
			r.fail(name, fmt.Sprintf("%s: using it fails: %v", sel, err), "see the error; the token may be busy or failing (run doctor again)")
			return
		case len(refused) > 0:
			var what []string
			for _, f := range refused {
				what = append(what, f.String())
			}
			r.fail(name, fmt.Sprintf("%s: the token cannot run %s with it: %s", sel, k.Algorithm.Name, strings.Join(what, "; ")),
				reprovisionFix(k)+", or drop the refused operations")
			return
		}
	}
	if warnExcessUsage(r, name, sel, k, key, admin) {
		return
	}
	r.pass(name, "%s: %s, %s; %s for %s; opens for guest %s", sel, key.Type, attributeWords(key), k.Algorithm.Name, opList(k.Operations), guestName(k.Guests[0]))
}

func guestName(g config.KeyGuest) string {
	if g.SHA256 != "" {
		return "sha256:" + g.SHA256
	}
	return g.Module
}

// provisionCommand is the keys command that makes k on the token.
func provisionCommand(k config.ManagedKey) string {
	cmd := fmt.Sprintf("wasihsm keys generate --algorithm %s --label %s", k.Algorithm.Name, orDash(k.Label))
	if len(k.ID) > 0 {
		cmd += fmt.Sprintf(" --id %x", k.ID)
	}
	return cmd
}

// reprovisionFix says how to replace a managed key whose algorithm the
// token cannot run.
func reprovisionFix(k config.ManagedKey) string {
	return fmt.Sprintf("replace it with a key of an algorithm the token runs (wasihsm slots shows what it probed): wasihsm keys delete --label %s, then wasihsm keys generate --algorithm ALG --label %s --id HEX, and set algorithm: ALG; or use a token that runs %s", k.Label, k.Label, k.Algorithm.Name)
}

func provisionFix(k config.ManagedKey) string {
	return "make it on the token: " + provisionCommand(k) +
		" (or wasihsm keys import ... FILE to bring an existing key); or correct label/id in the configuration (wasihsm keys list shows the token's keys)"
}

func orDash(s string) string {
	if s == "" {
		return "LABEL"
	}
	return s
}

// warnExcessUsage warns, and reports true, when the managed key k's
// attributes on the token (key) allow more than its algorithm needs: with
// the PIN, the token would use it so (an AES key with CKA_WRAP wraps other
// keys off the token), and one that is modifiable can be given more.
func warnExcessUsage(r *doctorReport, name, sel string, k config.ManagedKey, key hsm.TokenKey, admin *hsm.Admin) bool {
	more := admin.Excess(key, k.Algorithm.Name)
	if len(more) == 0 {
		return false
	}
	r.add(name, checkWarn, fmt.Sprintf("%s (%s): allows more than %s needs: %s", sel, key.Type, k.Algorithm.Name, strings.Join(more, ", ")),
		fmt.Sprintf("replace it with a key that allows only what %s needs (wasihsm keys generate and import make such keys): wasihsm keys delete --label %s, then %s, or wasihsm keys import for a key whose value you hold",
			k.Algorithm.Name, k.Label, provisionCommand(k)))
	return true
}
