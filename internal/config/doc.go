// Package config resolves the settings of the wasihsm command from its
// flags, its environment, a YAML configuration file and defaults, in that
// order of precedence (CONTRACT §8).
//
// # Use
//
//	fs := flag.NewFlagSet("run", flag.ContinueOnError)
//	flags := config.AddFlags(fs)
//	if err := fs.Parse(args); err != nil { … }
//	settings, err := config.Load(config.Input{Flags: flags.Values()})
//
// [Load] returns a [Settings] value: it is resolved (every default filled
// in) and is never changed after Load returns; pass it by value.
//
// # Sources
//
// Each setting may come from four places; the first that gives it wins:
//
//	setting                    flag                  environment            file
//	backend                    --backend             WASIHSM_BACKEND        backend
//	fallback policy            --fallback            WASIHSM_FALLBACK       fallback
//	PKCS#11 module             --pkcs11-module       WASIHSM_PKCS11_MODULE  pkcs11.module
//	token (label or URI)       --token               WASIHSM_TOKEN          pkcs11.token
//	user PIN                   (none)                WASIHSM_PIN            pkcs11.pin (a source)
//	handle limit               --max-handles                                limits.max_handles
//	buffered-bytes limit       --max-buffered-bytes                         limits.max_buffered_bytes
//	compilation cache          --cache-dir                                  cache_dir
//
// The file itself is named by --config, else WASIHSM_CONFIG; with neither,
// no file is read. An environment variable set to the empty string counts
// as unset. Every value given is validated, also one that a higher source
// overrides: a broken file is an error even when a flag hides the broken
// field.
//
// Defaults: the backend is pkcs11 when a PKCS#11 module or token is
// configured, and software otherwise ([Settings.BackendImplicit] tells the
// caller that nobody chose it); fallback is allow; the limits are those of
// package wasihost; cache_dir is the user cache directory's
// wasihsm/wazero, or none when the system has no user cache directory.
//
// # File
//
// The file is YAML, decoded strictly: an unknown or repeated field, or a
// value of the wrong kind, is an error that names the field and its line.
// Relative paths in the file (pkcs11.module when it contains a slash,
// file: PIN sources, cache_dir) are relative to the file's directory. See
// wasihsm.example.yaml at the root of the repository for every field.
//
// # PIN
//
// The user PIN is never a literal in the file: pkcs11.pin names a source,
// "env:NAME" (an environment variable) or "file:PATH" (a file whose first
// line is the PIN). WASIHSM_PIN holds the PIN itself. There is no flag,
// since command lines are visible to every user of the machine. A
// [PINSource] is read only when the PKCS#11 backend needs it, and neither
// it nor any error of this package ever shows the PIN.
//
// # Errors
//
// Load reports every problem at once, joined, each a [*FieldError] that
// says where the value came from, which field it is, what is wrong and
// what would be right:
//
//	config /etc/wasihsm.yaml: fallback: "maybe" is not one of allow, public-only, deny (line 3)
//	env WASIHSM_BACKEND: "hsm" is not one of software, pkcs11
package config
