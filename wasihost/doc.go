// Package wasihost implements the wazero host modules `wasi_ephemeral_crypto`
// (the 32 functions of the spec) and `wasi_ephemeral_crypto_keys` (the key
// extension of docs/semantics.md#key-extension) on top of a [provider.Provider].
//
// # Use
//
//	host, err := wasihost.New(router, wasihost.Options{})
//	r := wazero.NewRuntime(ctx)
//	wasi_snapshot_preview1.MustInstantiate(ctx, r)
//	err = host.Instantiate(ctx, r)
//	compiled, err := r.CompileModule(ctx, wasm)
//	mod, err := host.InstantiateGuest(ctx, r, compiled, wazero.NewModuleConfig(), provider.Guest{Name: "app.wasm"})
//
// # Guest identity
//
// The [provider.Guest] given to [Host.InstantiateGuest] is the guest's only
// identity: managed keys are granted to it, and events carry it. The
// module's own name (wazero's WithName, or else the module name in the wasm
// name section, which the guest's author writes) plays no part. A guest
// instantiated with the zero Guest, or directly with wazero, is anonymous
// ([provider.Guest.Anonymous]): private_key_open answers access for every
// name.
//
// # Instances
//
// Every guest module instance that calls the host gets its own handle table
// and limits; a handle of one instance means nothing in another. When the
// instance closes, every handle is released and every key it created is
// destroyed in its backend. Instances made with [Host.InstantiateGuest] are
// released the moment they close; others (instantiated directly with wazero)
// are released when the host next sees a new instance, or at [Host.Close].
//
// # Guest memory
//
// Inputs are read in place from guest memory. The host copies only what it
// must keep beyond the call (nonces, AAD, tags, key material, HKDF info) and
// builds outputs in host memory before copying them out, so that overlapping
// input and output ranges give the same result as separate ones, and a call
// that fails writes nothing.
//
// # Observation
//
// [Options.Observer] receives an [Event] for every host call: the guest,
// the function, the algorithm and backend it worked with, the errno and
// how long it took. [LogObserver] logs them with log/slog; package
// metrics counts them for Prometheus; [Observers] feeds several. Without
// an Observer the host does no work for observation: the choice is made
// once, at [Host.Instantiate].
//
// # Concurrency
//
// Calls of one instance are serialised by a per-instance lock; instances run
// in parallel. The Host itself is safe for concurrent use.
package wasihost
