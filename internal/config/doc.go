// Package config resolves the settings of the wasihsm command from its
// flags, its environment, a YAML configuration file and defaults, in that
// order of precedence (docs/configuration.md, "Where settings come from").
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
//	module init args (pReserved)                                            pkcs11.init_args
//	allowed modules                                                         pkcs11.allowed_modules
//	token (label or URI)       --token               WASIHSM_TOKEN          pkcs11.token
//	token serial number                                                     pkcs11.serial
//	slot id                                                                 pkcs11.slot_id
//	user PIN                   (none)                WASIHSM_PIN            pkcs11.pin (a source)
//	session wait                                                            pkcs11.session_wait
//	call deadline                                                           pkcs11.call_timeout
//	session limit                                                           pkcs11.max_sessions
//	handle limit               --max-handles                                limits.max_handles
//	buffered-bytes limit       --max-buffered-bytes                         limits.max_buffered_bytes
//	guest memory limit         --max-memory-bytes                           limits.max_memory_bytes
//	host bytes per guest       --max-instance-bytes                         limits.max_instance_bytes
//	compilation cache          --cache-dir                                  cache_dir
//	managed keys                                                            keys
//
// The file itself is named by --config, else WASIHSM_CONFIG; with neither,
// no file is read. An environment variable set to the empty string counts
// as unset. Every value given is validated, also one that a higher source
// overrides: a broken file is an error even when a flag hides the broken
// field.
//
// The token selection — pkcs11.token, pkcs11.serial and pkcs11.slot_id —
// is one setting: the highest source that gives any part of it gives all
// of it, so WASIHSM_TOKEN replaces the file's label, serial and slot id
// together. Within the file, every part given must match ([TokenSelector]).
// A token URI's query counts as given where the URI is: its pin-source or
// pin-value is a value of pkcs11.pin from that source (a second PIN source
// in the same source is an error), and its module-path is the module when
// no pkcs11.module is set, and must agree with it otherwise.
//
// Defaults: the backend is pkcs11 when a PKCS#11 module or token (label,
// URI, serial or slot id) is configured, and software otherwise
// ([Settings.BackendImplicit] tells the caller that nobody chose it);
// fallback is allow; the allowed modules are just pkcs11.module; the
// session wait is [spec.DefaultSessionWait], the call deadline
// [spec.DefaultCallTimeout] and the session limit the token's;
// the limits are those of package spec; cache_dir is the user cache
// directory's wasihsm/wazero, or none when the system has no user cache
// directory.
//
// # File
//
// Load refuses a file that another user could have written — owned by a
// user other than the one running and root, or writable by group or
// others ([CheckFile]) — since it names the module that wasihsm loads;
// [Input.AllowUntrustedFile] reads it anyway, for a diagnosis.
//
// The file is YAML, decoded strictly: an unknown or repeated field, or a
// value of the wrong kind, is an error that names the field and its line.
// Relative paths in the file (pkcs11.module and pkcs11.allowed_modules
// when they contain a slash, file: PIN sources, a token URI's module-path
// and pin-source, cache_dir) are relative to the file's directory. See
// wasihsm.example.yaml at the root of the repository for every field, and
// docs/configuration.md for what each means.
//
// # PIN
//
// The user PIN is not a literal in the file's pkcs11.pin: that names a
// source, "env:NAME" (an environment variable) or "file:PATH" (a file
// whose first line is the PIN). WASIHSM_PIN holds the PIN itself. A token
// URI may carry a pin-source (the same forms, a path, or file:///PATH) or
// a pin-value, the PIN itself; a file that holds a pin-value must not be
// readable or writable by group or others (mode & 0o077 == 0), or Load
// refuses it. There is no PIN flag, since command lines are visible to
// every user of the machine (a --token URI with a pin-value is one, and is
// best avoided). A [PINSource] is read only when the PKCS#11 backend needs
// it, and neither it nor any error of this package ever shows the PIN.
//
// # Managed keys
//
// keys lists the keys the operator provisioned on the token that guests
// may open by name ([ManagedKey]); they need backend pkcs11.
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
