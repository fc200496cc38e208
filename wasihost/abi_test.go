package wasihost_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/wasmtest"
)

// This file holds the ABI harness — every host function called from wasm
// through a trampoline module (internal/wasmtest), with a checker that
// holds each call to docs/semantics.md, #abi, #handles and #memory — and the table tests built on it.
// fuzz_test.go drives the same harness with generated call sequences.

// Limits of the ABI harness: small, so that tests and fuzzing reach them.
const (
	abiMaxHandles  = 32
	abiMaxBuffered = 4096
	// One page: no valid range is longer than 64 KiB, which bounds the
	// work of any call.
	abiMemPages = 1
	abiMemSize  = abiMemPages * 65536
	// marker fills guest memory, so that a stray write shows.
	marker = 0xa5
)

// The guest memory map.
const (
	inputBase   = 0x0100 // the named inputs, 16-byte aligned
	pokeBase    = 0x3000 // bytes a fuzz input writes itself
	pokeSize    = 0x120
	outSlotBase = 0x4000 // out pointers: slot i at outSlotBase+4i
	outSlots    = 64
	scratchBase = 0x8000 // output buffers
	scratchSize = 0x7000 // up to 0xf000; the last 4 KiB stay marker, for ranges near the end
)

// hType is a handle type of docs/semantics.md#handles, as the tests see it.
type hType uint8

const (
	hNone hType = iota
	hHash
	hKey
	hCipherInitial
	hCipherEncrypting
	hCipherDecrypting
	hSignInitial
	hSignSigning
	hGenerateKey
	hDeriveKey
)

var hTypeNames = [...]string{hNone: "none", hHash: "hash", hKey: "key", hCipherInitial: "cipher",
	hCipherEncrypting: "cipher-encrypting", hCipherDecrypting: "cipher-decrypting",
	hSignInitial: "sign", hSignSigning: "sign-signing", hGenerateKey: "generate-key", hDeriveKey: "derive-key"}

func (t hType) String() string { return hTypeNames[t] }

var allHandleTypes = []hType{hHash, hKey, hCipherInitial, hCipherEncrypting, hCipherDecrypting,
	hSignInitial, hSignSigning, hGenerateKey, hDeriveKey}

// What the contract says about each parameter beyond its name, keyed by
// "function.parameter". The roles themselves come from the names the host
// modules declare: (x, x_len) is a range, out_* an out pointer, anything
// else a handle. A host function or parameter missing here fails
// TestABIHostFunctions and every test of the harness, so that a new one is
// classified before it is trusted.
var (
	// handleParams: the type a handle parameter must have.
	handleParams = map[string]hType{
		"cipher_open.private_key":               hKey,
		"cipher_set_nonce.state":                hCipherInitial,
		"cipher_set_auth_data.state":            hCipherInitial,
		"cipher_get_auth_tag.state":             hCipherInitial,
		"cipher_set_auth_tag.state":             hCipherInitial,
		"cipher_encrypt_begin.state":            hCipherInitial,
		"cipher_encrypt.state":                  hCipherEncrypting,
		"cipher_encrypt_end.state":              hCipherEncrypting,
		"cipher_decrypt_begin.state":            hCipherInitial,
		"cipher_decrypt.state":                  hCipherDecrypting,
		"cipher_decrypt_end.state":              hCipherDecrypting,
		"cipher_close.state":                    hCipherInitial,
		"hash_update.state":                     hHash,
		"hash_digest.state":                     hHash,
		"hash_close.state":                      hHash,
		"sign_open.private_key":                 hKey,
		"sign_set_nonce.state":                  hSignInitial,
		"sign_begin.state":                      hSignInitial,
		"sign_update.state":                     hSignSigning,
		"sign.state":                            hSignSigning,
		"sign_end.state":                        hSignSigning,
		"sign_close.state":                      hSignInitial,
		"generate_key_set_nonce.state":          hGenerateKey,
		"generate_key_set_input.state":          hGenerateKey,
		"generate_key_set_hash.state":           hGenerateKey,
		"generate_key_set_hash.hash_state":      hHash,
		"generate_key.state":                    hGenerateKey,
		"derive_key_prepare.private_key":        hKey,
		"derive_key_set_nonce.state":            hDeriveKey,
		"derive_key_set_hash.state":             hDeriveKey,
		"derive_key_set_hash.hash_state":        hHash,
		"derive_key.state":                      hDeriveKey,
		"private_key_close.private_key":         hKey,
		"private_key_export_public.private_key": hKey,
	}
	// consumedParams: handles that a successful call closes or consumes.
	consumedParams = map[string]bool{
		"cipher_encrypt_begin.state": true, "cipher_encrypt_end.state": true,
		"cipher_decrypt_begin.state": true, "cipher_decrypt_end.state": true,
		"cipher_close.state": true, "hash_close.state": true,
		"sign_begin.state": true, "sign_end.state": true, "sign_close.state": true,
		"generate_key.state": true, "derive_key.state": true,
		"private_key_close.private_key": true,
	}
	// outParams: the type of the handle an out pointer receives; hNone for
	// a length.
	outParams = map[string]hType{
		"cipher_open.out_state":             hCipherInitial,
		"cipher_encrypt_begin.out_state":    hCipherEncrypting,
		"cipher_encrypt_end.out_state":      hCipherInitial,
		"cipher_decrypt_begin.out_state":    hCipherDecrypting,
		"cipher_decrypt_end.out_state":      hCipherInitial,
		"hash_open.out_state":               hHash,
		"sign_open.out_state":               hSignInitial,
		"sign_begin.out_state":              hSignSigning,
		"sign_end.out_state":                hSignInitial,
		"generate_key_prepare.out_state":    hGenerateKey,
		"generate_key.out_private_key":      hKey,
		"derive_key_prepare.out_state":      hDeriveKey,
		"private_key_open.out_private_key":  hKey,
		"private_key_export_public.out_len": hNone,
	}
	// outputBuffers: the ranges a successful call writes, and what bounds
	// the bytes written: "" the range's own length, a parameter name its
	// value (docs/semantics.md#algorithms: exactly input-length bytes), "*name" the u32 the
	// call wrote at out pointer name.
	outputBuffers = map[string]string{
		"cipher_get_auth_tag.tag":       "",
		"cipher_encrypt.ciphertext":     "plaintext_len",
		"cipher_decrypt.plaintext":      "ciphertext_len",
		"hash_digest.digest":            "",
		"sign.signature":                "",
		"derive_key.output":             "",
		"private_key_export_public.buf": "*out_len",
	}
	// documentedErrnos: the errnos each function's documentation lists,
	// besides success.
	documentedErrnos = map[string][]abi.Errno{
		"cipher_open":               {badf, fault, inval, mfile},
		"cipher_set_nonce":          {badf, fault, inval},
		"cipher_set_auth_data":      {badf, fault, msgsize},
		"cipher_get_auth_tag":       {badf, fault, inval},
		"cipher_set_auth_tag":       {badf, fault, inval},
		"cipher_encrypt_begin":      {badf, fault, inval},
		"cipher_encrypt":            {badf, fault, inval, rangeErr},
		"cipher_encrypt_end":        {badf, fault},
		"cipher_decrypt_begin":      {badf, fault, inval},
		"cipher_decrypt":            {badf, fault, inval, rangeErr, badmsg},
		"cipher_decrypt_end":        {badf, fault},
		"cipher_close":              {badf},
		"hash_open":                 {fault, notsup, mfile},
		"hash_update":               {badf, fault},
		"hash_digest":               {badf, fault, inval},
		"hash_close":                {badf},
		"sign_open":                 {badf, fault, notsup, inval, mfile, msgsize, abi.ErrnoNfile, abi.ErrnoTimedout, abi.ErrnoIO},
		"sign_set_nonce":            {badf, fault, inval},
		"sign_begin":                {badf, fault},
		"sign_update":               {badf, fault, msgsize},
		"sign":                      {badf, fault, inval},
		"sign_end":                  {badf, fault},
		"sign_close":                {badf},
		"generate_key_prepare":      {fault, notsup, mfile},
		"generate_key_set_nonce":    {badf, fault, inval, msgsize},
		"generate_key_set_input":    {badf, fault, msgsize},
		"generate_key_set_hash":     {badf, inval},
		"generate_key":              {badf, fault, notsup, inval, mfile, abi.ErrnoNfile, abi.ErrnoTimedout, abi.ErrnoIO},
		"derive_key_prepare":        {badf, fault, notsup, inval, mfile},
		"derive_key_set_nonce":      {badf, fault, msgsize},
		"derive_key_set_hash":       {badf, inval},
		"derive_key":                {badf, fault, inval},
		"private_key_close":         {badf},
		"private_key_export_public": {badf, fault, inval, rangeErr},
		"private_key_open":          {fault, mfile, abi.ErrnoNoent, abi.ErrnoAccess},
	}
)

