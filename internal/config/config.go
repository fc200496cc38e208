package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasihsm/wasihsm/internal/trusted"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
)

// Backend names the backend that holds the guests' keys.
type Backend string

// The backends.
const (
	// BackendSoftware keeps keys in host memory (package softfallback).
	BackendSoftware Backend = "software"
	// BackendPKCS11 keeps keys in a PKCS#11 token.
	BackendPKCS11 Backend = "pkcs11"
)

// Fields, named as in the configuration file. They name a setting in a
// [FieldError] and in [Settings.Origin].
const (
	FieldBackend          = "backend"
	FieldFallback         = "fallback"
	FieldPKCS11Module     = "pkcs11.module"
	FieldInitArgs         = "pkcs11.init_args"
	FieldAllowedModules   = "pkcs11.allowed_modules"
	FieldToken            = "pkcs11.token"
	FieldSerial           = "pkcs11.serial"
	FieldSlotID           = "pkcs11.slot_id"
	FieldPIN              = "pkcs11.pin"
	FieldSessionWait      = "pkcs11.session_wait"
	FieldCallTimeout      = "pkcs11.call_timeout"
	FieldMaxSessions      = "pkcs11.max_sessions"
	FieldMaxHandles       = "limits.max_handles"
	FieldMaxBufferedBytes = "limits.max_buffered_bytes"
	FieldMaxMemoryBytes   = "limits.max_memory_bytes"
	FieldMaxInstanceBytes = "limits.max_instance_bytes"
	FieldCacheDir         = "cache_dir"
	FieldKeys             = "keys"
	FieldLogLevel         = "log.level"
	FieldLogFormat        = "log.format"
	FieldMetricsAddr      = "metrics.addr"
)

// Environment variables (docs/configuration.md, "Where settings come from").
const (
	EnvConfig       = "WASIHSM_CONFIG"
	EnvBackend      = "WASIHSM_BACKEND"
	EnvFallback     = "WASIHSM_FALLBACK"
	EnvPKCS11Module = "WASIHSM_PKCS11_MODULE"
	EnvToken        = "WASIHSM_TOKEN"
	EnvPIN          = "WASIHSM_PIN"
	EnvLogLevel     = "WASIHSM_LOG_LEVEL"
	EnvLogFormat    = "WASIHSM_LOG_FORMAT"
	EnvMetricsAddr  = "WASIHSM_METRICS_ADDR"
)

// FlagConfig is the flag that names the configuration file.
const FlagConfig = "config"

// maxLabel and maxSerial are the lengths of CK_TOKEN_INFO.label and
// .serialNumber: a longer value can match no token.
const (
	maxLabel  = 32
	maxSerial = 16
)

// Settings are the resolved settings. Load fills in every default, and
// nothing changes a Settings afterwards; pass it by value.
type Settings struct {
	// ConfigFile is the configuration file read, or "" when none was.
	ConfigFile string
	// Backend holds the guests' keys.
	Backend Backend
	// Fallback governs what may run in the software backend when the
	// primary backend cannot do it (docs/semantics.md#where-keys-live).
	Fallback provider.Policy
	// PKCS11 says how to reach the token. Load does not require it to be
	// complete; see [Settings.CheckPKCS11].
	PKCS11 PKCS11
	// Limits bound each guest instance.
	Limits Limits
	// CacheDir is the directory of the compilation cache, or "" when the
	// system has no user cache directory and none was configured.
	CacheDir string
	// Keys are the managed keys: token objects that guests may open by
	// name (docs/semantics.md#key-extension), in the order of the file. Load guarantees that
	// the backend is pkcs11 when there are any.
	Keys []ManagedKey
	// Log says what run logs, and how.
	Log Log
	// MetricsAddr is the HOST:PORT where run serves Prometheus metrics
	// (/metrics), or "" for none.
	MetricsAddr string

	origins map[string]Origin // field → where its value came from; never written after Load
}

