// Command wasihsm runs WebAssembly guests with the wasi_ephemeral_crypto API,
// their keys held in a PKCS#11 token or, without one, in host memory.
//
//	wasihsm run [flags] MODULE.wasm [ARGS...]
//	wasihsm version
//	wasihsm help
//
// `wasihsm help` lists the flags, the environment and the exit codes; the
// configuration file is described in package internal/config and shown in
// wasihsm.example.yaml.
//
// # Decisions
//
//   - Flags end at MODULE.wasm; what follows is the guest's, untouched.
//     argv[0] is the module's file name. The guest sees no host environment
//     variable but those given with --env.
//   - The guest's exit code is the process's. wasihsm's own failures use
//     codes a shell user knows: 2 for usage and configuration (and a backend
//     this build lacks), 124 for --timeout (as timeout(1)), 125 when the
//     runtime cannot be set up, 126 for a module that cannot run (invalid,
//     or importing what wasihsm does not provide; imports are checked before
//     the guest starts so that this is told apart from a trap), 127 for a
//     module that cannot be read, 134 for a trap (128+SIGABRT, as wasmtime).
//     A guest exit code above 255 is reported as 255. The guest may use any
//     of these codes too; the stderr message tells them apart.
//   - With no backend, PKCS#11 module or token configured, the guest runs on
//     the software backend and one line on stderr says so, just before the
//     guest starts. When the software backend was chosen explicitly, nothing
//     is said.
//   - This build has no PKCS#11 backend: asking for it (also implicitly, by
//     configuring a module or token) is an error with exit code 2, never a
//     silent switch to software.
//   - --timeout limits the guest's run, not compilation. The guest is
//     stopped by wazero's close-on-context-done; a guest asleep in
//     poll_oneoff wakes at once, since sleeping waits on the context. A
//     guest blocked reading stdin is stopped only when the read returns.
//   - The compilation cache is on by default. A cache directory that cannot
//     be used only costs time: it is reported on stderr and the run goes on
//     without it.
package main
