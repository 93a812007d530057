package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/store"
)

// cmdImport runs "import [--dry-run] FILE...".
func (m *Main) cmdImport(ctx context.Context, args []string) error {
	fs := m.newFlagSet("import")
	dryRun := fs.Bool("dry-run", false, "validate only; write nothing")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageErrorf("usage: renewald import [--dry-run] FILE...")
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	cat, err := cfg.Catalog()
	if err != nil {
		return asUsage(err)
	}
	ds, err := importer.Importer{Catalog: cat}.Files(files...)
	if err != nil {
		return asUsage(err) // bad rows (importer.ErrInput) and unreadable files are input errors alike
	}
	for _, w := range ds.Warnings {
		m.logger.Warn(w)
	}
	if ds.WarningsOmitted > 0 {
		m.logger.Warn(fmt.Sprintf("%d more warnings not shown", ds.WarningsOmitted))
	}
	if *dryRun {
		fmt.Fprintf(m.Stdout, "dry run: %d rows, %d partners valid; nothing written\n", ds.Rows, len(ds.Partners))
		return nil
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.Import(ctx, ds.Partners, m.Now(), ds.Outcomes...)
	if errors.Is(err, store.ErrInput) {
		return asUsage(err) // an outcome for an anniversary no stored enrollment has
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d partners, %d users, %d enrollments (%d removed, %d replaced, %d queued reminders cancelled)\n",
		res.Partners, res.Users, res.Enrollments, res.RemovedEnrollments, res.ReplacedEnrollments, res.CancelledReminders)
	if res.Outcomes > 0 {
		fmt.Fprintf(m.Stdout, "recorded %d renewal outcomes (%d queued reminders cancelled)\n", res.Outcomes, res.RenewedCancelled)
	}
	return nil
}