// Short names for the errnos the tests name most.
const (
	success  = abi.ErrnoSuccess
	badf     = abi.ErrnoBadf
	fault    = abi.ErrnoFault
	inval    = abi.ErrnoInval
	notsup   = abi.ErrnoNotsup
	mfile    = abi.ErrnoMfile
	msgsize  = abi.ErrnoMsgsize
	badmsg   = abi.ErrnoBadmsg
	rangeErr = abi.ErrnoRange
)

// contractErrnos are the numbers of docs/semantics.md#abi, written out here rather
// than taken from package abi, so that a wrong constant there shows.
var contractErrnos = map[uint32]bool{0: true, 2: true, 8: true, 9: true, 21: true, 28: true, 29: true,
	33: true, 35: true, 41: true, 44: true, 48: true, 56: true, 58: true, 68: true, 73: true}

// softwareNever are the errnos the in-process software backend has no
// cause to answer: from it they mean an error that ToErrno did not
// classify (io is the default) or a host bug.
var softwareNever = map[abi.Errno]bool{abi.ErrnoIO: true, abi.ErrnoNfile: true, abi.ErrnoTimedout: true,
	abi.ErrnoNotrecoverable: true, abi.ErrnoNomem: true}

type role uint8

const (
	roleHandle role = iota + 1 // a handle the call reads
	rolePtr                    // a range's pointer; its length follows
	roleLen                    // a range's length
	roleOut                    // a pointer where the host writes a u32
)

type param struct {
	name string
	role role
	// typ is the type a handle must have (roleHandle) or the type of the
	// handle written (roleOut; hNone for a length).
	typ      hType
	consumed bool   // roleHandle: closed or consumed on success
	output   bool   // rolePtr: the host writes the range
	bound    string // output: see outputBuffers
}

// hostFn is a host function as its module declares it, classified.
type hostFn struct {
	module, name string
	index        int // in abiHarness.funcs, and the fuzz inputs' function number
	params       []param
	documented   map[abi.Errno]bool
}

func (f *hostFn) paramIndex(name string) int {
	return slices.IndexFunc(f.params, func(p param) bool { return p.name == name })
}

// discoverHostFuncs reads the functions of both host modules from the
// runtime they were instantiated into, so that no function can be left out
// of the tests, and classifies their parameters.
func discoverHostFuncs(tb testing.TB, rt wazero.Runtime) []*hostFn {
	tb.Helper()
	var funcs []*hostFn
	for _, modName := range []string{wasihost.ModuleName, wasihost.KeysModuleName} {
		mod := rt.Module(modName)
		require.NotNil(tb, mod, "host module %s", modName)
		for name, def := range mod.ExportedFunctionDefinitions() {
			names, types := def.ParamNames(), def.ParamTypes()
			require.Len(tb, names, len(types), "%s: every parameter is named", name)
			require.Equal(tb, []api.ValueType{api.ValueTypeI32}, def.ResultTypes(), "%s: one i32 result (errno)", name)
			fn := &hostFn{module: modName, name: name, documented: map[abi.Errno]bool{success: true}}
			errnos, ok := documentedErrnos[name]
			require.True(tb, ok, "%s.%s: add its documented errnos to documentedErrnos", modName, name)
			for _, e := range errnos {
				fn.documented[e] = true
			}
			for i := 0; i < len(names); i++ {
				require.Equal(tb, api.ValueTypeI32, types[i], "%s.%s: i32 (docs/semantics.md#abi)", name, names[i])
				key := name + "." + names[i]
				switch {
				case i+1 < len(names) && names[i+1] == names[i]+"_len":
					bound, out := outputBuffers[key]
					fn.params = append(fn.params,
						param{name: names[i], role: rolePtr, output: out, bound: bound},
						param{name: names[i+1], role: roleLen})
					i++
				case strings.HasPrefix(names[i], "out_"):
					typ, ok := outParams[key]
					require.True(tb, ok, "%s: out pointer missing from outParams", key)
					fn.params = append(fn.params, param{name: names[i], role: roleOut, typ: typ})
				default:
					typ, ok := handleParams[key]
					require.True(tb, ok, "%s: handle parameter missing from handleParams", key)
					fn.params = append(fn.params, param{name: names[i], role: roleHandle, typ: typ, consumed: consumedParams[key]})
				}
			}
			funcs = append(funcs, fn)
		}
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].name < funcs[j].name })
	for i, fn := range funcs {
		fn.index = i
	}
	return funcs
}

// abiHarness is a host over the software backend in one runtime, with the
// trampoline module for all its functions compiled once.
type abiHarness struct {
	host     *wasihost.Host
	rt       wazero.Runtime
	backend  *countingBackend
	compiled wazero.CompiledModule
	funcs    []*hostFn
	byName   map[string]*hostFn
}

func newABIHarness(tb testing.TB) *abiHarness {
	tb.Helper()
	ctx := context.Background()
	managed, err := softfallback.New().GenerateKey(ctx, provider.KeyRequest{
		Algorithm: provider.MustLookup("ES256"), Input: abiData().pkcs8["ES256"]})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = managed.Destroy(ctx) })
	backend := &countingBackend{Backend: softfallback.New()}
	router, err := provider.NewRouter(provider.RouterConfig{Primary: backend, ManagedKeys: abiManagedKeys{managed}})
	require.NoError(tb, err)
	host, err := wasihost.New(router, wasihost.Options{MaxHandles: abiMaxHandles, MaxBufferedBytes: abiMaxBuffered})
	require.NoError(tb, err)
	rt := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	require.NoError(tb, host.Instantiate(ctx, rt))

	h := &abiHarness{host: host, rt: rt, backend: backend, funcs: discoverHostFuncs(tb, rt), byName: map[string]*hostFn{}}
	imports := make([]wasmtest.Import, len(h.funcs))
	for i, fn := range h.funcs {
		imports[i] = wasmtest.Import{Module: fn.module, Name: fn.name, Params: len(fn.params)}
		h.byName[fn.name] = fn
	}
	h.compiled, err = rt.CompileModule(ctx, wasmtest.Trampolines(imports, abiMemPages))
	require.NoError(tb, err)
	return h
}

// abiManagedKeys serves private_key_open: "managed-es256" to the guest
// named "fuzz" (the name given to InstantiateGuest, not the module's),
// "denied" to none.
type abiManagedKeys struct{ key provider.Key }

func (m abiManagedKeys) OpenManagedKey(_ context.Context, name string, guest provider.Guest) (provider.Key, error) {
	switch {
	case name == "managed-es256" && guest.Name != "fuzz":
		return nil, fmt.Errorf("abi test keys: %q for guest %q: %w", name, guest.Name, provider.ErrAccessDenied)
	case name == "managed-es256":
		return abiManagedKey{m.key}, nil
	case name == "denied":
		return nil, fmt.Errorf("abi test keys: %q: %w", name, provider.ErrAccessDenied)
	}
	return nil, fmt.Errorf("abi test keys: %q: %w", name, provider.ErrNotFound)
}

// abiManagedKey is a key the instance may use but never destroys.
type abiManagedKey struct{ provider.Key }

func (abiManagedKey) Destroy(context.Context) error { return nil }

func (k abiManagedKey) NewSignState(ctx context.Context, n int) (provider.SignState, error) {
	return k.Key.(provider.Signer).NewSignState(ctx, n)
}

func (k abiManagedKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	return k.Key.(provider.PublicKeyExporter).PublicKeyDER(ctx)
}

