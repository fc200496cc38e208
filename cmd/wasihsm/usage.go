package main

// usage is the text of `wasihsm help`. TestUsageNamesEveryFlag keeps it in
// step with the flags.
const usage = `wasihsm runs WebAssembly modules with the wasi_ephemeral_crypto API; their
keys live in a PKCS#11 token or, without one, in host memory.

Usage:
  wasihsm run [flags] MODULE.wasm [ARGS...]
  wasihsm slots [--json] [flags]
  wasihsm keys list|show|generate|import|delete [flags]   (wasihsm keys help)
  wasihsm doctor [--json] [flags]
  wasihsm conformance [--json] [--no-cache] [flags]
  wasihsm version
  wasihsm help

run starts MODULE.wasm (WASI preview1) with ARGS as its arguments (argv[0]
is the module's file name), the process's stdin, stdout and stderr, the
clocks and a cryptographic random source. Flags end at MODULE.wasm:
everything after it goes to the guest untouched.

slots lists the slots and tokens of the PKCS#11 module (label, serial, flags,
session limits) and, per algorithm, where it runs with that token: token,
composed (built from the token's mechanisms), software (as the fallback
policy allows) or unavailable. The configured token (--token, with its PIN)
is probed: each algorithm is tried on throwaway keys, and what the token
refuses is shown with its CKR code. It takes the configuration flags below
and --json.

keys lists, generates, imports and deletes the managed keys on the token
(token objects, not extractable) and prints their public keys and the
configuration that grants them to guests; wasihsm keys help says more.

doctor checks a configuration end to end as run would use it: module,
token, login, session limits, mechanisms for the managed keys and the
fallback policy, each managed key's attributes, and the PIN source's
permissions. It prints pass, warn or fail for each, with the fix for each
failure, and exits 1 when a check fails. It takes the configuration flags
and --json.

conformance holds the configured backend (as run would use it) to the
conformance suite built into wasihsm: every rule of the contract and every
known-answer vector, through a real wasm guest. It prints pass, fail or
notsup (the token lacks the mechanism and the fallback policy forbids
software) per algorithm and operation, and per scenario, and exits 1 when
one fails. It creates session objects only and leaves the token as it was.
It takes the configuration flags, --json and --no-cache.

Flags of run (and slots, for the configuration ones):
  --config PATH             YAML configuration file (see wasihsm.example.yaml)
  --backend NAME            where keys live: software or pkcs11
  --fallback POLICY         what may run in software when the token cannot:
                            allow (default), public-only or deny
  --pkcs11-module PATH      PKCS#11 module (shared library)
  --token LABEL             token label, or a PKCS#11 URI (RFC 7512)
  --max-handles N           open handles per guest (default 1024)
  --max-buffered-bytes N    bytes one state may buffer (default 16777216)
  --max-memory-bytes N      bytes of linear memory a guest may have (default 1073741824)
  --max-instance-bytes N    bytes of host memory held for one guest (default 67108864)
  --cache-dir DIR           compilation cache, so that a module compiles once
                            (default: the user cache directory's wasihsm/wazero)
  --no-cache                compile without the cache
  --dir HOST[:GUEST[:ro]]   give the guest the host directory HOST at GUEST
                            (default: HOST's absolute path), read-only with
                            :ro; the guest cannot leave it. Refused when HOST
                            holds the configuration file, the PIN file, the
                            cache or SoftHSM2's token directory; repeatable
  --env NAME=VALUE          set a variable in the guest's environment (NAME
                            alone passes the host's value); repeatable. The
                            guest sees no other host variable.
  --timeout DURATION        stop the guest after DURATION, e.g. 30s (default 0:
                            never)
  --log-level LEVEL         least level logged to stderr: debug (every host
                            call), info (default), warn or error
  --log-format FORMAT       log records as text (default) or json
  --metrics-addr HOST:PORT  serve Prometheus metrics on http://HOST:PORT/metrics
                            while the guest runs (port 0: any free port)

Environment (flags override it; it overrides the configuration file):
  WASIHSM_CONFIG            configuration file, when --config is not given
  WASIHSM_BACKEND           software or pkcs11
  WASIHSM_FALLBACK          allow, public-only or deny
  WASIHSM_PKCS11_MODULE     PKCS#11 module
  WASIHSM_TOKEN             token label or PKCS#11 URI
  WASIHSM_PIN               the user PIN (the configuration file names a source
                            instead: pin: env:NAME or pin: file:PATH)
  WASIHSM_LOG_LEVEL         debug, info, warn or error
  WASIHSM_LOG_FORMAT        text or json
  WASIHSM_METRICS_ADDR      HOST:PORT of the metrics endpoint
With no backend, module or token set anywhere, the guest runs on the software
backend, and wasihsm says so in one line on stderr.

Exit status of run:
  the guest's exit code     0 also when the guest returns from _start; a code
                            above 255 is reported as 255
  2                         usage or configuration error, or a backend that
                            this build does not have
  124                       --timeout expired
  125                       wasihsm could not set up the runtime, or could not
                            reach the token (module, token, login)
  126                       MODULE is not valid WebAssembly, or imports what
                            wasihsm does not provide
  127                       MODULE cannot be read
  134                       the guest trapped (unreachable, out-of-bounds
                            memory access, stack overflow, ...)
A guest may exit with these codes too; the message on stderr tells them apart.
`