// PKCS11 says how to reach the token.
type PKCS11 struct {
	// Module is the path (or, without a slash, the library name that the
	// dynamic loader searches) of the PKCS#11 module: pkcs11.module, or
	// else the module-path of the token's URI. Load guarantees that it is
	// in AllowedModules.
	Module string
	// AllowedModules are the modules that may be loaded:
	// pkcs11.allowed_modules, or else just the module that pkcs11.module
	// (or its flag or variable) names. Paths are compared as written,
	// after cleaning.
	AllowedModules []string
	// InitArgs is pkcs11.init_args: the string the module's C_Initialize
	// gets as pReserved (hsm.Config.InitArgs), "" for none. NSS softokn
	// needs its parameter string there.
	InitArgs string
	// Token is pkcs11.token as given: the token's label, or an RFC 7512
	// PKCS#11 URI ("pkcs11:…") written as pkcs11uri writes it, with any
	// pin-value as "***". It is "" when only pkcs11.serial or
	// pkcs11.slot_id select the token. Selector is what to match.
	Token string
	// Selector says which token to use: everything that pkcs11.token,
	// pkcs11.serial and pkcs11.slot_id ask for.
	Selector TokenSelector
	// PIN is where the user PIN comes from. It is needed only when the
	// token requires a login (CKF_LOGIN_REQUIRED).
	PIN PINSource
	// SessionWait is how long an operation waits for a free session
	// before it fails (nfile).
	SessionWait time.Duration
	// CallTimeout is the deadline of one operation on the token (the wait
	// for a session and the PKCS#11 calls): past it the guest gets
	// timedout, and the backend treats the token as hung until it answers.
	CallTimeout time.Duration
	// MaxSessions bounds the sessions the backend opens; 0 means as many
	// as the token allows (ulMaxSessionCount).
	MaxSessions int
	// Tokens are the tokens of a group (pkcs11.tokens), two or more, each
	// with what it leaves out inherited from the fields above; nil for a
	// single token. Load guarantees that Token and Selector are then
	// unset.
	Tokens []GroupToken
	// Policy is how a group spreads its work (pkcs11.policy):
	// PolicyBalance (the default) or PolicyFailover; "" without a group.
	Policy string
}

// Limits bound each guest instance (see wasihost.Options).
type Limits struct {
	// MaxHandles is the number of handles a guest may hold open.
	MaxHandles int
	// MaxBufferedBytes is the number of bytes one state may buffer.
	MaxBufferedBytes int
	// MaxMemoryBytes bounds the guest's linear memory, rounded up to whole
	// 64 KiB pages. It also bounds what one host call can stage on the
	// guest's behalf (an AES-GCM output is as long as its input).
	MaxMemoryBytes int
	// MaxInstanceBytes is the budget of host memory held for one guest
	// instance across its states and calls (wasihost.Options).
	MaxInstanceBytes int
}

// DefaultMaxMemoryBytes is the default limit of a guest's linear memory:
// 1 GiB, a quarter of what wasm32 can address.
const DefaultMaxMemoryBytes = 1 << 30

// maxWasmMemory is the most a wasm32 memory can hold: 65536 pages.
const maxWasmMemory = 1 << 32

// Log says what run logs to stderr, and how.
type Log struct {
	// Level is the least level logged: slog.LevelDebug logs every host
	// call; the default, slog.LevelInfo, only what an operator must know.
	Level slog.Level
	// Format is LogText (the default) or LogJSON.
	Format LogFormat
}

// LogFormat is the format of log records.
type LogFormat string

// The log formats.
const (
	// LogText is slog's key=value text format.
	LogText LogFormat = "text"
	// LogJSON is one JSON object per record.
	LogJSON LogFormat = "json"
)

// logLevels are the names log.level accepts.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// Origin returns where the value of field (one of the Field constants) came
// from.
func (s Settings) Origin(field string) Origin { return s.origins[field] }

// ManagedKey returns the managed key of that name, if there is one.
func (s Settings) ManagedKey(name string) (ManagedKey, bool) {
	for _, k := range s.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return ManagedKey{}, false
}

// tokenFields are the settings that configure a token: giving any of them
// makes pkcs11 the default backend.
var tokenFields = []string{FieldPKCS11Module, FieldToken, FieldSerial, FieldSlotID, FieldTokens}