// span is a (ptr, len) range of guest memory.
type span struct{ ptr, len uint32 }

func (s span) end() uint64 { return uint64(s.ptr) + uint64(s.len) }

// input is a named byte string at a fixed place in guest memory.
type input struct {
	name string
	data []byte
	at   span
}

// abiTestData is what every guest memory starts with.
type abiTestData struct {
	inputs  []input // in a fixed order: fuzz inputs refer to them by index
	byName  map[string]input
	image   []byte // the initial memory: marker, and the inputs in place
	pkcs8   map[string][]byte
	message []byte
}

// seeded derives deterministic test bytes, so that a fuzz input replays
// the same way in every process.
func seeded(label string) []byte {
	s := sha256.Sum256([]byte("wasihsm abi test: " + label))
	return s[:]
}

var abiData = sync.OnceValue(func() *abiTestData {
	d := &abiTestData{byName: map[string]input{}, pkcs8: map[string][]byte{}}
	es, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seeded("ES256"))
	if err != nil {
		panic(err)
	}
	d.pkcs8["ES256"] = must(x509.MarshalPKCS8PrivateKey(es))
	d.pkcs8["EdDSA"] = must(x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seeded("EdDSA"))))
	d.pkcs8["X25519"] = must(x509.MarshalPKCS8PrivateKey(must(ecdh.X25519().NewPrivateKey(seeded("X25519")))))
	d.pkcs8["ECDH-P256"] = must(x509.MarshalPKCS8PrivateKey(must(ecdh.P256().NewPrivateKey(seeded("ECDH-P256")))))
	peerX := must(ecdh.X25519().NewPrivateKey(seeded("peer X25519"))).PublicKey().Bytes()
	peerP := must(ecdh.P256().NewPrivateKey(seeded("peer P-256"))).PublicKey().Bytes()
	d.message = bytes.Repeat([]byte("a message to hash, sign and encrypt. "), 3)[:100]

	str := func(s string) []byte { return []byte(s) }
	// Append only: fuzz corpora name inputs by their index.
	list := []struct {
		name string
		data []byte
	}{
		{"SHA-256", str("SHA-256")}, {"SHA-512", str("SHA-512")}, {"SHA3-256", str("SHA3-256")},
		{"SHAKE128", str("SHAKE128")}, {"SHA-1", str("SHA-1")},
		{"A128GCM", str("A128GCM")}, {"A256GCM", str("A256GCM")}, {"HS256", str("HS256")},
		{"ES256", str("ES256")}, {"EdDSA", str("EdDSA")}, {"HKDF", str("HKDF")},
		{"X25519", str("X25519")}, {"ECDH-P256", str("ECDH-P256")}, {"ES384", str("ES384")},
		{"sha-256", str("sha-256")}, // names are case-sensitive: notsup
		{"managed-es256", str("managed-es256")}, {"denied", str("denied")},
		{"nonce12", seeded("nonce")[:12]}, {"nonce12b", seeded("nonce b")[:12]},
		{"tag16", seeded("tag")[:16]}, {"aad", seeded("aad")},
		{"msg", d.message},
		{"key16", seeded("key")[:16]}, {"key32", seeded("key")}, {"key64", append(seeded("key"), seeded("key 2")...)},
		{"pkcs8-ES256", d.pkcs8["ES256"]}, {"pkcs8-EdDSA", d.pkcs8["EdDSA"]},
		{"pkcs8-X25519", d.pkcs8["X25519"]}, {"pkcs8-ECDH-P256", d.pkcs8["ECDH-P256"]},
		{"peer-X25519", peerX}, {"peer-P256", peerP},
		{"empty", nil},
		{"HS512", str("HS512")}, {"SHA-384", str("SHA-384")}, {"SHAKE256", str("SHAKE256")},
		{"A192GCM", str("A192GCM")}, {"big", bytes.Repeat([]byte{0x5c}, abiMaxBuffered+1)}, // one byte over the buffering limit
	}
	d.image = bytes.Repeat([]byte{marker}, abiMemSize)
	at := uint32(inputBase)
	for _, l := range list {
		in := input{name: l.name, data: l.data, at: span{at, uint32(len(l.data))}}
		copy(d.image[at:], l.data)
		at = (at + uint32(len(l.data)) + 16) &^ 15
		d.inputs = append(d.inputs, in)
		d.byName[in.name] = in
	}
	if at > pokeBase {
		panic("abi test inputs overflow their area")
	}
	return d
})

// session is one guest instance of the trampoline module with a checker
// that holds every call to the contract and a model of the handles the
// guest holds.
type session struct {
	tb  testing.TB
	h   *abiHarness
	ctx context.Context
	mod api.Module
	mem []byte // all of guest memory, aliased
	fns []api.Function

	live  map[uint32]hType // open handles, as the contract says they are
	seen  map[uint32]bool  // every handle value ever received
	pool  []uint32         // the same, in order of receipt
	trace []traced

	before []byte
	args64 []uint64
}

// traced is a finished call, for failure messages.
type traced struct {
	fn    *hostFn
	args  []uint32
	errno abi.Errno
}

func (c traced) String() string {
	var b strings.Builder
	b.WriteString(c.fn.name + "(")
	for i, p := range c.fn.params {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.role == roleHandle {
			fmt.Fprintf(&b, "%s=%d", p.name, c.args[i])
		} else {
			fmt.Fprintf(&b, "%s=%#x", p.name, c.args[i])
		}
	}
	fmt.Fprintf(&b, ") = %s", c.errno)
	return b.String()
}

// newSession instantiates the trampoline module, anonymous, as the guest
// named "fuzz".
func (h *abiHarness) newSession(tb testing.TB) *session {
	tb.Helper()
	return h.newSessionNamed(tb, "")
}

func (h *abiHarness) newSessionNamed(tb testing.TB, moduleName string) *session {
	tb.Helper()
	return h.newSessionWith(tb, func(ctx context.Context, cfg wazero.ModuleConfig) (api.Module, error) {
		return h.host.InstantiateGuest(ctx, h.rt, h.compiled, cfg.WithName(moduleName), provider.Guest{Name: "fuzz"})
	})
}

// newSessionWith instantiates the trampoline module with instantiate.
func (h *abiHarness) newSessionWith(tb testing.TB, instantiate func(context.Context, wazero.ModuleConfig) (api.Module, error)) *session {
	tb.Helper()
	ctx := context.Background()
	mod, err := instantiate(ctx, wazero.NewModuleConfig())
	require.NoError(tb, err)
	s := &session{tb: tb, h: h, ctx: ctx, mod: mod, live: map[uint32]hType{}, seen: map[uint32]bool{},
		before: make([]byte, abiMemSize), args64: make([]uint64, 8)}
	var ok bool
	s.mem, ok = mod.Memory().Read(0, mod.Memory().Size())
	require.True(tb, ok)
	require.Len(tb, s.mem, abiMemSize)
	copy(s.mem, abiData().image)
	for _, fn := range h.funcs {
		f := mod.ExportedFunction("call_" + fn.name)
		require.NotNil(tb, f, fn.name)
		s.fns = append(s.fns, f)
	}
	return s
}

// close closes the instance and checks that nothing outlived it.
func (s *session) close() {
	s.tb.Helper()
	require.NoError(s.tb, s.mod.Close(s.ctx))
	if st := s.h.host.Stats(); st != (wasihost.Stats{}) {
		s.tb.Errorf("after the instance closed: %+v, want none%s", st, s.traceText())
	}
	if n := s.h.backend.live.Load(); n != 0 {
		s.tb.Errorf("after the instance closed: %d keys alive, want 0%s", n, s.traceText())
	}
}

func (s *session) traceText() string {
	var b strings.Builder
	const keep = 80 // a fuzz input makes at most 64 calls; a long test needs only the last
	b.WriteString("\ncalls:")
	first := max(0, len(s.trace)-keep)
	if first > 0 {
		fmt.Fprintf(&b, "\n  (%d earlier calls)", first)
	}
	for i := first; i < len(s.trace); i++ {
		fmt.Fprintf(&b, "\n  #%d %s", i, s.trace[i])
	}
	return b.String()
}

