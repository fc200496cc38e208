package hsm

import (
	"fmt"
	"time"

	"github.com/wasihsm/wasihsm/provider"
)

// Refusal is one thing the token would not do when the backend probed it.
type Refusal struct {
	// Operation is what the token cannot do for the algorithm.
	Operation provider.Operation
	// Step is what was tried: "generate", "import", "sign on a generated
	// key", "verify the signature", …
	Step string
	// CKR is the name of the token's return value
	// ("CKR_ATTRIBUTE_VALUE_INVALID"), or "" when the token answered
	// CKR_OK with a wrong result (a signature that does not verify, a
	// malformed public key, a key not kept as asked).
	CKR string
	// Err is the error the step failed with.
	Err error
}

// String says what was refused and how: "generate:
// CKR_ATTRIBUTE_VALUE_INVALID", "import: sign on an imported key:
// CKR_HOST_MEMORY".
func (r Refusal) String() string {
	what := r.Operation.String()
	if r.Step != what {
		what += ": " + r.Step
	}
	if r.CKR != "" {
		return what + ": " + r.CKR
	}
	return fmt.Sprintf("%s: %v", what, r.Err)
}

// Probe is what probing one algorithm on the token found.
type Probe struct {
	// Algorithm is the algorithm probed.
	Algorithm provider.Algorithm
	// Took is how long the probe took.
	Took time.Duration
	// Refusals are the operations the token refused; none when it did
	// everything the mechanism list promised.
	Refusals []Refusal
	// Err is why the probe could not finish (a timeout, a module fault):
	// then nothing was learned, and the next use probes again.
	Err error
}
