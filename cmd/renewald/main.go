// Command renewald reminds partner organisations to renew their Microsoft AI Cloud Partner Program
// specializations: it imports partners into SQLite, queues reminders in an outbox and delivers them.
// main only builds a Main and runs it, so end-to-end tests can run Main too.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones even on hosts without a zoneinfo database

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/store"
)

// Exit codes (DESIGN.md §4).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	// exitConfig (EX_CONFIG) is what run returns for a usage or configuration error found at start-up;
	// the unit says RestartPreventExitStatus=78, so systemd restarts every other failure (a recovered
	// panic exits 1) but not one that a restart cannot fix.
	exitConfig = 78
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal now takes the default action: exit at once
	}()
	code := NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the program: its I/O, environment and clock, so tests can run it in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Unsetenv       func(string) error // removes a secret from the environment once read; nil: leave it

	dsnFromEnv string // RENEWALD_DATABASE_DSN as read, once
	Now        func() time.Time
	// RootCAs is trusted by the https clients (token endpoints, Graph); nil: the system's roots
	// (SSL_CERT_FILE). Tests running Main in-process trust their stand-in's CA with it.
	RootCAs *x509.CertPool

	configPath string
	dbPath     string
	logJSON    bool
	logLevel   string
	logger     *slog.Logger
}

// NewMain returns a Main wired to the process.
func NewMain() *Main {
	now, err := clockFrom(os.Getenv(fakeClockEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "renewald:", err)
		os.Exit(exitUsage)
	}
	if os.Getenv(fakeClockEnv) != "" {
		fmt.Fprintf(os.Stderr, "renewald: warning: %s is set: the clock reads %s\n", fakeClockEnv, now().UTC().Format(time.RFC3339))
	}
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Unsetenv: os.Unsetenv, Now: now}
}

// usageError marks errors that exit 2: usage, configuration or input.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns an error that exits 2.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err (if any) as a usage, configuration or input error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

type command struct {
	name    string
	summary string
	run     func(m *Main, ctx context.Context, args []string) error
}

func (m *Main) commands() []command {
	return []command{
		{"run", "the daemon: a catch-up tick at start, then the cron schedule", (*Main).cmdRun},
		{"tick", "one scan + enqueue + deliver cycle [--as-of DATE] [--no-deliver]", (*Main).cmdTick},
		{"backfill", "scan --from DATE --to DATE [--dry-run] [--record-only]", (*Main).cmdBackfill},
		{"deliver", "deliver what is due in the outbox once", (*Main).cmdDeliver},
		{"preview", "render the email of one outbox row", (*Main).cmdPreview},
		{"import", "load partners from .json or .csv files (--dry-run validates only)", (*Main).cmdImport},
		{"outbox", "list, show, retry or cancel outbox rows", (*Main).cmdOutbox},
		{"schedule", "upcoming reminders and renewal windows", (*Main).cmdSchedule},
		{"renewal", "record|clear that a renewal is done: its later reminders are not sent", (*Main).cmdRenewal},
		{"suppression", "list or remove addresses the mail server reported as not existing", (*Main).cmdSuppression},
		{"web", "serve the read-only status pages on web.listen, without scheduling or sending", (*Main).cmdWeb},
		{"migrate", "apply database migrations", (*Main).cmdMigrate},
		{"demo", "sample data in a scratch folder, a tick as of today, emails as .eml files", (*Main).cmdDemo},
		{"mail", "mail test --to ADDRESS [--json]: send one test message through the configured transport", (*Main).cmdMail},
		{"config", "config check: validate the configuration", (*Main).cmdConfig},
		{"version", "print the version", (*Main).cmdVersion},
	}
}