func (s *session) fatalf(format string, args ...any) {
	s.tb.Helper()
	s.tb.Fatalf(format+"%s", append(args, s.traceText())...)
}

// fn returns the host function of that name.
func (s *session) fn(name string) *hostFn {
	fn := s.h.byName[name]
	if fn == nil {
		s.tb.Fatalf("no host function %q", name)
	}
	return fn
}

// call calls fn with args, checks the result against the contract and the
// model, updates the model, and returns the errno.
//
// Checked: the call does not trap; the errno is one of docs/semantics.md#abi, one the
// function documents, and never one the software backend has no cause for;
// badf exactly when a handle is not open with the right type, else fault
// exactly when a range is outside memory (docs/semantics.md#abi order); mfile only at
// the handle limit; a failure writes nothing (except the length of
// private_key_export_public's range) and leaves the handle count alone; a
// success writes only inside its output ranges, and every handle it returns
// is new and non-zero; the host's handle count is the model's.
func (s *session) call(fn *hostFn, args ...uint32) abi.Errno {
	s.tb.Helper()
	if len(args) != len(fn.params) {
		s.tb.Fatalf("%s: %d args for %d params", fn.name, len(args), len(fn.params))
	}
	copy(s.before, s.mem)
	liveBefore := len(s.live)
	badHandle := s.badHandle(fn, args)
	badRange := !badHandle && badRanges(fn, args)
	for i, a := range args {
		s.args64[i] = uint64(a)
	}
	res, err := s.fns[fn.index].Call(s.ctx, s.args64[:len(args)]...)
	c := traced{fn: fn, args: slices.Clone(args)}
	if err != nil {
		s.trace = append(s.trace, c)
		s.fatalf("%s trapped (a panic in the host?): %v", fn.name, err)
	}
	e := abi.Errno(uint32(res[0]))
	c.errno = e
	s.trace = append(s.trace, c)

	switch {
	case !contractErrnos[uint32(e)]:
		s.fatalf("%s answered %d, not an errno of docs/semantics.md#abi", fn.name, uint32(e))
	case !fn.documented[e]:
		s.fatalf("%s answered %s, which its documentation does not list", fn.name, e)
	case softwareNever[e]:
		s.fatalf("%s answered %s from the software backend (an unclassified error?)", fn.name, e)
	case badHandle != (e == badf):
		s.fatalf("%s answered %s; a handle is bad: %v (docs/semantics.md#abi: badf first)", fn.name, e, badHandle)
	case badRange != (e == fault):
		s.fatalf("%s answered %s; a range is outside memory: %v (docs/semantics.md#abi: fault after badf)", fn.name, e, badRange)
	case e == mfile && liveBefore < abiMaxHandles:
		s.fatalf("%s answered mfile with %d of %d handles open", fn.name, liveBefore, abiMaxHandles)
	}

	switch {
	case e == success:
		s.checkWrites(fn, s.outputs(fn, args))
		s.apply(fn, args)
	case e == rangeErr && fn.name == "private_key_export_public":
		// docs/semantics.md#key-extension: the one failure that writes, the needed length.
		out := args[fn.paramIndex("out_len")]
		s.checkWrites(fn, []span{{out, 4}})
		bufLen := args[fn.paramIndex("buf_len")]
		if need := le32(s.mem[out:]); need <= bufLen {
			s.fatalf("%s: range, but the needed length %d fits buf_len %d", fn.name, need, bufLen)
		}
	default:
		if !bytes.Equal(s.before, s.mem) {
			s.checkWrites(fn, nil) // reports the first changed byte
		}
	}
	st := s.h.host.Stats()
	if st.Handles != len(s.live) || st.Handles > abiMaxHandles {
		s.fatalf("after %s: host has %d handles, the model %d (limit %d)", fn.name, st.Handles, len(s.live), abiMaxHandles)
	}
	return e
}

func (s *session) badHandle(fn *hostFn, args []uint32) bool {
	for i, p := range fn.params {
		if p.role == roleHandle && s.live[args[i]] != p.typ {
			return true
		}
	}
	return false
}

func badRanges(fn *hostFn, args []uint32) bool {
	for i, p := range fn.params {
		switch p.role {
		case rolePtr:
			if (span{args[i], args[i+1]}).end() > abiMemSize {
				return true
			}
		case roleOut:
			if (span{args[i], 4}).end() > abiMemSize {
				return true
			}
		}
	}
	return false
}

// outputs returns the ranges a successful call of fn may write.
func (s *session) outputs(fn *hostFn, args []uint32) []span {
	var out []span
	for i, p := range fn.params {
		switch {
		case p.role == roleOut:
			out = append(out, span{args[i], 4})
		case p.role == rolePtr && p.output:
			n := args[i+1]
			switch {
			case strings.HasPrefix(p.bound, "*"):
				n = min(n, le32(s.mem[args[fn.paramIndex(p.bound[1:])]:]))
			case p.bound != "":
				n = min(n, args[fn.paramIndex(p.bound)])
			}
			out = append(out, span{args[i], n})
		}
	}
	return out
}

// checkWrites fails unless every byte that the call changed lies in one of
// allowed.
func (s *session) checkWrites(fn *hostFn, allowed []span) {
	s.tb.Helper()
	const chunk = 256
	for base := 0; base < len(s.mem); base += chunk {
		if bytes.Equal(s.before[base:base+chunk], s.mem[base:base+chunk]) {
			continue
		}
		for i := base; i < base+chunk; i++ {
			if s.before[i] == s.mem[i] {
				continue
			}
			ok := false
			for _, r := range allowed {
				if uint64(i) >= uint64(r.ptr) && uint64(i) < r.end() {
					ok = true
					break
				}
			}
			if !ok {
				s.fatalf("%s = %s wrote byte %#x (%#02x → %#02x) outside its outputs %x",
					fn.name, s.trace[len(s.trace)-1].errno, i, s.before[i], s.mem[i], allowed)
			}
		}
	}
}

