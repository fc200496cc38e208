package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wasihsm/wasihsm/internal/config"
)

// Exit codes of wasihsm itself; a guest's own exit code passes through
// unchanged (see usage).
const (
	exitOK       = 0
	exitUsage    = 2   // bad flags or arguments, invalid configuration, backend not in this build
	exitTimeout  = 124 // --timeout expired (as timeout(1))
	exitInternal = 125 // wasihsm could not set up the runtime
	exitNoRun    = 126 // the module cannot run: not valid wasm, or an import we lack
	exitNoModule = 127 // the module file cannot be read
	exitTrap     = 134 // the guest trapped (128+SIGABRT, as wasmtime)
	exitMaxGuest = 255 // a guest exit code above it is reported as it
)

// cli is the wasihsm command with its process resources injected, so that
// tests run it in process.
type cli struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
}

// run runs the command line args (without the program name) and returns
// the process exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return c.runCommand(ctx, rest)
	case "slots":
		return c.slotsCommand(ctx, rest)
	case "keys":
		return c.keysCommand(ctx, rest)
	case "doctor":
		return c.doctorCommand(ctx, rest)
	case "conformance":
		return c.conformanceCommand(ctx, rest)
	case "version":
		if len(rest) > 0 {
			return c.usageError("version takes no arguments")
		}
		fmt.Fprintln(c.stdout, versionLine())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	default:
		return c.usageError(fmt.Sprintf("unknown command %q", cmd))
	}
}

// pinFlagWarning is the line printed when a flag gives the PIN.
const pinFlagWarning = "flag --token: the URI's pin-value puts the PIN on the command line, where every user of this machine can read it (ps, /proc/PID/cmdline); " +
	"prefer a pin-source, pkcs11.pin: file:PATH or " + config.EnvPIN

// loadSettings loads the settings as every command does, with the
// command's environment, and warns when the PIN came on the command line.
// config.Load refuses a configuration file that another user could have
// written, unless in.AllowUntrustedFile.
func (c *cli) loadSettings(in config.Input) (config.Settings, error) {
	in.LookupEnv = c.lookupEnv
	s, err := config.Load(in)
	if err == nil && s.Origin(config.FieldPIN).Kind == config.FromFlag {
		c.sayf("%s", pinFlagWarning)
	}
	return s, err
}

// sayf prints a message to stderr, each line prefixed with the program
// name.
func (c *cli) sayf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for line := range strings.SplitSeq(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintln(c.stderr, "wasihsm: "+line)
	}
}

// errorf prints an error as sayf does and returns the exit code.
func (c *cli) errorf(code int, format string, args ...any) int {
	c.sayf(format, args...)
	return code
}

// usageError reports a mistake on the command line, followed by the usage.
func (c *cli) usageError(msg string) int {
	c.sayf("%s", msg)
	fmt.Fprint(c.stderr, "\n"+usage)
	return exitUsage
}