// Run parses the global flags, runs one command and returns the exit code. A panic in the command
// is logged with its stack and exits 1 (a runtime failure), never Go's exit 2 (which means usage).
func (m *Main) Run(ctx context.Context, args []string) (code int) {
	defer func() {
		if v := recover(); v != nil {
			m.logPanic("main", v, debug.Stack())
			code = exitRuntime
		}
	}()
	fs := flag.NewFlagSet("renewald", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&m.configPath, "config", "", "configuration file (default $RENEWALD_CONFIG, then /etc/renewald/config.toml)")
	fs.StringVar(&m.dbPath, "db", "", "database path, overrides database.path")
	fs.BoolVar(&m.logJSON, "log-json", false, "log as JSON instead of text")
	fs.StringVar(&m.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "usage: renewald [--config FILE] [--db PATH] [--log-json] COMMAND [flags]\n\ncommands:")
		for _, c := range m.commands() {
			fmt.Fprintf(m.Stderr, "  %-9s %s\n", c.name, c.summary)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.logLevel)); err != nil {
		fmt.Fprintf(m.Stderr, "renewald: --log-level %q: %v\n", m.logLevel, err)
		return exitUsage
	}
	opts := &slog.HandlerOptions{Level: level}
	if m.logJSON {
		m.logger = slog.New(slog.NewJSONHandler(m.Stderr, opts))
	} else {
		m.logger = slog.New(slog.NewTextHandler(m.Stderr, opts))
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	for _, c := range m.commands() {
		if c.name != name {
			continue
		}
		err := c.run(m, ctx, rest)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		}
		if m.logJSON {
			m.logger.Error("command failed", "command", name, "err", oneLine(err.Error())) // every line on stderr is JSON
		} else {
			fmt.Fprintf(m.Stderr, "renewald %s: %s\n", name, oneLine(err.Error()))
		}
		var ue usageError
		if errors.As(err, &ue) {
			if name == "run" && !errors.Is(err, store.ErrLocked) {
				return exitConfig // a second daemon exits 2: systemd retries it once the first has gone
			}
			return exitUsage
		}
		return exitRuntime
	}
	fmt.Fprintf(m.Stderr, "renewald: unknown command %q (try: renewald -h)\n", name)
	return exitUsage
}

// logPanic logs a recovered panic of the named goroutine with its stack.
func (m *Main) logPanic(where string, v any, stack []byte) {
	logger := m.logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(m.Stderr, nil))
	}
	logger.Error("panic", "goroutine", where, "panic", fmt.Sprint(v), "stack", string(stack))
}

// goSafe runs fn in a goroutine; a panic in it is logged with its stack and sent to crashed, so the
// daemon stops and exits 1.
func (m *Main) goSafe(where string, crashed chan<- error, fn func()) {
	go m.recovering(where, crashed, fn)()
}

// recovering returns fn wrapped so that a panic in it is logged with its stack and sent to crashed.
func (m *Main) recovering(where string, crashed chan<- error, fn func()) func() {
	return func() {
		defer func() {
			if v := recover(); v != nil {
				m.logPanic(where, v, debug.Stack())
				select {
				case crashed <- fmt.Errorf("panic in %s: %v", where, v):
				default: // one crash is enough to stop
				}
			}
		}()
		fn()
	}
}

// lookup returns the command called name (it must exist).
func (m *Main) lookup(name string) command {
	for _, c := range m.commands() {
		if c.name == name {
			return c
		}
	}
	panic("no command " + name)
}

// oneLine folds a multi-error onto one line.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

// newFlagSet returns a flag set for a subcommand that reports errors as usage errors.
func (m *Main) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("renewald "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

// parseFlags parses args and turns flag errors into usage errors; positional arguments are returned.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	// Allow flags after positional arguments: "outbox show 7 --json".
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// configFile returns the configuration path to use: --config, $RENEWALD_CONFIG, then the system file
// when it exists; "" means defaults only.
func (m *Main) configFile() string {
	if m.configPath != "" {
		return m.configPath
	}
	if p := m.Getenv("RENEWALD_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat("/etc/renewald/config.toml"); err == nil {
		return "/etc/renewald/config.toml"
	}
	return ""
}

// loadConfig loads and validates the configuration and applies --db.
func (m *Main) loadConfig() (config.Config, error) {
	cfg, err := config.Load(m.configFile())
	if err != nil {
		return cfg, asUsage(err)
	}
	if err := cfg.CheckScheduleFires(m.Now()); err != nil { // names the file
		return cfg, asUsage(err)
	}
	if m.dbPath != "" {
		cfg.Database.Path = m.dbPath
	}
	return cfg, nil
}