// BackendImplicit reports whether nobody chose the backend: it is the
// default because no flag, environment variable or file field gave a
// backend, a PKCS#11 module or a token (label, URI, serial or slot id).
func (s Settings) BackendImplicit() bool {
	for _, f := range append([]string{FieldBackend}, tokenFields...) {
		if s.origins[f].Kind != FromDefault {
			return false
		}
	}
	return true
}

// CheckPKCS11 reports what the PKCS#11 backend lacks: a module and a token.
// It answers nil when both are set. The PIN is not required here, since a
// token may need no login; [PINSource.Read] says what is missing when one
// is needed.
func (s Settings) CheckPKCS11() error {
	var errs fieldErrors
	if s.PKCS11.Module == "" {
		errs.add(&FieldError{Field: FieldPKCS11Module, Problem: "required with backend pkcs11; set --pkcs11-module, " +
			EnvPKCS11Module + " or pkcs11.module in the config file"})
	}
	if !s.PKCS11.Selector.IsSet() && len(s.PKCS11.Tokens) == 0 {
		errs.add(&FieldError{Field: FieldToken, Problem: "required with backend pkcs11; set --token, " +
			EnvToken + " or pkcs11.token (or pkcs11.serial, pkcs11.slot_id) in the config file"})
	}
	return errs.err()
}

// Input is what Load reads besides the configuration file.
type Input struct {
	// Flags maps the name of each flag the user gave (without dashes, as
	// registered by AddFlags) to its value.
	Flags map[string]string
	// LookupEnv reads an environment variable; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// UserCacheDir gives the base of the default cache directory; nil
	// means os.UserCacheDir.
	UserCacheDir func() (string, error)
	// AllowUntrustedFile reads a configuration file that another user
	// could have written instead of refusing it (see [CheckFile]). Only
	// for a diagnosis that reports it as a problem of its own.
	AllowUntrustedFile bool
}

// setting describes one setting that holds a single value (or, for a list
// field, one value per item) and how to set it from a string.
type setting struct {
	field string
	flag  string // "" when there is no flag
	env   string // "" when there is no environment variable
	usage string // flag help
	// set parses v (from origin o; relative paths against dir) into l.s
	// and returns what is wrong with it, or "".
	set func(l *loader, v string, o Origin, dir string) (problem string)
}

var settings = []setting{
	{FieldBackend, "backend", EnvBackend, "`name` of the key backend: software or pkcs11", setBackend},
	{FieldFallback, "fallback", EnvFallback, "what may run in software: allow, public-only or deny", setFallback},
	{FieldPKCS11Module, "pkcs11-module", EnvPKCS11Module, "`path` of the PKCS#11 module", setModule},
	{FieldInitArgs, "", "", "", setInitArgs},
	{FieldAllowedModules, "", "", "", setAllowedModule},
	{FieldToken, "token", EnvToken, "token `label` or PKCS#11 URI", setToken},
	{FieldSerial, "", "", "", setSerial},
	{FieldSlotID, "", "", "", setSlotID},
	{FieldPIN, "", EnvPIN, "", setPIN},
	{FieldSessionWait, "", "", "", setSessionWait},
	{FieldCallTimeout, "", "", "", setCallTimeout},
	{FieldMaxSessions, "", "", "", setMaxSessions},
	{FieldPolicy, "", "", "", setPolicy},
	{FieldMaxHandles, "max-handles", "", "open handles per guest (default 1024)", setMaxHandles},
	{FieldMaxBufferedBytes, "max-buffered-bytes", "", "bytes one state may buffer (default 16777216)", setMaxBuffered},
	{FieldMaxMemoryBytes, "max-memory-bytes", "", "bytes of linear memory a guest may have (default 1073741824)", setMaxMemory},
	{FieldMaxInstanceBytes, "max-instance-bytes", "", "bytes of host memory held for one guest (default 67108864)", setMaxInstance},
	{FieldCacheDir, "cache-dir", "", "`dir`ectory of the compilation cache", setCacheDir},
	{FieldLogLevel, "log-level", EnvLogLevel, "least `level` logged: debug, info, warn or error", setLogLevel},
	{FieldLogFormat, "log-format", EnvLogFormat, "log `format`: text or json", setLogFormat},
	{FieldMetricsAddr, "metrics-addr", EnvMetricsAddr, "serve Prometheus metrics on `HOST:PORT`/metrics", setMetricsAddr},
}

