package main

import (
	"context"
	"fmt"

	"github.com/renewald/renewald/templates"
)

// cmdConfig runs "config check".
func (m *Main) cmdConfig(_ context.Context, args []string) error {
	fs := m.newFlagSet("config check")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "check" {
		return usageErrorf("usage: renewald config check")
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	if _, err := cfg.Catalog(); err != nil {
		return asUsage(err)
	}
	if _, err := templates.Load(cfg.Mail.TemplatesDir); err != nil {
		return asUsage(fmt.Errorf("mail.templates_dir: %w", err))
	}
	if cfg.Mail.Transport == "smtp" || cfg.Mail.Transport == "graph" {
		if _, err := m.transport(cfg); err != nil { // reads the password, secret or certificate, shows nothing of them
			return err
		}
	}
	if cfg.Database.Driver == "postgres" {
		if _, err := m.databaseDSN(cfg); err != nil { // reads the DSN file, shows nothing of it
			return err
		}
	}
	src := cfg.path
	if src == "" {
		src = "built-in defaults"
	}
	fmt.Fprintf(m.Stdout, "config ok: %s (database %s, schedule %q in %s, mail via %s)\n",
		src, m.databaseName(cfg), cfg.Schedule.Cron, cfg.Schedule.Timezone, cfg.Mail.Transport)
	return nil
}

// cmdVersion prints the version.
func (m *Main) cmdVersion(_ context.Context, args []string) error {
	if _, err := parseFlags(m.newFlagSet("version"), args); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "renewald %s\n", version)
	return nil
}
