// Package reliability holds the tests that make hostile guests, long runs
// and secrets their subject: cross-instance isolation, key custody on a
// real SoftHSM2 token, secrets kept out of logs and errors, and the soak.
// It has no code of its own; docs/reliability.md lists what each test
// shows and the figures it measured.
//
// # Running
//
//	go test -race ./reliability/                       # short forms (make test)
//	WASIHSM_SOAK=10m go test -race -run TestSoak -timeout 0 ./reliability/  # make soak
//
// The guest every test runs is ./guests/relguest, built for GOOS=wasip1.
package reliability
