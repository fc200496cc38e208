package config

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wasihsm/wasihsm/internal/pkcs11uri"
)

// Fields of a token group (docs/configuration.md, "A group of tokens").
const (
	FieldTokens = "pkcs11.tokens"
	FieldPolicy = "pkcs11.policy"
)

// The group policies, as pkcs11.policy names them.
const (
	PolicyBalance  = "balance"
	PolicyFailover = "failover"
)

// tokenItemFields are the fields of an item of pkcs11.tokens: the keys a
// single token takes, each inherited from pkcs11 when left out.
var tokenItemFields = []string{"token", "module", "pin", "init_args"}

// GroupToken is one item of pkcs11.tokens, with what it leaves out
// inherited from pkcs11.
type GroupToken struct {
	// Token is the item's token as given: a label, or a PKCS#11 URI as
	// pkcs11uri writes it.
	Token string
	// Selector is what to match.
	Selector TokenSelector
	// Module is the item's module, or pkcs11.module (or the URI's
	// module-path). Load guarantees that it is in AllowedModules.
	Module string
	// PIN is the item's PIN source, or pkcs11.pin.
	PIN PINSource
	// InitArgs is the item's init_args, or pkcs11.init_args.
	InitArgs string
	// initArgsSet is whether the item gave init_args (an empty string
	// included).
	initArgsSet bool
}

// rawToken is one item of pkcs11.tokens, checked for its structure only.
type rawToken struct {
	field  string // "pkcs11.tokens[0]"
	line   int
	values map[string]rawValue
}

// tokenList walks pkcs11.tokens.
func (w *walker) tokenList(k, n *yaml.Node) {
	w.tokensGiven, w.tokensLine = true, k.Line
	for i, item := range w.list(FieldTokens, "tokens (each a mapping of "+strings.Join(tokenItemFields, ", ")+")",
		"list two or more tokens, or give one as pkcs11.token", n) {
		item = deref(item)
		rt := rawToken{field: fmt.Sprintf("%s[%d]", FieldTokens, i), line: item.Line, values: map[string]rawValue{}}
		if isNull(item) {
			w.fail(rt.field, item, "want a mapping of %s, not nothing", strings.Join(tokenItemFields, ", "))
			continue
		}
		bad := len(w.errs)
		w.fields(rt.field, item, tokenItemFields, func(name string, _, v *yaml.Node) {
			if s, ok := w.scalar(rt.field+"."+name, v); ok {
				rt.values[name] = rawValue{rt.field + "." + name, s, deref(v).Line}
			}
		})
		if len(w.errs) == bad {
			w.tokens = append(w.tokens, rt)
		}
	}
}

// groupTokens checks the items of pkcs11.tokens from origin o (a file in
// dir).
func (l *loader) groupTokens(o Origin, dir string, raw []rawToken, errs *fieldErrors) []GroupToken {
	fail := func(field string, line int, format string, args ...any) {
		errs.add(&FieldError{Origin: o, Field: field, Line: line, Problem: fmt.Sprintf(format, args...)})
	}
	if len(raw) == 1 {
		fail(raw[0].field, raw[0].line, "a group needs two or more tokens; for one, give it as pkcs11.token")
	}
	var out []GroupToken
	for _, rt := range raw {
		var gt GroupToken
		tok, ok := rt.values["token"]
		if !ok {
			fail(rt.field, rt.line, "no token; select it by serial or URI (token: \"pkcs11:serial=…\"): replicas have the same label")
			continue
		}
		match, module, problem := parseGroupToken(tok.value, dir)
		if problem != "" {
			fail(tok.field, tok.line, "%s", problem)
			continue
		}
		gt.Token, gt.Selector, gt.Module = tok.value, TokenSelector{uri: match}, module
		if u, err := pkcs11uri.Parse(tok.value); err == nil {
			gt.Token = u.Redacted()
		}
		if m, ok := rt.values["module"]; ok {
			if module != "" {
				fail(m.field, m.line, "the token's URI gives module-path too; give the module in one place")
				continue
			}
			gt.Module = modulePath(dir, m.value)
		}
		if p, ok := rt.values["pin"]; ok {
			pin, problem := parsePINSource(p.value, dir)
			if problem != "" {
				fail(p.field, p.line, "%s", problem)
				continue
			}
			gt.PIN = pin
		}
		if a, ok := rt.values["init_args"]; ok {
			if strings.ContainsRune(a.value, 0) {
				// It reaches the module as a C string.
				fail(a.field, a.line, "contains a NUL byte")
				continue
			}
			gt.InitArgs, gt.initArgsSet = a.value, true
		}
		for j, prev := range out {
			if prev.Selector.String() == gt.Selector.String() && prev.Module == gt.Module {
				fail(tok.field, tok.line, "selects what %s[%d] selects (%s); replicas have the same label: select each by serial or URI",
					FieldTokens, j, gt.Selector)
			}
		}
		out = append(out, gt)
	}
	return out
}

