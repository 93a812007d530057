package bench

import (
	"fmt"
	"log/slog"
	"net/mail"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// queueReminders imports n partners with one admin and one enrollment each and queues one pending
// reminder per partner.
func queueReminders(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	ps := make([]*renewal.Partner, n)
	for i := range ps {
		ps[i] = &renewal.Partner{ID: fmt.Sprint(i + 1), Name: fmt.Sprintf("Partner %d", i+1), UsersGiven: true,
			Users:       []renewal.User{{Email: fmt.Sprintf("admin@p%d.example", i+1), Name: "Admin", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Threat Protection", AttainedOn: renewal.NewDate(2024, 2, 29), Status: renewal.StatusActive}}}
	}
	if _, err := db.Import(ctx, ps, time.Now()); err != nil {
		tb.Fatal(err)
	}
	ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences,
		renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
	items := make([]store.OutboxItem, n)
	for i := range items {
		rcpt := fmt.Sprintf("admin@p%d.example", i+1)
		items[i] = store.OutboxItem{EnrollmentID: int64(i + 1), Milestone: ms[0], Recipient: rcpt, Status: store.StatusPending,
			MessageID: renewal.MessageID(int64(i+1), ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")}
	}
	if _, err := db.Enqueue(ctx, items, time.Now()); err != nil {
		tb.Fatal(err)
	}
}

// sendDay is when the benchmark's reminders are delivered: on their due date, 2025-12-30, since
// none goes out on another day (R13).
var sendDay = time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)

// rawGoMail sends n pre-built reminder messages (rendered before the clock starts) with go-mail's
// Client.Send on one connection: the limit of the transport for the same content.
func rawGoMail(tb testing.TB, srv *smtptest.Server, r *notify.Renderer, n int) time.Duration {
	ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences,
		renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
	msgs := make([]*gomail.Msg, n)
	for i := range msgs {
		rcpt := fmt.Sprintf("raw%d@p.example", i)
		m, _, err := r.Message(renewal.Reminder{OutboxID: int64(i), PartnerID: "1", PartnerName: "Partner", Specialization: "Threat Protection",
			Milestone: ms[0], Recipient: rcpt, RecipientName: "Admin",
			MessageID: renewal.MessageID(int64(i), ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")}, sendDay)
		if err != nil {
			tb.Fatal(err)
		}
		msgs[i] = m
	}
	c, err := gomail.NewClient(srv.Host, gomail.WithPort(srv.Port), gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithoutNoop())
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := c.DialWithContext(ctx); err != nil {
		tb.Fatal(err)
	}
	for _, m := range msgs {
		if err := c.Send(m); err != nil {
			tb.Fatal(err)
		}
	}
	c.Close()
	return time.Since(start)
}

// BenchmarkDeliver delivers rendered reminders (templates, .ics, claims and marks in SQLite) to a
// loopback SMTP server, and in the same run sends as many pre-built messages with go-mail on one
// connection: the raw limit.
func BenchmarkDeliver(b *testing.B) {
	for _, n := range sizes(b, 10_000, 20_000) {
		b.Run(fmt.Sprintf("reminders=%d", n), func(b *testing.B) {
			var rendered, raw time.Duration
			var mallocs uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, err := store.Open(ctx, filepath.Join(b.TempDir(), "r.db"))
				if err != nil {
					b.Fatal(err)
				}
				queueReminders(b, db, n)
				srv, err := smtptest.Start()
				if err != nil {
					b.Fatal(err)
				}
				tmpl, _ := templates.Load("")
				tr, _ := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none"})
				renderer := &notify.Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: renewal.DefaultRules(),
					From: &mail.Address{Address: "renewals@example.com"}, Location: time.UTC}
				d := &notify.Deliverer{
					Outbox:    &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute},
					Transport: tr, Renderer: renderer,
					Now: func() time.Time { return sendDay }, BatchSize: 100, MaxAttempts: 8, BackoffBase: time.Minute, Logger: slog.New(slog.DiscardHandler),
				}
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				b.StartTimer()
				start := time.Now()
				st, err := d.Deliver(ctx)
				rendered += time.Since(start)
				b.StopTimer()
				runtime.ReadMemStats(&ms1)
				mallocs += ms1.Mallocs - ms0.Mallocs
				if err != nil || st.Sent != n || srv.Count() != n {
					b.Fatalf("sent %d of %d (server %d): %v", st.Sent, n, srv.Count(), err)
				}
				raw += rawGoMail(b, srv, renderer, n)
				srv.Close()
				db.Close()
			}
			per := float64(n * b.N)
			b.ReportMetric(per/rendered.Seconds(), "msgs/s")
			b.ReportMetric(per/raw.Seconds(), "raw-gomail-msgs/s")
			b.ReportMetric(raw.Seconds()/rendered.Seconds()*100, "%-of-raw")
			b.ReportMetric(float64(mallocs)/per, "allocs/msg")
		})
	}
}
