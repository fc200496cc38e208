package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
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
	FieldToken            = "pkcs11.token"
	FieldPIN              = "pkcs11.pin"
	FieldMaxHandles       = "limits.max_handles"
	FieldMaxBufferedBytes = "limits.max_buffered_bytes"
	FieldCacheDir         = "cache_dir"
)

// Environment variables (CONTRACT §8).
const (
	EnvConfig       = "WASIHSM_CONFIG"
	EnvBackend      = "WASIHSM_BACKEND"
	EnvFallback     = "WASIHSM_FALLBACK"
	EnvPKCS11Module = "WASIHSM_PKCS11_MODULE"
	EnvToken        = "WASIHSM_TOKEN"
	EnvPIN          = "WASIHSM_PIN"
)

// FlagConfig is the flag that names the configuration file.
const FlagConfig = "config"

// maxLabel is the length of CK_TOKEN_INFO.label: a longer label can match no
// token.
const maxLabel = 32

// Settings are the resolved settings. Load fills in every default, and
// nothing changes a Settings afterwards; pass it by value.
type Settings struct {
	// ConfigFile is the configuration file read, or "" when none was.
	ConfigFile string
	// Backend holds the guests' keys.
	Backend Backend
	// Fallback governs what may run in the software backend when the
	// primary backend cannot do it (CONTRACT §6).
	Fallback provider.Policy
	// PKCS11 says how to reach the token. Load does not require it to be
	// complete; see [Settings.CheckPKCS11].
	PKCS11 PKCS11
	// Limits bound each guest instance.
	Limits Limits
	// CacheDir is the directory of the compilation cache, or "" when the
	// system has no user cache directory and none was configured.
	CacheDir string

	origins map[string]Origin // field → where its value came from; never written after Load
}

// PKCS11 says how to reach the token.
type PKCS11 struct {
	// Module is the path (or, without a slash, the library name that the
	// dynamic loader searches) of the PKCS#11 module.
	Module string
	// Token is the token's label, or an RFC 7512 PKCS#11 URI ("pkcs11:…").
	Token string
	// PIN is where the user PIN comes from.
	PIN PINSource
}

// Limits bound each guest instance (see wasihost.Options).
type Limits struct {
	// MaxHandles is the number of handles a guest may hold open.
	MaxHandles int
	// MaxBufferedBytes is the number of bytes one state may buffer.
	MaxBufferedBytes int
}

// Origin returns where the value of field (one of the Field constants) came
// from.
func (s Settings) Origin(field string) Origin { return s.origins[field] }

// BackendImplicit reports whether nobody chose the backend: it is the
// default because no flag, environment variable or file field gave a
// backend, a PKCS#11 module or a token.
func (s Settings) BackendImplicit() bool {
	for _, f := range []string{FieldBackend, FieldPKCS11Module, FieldToken} {
		if s.origins[f].Kind != FromDefault {
			return false
		}
	}
	return true
}

// CheckPKCS11 reports what the PKCS#11 backend lacks: a module, a token and
// a PIN. It answers nil when all three are set. It does not read the PIN.
func (s Settings) CheckPKCS11() error {
	var errs fieldErrors
	need := func(set bool, field, flag, env string) {
		if set {
			return
		}
		var ways []string
		if flag != "" {
			ways = append(ways, "--"+flag)
		}
		ways = append(ways, env, field+" in the config file")
		errs.add(&FieldError{Field: field, Problem: "required with backend pkcs11; set " + orList(ways)})
	}
	need(s.PKCS11.Module != "", FieldPKCS11Module, "pkcs11-module", EnvPKCS11Module)
	need(s.PKCS11.Token != "", FieldToken, "token", EnvToken)
	need(s.PKCS11.PIN.IsSet(), FieldPIN, "", EnvPIN)
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
}

// setting describes one setting and how to set it from a string.
type setting struct {
	field string
	flag  string // "" when there is no flag
	env   string // "" when there is no environment variable
	usage string // flag help
	// set parses v (from origin o; relative paths against dir) into s and
	// returns what is wrong with it, or "".
	set func(s *Settings, v string, o Origin, dir string) (problem string)
}

var settings = []setting{
	{FieldBackend, "backend", EnvBackend, "`name` of the key backend: software or pkcs11", setBackend},
	{FieldFallback, "fallback", EnvFallback, "what may run in software: allow, public-only or deny", setFallback},
	{FieldPKCS11Module, "pkcs11-module", EnvPKCS11Module, "`path` of the PKCS#11 module", setModule},
	{FieldToken, "token", EnvToken, "token `label` or PKCS#11 URI", setToken},
	{FieldPIN, "", EnvPIN, "", setPIN},
	{FieldMaxHandles, "max-handles", "", "open handles per guest (default 1024)", setMaxHandles},
	{FieldMaxBufferedBytes, "max-buffered-bytes", "", "bytes one state may buffer (default 16777216)", setMaxBuffered},
	{FieldCacheDir, "cache-dir", "", "`dir`ectory of the compilation cache", setCacheDir},
}