func settingByField(field string) *setting {
	for i := range settings {
		if settings[i].field == field {
			return &settings[i]
		}
	}
	return nil
}

func settingByFlag(name string) *setting {
	for i := range settings {
		if settings[i].flag != "" && settings[i].flag == name {
			return &settings[i]
		}
	}
	return nil
}

// loader holds what Load has gathered so far. Only s leaves it.
type loader struct {
	s    Settings
	errs fieldErrors
	line int // line in the file of the value being set, or 0

	// layer is the token selection that the source being applied gives
	// (nil when it gives none); sel is the one in effect, that of the
	// highest source that gave one.
	layer, sel *selection
	// filePIN says that the file holds a literal PIN (a token URI's
	// pin-value), so it must not be readable by others.
	filePIN bool
	// keysLine is the line of the file's keys field.
	keysLine int
	// tokensLine is the line of the file's pkcs11.tokens field, and
	// allowedListed says that pkcs11.allowed_modules was given.
	tokensLine    int
	allowedListed bool
}

func newLoader(userCacheDir func() (string, error)) *loader {
	l := &loader{s: Settings{
		Backend:  BackendSoftware,
		Fallback: provider.FallbackAllow,
		Log:      Log{Level: slog.LevelInfo, Format: LogText},
		PKCS11:   PKCS11{SessionWait: spec.DefaultSessionWait, CallTimeout: spec.DefaultCallTimeout},
		Limits: Limits{
			MaxHandles:       spec.DefaultMaxHandles,
			MaxBufferedBytes: spec.DefaultMaxBufferedBytes,
			MaxMemoryBytes:   DefaultMaxMemoryBytes,
			MaxInstanceBytes: spec.DefaultMaxInstanceBytes,
		},
		origins: make(map[string]Origin),
	}}
	if base, err := userCacheDir(); err == nil && base != "" {
		l.s.CacheDir = filepath.Join(base, "wasihsm", "wazero")
	}
	return l
}

// Load resolves the settings from in, the configuration file it names and
// the defaults. The error joins a [*FieldError] for each problem.
func Load(in Input) (Settings, error) {
	if in.LookupEnv == nil {
		in.LookupEnv = os.LookupEnv
	}
	if in.UserCacheDir == nil {
		in.UserCacheDir = os.UserCacheDir
	}
	l := newLoader(in.UserCacheDir)

	for _, name := range slices.Sorted(maps.Keys(in.Flags)) {
		if name != FlagConfig && settingByFlag(name) == nil {
			l.errs.add(&FieldError{Origin: Origin{FromFlag, name}, Problem: "not a configuration flag"})
		}
	}

	// Lowest precedence first, so that each layer overrides the one
	// before; every layer is validated whole.
	path, pathOrigin, ok := configPath(in, &l.errs)
	if ok {
		l.s.ConfigFile = path
		o := Origin{FromFile, path}
		data, fi, err := readFile(path)
		if err != nil {
			l.errs.add(&FieldError{Origin: o, Problem: fmt.Sprintf("cannot read the file named by %s: %v", pathOrigin, unwrapPath(err))})
		} else {
			mode := fi.Mode()
			if err := fileTrusted(o, fi); err != nil && !in.AllowUntrustedFile {
				l.errs.add(err)
			}
			l.layer = nil
			errs := l.applyFile(o, data)
			if l.filePIN && mode.Perm()&0o077 != 0 {
				l.errs.add(&FieldError{Origin: o, Problem: fmt.Sprintf(
					"holds a PIN (pkcs11.token pin-value) but is readable by others (mode %04o): chmod 600 %s", mode.Perm(), path)})
			}
			l.errs = append(l.errs, errs...)
			l.endLayer()
		}
	}
	for i := range settings {
		st := &settings[i]
		if st.env == "" {
			continue
		}
		if v, ok := in.LookupEnv(st.env); ok && v != "" {
			l.apply(st, st.field, v, Origin{FromEnv, st.env}, "", 0, &l.errs)
		}
	}
	l.endLayer()
	for i := range settings {
		st := &settings[i]
		if st.flag == "" {
			continue
		}
		if v, ok := in.Flags[st.flag]; ok {
			l.apply(st, st.field, v, Origin{FromFlag, st.flag}, "", 0, &l.errs)
		}
	}
	l.endLayer()

	l.resolve()
	if err := l.errs.err(); err != nil {
		return Settings{}, err
	}
	return l.s, nil
}

