// Package bench is wasihsm's benchmark suite: every path a guest
// takes to the host and to a token, measured side by side with the
// baseline it must stand up to, in the same run.
//
// # Running
//
// `make bench` runs the benchmarks interleaved (each Benchmark's product
// and baseline are sub-benchmarks, so they alternate, and -count repeats
// the whole sequence), then bench/cmd/benchreport computes the median
// ratios, prints the table and writes bench/RESULTS.md and
// bench/ratios.svg. `go test ./bench/` (part of `make test`) runs every
// benchmark body once and checks its output against the standard library,
// so the suite cannot rot.
//
// # Guests
//
// The guest side of every "guest → host" path is a real Go program built
// with GOOS=wasip1 (bench/guests/loop): it reads a command such as
// "sign ES256 1000" from stdin and runs the operation that many times
// inside the guest, so a benchmark measures the calls, not the start of
// the guest. bench/guests/startup is the guest of the start-up benchmark.
//
// # Tokens
//
// The SoftHSM2 benchmarks use the test token of internal/softhsmtest;
// their raw baseline calls github.com/miekg/pkcs11 as well as it can be
// done: one logged-in session kept for the run, the key handle kept, no
// object lookup per operation.
package bench