func settingByField(field string) *setting {
	for i := range settings {
		if settings[i].field == field {
			return &settings[i]
		}
	}
	return nil
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
	s := Settings{
		Backend:  BackendSoftware,
		Fallback: provider.FallbackAllow,
		Limits: Limits{
			MaxHandles:       wasihost.DefaultMaxHandles,
			MaxBufferedBytes: wasihost.DefaultMaxBufferedBytes,
		},
		origins: make(map[string]Origin),
	}
	if base, err := in.UserCacheDir(); err == nil && base != "" {
		s.CacheDir = filepath.Join(base, "wasihsm", "wazero")
	}
	var errs fieldErrors

	for _, name := range slices.Sorted(maps.Keys(in.Flags)) {
		if name != FlagConfig && settingByFlag(name) == nil {
			errs.add(&FieldError{Origin: Origin{FromFlag, name}, Problem: "not a configuration flag"})
		}
	}

	// Lowest precedence first, so that each layer overrides the one
	// before; every layer is validated whole.
	path, pathOrigin, ok := configPath(in, &errs)
	if ok {
		s.ConfigFile = path
		o := Origin{FromFile, path}
		data, err := os.ReadFile(path)
		if err != nil {
			errs.add(&FieldError{Origin: o, Problem: fmt.Sprintf("cannot read the file named by %s: %v", pathOrigin, unwrapPath(err))})
		} else {
			errs = append(errs, s.applyFile(o, data)...)
		}
	}
	for i := range settings {
		st := &settings[i]
		if st.env == "" {
			continue
		}
		if v, ok := in.LookupEnv(st.env); ok && v != "" {
			s.apply(st, v, Origin{FromEnv, st.env}, "", 0, &errs)
		}
	}
	for i := range settings {
		st := &settings[i]
		if st.flag == "" {
			continue
		}
		if v, ok := in.Flags[st.flag]; ok {
			s.apply(st, v, Origin{FromFlag, st.flag}, "", 0, &errs)
		}
	}

	if s.origins[FieldBackend].Kind == FromDefault &&
		(s.origins[FieldPKCS11Module].Kind != FromDefault || s.origins[FieldToken].Kind != FromDefault) {
		// A configured token is a request for it: running in software
		// instead would move the keys silently into host memory.
		s.Backend = BackendPKCS11
	}
	if err := errs.err(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// applyFile applies the file's values to s and returns the file's problems
// in the order of its lines.
func (s *Settings) applyFile(o Origin, data []byte) fieldErrors {
	entries, errs := parseFile(o, data)
	dir := filepath.Dir(o.Name)
	for _, e := range entries {
		st := settingByField(e.field)
		if st == nil {
			// The walker knows the file's sections but not which fields
			// are settings; a field it accepts must be one.
			panic("config: file field without a setting: " + e.field)
		}
		s.apply(st, e.value, o, dir, e.line, &errs)
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

func settingByFlag(name string) *setting {
	for i := range settings {
		if settings[i].flag != "" && settings[i].flag == name {
			return &settings[i]
		}
	}
	return nil
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
func (s *Settings) apply(st *setting, v string, o Origin, dir string, line int, errs *fieldErrors) {
	if v == "" {
		errs.add(&FieldError{Origin: o, Field: st.field, Line: line, Problem: "empty"})
		return
	}
	if p := st.set(s, v, o, dir); p != "" {
		errs.add(&FieldError{Origin: o, Field: st.field, Line: line, Problem: p})
		return
	}
	s.origins[st.field] = o
}

func setBackend(s *Settings, v string, _ Origin, _ string) string {
	switch b := Backend(v); b {
	case BackendSoftware, BackendPKCS11:
		s.Backend = b
		return ""
	}
	return fmt.Sprintf("%q is not one of software, pkcs11", v)
}

func setFallback(s *Settings, v string, _ Origin, _ string) string {
	p, err := provider.ParsePolicy(v)
	if err != nil {
		return fmt.Sprintf("%q is not one of allow, public-only, deny", v)
	}
	s.Fallback = p
	return ""
}

func setModule(s *Settings, v string, _ Origin, dir string) string {
	if dir != "" && strings.ContainsRune(v, '/') {
		v = inDir(dir, v)
	}
	s.PKCS11.Module = v
	return ""
}

func setToken(s *Settings, v string, _ Origin, _ string) string {
	if strings.HasPrefix(v, "pkcs11:") {
		if p := checkURI(v); p != "" {
			return p
		}
	} else if len(v) > maxLabel {
		return fmt.Sprintf("label %q is %d bytes long; a PKCS#11 token label has at most %d (or give a pkcs11: URI)", v, len(v), maxLabel)
	}
	s.PKCS11.Token = v
	return ""
}

// checkURI checks the syntax of an RFC 7512 PKCS#11 URI: path attributes
// name=value separated by ';', then optional query attributes separated by
// '&', all percent-encoded. Which attributes select a token is for the
// backend to say.
func checkURI(uri string) string {
	rest := strings.TrimPrefix(uri, "pkcs11:")
	path, query, _ := strings.Cut(rest, "?")
	for _, part := range []struct {
		s, sep string
	}{{path, ";"}, {query, "&"}} {
		if part.s == "" {
			continue
		}
		for attr := range strings.SplitSeq(part.s, part.sep) {
			name, value, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return fmt.Sprintf("PKCS#11 URI %q: attribute %q is not name=value (RFC 7512)", uri, attr)
			}
			if !validPercent(value) {
				return fmt.Sprintf("PKCS#11 URI %q: attribute %q has a bad %%-escape (RFC 7512)", uri, attr)
			}
		}
	}
	return ""
}

func validPercent(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) {
			return false
		}
		if !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		i += 2
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func setPIN(s *Settings, v string, o Origin, dir string) string {
	if o.Kind == FromEnv {
		s.PKCS11.PIN = PINSource{kind: pinLiteral, ref: v}
		return ""
	}
	p, problem := parsePINSource(v, dir)
	if problem != "" {
		return problem
	}
	s.PKCS11.PIN = p
	return ""
}

func setMaxHandles(s *Settings, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p == "" {
		s.Limits.MaxHandles = n
	}
	return p
}

func setMaxBuffered(s *Settings, v string, _ Origin, _ string) string {
	n, p := positive(v)
	if p == "" {
		s.Limits.MaxBufferedBytes = n
	}
	return p
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

func setCacheDir(s *Settings, v string, _ Origin, dir string) string {
	s.CacheDir = inDir(dir, v)
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