// apply updates the model after a successful call.
func (s *session) apply(fn *hostFn, args []uint32) {
	for i, p := range fn.params {
		if p.role == roleHandle && p.consumed {
			delete(s.live, args[i])
		}
	}
	for i, p := range fn.params {
		if p.role != roleOut || p.typ == hNone {
			continue
		}
		v := le32(s.mem[args[i]:])
		switch {
		case v == 0:
			s.fatalf("%s returned handle 0", fn.name)
		case s.seen[v]:
			s.fatalf("%s returned handle %d, a value it gave before (docs/semantics.md#handles: never reused)", fn.name, v)
		}
		s.seen[v] = true
		s.live[v] = p.typ
		s.pool = append(s.pool, v)
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// in returns the place of a named input.
func (s *session) in(name string) span {
	in, ok := abiData().byName[name]
	if !ok {
		s.tb.Fatalf("no input %q", name)
	}
	return in.at
}

// fixture is a session holding one open handle of every type, each in a
// state where the function's base call (baseCalls) succeeds.
type fixture struct {
	*session
	byType                        map[hType]uint32
	aes, es, hs256, x25519, hkdf  uint32
	closed, consumed              uint32 // a closed hash, a consumed cipher state
	ct, tag                       span   // msg under aes, nonce12, no AAD
	next, wrap                    uint32 // scratch allocation
	slot                          uint32
	hashHandle, generate, derive  uint32
	cipher, encrypting, decrypted uint32
}

// flat flattens uint32s and spans into call arguments.
func flat(parts ...any) []uint32 {
	var out []uint32
	for _, p := range parts {
		switch v := p.(type) {
		case uint32:
			out = append(out, v)
		case span:
			out = append(out, v.ptr, v.len)
		default:
			panic(fmt.Sprintf("flat: %T", p))
		}
	}
	return out
}

// must calls name and fails unless it succeeds.
func (fx *fixture) must(name string, parts ...any) {
	fx.tb.Helper()
	if e := fx.call(fx.fn(name), flat(parts...)...); e != success {
		fx.fatalf("%s = %s, want success", name, e)
	}
}

// create calls name with a fresh out slot appended and returns the handle
// it wrote.
func (fx *fixture) create(name string, parts ...any) uint32 {
	fx.tb.Helper()
	out := fx.out()
	fx.must(name, append(parts, out)...)
	return le32(fx.mem[out:])
}

func (fx *fixture) key(alg string, parts ...any) uint32 {
	fx.tb.Helper()
	st := fx.create("generate_key_prepare", fx.in(alg))
	if len(parts) > 0 {
		fx.must("generate_key_set_input", append([]any{st}, parts...)...)
	}
	return fx.create("generate_key", st)
}

// out returns the next out slot.
func (fx *fixture) out() uint32 {
	p := outSlotBase + 4*(fx.slot%outSlots)
	fx.slot++
	return p
}

// buf reserves n bytes of scratch memory (left as they are).
func (fx *fixture) buf(n uint32) span {
	if fx.next+n > scratchBase+scratchSize {
		fx.next = fx.wrap
	}
	s := span{fx.next, n}
	fx.next = (fx.next + n + 15) &^ 15
	return s
}

// put writes data to scratch memory.
func (fx *fixture) put(data []byte) span {
	s := fx.buf(uint32(len(data)))
	copy(fx.mem[s.ptr:], data)
	return s
}

func newFixture(s *session) *fixture {
	s.tb.Helper()
	fx := &fixture{session: s, next: scratchBase}
	fx.hashHandle = fx.create("hash_open", fx.in("SHA-256"))
	fx.closed = fx.create("hash_open", fx.in("SHA-256"))
	fx.must("hash_close", fx.closed)

	fx.aes = fx.key("A128GCM")
	fx.es = fx.key("ES256", fx.in("pkcs8-ES256"))
	fx.hs256 = fx.key("HS256", fx.in("key32"))
	fx.x25519 = fx.key("X25519")
	hkdf := func() uint32 {
		st := fx.create("generate_key_prepare", fx.in("HKDF"))
		fx.must("generate_key_set_input", st, fx.in("key32"))
		fx.must("generate_key_set_hash", st, fx.hashHandle)
		return st
	}
	fx.hkdf = fx.create("generate_key", hkdf())
	fx.generate = hkdf()
	fx.derive = fx.create("derive_key_prepare", fx.in("HKDF"), fx.hkdf)

	// An encryption of msg, whose tag the initial state holds; that state
	// then has a new nonce and the tag set, ready to begin either way.
	msg := fx.in("msg")
	c := fx.create("cipher_open", fx.aes)
	fx.must("cipher_set_nonce", c, fx.in("nonce12"))
	enc := fx.create("cipher_encrypt_begin", c)
	fx.consumed = c
	fx.ct = fx.buf(msg.len)
	fx.must("cipher_encrypt", enc, msg, fx.ct)
	fx.cipher = fx.create("cipher_encrypt_end", enc)
	fx.tag = fx.buf(16)
	fx.must("cipher_get_auth_tag", fx.cipher, fx.tag)
	fx.must("cipher_set_nonce", fx.cipher, fx.in("nonce12b"))
	fx.must("cipher_set_auth_tag", fx.cipher, fx.tag)

	c = fx.create("cipher_open", fx.aes)
	fx.must("cipher_set_nonce", c, fx.put(seeded("nonce c")[:12]))
	fx.encrypting = fx.create("cipher_encrypt_begin", c)

	c = fx.create("cipher_open", fx.aes)
	fx.must("cipher_set_nonce", c, fx.in("nonce12"))
	fx.must("cipher_set_auth_tag", c, fx.tag)
	fx.decrypted = fx.create("cipher_decrypt_begin", c)

	si := fx.create("sign_open", fx.in("ES256"), fx.es)
	ss := fx.create("sign_begin", fx.create("sign_open", fx.in("ES256"), fx.es))
	fx.must("sign_update", ss, msg)

	fx.byType = map[hType]uint32{
		hHash: fx.hashHandle, hKey: fx.aes, hCipherInitial: fx.cipher, hCipherEncrypting: fx.encrypting,
		hCipherDecrypting: fx.decrypted, hSignInitial: si, hSignSigning: ss,
		hGenerateKey: fx.generate, hDeriveKey: fx.derive,
	}
	fx.wrap = fx.next
	return fx
}

// baseCalls gives, for every host function, arguments for which the call
// succeeds on a fresh fixture (sign_set_nonce: inval, it never succeeds).
var baseCalls = map[string]func(fx *fixture) []uint32{
	"cipher_open":          func(fx *fixture) []uint32 { return flat(fx.aes, fx.out()) },
	"cipher_set_nonce":     func(fx *fixture) []uint32 { return flat(fx.cipher, fx.in("nonce12")) },
	"cipher_set_auth_data": func(fx *fixture) []uint32 { return flat(fx.cipher, fx.in("aad")) },
	"cipher_get_auth_tag":  func(fx *fixture) []uint32 { return flat(fx.cipher, fx.buf(16)) },
	"cipher_set_auth_tag":  func(fx *fixture) []uint32 { return flat(fx.cipher, fx.in("tag16")) },
	"cipher_encrypt_begin": func(fx *fixture) []uint32 { return flat(fx.cipher, fx.out()) },
	"cipher_encrypt": func(fx *fixture) []uint32 {
		return flat(fx.encrypting, fx.in("msg"), fx.buf(fx.in("msg").len+7))
	},
	"cipher_encrypt_end":   func(fx *fixture) []uint32 { return flat(fx.encrypting, fx.out()) },
	"cipher_decrypt_begin": func(fx *fixture) []uint32 { return flat(fx.cipher, fx.out()) },
	"cipher_decrypt": func(fx *fixture) []uint32 {
		return flat(fx.decrypted, fx.ct, fx.buf(fx.ct.len+7))
	},
	"cipher_decrypt_end":     func(fx *fixture) []uint32 { return flat(fx.decrypted, fx.out()) },
	"cipher_close":           func(fx *fixture) []uint32 { return flat(fx.cipher) },
	"hash_open":              func(fx *fixture) []uint32 { return flat(fx.in("SHA-256"), fx.out()) },
	"hash_update":            func(fx *fixture) []uint32 { return flat(fx.hashHandle, fx.in("msg")) },
	"hash_digest":            func(fx *fixture) []uint32 { return flat(fx.hashHandle, fx.buf(32)) },
	"hash_close":             func(fx *fixture) []uint32 { return flat(fx.hashHandle) },
	"sign_open":              func(fx *fixture) []uint32 { return flat(fx.in("ES256"), fx.es, fx.out()) },
	"sign_set_nonce":         func(fx *fixture) []uint32 { return flat(fx.byType[hSignInitial], fx.in("nonce12")) },
	"sign_begin":             func(fx *fixture) []uint32 { return flat(fx.byType[hSignInitial], fx.out()) },
	"sign_update":            func(fx *fixture) []uint32 { return flat(fx.byType[hSignSigning], fx.in("msg")) },
	"sign":                   func(fx *fixture) []uint32 { return flat(fx.byType[hSignSigning], fx.buf(64)) },
	"sign_end":               func(fx *fixture) []uint32 { return flat(fx.byType[hSignSigning], fx.out()) },
	"sign_close":             func(fx *fixture) []uint32 { return flat(fx.byType[hSignInitial]) },
	"generate_key_prepare":   func(fx *fixture) []uint32 { return flat(fx.in("A128GCM"), fx.out()) },
	"generate_key_set_nonce": func(fx *fixture) []uint32 { return flat(fx.generate, fx.in("nonce12")) },
	"generate_key_set_input": func(fx *fixture) []uint32 { return flat(fx.generate, fx.in("key64")) },
	"generate_key_set_hash":  func(fx *fixture) []uint32 { return flat(fx.generate, fx.hashHandle) },
	"generate_key":           func(fx *fixture) []uint32 { return flat(fx.generate, fx.out()) },
	"derive_key_prepare":     func(fx *fixture) []uint32 { return flat(fx.in("HKDF"), fx.hkdf, fx.out()) },
	"derive_key_set_nonce":   func(fx *fixture) []uint32 { return flat(fx.derive, fx.in("aad")) },
	"derive_key_set_hash":    func(fx *fixture) []uint32 { return flat(fx.derive, fx.hashHandle) },
	"derive_key":             func(fx *fixture) []uint32 { return flat(fx.derive, fx.buf(42)) },
	"private_key_close":      func(fx *fixture) []uint32 { return flat(fx.aes) },
	"private_key_export_public": func(fx *fixture) []uint32 {
		return flat(fx.es, fx.buf(256), fx.out())
	},
	"private_key_open": func(fx *fixture) []uint32 { return flat(fx.in("managed-es256"), fx.out()) },
}

func (fx *fixture) base(fn *hostFn) []uint32 {
	fx.tb.Helper()
	b, ok := baseCalls[fn.name]
	if !ok {
		fx.tb.Fatalf("%s: add a base call to baseCalls", fn.name)
	}
	return b(fx)
}

// TestABIHostFunctions checks the harness against the host: docs/semantics.md#abi and
// §7 lower to 32 + 3 functions, and every table of this file describes
// exactly the host's functions and parameters, no stale entry.
func TestABIHostFunctions(t *testing.T) {
	h := newABIHarness(t)
	require.Len(t, h.funcs, 35, "docs/semantics.md: #abi (32) and #key-extension (3)")
	known := map[string]bool{}
	for _, fn := range h.funcs {
		assert.Contains(t, baseCalls, fn.name)
		for _, p := range fn.params {
			known[fn.name+"."+p.name] = true
		}
		known[fn.name] = true
	}
	for _, table := range []map[string]bool{
		keysOf(handleParams), keysOf(consumedParams), keysOf(outParams), keysOf(outputBuffers),
		keysOf(documentedErrnos), keysOf(baseCalls),
	} {
		for k := range table {
			assert.True(t, known[k], "%s names no host function or parameter", k)
		}
	}
	// The bounds of outputBuffers name parameters of their function.
	for k, bound := range outputBuffers {
		fn := h.byName[strings.Split(k, ".")[0]]
		if bound != "" {
			assert.GreaterOrEqual(t, fn.paramIndex(strings.TrimPrefix(bound, "*")), 0, k)
		}
	}
}

func keysOf[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestABIBadHandle: every handle parameter of every function answers badf,
// with nothing written, for handle 0, a handle of every other type, a
// closed and a consumed handle, and values never given out.
func TestABIBadHandle(t *testing.T) {
	h := newABIHarness(t)
	for _, fn := range h.funcs {
		for i, p := range fn.params {
			if p.role != roleHandle {
				continue
			}
			t.Run(fn.name+"/"+p.name, func(t *testing.T) {
				s := h.newSession(t)
				defer s.close()
				fx := newFixture(s)
				cases := []struct {
					name string
					v    uint32
				}{
					{"zero", 0},
					{"closed", fx.closed},
					{"consumed", fx.consumed},
					{"never given", 1000},
					{"max", 0xffffffff},
				}
				for _, typ := range allHandleTypes {
					if typ != p.typ {
						cases = append(cases, struct {
							name string
							v    uint32
						}{"type " + typ.String(), fx.byType[typ]})
					}
				}
				for _, c := range cases {
					args := fx.base(fn)
					args[i] = c.v
					assert.Equal(t, badf, s.call(fn, args...), "%s = %s (%d)", p.name, c.name, c.v)
				}
			})
		}
	}
}

// TestABIFault: every pointer of every function answers fault when its
// range is not wholly inside memory, with nothing written and no handle
// opened or closed — even where the call would otherwise succeed.
func TestABIFault(t *testing.T) {
	h := newABIHarness(t)
	rangeCases := []struct {
		name     string
		ptr, len uint32
	}{
		{"ptr = mem size", abiMemSize, 1},
		{"ptr = mem size, base len", abiMemSize, 0}, // len 0 is replaced by the base length
		{"ptr = 0xffffffff", 0xffffffff, 1},
		{"ptr+len overflows 2^32", 0xfffffff0, 0x20},
		{"len = 0xffffffff", 0, 0xffffffff},
		{"straddles the end", abiMemSize - 1, 2},
		{"empty, past the end", abiMemSize + 1, 0},
		{"empty at 0xffffffff", 0xffffffff, 0},
		{"ptr = 2^31", 0x80000000, 16},
	}
	outCases := []uint32{abiMemSize, abiMemSize - 1, abiMemSize - 3, 0xffffffff, 0xfffffffc, 0x80000000}
	for _, fn := range h.funcs {
		if !slices.ContainsFunc(fn.params, func(p param) bool { return p.role == rolePtr || p.role == roleOut }) {
			continue
		}
		t.Run(fn.name, func(t *testing.T) {
			s := h.newSession(t)
			defer s.close()
			fx := newFixture(s)
			for i, p := range fn.params {
				switch p.role {
				case rolePtr:
					for _, c := range rangeCases {
						args := fx.base(fn)
						l := c.len
						if c.name == "ptr = mem size, base len" {
							l = args[i+1]
						}
						args[i], args[i+1] = c.ptr, l
						assert.Equal(t, fault, s.call(fn, args...), "%s: %s (%#x, %#x)", p.name, c.name, c.ptr, l)
					}
					// A base range moved to the very end stays valid: the
					// bound is inclusive.
				case roleOut:
					for _, ptr := range outCases {
						args := fx.base(fn)
						args[i] = ptr
						assert.Equal(t, fault, s.call(fn, args...), "%s = %#x", p.name, ptr)
					}
				}
			}
			// The state is intact: the base call still succeeds.
			want := success
			if fn.name == "sign_set_nonce" {
				want = inval
			}
			assert.Equal(t, want, s.call(fn, fx.base(fn)...), "base call after the faults")
		})
	}
}

// TestABISuccessWritesOnlyOutputs: each function's base call succeeds and
// changes no byte outside its out pointers and output buffers (the
// session's checker diffs the whole memory).
func TestABISuccessWritesOnlyOutputs(t *testing.T) {
	h := newABIHarness(t)
	for _, fn := range h.funcs {
		t.Run(fn.name, func(t *testing.T) {
			s := h.newSession(t)
			defer s.close()
			fx := newFixture(s)
			want := success
			if fn.name == "sign_set_nonce" {
				want = inval // docs/semantics.md#algorithms: for every built-in algorithm
			}
			assert.Equal(t, want, s.call(fn, fx.base(fn)...))
		})
	}
}

// TestABIErrnos names the errno of failures past badf and fault; each
// writes nothing (the checker compares the whole memory).
func TestABIErrnos(t *testing.T) {
	h := newABIHarness(t)
	tests := []struct {
		name string
		fn   string
		args func(fx *fixture) []uint32
		want abi.Errno
	}{
		{"hash name is case-sensitive", "hash_open", func(fx *fixture) []uint32 { return flat(fx.in("sha-256"), fx.out()) }, notsup},
		{"hash_open of a key algorithm", "hash_open", func(fx *fixture) []uint32 { return flat(fx.in("A128GCM"), fx.out()) }, notsup},
		{"empty hash name", "hash_open", func(fx *fixture) []uint32 { return flat(fx.in("empty"), fx.out()) }, notsup},
		{"digest_len 0", "hash_digest", func(fx *fixture) []uint32 { return flat(fx.hashHandle, fx.buf(0)) }, inval},
		{"digest_len over SHA-256's", "hash_digest", func(fx *fixture) []uint32 { return flat(fx.hashHandle, fx.buf(33)) }, inval},
		{"generate unknown", "generate_key_prepare", func(fx *fixture) []uint32 { return flat(fx.in("SHA-256"), fx.out()) }, notsup},
		{"AES key of the wrong length", "generate_key", func(fx *fixture) []uint32 {
			st := fx.create("generate_key_prepare", fx.in("A128GCM"))
			fx.must("generate_key_set_input", st, fx.in("key32"))
			return flat(st, fx.out())
		}, inval},
		{"HS256 key shorter than the hash", "generate_key", func(fx *fixture) []uint32 {
			st := fx.create("generate_key_prepare", fx.in("HS256"))
			fx.must("generate_key_set_input", st, fx.in("key16"))
			return flat(st, fx.out())
		}, inval},
		{"HKDF without a hash", "generate_key", func(fx *fixture) []uint32 {
			st := fx.create("generate_key_prepare", fx.in("HKDF"))
			fx.must("generate_key_set_input", st, fx.in("key32"))
			return flat(st, fx.out())
		}, inval},
		{"set_nonce on AES generation", "generate_key_set_nonce", func(fx *fixture) []uint32 {
			return flat(fx.create("generate_key_prepare", fx.in("A128GCM")), fx.in("nonce12"))
		}, inval},
		{"HKDF hash SHA-1", "generate_key_set_hash", func(fx *fixture) []uint32 {
			return flat(fx.generate, fx.create("hash_open", fx.in("SHA-1")))
		}, inval},
		{"input over the buffering limit", "generate_key_set_input", func(fx *fixture) []uint32 { return flat(fx.generate, fx.in("big")) }, msgsize},
		{"AAD over the buffering limit", "cipher_set_auth_data", func(fx *fixture) []uint32 { return flat(fx.cipher, fx.in("big")) }, msgsize},
		{"cipher_open of an ES256 key", "cipher_open", func(fx *fixture) []uint32 { return flat(fx.es, fx.out()) }, inval},
		{"nonce of 11 bytes", "cipher_set_nonce", func(fx *fixture) []uint32 { return flat(fx.cipher, span{fx.in("nonce12").ptr, 11}) }, inval},
		{"tag of 15 bytes", "cipher_set_auth_tag", func(fx *fixture) []uint32 { return flat(fx.cipher, span{fx.tag.ptr, 15}) }, inval},
		{"get_auth_tag of 17 bytes", "cipher_get_auth_tag", func(fx *fixture) []uint32 { return flat(fx.cipher, fx.buf(17)) }, inval},
		{"encrypt_begin with the last nonce", "cipher_encrypt_begin", func(fx *fixture) []uint32 {
			// fx.encrypting began with nonce c; a new state with that nonce
			// is refused.
			c := fx.create("cipher_open", fx.aes)
			fx.must("cipher_set_nonce", c, fx.put(seeded("nonce c")[:12]))
			return flat(c, fx.out())
		}, inval},
		{"encrypt_begin without a nonce", "cipher_encrypt_begin", func(fx *fixture) []uint32 {
			return flat(fx.create("cipher_open", fx.aes), fx.out())
		}, inval},
		{"decrypt_begin without a tag", "cipher_decrypt_begin", func(fx *fixture) []uint32 {
			c := fx.create("cipher_open", fx.aes)
			fx.must("cipher_set_nonce", c, fx.in("nonce12"))
			return flat(c, fx.out())
		}, inval},
		{"ciphertext buffer too short", "cipher_encrypt", func(fx *fixture) []uint32 {
			return flat(fx.encrypting, fx.in("msg"), fx.buf(fx.in("msg").len-1))
		}, rangeErr},
		{"plaintext buffer too short", "cipher_decrypt", func(fx *fixture) []uint32 {
			return flat(fx.decrypted, fx.ct, fx.buf(fx.ct.len-1))
		}, rangeErr},
		{"authentication fails", "cipher_decrypt", func(fx *fixture) []uint32 {
			return flat(fx.decrypted, span{fx.ct.ptr, fx.ct.len - 1}, fx.buf(fx.ct.len))
		}, badmsg},
		{"sign_open with another algorithm", "sign_open", func(fx *fixture) []uint32 { return flat(fx.in("ES384"), fx.es, fx.out()) }, inval},
		{"sign_open of a hash name", "sign_open", func(fx *fixture) []uint32 { return flat(fx.in("SHA-256"), fx.es, fx.out()) }, notsup},
		{"sign_open with an AES key", "sign_open", func(fx *fixture) []uint32 { return flat(fx.in("A128GCM"), fx.aes, fx.out()) }, notsup},
		{"sign_open HS256 with an ES256 key", "sign_open", func(fx *fixture) []uint32 { return flat(fx.in("HS256"), fx.es, fx.out()) }, inval},
		{"signature longer than ES256's", "sign", func(fx *fixture) []uint32 { return flat(fx.byType[hSignSigning], fx.buf(65)) }, inval},
		{"signature_len 0", "sign", func(fx *fixture) []uint32 { return flat(fx.byType[hSignSigning], fx.buf(0)) }, inval},
		{"sign_set_nonce", "sign_set_nonce", func(fx *fixture) []uint32 { return flat(fx.byType[hSignInitial], fx.in("nonce12")) }, inval},
		{"derive with another key's algorithm", "derive_key_prepare", func(fx *fixture) []uint32 {
			return flat(fx.in("X25519"), fx.hkdf, fx.out())
		}, inval},
		{"derive of a signature name", "derive_key_prepare", func(fx *fixture) []uint32 { return flat(fx.in("ES256"), fx.es, fx.out()) }, notsup},
		{"HKDF output over 255 hash lengths", "derive_key", func(fx *fixture) []uint32 { return flat(fx.derive, fx.buf(255*32+1)) }, inval},
		{"X25519 without a peer", "derive_key", func(fx *fixture) []uint32 {
			return flat(fx.create("derive_key_prepare", fx.in("X25519"), fx.x25519), fx.buf(32))
		}, inval},
		{"X25519 secret shorter than asked", "derive_key", func(fx *fixture) []uint32 {
			d := fx.create("derive_key_prepare", fx.in("X25519"), fx.x25519)
			fx.must("derive_key_set_nonce", d, fx.in("peer-X25519"))
			return flat(d, fx.buf(33))
		}, inval},
		{"derive_key_set_hash of another hash", "derive_key_set_hash", func(fx *fixture) []uint32 {
			return flat(fx.derive, fx.create("hash_open", fx.in("SHA-512")))
		}, inval},
		{"export_public of an AES key", "private_key_export_public", func(fx *fixture) []uint32 {
			return flat(fx.aes, fx.buf(256), fx.out())
		}, inval},
		{"export_public buffer too short", "private_key_export_public", func(fx *fixture) []uint32 {
			return flat(fx.es, fx.buf(10), fx.out())
		}, rangeErr},
		{"no managed key of that name", "private_key_open", func(fx *fixture) []uint32 { return flat(fx.in("SHA-256"), fx.out()) }, abi.ErrnoNoent},
		{"managed key denied", "private_key_open", func(fx *fixture) []uint32 { return flat(fx.in("denied"), fx.out()) }, abi.ErrnoAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.newSession(t)
			defer s.close()
			fx := newFixture(s)
			assert.Equal(t, tt.want, s.call(s.fn(tt.fn), tt.args(fx)...))
		})
	}
}

// TestABIOverlappingBuffers: docs/semantics.md#memory, ciphertext over plaintext (in
// place, shifted either way) gives the bytes that separate buffers give.
func TestABIOverlappingBuffers(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)
	msg := abiData().message
	n := uint32(len(msg))
	nonce1, nonce2 := fx.put(seeded("overlap 1")[:12]), fx.put(seeded("overlap 2")[:12])

	// encrypt runs one encryption under nonce with pt and ct as given, and
	// returns the state and the tag.
	encrypt := func(nonce, pt, ct span) []byte {
		c := fx.create("cipher_open", fx.aes)
		fx.must("cipher_set_nonce", c, nonce)
		e := fx.create("cipher_encrypt_begin", c)
		fx.must("cipher_encrypt", e, pt, ct)
		c = fx.create("cipher_encrypt_end", e)
		tag := fx.buf(16)
		fx.must("cipher_get_auth_tag", c, tag)
		fx.must("cipher_close", c)
		return slices.Clone(fx.mem[tag.ptr:tag.end()])
	}
	separate := fx.buf(n)
	wantTag := encrypt(nonce1, fx.in("msg"), separate)
	want := slices.Clone(fx.mem[separate.ptr:separate.end()])

	// No subtests: the session reports to t.
	for _, shift := range []int32{0, 1, -1, 7, -7, 16, -16, int32(n) - 1} {
		{
			encrypt(nonce2, fx.in("msg"), fx.buf(n)) // the key's last nonce is now nonce2
			area := fx.buf(3 * n)
			pt := span{area.ptr + n, n}
			copy(fx.mem[pt.ptr:], msg)
			ct := span{uint32(int32(pt.ptr) + shift), n}
			tag := encrypt(nonce1, pt, ct)
			assert.Equal(t, want, fx.mem[ct.ptr:ct.end()], "ciphertext, shift %d", shift)
			assert.Equal(t, wantTag, tag, "tag, shift %d", shift)

			// And back, overlapping the same way.
			c := fx.create("cipher_open", fx.aes)
			fx.must("cipher_set_nonce", c, nonce1)
			tagAt := fx.put(tag)
			fx.must("cipher_set_auth_tag", c, tagAt)
			d := fx.create("cipher_decrypt_begin", c)
			fx.must("cipher_decrypt", d, ct, pt)
			assert.Equal(t, msg, fx.mem[pt.ptr:pt.end()], "plaintext, shift %d", shift)
			fx.must("cipher_close", fx.create("cipher_decrypt_end", d))
		}
	}
}

// TestABIEdgeRanges: a zero-length range is valid anywhere up to and
// including the end of memory, and a range ending exactly at the end is
// valid.
func TestABIEdgeRanges(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)
	assert.Equal(t, success, s.call(s.fn("hash_update"), fx.hashHandle, abiMemSize, 0), "empty range at the end")
	assert.Equal(t, success, s.call(s.fn("hash_update"), fx.hashHandle, 0, abiMemSize), "all of memory")
	assert.Equal(t, success, s.call(s.fn("hash_digest"), fx.hashHandle, abiMemSize-32, 32), "digest ending at the end")
	assert.Equal(t, success, s.call(s.fn("hash_open"), flat(fx.in("SHA-256"), uint32(abiMemSize-4))...), "out pointer at the end")
	xof := fx.create("hash_open", fx.in("SHAKE128"))
	assert.Equal(t, success, s.call(s.fn("hash_digest"), xof, abiMemSize-1-0x8000, 0x8000), "32 KiB of XOF output, unaligned")
}

