package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/internal/shellquote"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// demoEnrollment places a sample enrollment so that its reminder at offset falls on today.
type demoEnrollment struct {
	partner, name, spec string
	yearsHeld           int // the anniversary due is the yearsHeld-th
	offset              int // reminder offset due today
}

// cmdDemo imports sample partners into a scratch folder, runs a tick as of today with mail written
// to files, and prints the outbox: the whole main job on the embedded defaults.
func (m *Main) cmdDemo(ctx context.Context, args []string) error {
	fs := m.newFlagSet("demo")
	dir := fs.String("dir", "renewald-demo", "folder for the database, the sample data and the .eml files")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	cfg := config.Default()
	cfg.Database.Path = filepath.Join(*dir, "renewald.db")
	cfg.Mail.Transport = "file"
	cfg.Mail.FileDir = filepath.Join(*dir, "mail-out")
	if m.dbPath != "" {
		cfg.Database.Path = m.dbPath
	}
	today := m.today(cfg)
	sample := filepath.Join(*dir, "sample-partners.json")
	if err := os.WriteFile(sample, demoData(today), 0o600); err != nil {
		return fmt.Errorf("write sample data: %w", err)
	}
	fmt.Fprintf(m.Stdout, "sample data: %s (dates placed so reminders fall due today, %s)\n", sample, today)

	// The same steps an operator runs: import, tick, outbox list.
	cfgPath := filepath.Join(*dir, "config.toml")
	// Absolute paths: relative ones in a config file are relative to the file's folder.
	for _, p := range []*string{&cfg.Database.Path, &cfg.Mail.FileDir} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	body := fmt.Sprintf("[database]\npath = %q\n\n[mail]\ntransport = \"file\"\nfile_dir = %q\n", cfg.Database.Path, cfg.Mail.FileDir)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write demo config: %w", err)
	}
	m.configPath = cfgPath
	for _, step := range [][]string{{"import", sample}, {"tick"}} {
		fmt.Fprintf(m.Stdout, "\n$ %s\n", shellquote.Join(append([]string{"renewald", "--config", cfgPath}, step...)...))
		c := m.lookup(step[0])
		if err := c.run(m, ctx, step[1:]); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "\n$ %s\n", shellquote.Join("renewald", "--config", cfgPath, "outbox", "list"))
	db, err := store.Open(ctx, cfg.Database.Path)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := (&store.Outbox{DB: db}).List(ctx, store.Filter{})
	if err != nil {
		return err
	}
	writeOutboxTable(m.Stdout, rows)
	files, _ := filepath.Glob(filepath.Join(cfg.Mail.FileDir, "*.eml"))
	fmt.Fprintf(m.Stdout, "\n%d emails written to %s/\nnext:\n", len(files), cfg.Mail.FileDir)
	for _, next := range [][]string{{"schedule"}, {"preview", "ID"}, {"outbox", "show", "ID"}} {
		fmt.Fprintf(m.Stdout, "  %s\n", shellquote.Join(append([]string{"renewald", "--config", cfgPath}, next...)...))
	}
	return nil
}

// demoData returns sample partners covering every solution area, odd and even renewal years, an
// at-risk score, a partner without admins and a 29 February attainment.
func demoData(today renewal.Date) []byte {
	placed := []demoEnrollment{
		{"4761234", "Contoso Ltd", "Kubernetes on Microsoft Azure", 4, -60}, // even: audit
		{"4761234", "Contoso Ltd", "SAP on Microsoft Azure", 3, -120},       // odd
		{"5550001", "Fabrikam Inc", "Teamwork Deployment", 2, -30},          // even: customer references
		{"5550002", "Northwind Traders", "Finance", 2, 0},                   // even: none
		{"5550003", "Tailspin Toys", "Threat Protection", 2, 30},            // at risk
		{"5550004", "Adatum Corporation", "Cloud Security", 1, -90},         // no recipients
		{"5550001", "Fabrikam Inc", "Calling for Microsoft Teams", 1, -90},  // odd
		{"5550002", "Northwind Traders", "Microsoft Low Code Application Development", 1, -60},
	}
	type spec struct {
		Name       string `json:"name"`
		AttainedOn string `json:"attained_on"`
		Status     string `json:"status"`
	}
	type user struct {
		Email string   `json:"email"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	type partner struct {
		ID              string           `json:"id"`
		Name            string           `json:"name"`
		Users           []user           `json:"users"`
		Specializations []spec           `json:"specializations"`
		Scores          []map[string]any `json:"capability_scores,omitempty"`
	}
	users := map[string][]user{
		"4761234": {{"ada@contoso.example", "Ada Lovelace", []string{"Global admin"}}, {"grace@contoso.example", "Grace Hopper", []string{"MPN Partner Admin", "Referrals admin"}}},
		"5550001": {{"eve@fabrikam.example", "Eve", []string{"Microsoft AI Cloud Partner Program partner admin"}}},
		"5550002": {{"nia@northwind.example", "Nia", []string{"Global admin"}}, {"sam@northwind.example", "Sam", []string{"Account admin"}}},
		"5550003": {{"tom@tailspin.example", "Tom", []string{"Global admin"}}},
		"5550004": {{"ops@adatum.example", "Ops", []string{"Billing admin"}}},
		"5550005": {{"lee@woodgrove.example", "Lee", []string{"Global admin"}}},
	}
	var out []*partner
	byID := map[string]*partner{}
	get := func(id, name string) *partner {
		if p, ok := byID[id]; ok {
			return p
		}
		p := &partner{ID: id, Name: name, Users: users[id]}
		byID[id] = p
		out = append(out, p)
		return p
	}
	for _, e := range placed {
		attained := renewal.Anniversary(today.AddDays(-e.offset), -e.yearsHeld) // R2's 29 February rule, backwards
		p := get(e.partner, e.name)
		p.Specializations = append(p.Specializations, spec{e.spec, attained.String(), "active"})
	}
	get("5550005", "Woodgrove Bank").Specializations = []spec{{"Information Protection and Governance", "2024-02-29", "active"}}
	byID["5550003"].Scores = []map[string]any{{"designation": "Solutions Partner for Security",
		"enterprise": map[string]int{"performance": 30, "skilling_intermediate": 10, "skilling_advanced": 0, "customer_success": 10}}}
	byID["4761234"].Scores = []map[string]any{{"designation": "Solutions Partner for Infrastructure (Azure)",
		"enterprise": map[string]int{"performance": 30, "skilling_intermediate": 15, "skilling_advanced": 10, "customer_success_usage_growth": 10, "customer_success_deployments": 10}}}
	b, _ := json.MarshalIndent(map[string]any{"partners": out}, "", "  ")
	return b
}
