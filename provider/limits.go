package provider

// Default limits of one guest instance (docs/semantics.md, "6. Limits").
// The host applies them when its options leave a limit at zero; they are
// defined here, below the host, so that configuration can show them
// without importing the host.
const (
	// DefaultMaxHandles is the default limit of open handles per instance.
	DefaultMaxHandles = 1024
	// DefaultMaxBufferedBytes is the default limit of bytes one state may
	// hold (AAD, key material, HKDF info, a buffered EdDSA message).
	DefaultMaxBufferedBytes = 16 << 20
	// DefaultMaxInstanceBytes is the default [Budget] of host bytes held
	// for one instance: its states' buffers and its calls' staging together.
	DefaultMaxInstanceBytes = 64 << 20
)