// TestABIFaultChangesNoState: a call that answers fault has changed no
// state of the guest's objects, beyond what the checker sees in memory and
// in the handle count.
func TestABIFaultChangesNoState(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)

	// A nonce that faults is not set.
	c := fx.create("cipher_open", fx.aes)
	assert.Equal(t, fault, s.call(s.fn("cipher_set_nonce"), c, abiMemSize-6, 12))
	assert.Equal(t, inval, s.call(s.fn("cipher_encrypt_begin"), c, fx.out()), "no nonce was set")

	// A failed generate_key leaves its state open and usable.
	st := fx.create("generate_key_prepare", fx.in("A128GCM"))
	assert.Equal(t, fault, s.call(s.fn("generate_key"), st, abiMemSize))
	fx.create("generate_key", st)

	// A faulting encryption neither encrypts nor uses up the state.
	assert.Equal(t, fault, s.call(s.fn("cipher_encrypt"), flat(fx.encrypting, fx.in("msg"), span{abiMemSize - 50, 100})...))
	out := fx.buf(100)
	fx.must("cipher_encrypt", fx.encrypting, fx.in("msg"), out)

	// A faulting decryption leaves the tag, and the state can decrypt.
	assert.Equal(t, fault, s.call(s.fn("cipher_decrypt"), flat(fx.decrypted, fx.ct, span{0xfffffff0, 0x20})...))
	pt := fx.buf(fx.ct.len)
	fx.must("cipher_decrypt", fx.decrypted, fx.ct, pt)
	assert.Equal(t, abiData().message, fx.mem[pt.ptr:pt.end()])
}