// readFile reads the configuration file and returns its owner and
// permissions with it, both from one open file.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	return data, fi, err
}

// CheckFile reports whether the configuration file at path is one that
// Load reads: it names the PKCS#11 module that wasihsm loads into its
// process, so, as ssh does with its own, Load refuses a file that another
// user could have written — one owned by a user other than the one running
// and root, or writable by group or others. The error is a [*FieldError]
// that wraps a [*trusted.Error], or the error of stat.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return fileTrusted(Origin{FromFile, path}, fi)
}

// fileTrusted checks the configuration file, whose information fi is.
func fileTrusted(o Origin, fi fs.FileInfo) error {
	var te *trusted.Error
	if err := trusted.File(o.Name, fi); !errors.As(err, &te) {
		return err
	}
	fix := "chmod go-w " + o.Name
	if errors.Is(te, trusted.ErrNotOwned) {
		fix = "make it yours or root's (chown), not writable by others"
	}
	return &FieldError{Origin: o, Err: te, Problem: fmt.Sprintf(
		"%s: whoever can write it chooses the PKCS#11 module that wasihsm loads; %s", te.Reason(), fix)}
}

// endLayer ends the application of one source: its token selection, if it
// gave one, replaces that of the sources below.
func (l *loader) endLayer() {
	if l.layer != nil {
		l.sel = l.layer
	}
	l.layer = nil
}

// applyFile applies the file's values to l.s and returns the file's
// problems in the order of its lines.
func (l *loader) applyFile(o Origin, data []byte) fieldErrors {
	w := parseFile(o, data)
	errs := w.errs
	dir := filepath.Dir(o.Name)
	for _, e := range w.entries {
		st := settingByField(e.field)
		if st == nil {
			// The walker knows the file's sections but not which fields
			// are settings; a field it accepts must be one.
			panic("config: file field without a setting: " + e.field)
		}
		l.apply(st, e.name, e.value, o, dir, e.line, &errs)
	}
	if w.tokensGiven {
		l.tokensLine = w.tokensLine
		l.s.PKCS11.Tokens = l.groupTokens(o, dir, w.tokens, &errs)
		l.s.origins[FieldTokens] = o
	}
	if w.keysGiven {
		l.keysLine = w.keysLine
		l.s.Keys = l.managedKeys(o, w.keys, &errs)
		l.s.origins[FieldKeys] = o
	}
	slices.SortStableFunc(errs, func(a, b error) int {
		return cmp.Compare(errLine(a), errLine(b))
	})
	return errs
}

