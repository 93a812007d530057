package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"

	"github.com/renewald/renewald/internal/shellquote"
)

var funcs = template.FuncMap{
	"join": strings.Join,
	"signed": func(n int) string {
		if n > 0 {
			return "+" + strconv.Itoa(n)
		}
		if n < 0 {
			return "−" + strconv.Itoa(-n)
		}
		return "0"
	},
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"f2": func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"sh": shellquote.Quote, // one argument of a printed command, quoted for a POSIX shell
}

// command returns a renewald command line to print: every argument quoted for a POSIX shell, so
// pasting it runs exactly this one command.
func command(args ...any) string {
	words := make([]string, 0, len(args)+1)
	words = append(words, "renewald")
	for _, a := range args {
		words = append(words, fmt.Sprint(a))
	}
	return shellquote.Join(words...)
}

// checkPartnerFilter refuses a partner filter that cannot be a partner id: longer than the importer
// accepts, or holding a space, a control or invisible character, '/' or '\', or "." or "..".
func checkPartnerFilter(v string) error {
	if v == "" {
		return nil
	}
	bad := len(v) > importer.MaxPartnerIDLen || v == "." || v == ".." || strings.ContainsAny(v, `/\`) ||
		importer.CheckChars(v) != nil || strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0
	if bad {
		return fmt.Errorf("partner %s is not a partner id (at most %d printable characters, no space, '/' or '\\')",
			importer.Quote(v), importer.MaxPartnerIDLen)
	}
	return nil
}

// page is what every page's layout needs.
type page struct {
	Title      string
	Nav        string // overview, outbox, renewals, or ""
	Base       string
	Today      string
	Refresh    bool         // the page reloads itself every 60 s
	RefreshOn  template.URL // this page with the refresh on
	RefreshOff template.URL
	Data       any
}

// render writes a page with status code.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name, title, nav string, data any) {
	p := page{Title: title, Nav: nav, Base: s.o.BasePath, Today: s.today().String(), Data: data}
	if name == "overview" || name == "outbox" || name == "renewals" {
		q := r.URL.Query()
		p.Refresh = q.Get("refresh") != "off"
		q.Set("refresh", "off")
		p.RefreshOff = s.link(r.URL.Path, q)
		q.Del("refresh")
		p.RefreshOn = s.link(r.URL.Path, q)
	}
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.o.Logger.Error("web: render page", "page", name, "err", err)
		http.Error(w, "500 internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b.Bytes())
	}
}

// link returns the URL of a page under the base path with a query.
func (s *Server) link(path string, q url.Values) template.URL {
	u := s.o.BasePath + path
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return template.URL(u)
}

// href returns the URL of a page under the base path: the segments path-escaped and joined by "/".
func (s *Server) href(segments ...any) template.URL {
	var b strings.Builder
	b.WriteString(s.o.BasePath)
	for _, seg := range segments {
		b.WriteString("/")
		b.WriteString(url.PathEscape(fmt.Sprint(seg)))
	}
	return template.URL(b.String())
}

func (s *Server) today() renewal.Date { return renewal.DateOf(s.o.Now(), s.o.Location) }

// fresh is the scores' age rule today: stale scores count as unknown on the pages as in the mails.
func (s *Server) fresh() renewal.Freshness {
	return renewal.Freshness{On: s.today(), StaleDays: s.o.ScoresStaleDays}
}

type errorPage struct{ Message string }

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	s.render(w, r, http.StatusNotFound, "error", "Not found", "", errorPage{msg})
}

func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	s.render(w, r, http.StatusBadRequest, "error", "Bad request", "", errorPage{msg})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.o.Logger.Error("web: page failed", "path", r.URL.Path, "err", err)
	s.render(w, r, http.StatusInternalServerError, "error", "Error", "", errorPage{"The page could not be read from the database; the log has the details."})
}

// ctx bounds every page's queries.
func pageContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}

// ---- overview

type statusCount struct {
	Status string
	N      int
	Link   template.URL
}

type dayCount struct {
	Day      string
	N        int
	X, Y, H  float64
	LabelDay bool
}

type needsRow struct {
	store.OutboxRow
	Link        template.URL
	PartnerLink template.URL
	Command     string // quoted for a POSIX shell
}

type needsGroup struct {
	Status string
	Why    string
	Count  int
	All    template.URL
	Rows   []needsRow
}

type overviewData struct {
	LastScanned string
	LastTick    string
	NextTick    string
	DBOK        bool
	DBError     string
	Transport   string
	Retry       *store.RetryError
	RetryLink   template.URL
	Counts      []statusCount
	Total       int
	Days        []dayCount
	DaysMax     int
	DaysTotal   int
	AtRisk      []timelineRow
	AtRiskMore  bool
	AtRiskLink  template.URL
	Needs       []needsGroup
}

// operatorStatuses are the statuses that need an operator, with why and what to do.
var operatorStatuses = []struct{ status, why, action string }{
	{store.StatusFailed, "delivery failed for good", "retry"},
	{store.StatusNoRecipients, "the partner has no user with a recipient role: import one, then cancel or keep this record", "cancel"},
	{store.StatusExpired, "the grace period ended before it could be sent", "show"},
	{"suppressed", "the recipient's address is suppressed", "show"},
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	now := s.o.Now().In(s.o.Location)
	today := s.today()
	d := overviewData{LastScanned: "never", LastTick: "not known to this process (renewald web runs apart from the daemon)",
		NextTick: "not scheduled here", Transport: s.o.Transport, DBOK: true}
	if s.o.LastTick != nil {
		if t := s.o.LastTick(); t.IsZero() {
			d.LastTick = "none since the daemon started"
		} else {
			d.LastTick = t.In(s.o.Location).Format(time.RFC3339)
		}
	}
	if s.o.NextTick != nil {
		d.NextTick = s.o.NextTick(now).In(s.o.Location).Format(time.RFC3339)
	}
	if err := s.o.DB.Ping(ctx); err != nil {
		d.DBOK, d.DBError = false, err.Error()
		s.render(w, r, http.StatusServiceUnavailable, "overview", "Overview", "overview", d)
		return
	}
	if last, ok, err := s.o.DB.LastScanned(ctx); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		d.LastScanned = last.String()
	}
	if rt, ok, err := s.o.Outbox.LatestRetry(ctx); err != nil {
		s.fail(w, r, err)
		return
	} else if ok {
		d.Retry, d.RetryLink = &rt, s.href("outbox", rt.ID)
	}
	counts, err := s.o.Outbox.CountByStatus(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, st := range store.Statuses {
		d.Counts = append(d.Counts, statusCount{st, counts[st], s.link("/outbox", url.Values{"status": {st}})})
		d.Total += counts[st]
	}
	if d.Days, d.DaysMax, err = s.dueDays(ctx, today, 30); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, dc := range d.Days {
		d.DaysTotal += dc.N
	}
	q := timelineQuery{From: today, To: today.AddDays(60), AtRisk: true}
	tl, err := s.timeline(ctx, q, 10, 5000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.AtRisk, d.AtRiskMore = tl.Rows, tl.Next != ""
	d.AtRiskLink = s.link("/renewals", q.values())
	for _, os := range operatorStatuses {
		if !slices.Contains(store.Statuses, os.status) {
			continue
		}
		g := needsGroup{Status: os.status, Why: os.why, Count: counts[os.status], All: s.link("/outbox", url.Values{"status": {os.status}})}
		if g.Count > 0 {
			rows, err := s.o.Outbox.ListAfter(ctx, store.Filter{Status: os.status}, store.Cursor{}, 10)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			for _, row := range rows {
				g.Rows = append(g.Rows, needsRow{row, s.href("outbox", row.ID), s.href("partners", row.PartnerID), command("outbox", os.action, row.ID)})
			}
		}
		d.Needs = append(d.Needs, g)
	}
	s.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
}

// dueDays counts the reminders due on each of n days from today, from the stored enrollments: every
// reminder offset of every anniversary whose reminder falls on the day. The enrollments come counted
// by attainment month-day and year (store.AnniversaryCounts), so this reads a few thousand rows.
func (s *Server) dueDays(ctx context.Context, today renewal.Date, n int) ([]dayCount, int, error) {
	counts, err := s.o.DB.AnniversaryCounts(ctx)
	if err != nil {
		return nil, 0, err
	}
	byMonthDay := map[string][]store.AnniversaryCount{}
	for _, c := range counts {
		byMonthDay[c.MonthDay] = append(byMonthDay[c.MonthDay], c)
	}
	out := make([]dayCount, n)
	peak := 0
	for i := range out {
		day := today.AddDays(i)
		total := 0
		for _, o := range s.o.Rules.OffsetsDays {
			ann := day.AddDays(-o)
			if ann.Before(s.o.Rules.ProgramStart) {
				continue
			}
			for _, md := range renewal.AttainedMonthDays(ann) {
				for _, c := range byMonthDay[md] {
					if c.Year < ann.Year() { // a renewal from the first anniversary on
						total += c.N
					}
				}
			}
		}
		out[i] = dayCount{Day: day.String(), N: total, LabelDay: i%7 == 0 && i+7 < n}
		peak = max(peak, total)
	}
	// The chart: 30 columns in a 600×160 box.
	for i := range out {
		h := 0.0
		if peak > 0 {
			h = float64(out[i].N) / float64(peak) * 120
		}
		out[i].X, out[i].H, out[i].Y = 40+float64(i)*18, h, 130-h
	}
	return out, peak, nil
}

// ---- outbox

type outboxRowView struct {
	store.OutboxRow
	Link        template.URL
	PartnerLink template.URL
}

type outboxData struct {
	Status, Partner, DueFrom, DueTo string
	Statuses                        []string
	Rows                            []outboxRowView
	Next                            template.URL
	First                           template.URL
	Paged                           bool
	Command                         string // the same list on the command line, quoted for a POSIX shell
}

// outboxFilter parses the list's query string: the values of `outbox list`.
func outboxFilter(q url.Values) (store.Filter, error) {
	f := store.Filter{Status: q.Get("status"), PartnerID: q.Get("partner")}
	if err := checkPartnerFilter(f.PartnerID); err != nil {
		return f, err
	}
	if f.Status != "" && !slices.Contains(store.Statuses, f.Status) {
		return f, fmt.Errorf("status %q is not one of %s", f.Status, strings.Join(store.Statuses, ", "))
	}
	for _, p := range []struct {
		key string
		dst *renewal.Date
	}{{"due_from", &f.DueFrom}, {"due_to", &f.DueTo}} {
		if v := q.Get(p.key); v != "" {
			d, err := renewal.ParseDate(v)
			if err != nil {
				return f, fmt.Errorf("%s: %w", p.key, err)
			}
			*p.dst = d
		}
	}
	return f, nil
}

func parseOutboxCursor(v string) (store.Cursor, error) {
	if v == "" {
		return store.Cursor{}, nil
	}
	due, id, ok := strings.Cut(v, "_")
	n, err := strconv.ParseInt(id, 10, 64)
	if _, derr := renewal.ParseDate(due); !ok || err != nil || derr != nil {
		return store.Cursor{}, fmt.Errorf("after %q: want YYYY-MM-DD_ID", v)
	}
	return store.Cursor{DueOn: due, ID: n}, nil
}

func (s *Server) outboxList(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	q := r.URL.Query()
	f, err := outboxFilter(q)
	if err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	c, err := parseOutboxCursor(q.Get("after"))
	if err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	rows, err := s.o.Outbox.ListAfter(ctx, f, c, PageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := outboxData{Status: f.Status, Partner: f.PartnerID, DueFrom: q.Get("due_from"), DueTo: q.Get("due_to"),
		Statuses: store.Statuses, Paged: c.DueOn != ""}
	d.Command = outboxCommand(f)
	if len(rows) > PageSize {
		rows = rows[:PageSize]
		last := rows[len(rows)-1]
		nq := cloneValues(q)
		nq.Set("after", last.DueOn+"_"+strconv.FormatInt(last.ID, 10))
		d.Next = s.link("/outbox", nq)
	}
	fq := cloneValues(q)
	fq.Del("after")
	d.First = s.link("/outbox", fq)
	for _, row := range rows {
		d.Rows = append(d.Rows, outboxRowView{row, s.href("outbox", row.ID), s.href("partners", row.PartnerID)})
	}
	s.render(w, r, http.StatusOK, "outbox", "Outbox", "outbox", d)
}

// outboxCommand is `renewald outbox list` with the filter's flags.
func outboxCommand(f store.Filter) string {
	args := []any{"outbox", "list"}
	if f.Status != "" {
		args = append(args, "--status", f.Status)
	}
	if f.PartnerID != "" {
		args = append(args, "--partner", f.PartnerID)
	}
	if !f.DueFrom.IsZero() {
		args = append(args, "--due-from", f.DueFrom)
	}
	if !f.DueTo.IsZero() {
		args = append(args, "--due-to", f.DueTo)
	}
	return command(args...)
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != "refresh" {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

type rowData struct {
	Row         store.OutboxRow
	PartnerLink template.URL
	EmailLink   template.URL
	Commands    []string
	Subject     string
	Text        string
	ICS         string
	WrittenOn   string
	RenderError string
	HasEmail    bool
}

func parseID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// emailTime is when the row's email is worded from (R12): the time it was sent, else its due date
// when that is later than now, else now.
func (s *Server) emailTime(row store.OutboxRow) time.Time {
	if row.SentAt != nil {
		if t, err := time.Parse(time.RFC3339, *row.SentAt); err == nil {
			return t
		}
	}
	now := s.o.Now()
	if due, err := renewal.ParseDate(row.DueOn); err == nil && now.Before(due.Time(s.o.Location)) {
		return due.Time(s.o.Location)
	}
	return now
}

// rowOf reads the outbox row the request's path names; when there is none (or the path names no
// row, or the read fails) it has answered the request and ok is false.
func (s *Server) rowOf(ctx context.Context, w http.ResponseWriter, r *http.Request) (id int64, row store.OutboxRow, ok bool) {
	id, ok = parseID(r)
	if !ok {
		s.notFound(w, r, "Outbox row ids are positive numbers.")
		return id, row, false
	}
	row, err := s.o.Outbox.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, fmt.Sprintf("There is no outbox row %d.", id))
		return id, row, false
	}
	if err != nil {
		s.fail(w, r, err)
		return id, row, false
	}
	return id, row, true
}

func (s *Server) outboxRow(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	id, row, ok := s.rowOf(ctx, w, r)
	if !ok {
		return
	}
	d := rowData{Row: row, PartnerLink: s.href("partners", row.PartnerID), EmailLink: s.href("outbox", id, "email")}
	switch row.Status {
	case store.StatusFailed:
		d.Commands = []string{command("outbox", "retry", id), command("outbox", "cancel", id)}
	case store.StatusCancelled:
		d.Commands = []string{command("outbox", "retry", id)}
	case store.StatusPending, store.StatusNoRecipients:
		d.Commands = []string{command("outbox", "cancel", id)}
	}
	d.Commands = append(d.Commands, command("preview", id))
	if row.Recipient != nil && s.o.Renderer != nil {
		at := s.emailTime(row)
		d.WrittenOn = renewal.DateOf(at, s.o.Location).String()
		rem, err := s.o.Outbox.Reminder(ctx, id)
		if err == nil {
			rem = s.o.Rules.Complete(rem)
			out, rerr := s.o.Renderer.Render(rem, at)
			if rerr == nil {
				d.HasEmail, d.Subject, d.Text, d.ICS = true, out.Subject, out.Text, s.o.Renderer.ICS(rem, at)
			}
			err = rerr
		}
		if err != nil {
			d.RenderError = err.Error()
		}
	}
	s.render(w, r, http.StatusOK, "row", fmt.Sprintf("Outbox row %d", id), "outbox", d)
}

// outboxEmail serves the HTML part of a row's email for the preview frame, sandboxed.
func (s *Server) outboxEmail(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	w.Header().Set("Content-Security-Policy", PreviewCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	id, row, ok := s.rowOf(ctx, w, r)
	if !ok {
		return
	}
	if row.Recipient == nil || s.o.Renderer == nil {
		s.notFound(w, r, fmt.Sprintf("Outbox row %d has no email.", id))
		return
	}
	rem, err := s.o.Outbox.Reminder(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rem = s.o.Rules.Complete(rem)
	out, err := s.o.Renderer.Render(rem, s.emailTime(row))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodHead {
		w.Write([]byte(out.HTML))
	}
}