// TestABIHandleLimit: the handle table holds at most MaxHandles; beyond it,
// calls that create a handle answer mfile and write nothing, while
// transitions (one handle for another) still work.
func TestABIHandleLimit(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)
	opened := 0
	for range 3 * abiMaxHandles {
		switch e := s.call(s.fn("hash_open"), flat(fx.in("SHA-256"), fx.out())...); e {
		case success:
			opened++
		case mfile:
		default:
			t.Fatalf("hash_open = %s", e)
		}
		require.LessOrEqual(t, h.host.Stats().Handles, abiMaxHandles)
	}
	require.Equal(t, abiMaxHandles, h.host.Stats().Handles)
	assert.Less(t, opened, abiMaxHandles, "the fixture holds some")

	for _, name := range []string{"cipher_open", "hash_open", "sign_open", "generate_key_prepare", "derive_key_prepare", "private_key_open"} {
		assert.Equal(t, mfile, s.call(s.fn(name), fx.base(s.fn(name))...), name)
	}
	// Transitions and consuming calls work at the limit.
	for _, name := range []string{"cipher_encrypt_end", "sign_end", "cipher_decrypt_end", "generate_key", "derive_key", "hash_close"} {
		assert.Equal(t, success, s.call(s.fn(name), fx.base(s.fn(name))...), name)
	}
	// With room made, opening works again.
	assert.Equal(t, success, s.call(s.fn("hash_open"), flat(fx.in("SHA-256"), fx.out())...))
}