func errLine(err error) int {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

// configPath returns the configuration file to read, if any.
func configPath(in Input, errs *fieldErrors) (path string, o Origin, ok bool) {
	if v, ok := in.Flags[FlagConfig]; ok {
		o = Origin{FromFlag, FlagConfig}
		if v == "" {
			errs.add(&FieldError{Origin: o, Problem: "empty; want the path of a YAML file"})
			return "", o, false
		}
		return v, o, true
	}
	if v, ok := in.LookupEnv(EnvConfig); ok && v != "" {
		return v, Origin{FromEnv, EnvConfig}, true
	}
	return "", Origin{}, false
}

// apply sets one value and records its origin, or records its problem.
// name is the field as errors name it: st.field, or an item of a list
// ("pkcs11.allowed_modules[1]").
func (l *loader) apply(st *setting, name, v string, o Origin, dir string, line int, errs *fieldErrors) {
	if v == "" {
		errs.add(&FieldError{Origin: o, Field: name, Line: line, Problem: "empty"})
		return
	}
	l.line = line
	if p := st.set(l, v, o, dir); p != "" {
		errs.add(&FieldError{Origin: o, Field: name, Line: line, Problem: p})
		return
	}
	l.s.origins[st.field] = o
}

// resolve settles what depends on several settings, once every source is
// applied.
func (l *loader) resolve() {
	s := &l.s
	moduleField := s.PKCS11.Module // from pkcs11.module, its flag or variable
	if l.sel != nil {
		l.resolveToken(l.sel)
	}
	l.allowedListed = len(s.PKCS11.AllowedModules) > 0
	l.checkModuleAllowed(moduleField)
	l.resolveGroup()

	if s.origins[FieldBackend].Kind == FromDefault {
		for _, f := range tokenFields {
			if s.origins[f].Kind != FromDefault {
				// A configured token is a request for it: running in
				// software instead would move the keys silently into
				// host memory.
				s.Backend = BackendPKCS11
			}
		}
	}
	if len(s.Keys) > 0 && s.Backend != BackendPKCS11 {
		problem := "managed keys need backend pkcs11; configure the token (pkcs11.module, pkcs11.token) or set backend: pkcs11"
		if o := s.origins[FieldBackend]; o.Kind != FromDefault {
			problem = fmt.Sprintf("managed keys need backend pkcs11, not %s (from %s)", s.Backend, o)
		}
		l.errs.add(&FieldError{Origin: s.origins[FieldKeys], Field: FieldKeys, Line: l.keysLine, Problem: problem})
	}
}

// checkModuleAllowed checks the module against the allow-list and fills in
// the default list. moduleField is the module that pkcs11.module (or its
// flag or variable) gave, before a token URI's module-path.
func (l *loader) checkModuleAllowed(moduleField string) {
	p := &l.s.PKCS11
	listed := len(p.AllowedModules) > 0
	if !listed && moduleField != "" {
		p.AllowedModules = []string{moduleField}
	}
	if p.Module == "" || slices.ContainsFunc(p.AllowedModules, func(m string) bool { return samePath(m, p.Module) }) {
		return
	}
	fromURI := p.Module != moduleField
	o := l.s.origins[FieldPKCS11Module]
	fe := &FieldError{Origin: o, Field: FieldPKCS11Module}
	what := fmt.Sprintf("%q", p.Module)
	if fromURI {
		fe.Field, fe.Line = FieldToken, l.sel.line
		what = fmt.Sprintf("the URI's module-path %q", p.Module)
	}
	switch {
	case listed:
		fe.Problem = fmt.Sprintf("%s is not in pkcs11.allowed_modules (%s); add it there, or use one of those",
			what, strings.Join(p.AllowedModules, ", "))
	default:
		fe.Problem = what + " is not an allowed module; list it in pkcs11.allowed_modules in the config file, or set it as pkcs11.module"
	}
	l.errs.add(fe)
}

// samePath reports whether two module paths name the same file, as far as
// their text tells: bare library names are compared as they are.
func samePath(a, b string) bool {
	if strings.ContainsRune(a, '/') {
		a = filepath.Clean(a)
	}
	if strings.ContainsRune(b, '/') {
		b = filepath.Clean(b)
	}
	return a == b
}

func setBackend(l *loader, v string, _ Origin, _ string) string {
	switch b := Backend(v); b {
	case BackendSoftware, BackendPKCS11:
		l.s.Backend = b
		return ""
	}
	return fmt.Sprintf("%q is not one of software, pkcs11", v)
}

func setFallback(l *loader, v string, _ Origin, _ string) string {
	p, err := provider.ParsePolicy(v)
	if err != nil {
		return fmt.Sprintf("%q is not one of allow, public-only, deny", v)
	}
	l.s.Fallback = p
	return ""
}

// modulePath resolves a module path from the file against the file's
// directory; a bare name is for the dynamic loader.
func modulePath(dir, v string) string {
	if dir != "" && strings.ContainsRune(v, '/') {
		return inDir(dir, v)
	}
	return v
}

func setModule(l *loader, v string, _ Origin, dir string) string {
	l.s.PKCS11.Module = modulePath(dir, v)
	return ""
}

func setAllowedModule(l *loader, v string, _ Origin, dir string) string {
	v = modulePath(dir, v)
	if !slices.ContainsFunc(l.s.PKCS11.AllowedModules, func(m string) bool { return samePath(m, v) }) {
		l.s.PKCS11.AllowedModules = append(l.s.PKCS11.AllowedModules, v)
	}
	return ""
}

func setPIN(l *loader, v string, o Origin, dir string) string {
	if o.Kind == FromEnv {
		l.s.PKCS11.PIN = PINSource{kind: pinLiteral, ref: v}
		return ""
	}
	p, problem := parsePINSource(v, dir)
	if problem != "" {
		return problem
	}
	l.s.PKCS11.PIN = p
	return ""
}

func setSessionWait(l *loader, v string, _ Origin, _ string) string {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Sprintf("%q is not a positive duration; want a number with a unit, such as 5s or 500ms", v)
	}
	l.s.PKCS11.SessionWait = d
	return ""
}

