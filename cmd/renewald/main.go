// Command renewald reminds partner organisations to renew their Microsoft AI Cloud Partner Program
// specializations: it imports partners into SQLite, queues reminders in an outbox and delivers them.
// main only builds a Main and runs it, so end-to-end tests can run Main too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones even on hosts without a zoneinfo database
)

// Exit codes (DESIGN.md §4).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
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
	Now            func() time.Time

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
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: now}
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
		{"web", "serve the read-only status pages on web.listen, without scheduling or sending", (*Main).cmdWeb},
		{"migrate", "apply database migrations", (*Main).cmdMigrate},
		{"demo", "sample data in a scratch folder, a tick as of today, emails as .eml files", (*Main).cmdDemo},
		{"config", "config check: validate the configuration", (*Main).cmdConfig},
		{"version", "print the version", (*Main).cmdVersion},
	}
}

// Run parses the global flags, runs one command and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
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
		fmt.Fprintf(m.Stderr, "renewald %s: %s\n", name, oneLine(err.Error()))
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitRuntime
	}
	fmt.Fprintf(m.Stderr, "renewald: unknown command %q (try: renewald -h)\n", name)
	return exitUsage
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
func (m *Main) loadConfig() (Config, error) {
	cfg, err := LoadConfig(m.configFile())
	if err != nil {
		return cfg, asUsage(err)
	}
	if m.dbPath != "" {
		cfg.Database.Path = m.dbPath
	}
	return cfg, nil
}

// parseAddress parses one RFC 5322 address and refuses header injection.
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not an email address: %w", err)
	}
	return a, nil
}