// TestABIHandlesNeverReused: handle values are fresh for the life of the
// instance, across opens, closes and transitions (the checker fails on a
// value seen before), and a closed value stays bad.
func TestABIHandlesNeverReused(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)
	var closed []uint32
	for i := range 300 {
		hh := fx.create("hash_open", fx.in("SHA-256"))
		fx.must("hash_close", hh)
		closed = append(closed, hh)
		c := fx.create("cipher_open", fx.aes)
		fx.must("cipher_set_nonce", c, fx.put(seeded(fmt.Sprint("never reused ", i))[:12]))
		e := fx.create("cipher_encrypt_begin", c)
		fx.must("cipher_close", fx.create("cipher_encrypt_end", e))
		closed = append(closed, c, e)
	}
	assert.Len(t, s.seen, len(s.pool), "the pool holds each value once")
	for _, v := range closed {
		require.Equal(t, badf, s.call(s.fn("hash_update"), flat(v, fx.in("msg"))...), "handle %d", v)
	}
	assert.Equal(t, len(s.live), h.host.Stats().Handles)
}

// TestABIGuestAfterInstantiation: calls made after InstantiateGuest
// returns (exports the embedder calls, each with its own context) run as
// the guest given to InstantiateGuest, not as the module's name, and the
// instance's state is released the moment the module closes (the session's
// close checks that).
func TestABIGuestAfterInstantiation(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSessionNamed(t, "module-name")
	defer s.close()
	// abiManagedKeys gives managed-es256 to the guest named "fuzz" only.
	assert.Equal(t, success, s.call(s.fn("private_key_open"), flat(s.in("managed-es256"), uint32(outSlotBase))...))
}

// TestABIAnonymousGuest: a module's own name is no identity. The module
// below is named "fuzz", the guest abiManagedKeys grants managed-es256 to,
// but it was not given that identity by the embedder: instantiated with
// the zero provider.Guest, or directly with wazero, it is anonymous, and
// private_key_open answers access for every name: the granted one, one
// that does not exist and one whose store refuses.
func TestABIAnonymousGuest(t *testing.T) {
	h := newABIHarness(t)
	tests := []struct {
		name        string
		instantiate func(context.Context, wazero.ModuleConfig) (api.Module, error)
		// released: its state goes when it closes (otherwise at the
		// host's next new instance).
		released bool
	}{
		{"zero Guest", func(ctx context.Context, cfg wazero.ModuleConfig) (api.Module, error) {
			return h.host.InstantiateGuest(ctx, h.rt, h.compiled, cfg.WithName("fuzz"), provider.Guest{})
		}, true},
		{"wazero directly", func(ctx context.Context, cfg wazero.ModuleConfig) (api.Module, error) {
			return h.rt.InstantiateModule(ctx, h.compiled, cfg.WithName("fuzz"))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.newSessionWith(t, tt.instantiate)
			if tt.released {
				defer s.close()
			} else {
				defer func() { require.NoError(t, s.mod.Close(s.ctx)) }()
			}
			// "ES256" is no managed key: noent for a named guest.
			for _, key := range []string{"managed-es256", "ES256", "denied"} {
				assert.Equal(t, abi.ErrnoAccess, s.call(s.fn("private_key_open"), flat(s.in(key), uint32(outSlotBase))...), key)
			}
		})
	}
}
