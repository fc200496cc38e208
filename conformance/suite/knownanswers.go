package suite

import (
	"context"
	"fmt"
	"time"

	"github.com/wasihsm/wasihsm/provider"
)

// RunKnownAnswers runs the known-answer half of the suite against t: every
// vector and probe of [Run], graded by the same rules into the same cells,
// through opts.Guest, which must be set. It is how contract guests in
// other languages (conformance/guests/contract-c, contract-rust) are held
// to the same data as the Go one: a guest only has to answer the -kat
// requests that conformance/guests/contract/kat_wasip1.go documents. The
// Go guest's scenarios are not run (the result has none); the ABI
// scenarios such guests run are conformance/abiscript's.
func RunKnownAnswers(ctx context.Context, t Target, opts Options) (*Result, error) {
	if opts.Guest == nil {
		return nil, fmt.Errorf("suite: %s: RunKnownAnswers needs a guest: %w", t.Name, provider.ErrInvalidArgument)
	}
	start := time.Now()
	checks, err := buildChecks()
	if err != nil {
		return nil, err
	}
	router, err := provider.NewRouter(provider.RouterConfig{Primary: t.Primary, Fallback: t.Fallback, Policy: t.Policy})
	if err != nil {
		return nil, fmt.Errorf("suite: %s: %w", t.Name, err)
	}
	res := &Result{Target: t.Name, Policy: t.Policy.String(), Primary: t.Primary.Name()}
	kr, err := newRunner(ctx, router, katOptions, opts.Guest, opts.Cache)
	if err != nil {
		return nil, err
	}
	defer kr.close(ctx)
	if err := res.runChecks(ctx, kr, t, checks); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}