// parseGroupToken parses the token of an item of pkcs11.tokens: a label
// or a URI of path attributes (and module-path), without a PIN.
func parseGroupToken(v, dir string) (*pkcs11uri.URI, string, string) {
	if !hasScheme(v) {
		if len(v) > maxLabel {
			return nil, "", fmt.Sprintf("label %q is %d bytes long; a PKCS#11 token label has at most %d", redactPIN(v), len(v), maxLabel)
		}
		return &pkcs11uri.URI{Token: &v}, "", ""
	}
	u, err := pkcs11uri.Parse(v)
	if err != nil {
		return nil, "", "not a valid PKCS#11 URI: " + strings.TrimPrefix(err.Error(), "pkcs11uri: ")
	}
	switch {
	case u.Object != nil || u.ID != nil || u.Type != "":
		return nil, "", "the URI names an object; an item of pkcs11.tokens selects a token"
	case len(u.VendorPath) > 0:
		return nil, "", fmt.Sprintf("the URI's %s= is a vendor-specific attribute that wasihsm does not know", firstKey(u.VendorPath))
	case u.PinSource != nil || u.PinValue != nil:
		return nil, "", "the URI carries a PIN; give it as the item's pin: (or inherit pkcs11.pin)"
	}
	for _, f := range fieldLimits {
		if p := f.get(u); p != nil && len(*p) > f.limit {
			return nil, "", fmt.Sprintf("the URI's %s= is %d bytes long; the PKCS#11 field has at most %d", f.attr, len(*p), f.limit)
		}
	}
	module := ""
	if u.ModulePath != nil {
		if *u.ModulePath == "" {
			return nil, "", "the URI's module-path= is empty"
		}
		module = modulePath(dir, *u.ModulePath)
	}
	var match pkcs11uri.URI
	mergePath(&match, u)
	return &match, module, ""
}

// setPolicy sets pkcs11.policy.
func setPolicy(l *loader, v string, _ Origin, _ string) string {
	switch v {
	case PolicyBalance, PolicyFailover:
		l.s.PKCS11.Policy = v
		return ""
	}
	return fmt.Sprintf("%q: want %s or %s", v, PolicyBalance, PolicyFailover)
}

// resolveGroup fills in what the group's tokens inherit from pkcs11, and
// refuses a group beside a single token.
func (l *loader) resolveGroup() {
	p := &l.s.PKCS11
	if len(p.Tokens) == 0 {
		if o := l.s.origins[FieldPolicy]; o.Kind != FromDefault {
			l.errs.add(&FieldError{Origin: o, Field: FieldPolicy, Problem: "applies to pkcs11.tokens only; list the group's tokens there"})
		}
		return
	}
	o := l.s.origins[FieldTokens]
	for _, f := range []string{FieldToken, FieldSerial, FieldSlotID} {
		if fo := l.s.origins[f]; fo.Kind != FromDefault {
			l.errs.add(&FieldError{Origin: o, Field: FieldTokens, Line: l.tokensLine,
				Problem: fmt.Sprintf("a group (pkcs11.tokens) and a single token (%s, from %s) are both given; keep one", f, fo)})
			return
		}
	}
	listed := l.allowedListed
	for i := range p.Tokens {
		t := &p.Tokens[i]
		if t.Module == "" {
			t.Module = p.Module
		} else if !listed && !slices.ContainsFunc(p.AllowedModules, func(m string) bool { return samePath(m, t.Module) }) {
			// Modules the file names for its tokens are allowed, as
			// pkcs11.module is, unless allowed_modules lists them.
			p.AllowedModules = append(p.AllowedModules, t.Module)
		}
		if !t.PIN.IsSet() {
			t.PIN = p.PIN
		}
		if !t.initArgsSet {
			t.InitArgs = p.InitArgs
		}
		field := fmt.Sprintf("%s[%d]", FieldTokens, i)
		switch {
		case t.Module == "":
			l.errs.add(&FieldError{Origin: o, Field: field, Line: l.tokensLine, Problem: "no module; give the item's module or pkcs11.module"})
		case !slices.ContainsFunc(p.AllowedModules, func(m string) bool { return samePath(m, t.Module) }):
			l.errs.add(&FieldError{Origin: o, Field: field, Line: l.tokensLine,
				Problem: fmt.Sprintf("module %q is not in pkcs11.allowed_modules (%s)", t.Module, strings.Join(p.AllowedModules, ", "))})
		}
	}
	if p.Policy == "" {
		p.Policy = PolicyBalance
	}
}
