package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
)

// cmdImport runs "import [--dry-run] FILE...". The files are read, validated and written row by row
// inside one transaction (store.ImportStream), so memory does not grow with them; any bad row rolls
// everything back. --dry-run streams into a scratch database that is thrown away.
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
	prog := newProgress(m.Stdout)
	im := importer.Importer{Catalog: cat, Progress: prog.rows}
	var db *store.DB
	var created []string // files the import created, removed again when it fails
	if *dryRun {
		dir, err := os.MkdirTemp("", "renewald-dry-run-")
		if err != nil {
			return fmt.Errorf("dry run: %w", err)
		}
		defer os.RemoveAll(dir)
		if db, err = store.Open(ctx, filepath.Join(dir, "check.db")); err != nil {
			return fmt.Errorf("dry run: %w", err)
		}
	} else {
		if cfg.Database.Driver != "postgres" {
			created = newFiles(cfg.Database.Path, "", "-wal", "-shm")
		}
		if db, err = m.openStore(ctx, cfg); err != nil {
			return err
		}
	}
	var sum *importer.Summary
	res, err := db.ImportStream(ctx, m.Now(), store.ImportOptions{DryRun: *dryRun}, func(w *store.ImportWriter) error {
		var err error
		sum, err = im.Stream(w, files...)
		return err
	})
	prog.done()
	if err == nil && !*dryRun {
		// The status pages' list of renewals at risk follows the new data now, not at the next tick.
		if rs, rerr := scheduler.RefreshRisks(ctx, db, cat,
			renewal.Freshness{On: renewal.DateOf(m.Now(), cfg.Location()), StaleDays: cfg.Renewal.ScoresStaleDays}); rerr != nil {
			m.logger.Warn("risk list not rebuilt: the status pages judge every renewal until the next tick", "err", rerr)
		} else if rs.Rebuilt {
			m.logger.Info("risk list rebuilt", "partners", rs.Partners, "at_risk", rs.AtRisk)
		}
	}
	db.Close()
	if err != nil {
		// A failed import leaves no trace: not even the empty database it created.
		for _, f := range created {
			os.Remove(f)
		}
		if errors.Is(err, importer.ErrInput) || errors.Is(err, store.ErrInput) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			// Bad rows, an outcome for an anniversary no stored enrollment has, unreadable files.
			return asUsage(err)
		}
		return err
	}
	for _, w := range sum.Warnings {
		m.logger.Warn(w)
	}
	if sum.WarningsOmitted > 0 {
		m.logger.Warn(fmt.Sprintf("%d more warnings not shown", sum.WarningsOmitted))
	}
	if *dryRun {
		fmt.Fprintf(m.Stdout, "dry run: %d rows, %d partners valid; nothing written\n", sum.Rows, res.Partners)
		return nil
	}
	fmt.Fprintf(m.Stdout, "imported %d partners, %d users, %d enrollments (%d removed, %d replaced, %d queued reminders cancelled)\n",
		res.Partners, res.Users, res.Enrollments, res.RemovedEnrollments, res.ReplacedEnrollments, res.CancelledReminders)
	if res.Outcomes > 0 {
		fmt.Fprintf(m.Stdout, "recorded %d renewal outcomes (%d queued reminders cancelled)\n", res.Outcomes, res.RenewedCancelled)
	}
	return nil
}

// newFiles returns those of path+suffix that do not exist yet.
func newFiles(path string, suffixes ...string) []string {
	var out []string
	for _, s := range suffixes {
		if _, err := os.Lstat(path + s); errors.Is(err, os.ErrNotExist) {
			out = append(out, path+s)
		}
	}
	return out
}

// progress prints rows read, rate and elapsed time on one line of a terminal, twice a second; on
// anything else it prints nothing.
type progress struct {
	w     io.Writer
	start time.Time
	next  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return &progress{}
	}
	now := time.Now()
	return &progress{w: w, start: now, next: now.Add(500 * time.Millisecond)}
}

func (p *progress) rows(n int) {
	if p.w == nil || n%1024 != 0 {
		return
	}
	now := time.Now()
	if now.Before(p.next) {
		return
	}
	p.next = now.Add(500 * time.Millisecond)
	el := now.Sub(p.start)
	fmt.Fprintf(p.w, "\r\x1b[K%d rows read, %.0f rows/s, %s elapsed", n, float64(n)/el.Seconds(), el.Truncate(time.Second))
	p.shown = true
}

// done clears the progress line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
