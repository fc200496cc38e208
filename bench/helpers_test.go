package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// rounds is how many times each benchmark runs its product and baseline
// sub-benchmarks, alternating (`go test ./bench/ -bench . -rounds=5`):
// -count would run each sub-benchmark that many times in a row instead.
var rounds = flag.Int("rounds", 1, "rounds of each benchmark's interleaved product and baseline sub-benchmarks")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	softhsmtest.Shutdown()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// Import paths of the guests.
const (
	loopGuest    = "github.com/wasihsm/wasihsm/bench/guests/loop"
	startupGuest = "github.com/wasihsm/wasihsm/bench/guests/startup"
)

// newHarness is the loop guest compiled into a runtime whose host serves p,
// with the bench.nop import (the baseline of the cheapest call) next to
// the crypto modules.
func newHarness(tb testing.TB, p provider.Provider) *testguest.Harness {
	tb.Helper()
	h := testguest.NewHarness(tb, p, wasihost.Options{}, testguest.Build(tb, loopGuest))
	_, err := h.Runtime.NewHostModuleBuilder("bench").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 0 }),
			[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		Export("nop").Instantiate(context.Background())
	if err != nil {
		tb.Fatalf("bench: the nop module: %v", err)
	}
	return h
}

// session is one running instance of the loop guest, answering commands.
type session struct {
	tb     testing.TB
	stdin  *io.PipeWriter
	stdout *bufio.Reader
	stderr testguest.LockedBuffer
	done   chan error
	once   sync.Once
}

// start instantiates the loop guest of h as the guest name; it runs until
// the test ends.
func start(tb testing.TB, h *testguest.Harness, name string) *session {
	tb.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{tb: tb, stdin: inW, stdout: bufio.NewReaderSize(outR, 1<<16), done: make(chan error, 1)}
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(name).
		WithStdin(inR).WithStdout(outW).WithStderr(&s.stderr).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	go func() {
		ctx := context.Background()
		mod, err := h.Host.InstantiateGuest(ctx, h.Runtime, h.Compiled, cfg, provider.Guest{Name: name})
		if mod != nil {
			_ = mod.Close(ctx)
		}
		if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
			err = nil
		}
		_ = outW.CloseWithError(fmt.Errorf("the guest ended: %v", err))
		s.done <- err
	}()
	tb.Cleanup(s.close)
	return s
}

// do sends one command and returns the fields of the answer after "ok".
func (s *session) do(format string, args ...any) ([]string, error) {
	cmd := fmt.Sprintf(format, args...)
	if _, err := fmt.Fprintln(s.stdin, cmd); err != nil {
		return nil, fmt.Errorf("%s: %w (stderr: %s)", cmd, err, s.stderr.String())
	}
	line, err := s.stdout.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: %w (stderr: %s)", cmd, err, s.stderr.String())
	}
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "ok" {
		return nil, fmt.Errorf("%s: %s", cmd, strings.TrimSpace(line))
	}
	return fields[1:], nil
}

// must is do that fails tb (the running test or benchmark) on an error.
func (s *session) must(tb testing.TB, format string, args ...any) []string {
	tb.Helper()
	out, err := s.do(format, args...)
	if err != nil {
		tb.Fatalf("bench: %v", err)
	}
	return out
}

// close ends the guest (EOF on its stdin) and waits for it.
func (s *session) close() {
	s.once.Do(func() {
		_ = s.stdin.Close()
		select {
		case err := <-s.done:
			if err != nil {
				s.tb.Errorf("bench: guest: %v (stderr: %s)", err, s.stderr.String())
			}
		case <-time.After(30 * time.Second):
			s.tb.Errorf("bench: the guest did not end within 30 s")
		}
	})
}

// processCPU is the CPU time the process has used, all threads, user and
// system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU starts measuring the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op. Unlike ns/op it does not
// count the time spent waiting for a core, so on a loaded machine it
// tells the work done from the waiting (benchreport shows both ratios).
func startCPU(b *testing.B) func() {
	c0 := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
	}
}

// loop runs cmd b.N times inside the guest, after one warm-up run (which
// makes the keys the command uses), and returns the last answer.
func loop(b *testing.B, s *session, cmd string) []string {
	b.Helper()
	s.must(b, "%s 1", cmd)
	b.ResetTimer()
	cpu := startCPU(b)
	out := s.must(b, "%s %d", cmd, b.N)
	b.StopTimer()
	cpu()
	return out
}

// hostLoop runs op b.N times on the benchmark's goroutine, the host-side
// counterpart of loop, and returns op's last output.
func hostLoop(b *testing.B, op func() ([]byte, error)) []byte {
	b.Helper()
	var out []byte
	var err error
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for range b.N {
		if out, err = op(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu()
	return out
}

// together runs cmd b.N times split over the sessions, in parallel: the
// aggregate throughput of several instances.
func together(b *testing.B, cmd string, ss ...*session) {
	b.Helper()
	for _, s := range ss {
		s.must(b, "%s 1", cmd)
	}
	errs := make(chan error, len(ss))
	b.ResetTimer()
	cpu := startCPU(b)
	for i, s := range ss {
		n := b.N / len(ss)
		if i < b.N%len(ss) {
			n++
		}
		go func() {
			if n == 0 {
				errs <- nil
				return
			}
			_, err := s.do("%s %d", cmd, n)
			errs <- err
		}()
	}
	for range ss {
		if err := <-errs; err != nil {
			b.Fatalf("bench: %v", err)
		}
	}
	b.StopTimer()
	cpu()
}
