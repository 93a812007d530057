package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
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
	tmpl, err := templates.Load(cfg.Mail.TemplatesDir)
	if err != nil {
		return asUsage(fmt.Errorf("mail.templates_dir: %w", err))
	}
	if err := m.renderSamples(cfg, tmpl); err != nil {
		return asUsage(fmt.Errorf("mail.templates_dir: %w", err))
	}
	if cfg.Mail.Transport == "smtp" || cfg.Mail.Transport == "graph" {
		if _, err := m.transport(cfg); err != nil { // reads the password, secret or certificate, shows nothing of them
			return err
		}
	}
	if cfg.Database.Driver == "postgres" {
		dsn, err := m.databaseDSN(cfg) // reads the DSN file, shows nothing of it
		if err != nil {
			return err
		}
		if err := m.checkDSN(cfg, dsn); err != nil {
			return err
		}
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(m.Stderr, "warning: %s\n", w)
	}
	src := cfg.File()
	if src == "" {
		src = "built-in defaults"
	}
	fmt.Fprintf(m.Stdout, "config ok: %s (database %s, schedule %q in %s, mail via %s)\n",
		src, m.databaseName(cfg), cfg.Schedule.Cron, cfg.Schedule.Timezone, transportWords(cfg))
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

// renderSamples renders, with the configured templates, sample reminders on every day of a renewal
// that a reminder can go out on (each offset, and the last day of grace), for a specialization of each
// manual validation kind, in an odd and an even renewal year, without scores, at risk, qualified and
// partly scored, and a digest, so a template that parses but cannot render (a misspelt field in any
// branch) is found by config check, not at 06:00.
func (m *Main) renderSamples(cfg config.Config, tmpl *templates.Set) error {
	cat, err := cfg.Catalog()
	if err != nil {
		return err
	}
	from, err := config.ParseAddress(cfg.Mail.From)
	if err != nil {
		return fmt.Errorf("mail.from: %w", err)
	}
	rules := cfg.Rules()
	r := &notify.Renderer{Templates: tmpl, Catalog: cat, Rules: rules, From: from, Location: cfg.Location(),
		PartnerCenterURL: cfg.Mail.PartnerCenterURL, Organisation: cfg.Mail.Organisation, Contact: cfg.Mail.Contact,
		ScoresStaleDays: cfg.Renewal.ScoresStaleDays}
	kinds := map[renewal.Validation]*renewal.Specialization{}
	for _, sp := range cat.Specializations() {
		if kinds[sp.Validation] == nil {
			kinds[sp.Validation] = sp
		}
	}
	attained := rules.ProgramStart.AddDays(-3 * 365) // anniversaries 3.. fall in the programme
	days := append(slices.Clone(rules.OffsetsDays), rules.GracePeriodDays)
	for _, kind := range []renewal.Validation{renewal.ValidationAudit, renewal.ValidationCustomerReferences, renewal.ValidationNone} {
		spec := kinds[kind]
		if spec == nil {
			continue
		}
		var scored []renewal.CapabilityScore
		for _, dn := range spec.Designations {
			if d, err := cat.Designation(dn); err == nil {
				scored = append(scored, renewal.CapabilityScore{Designation: d.Name, Enterprise: map[string]int{d.Metrics[0]: 10}})
			}
		}
		passing := []renewal.CapabilityScore{}
		if len(scored) > 0 {
			d, _ := cat.Designation(scored[0].Designation)
			full := map[string]int{}
			for _, mt := range d.Metrics {
				full[mt] = 100 / len(d.Metrics)
			}
			passing = append(passing, renewal.CapabilityScore{Designation: d.Name, SMB: full})
		}
		scoreSets := [][]renewal.CapabilityScore{nil, scored, passing}
		if len(scored) > 1 {
			scoreSets = append(scoreSets, scored[:1])
		}
		for n := 3; n <= 4; n++ { // an odd and an even renewal year
			rn, ok := rules.Renewal(attained, kind, n)
			if !ok {
				continue
			}
			for si, scores := range append(scoreSets, scored) { // the last: scored, undated (stale)
				stale := si == len(scoreSets)
				var rems []renewal.Reminder
				for _, o := range days {
					// Current scores (dated the send day), so the attained and at-risk branches render
					// too; scores without a date render the stale branch.
					dated := make([]renewal.CapabilityScore, len(scores))
					for i, sc := range scores {
						if !stale {
							sc.AsOf = rn.Anniversary.AddDays(o)
						}
						dated[i] = sc
					}
					rem := renewal.Reminder{OutboxID: 1, PartnerID: "0000000", PartnerName: "Sample Partner", Specialization: spec.Name,
						AttainedOn: attained, Milestone: renewal.Milestone{Renewal: rn, Offset: o, DueOn: rn.Anniversary.AddDays(o)},
						Recipient: "admin@example.com", RecipientName: "Sample Admin", MessageID: "<sample@renewald.invalid>", Scores: dated}
					at := rem.Milestone.DueOn.Time(cfg.Location()).Add(6 * time.Hour)
					if _, err := r.Render(rem, at); err != nil {
						return fmt.Errorf("a sample %s reminder sent %+d days from the anniversary: %w", spec.Name, o, err)
					}
					rems = append(rems, rem)
				}
				if len(rems) >= 2 {
					if _, err := r.RenderDigest(rems[:2], rems[0].Milestone.DueOn.Time(cfg.Location()).Add(6*time.Hour)); err != nil {
						return fmt.Errorf("a sample digest: %w", err)
					}
				}
			}
		}
	}
	return nil
}