func setCallTimeout(l *loader, v string, _ Origin, _ string) string {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Sprintf("%q is not a positive duration; want a number with a unit, such as 5s or 500ms", v)
	}
	l.s.PKCS11.CallTimeout = d
	return ""
}

func setInitArgs(l *loader, v string, _ Origin, _ string) string {
	if strings.ContainsRune(v, 0) {
		// It reaches the module as a C string.
		return "contains a NUL byte"
	}
	l.s.PKCS11.InitArgs = v
	return ""
}

func setMaxSessions(l *loader, v string, _ Origin, _ string) string {
	n, err := strconv.ParseInt(v, 0, 0)
	if err != nil || n < 0 {
		return fmt.Sprintf("%q is not a whole number ≥ 0 (0: as many as the token allows)", v)
	}
	l.s.PKCS11.MaxSessions = int(n)
	return ""
}

func setMaxHandles(l *loader, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p == "" {
		l.s.Limits.MaxHandles = n
	}
	return p
}

func setMaxBuffered(l *loader, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p == "" {
		l.s.Limits.MaxBufferedBytes = n
	}
	return p
}

func setMaxInstance(l *loader, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p == "" {
		l.s.Limits.MaxInstanceBytes = n
	}
	return p
}

func setMaxMemory(l *loader, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p != "" {
		return p
	}
	if n > maxWasmMemory {
		return fmt.Sprintf("%q is more than a wasm32 memory can hold (4294967296)", v)
	}
	l.s.Limits.MaxMemoryBytes = n
	return ""
}

// MemoryLimitPages is MaxMemoryBytes in whole 64 KiB wasm pages, rounded
// up: what wazero's RuntimeConfig.WithMemoryLimitPages takes.
func (l Limits) MemoryLimitPages() uint32 {
	const page = 1 << 16
	return uint32((l.MaxMemoryBytes + page - 1) / page)
}

// positive parses a whole number ≥ 1 as Go writes it (1024, 16_777_216,
// 0x1000).
func positive(v string) (int, string) {
	n, err := strconv.ParseInt(v, 0, 0)
	if err != nil || n < 1 {
		return 0, fmt.Sprintf("%q is not a whole number ≥ 1", v)
	}
	return int(n), ""
}

func setCacheDir(l *loader, v string, _ Origin, dir string) string {
	l.s.CacheDir = inDir(dir, v)
	return ""
}

func setLogLevel(l *loader, v string, _ Origin, _ string) string {
	level, ok := logLevels[v]
	if !ok {
		return fmt.Sprintf("%q is not one of debug, info, warn, error", v)
	}
	l.s.Log.Level = level
	return ""
}

func setLogFormat(l *loader, v string, _ Origin, _ string) string {
	switch f := LogFormat(v); f {
	case LogText, LogJSON:
		l.s.Log.Format = f
		return ""
	}
	return fmt.Sprintf("%q is not one of text, json", v)
}

func setMetricsAddr(l *loader, v string, _ Origin, _ string) string {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Sprintf("%q is not HOST:PORT (such as 127.0.0.1:9464, or :9464 for every interface)", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q: the port must be a number from 0 to 65535 (0: any free port)", v)
	}
	l.s.MetricsAddr = v
	return ""
}

// inDir resolves a relative path from the configuration file against the
// file's directory; other paths are unchanged.
func inDir(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
