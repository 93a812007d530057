package web

import (
	"context"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/renewald/renewald/agenda"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// timelineQuery is the filter of /renewals: the CLI's values (dates as YYYY-MM-DD, a partner id),
// a solution area and at_risk.
type timelineQuery struct {
	From, To renewal.Date
	Partner  string
	Area     string
	AtRisk   bool
	After    string // "YYYY-MM-DD_ID": resume after this anniversary and enrollment
}

func (q timelineQuery) values() url.Values {
	v := url.Values{"from": {q.From.String()}, "to": {q.To.String()}}
	if q.Partner != "" {
		v.Set("partner", q.Partner)
	}
	if q.Area != "" {
		v.Set("area", q.Area)
	}
	if q.AtRisk {
		v.Set("at_risk", "1")
	}
	return v
}

// timelineRow is one renewal on the timeline.
type timelineRow struct {
	agenda.Entry
	Area        string
	Risk        string // "at risk", "qualified", "no scores", "unknown"
	AtRisk      bool
	PartnerLink template.URL
	Marks       []reminderMark
	// The drawing, in the SVG's user units.
	Y, BarX, BarW, AnnX                           float64
	BarY, MarkY, AnnY1, AnnY2, LabelY, MarkLabelY float64
	ClipStart, ClipEnd                            bool
	AnnIn                                         bool
	Label                                         string
}

// reminderMark is one reminder with its status (agenda.Annotate: the words of `schedule`).
type reminderMark struct {
	agenda.Reminder
	Label  string // "−60 sent" (text beside the marker)
	Detail string // its rows' statuses with their counts, most urgent first
	X      float64
}

type timelineResult struct {
	Rows    []timelineRow
	Next    string // cursor of the next page, "" at the end
	Partial bool   // the page stopped at the scan budget before filling
}

// The timeline's drawing: a 1000-unit wide SVG, labels on the left, the plot on the right.
const (
	svgWidth  = 1000.0
	plotLeft  = 330.0
	plotRight = 985.0
	rowHeight = 40.0
	svgTop    = 40.0
)

// dayX is the x of the middle of day d on an axis from from to to (both inclusive).
func dayX(from, to, d renewal.Date) float64 {
	span := float64(from.DaysUntil(to) + 1)
	return plotLeft + (float64(from.DaysUntil(d))+0.5)/span*(plotRight-plotLeft)
}

// statusPriority orders outbox statuses by how much a reader needs to see them.
var statusPriority = []string{store.StatusFailed, store.StatusExpired, store.StatusNoRecipients, store.StatusSending,
	store.StatusPending, store.StatusSent, store.StatusCancelled, store.StatusSuperseded, store.StatusSkipped}

func statusRank(s string) int {
	if i := slices.Index(statusPriority, s); i >= 0 {
		return i
	}
	return -1 // statuses added later come first: they are new, so likely worth a look
}

// rowsDetail writes a reminder's row counts ("failed 1, sent 2"), the statuses a reader most needs
// to see first.
func rowsDetail(rows map[string]int) string {
	sts := slices.Collect(maps.Keys(rows))
	slices.SortFunc(sts, func(a, b string) int {
		if c := statusRank(a) - statusRank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(sts))
	for i, st := range sts {
		parts[i] = fmt.Sprintf("%s %d", st, rows[st])
	}
	return strings.Join(parts, ", ")
}

// timeline finds up to limit renewals matching q, sorted by anniversary then enrollment, examining at
// most budget enrollments.
func (s *Server) timeline(ctx context.Context, q timelineQuery, limit, budget int) (timelineResult, error) {
	var res timelineResult
	rules := s.o.Rules
	lo, hi := -rules.WindowOpensDaysBefore, rules.GracePeriodDays
	for _, o := range rules.OffsetsDays {
		lo, hi = min(lo, o), max(hi, o)
	}
	first, last := q.From.AddDays(-hi), q.To.AddDays(-lo)
	var specs []string
	if q.Area != "" {
		for _, sp := range s.o.Catalog.Specializations() {
			if renewal.NormalizeName(sp.Area) == renewal.NormalizeName(q.Area) {
				specs = append(specs, sp.Name)
			}
		}
		if len(specs) == 0 {
			return res, nil
		}
	}
	var afterAnn renewal.Date
	var afterID int64
	if q.After != "" {
		a, id, _ := strings.Cut(q.After, "_")
		afterAnn, _ = renewal.ParseDate(a)
		afterID, _ = strconv.ParseInt(id, 10, 64)
		if afterAnn.After(first) {
			first = afterAnn
		}
	}
	type cand struct {
		e        store.EnrollmentInfo
		attained renewal.Date
		spec     *renewal.Specialization
		rn       renewal.Renewal
	}
	// accept turns candidates of one anniversary into rows, applying the filters that need scores.
	accept := func(cs []cand) error {
		if len(cs) == 0 {
			return nil
		}
		partners := make([]string, len(cs))
		for i, c := range cs {
			partners[i] = c.e.PartnerID
		}
		// Every designation's scores: a stored name is the catalog's spelling at import time, and
		// Qualify also takes one spelled another way (a catalog changed since).
		scores, err := s.o.DB.Scores(ctx, partners)
		if err != nil {
			return err
		}
		// The renewals kept (judged first: an at-risk filter keeps few), then their outcomes.
		type kept struct {
			cand
			qual renewal.Qualification
		}
		var ks []kept
		var ids []int64
		for _, c := range cs {
			if len(res.Rows)+len(ks) >= limit {
				break
			}
			qual := s.o.Catalog.Qualify(c.spec, s.fresh().Current(scores[c.e.PartnerID]))
			if q.AtRisk && !qual.AtRisk() {
				continue
			}
			ks, ids = append(ks, kept{c, qual}), append(ids, c.e.ID)
		}
		outcomes, err := s.o.DB.Outcomes(ctx, ids)
		if err != nil {
			return err
		}
		for _, k := range ks {
			c, qual := k.cand, k.qual
			row := timelineRow{Area: c.spec.Area, AtRisk: qual.AtRisk(), PartnerLink: s.href("partners", c.e.PartnerID)}
			switch {
			case qual.AtRisk():
				row.Risk = "at risk"
			case qual.Qualified:
				row.Risk = "qualified"
			case !qual.Known:
				row.Risk = "no scores"
			default:
				row.Risk = "unknown"
			}
			es, err := agenda.Of(c.e, s.o.Catalog, rules, q.From, q.To, outcomes[c.e.ID])
			if err != nil {
				return err
			}
			row.Entry = agenda.New(c.e, c.attained, c.rn, outcomes[c.e.ID])
			for _, en := range es {
				if en.AnniversaryOn == c.rn.Anniversary {
					row.Entry = en
				}
			}
			res.Rows = append(res.Rows, row)
		}
		return nil
	}
	examined := 0
	candidate := func(e store.EnrollmentInfo, ann renewal.Date) (cand, bool) {
		spec, err := s.o.Catalog.Lookup(e.Specialization)
		if err != nil {
			return cand{}, false
		}
		attained, err := renewal.ParseDate(e.AttainedOn)
		if err != nil {
			return cand{}, false
		}
		rn, ok := rules.Renewal(attained, spec.Validation, ann.Year()-attained.Year())
		if !ok || rn.Anniversary != ann {
			return cand{}, false
		}
		in := !rn.WindowOpens.After(q.To) && !rn.GraceEnds.Before(q.From)
		for _, o := range rules.OffsetsDays {
			due := ann.AddDays(o)
			in = in || (!due.Before(q.From) && !due.After(q.To))
		}
		return cand{e, attained, spec, rn}, in
	}
	if q.Partner != "" {
		es, err := s.o.DB.Enrollments(ctx, q.Partner, false, 0, 1000)
		if err != nil {
			return res, err
		}
		var cs []cand
		for _, e := range es {
			if len(specs) > 0 && !slices.Contains(specs, e.Specialization) {
				continue
			}
			attained, err := renewal.ParseDate(e.AttainedOn)
			if err != nil {
				continue
			}
			for y := first.Year(); y <= last.Year(); y++ {
				ann := renewal.Anniversary(attained, y-attained.Year())
				if ann.Before(first) || ann.After(last) || (ann == afterAnn && e.ID <= afterID) {
					continue
				}
				if c, ok := candidate(e, ann); ok {
					cs = append(cs, c)
				}
			}
		}
		sort.SliceStable(cs, func(i, j int) bool {
			if c := cs[i].rn.Anniversary.Compare(cs[j].rn.Anniversary); c != 0 {
				return c < 0
			}
			return cs[i].e.ID < cs[j].e.ID
		})
		if err := accept(cs); err != nil {
			return res, err
		}
		if len(res.Rows) == limit && len(cs) > limit {
			// More may follow: resume after the last row shown.
			lr := res.Rows[len(res.Rows)-1]
			res.Next = lr.AnniversaryOn.String() + "_" + strconv.FormatInt(lr.EnrollmentID, 10)
		}
		return res, s.decorate(ctx, q, res.Rows)
	}
	// At risk: walk the store's risk list when it is current (a few enrollments a day, judged again
	// below), else every enrollment of each anniversary.
	riskList := false
	if q.AtRisk {
		var err error
		if riskList, err = s.o.DB.RiskListCurrent(ctx, s.o.Catalog.RiskFingerprint(s.fresh())); err != nil {
			return res, err
		}
		if !riskList {
			budget = min(budget, judgeBudget) // each one's scores are read and judged
		}
	}
	for ann := first; !ann.After(last); ann = ann.AddDays(1) {
		after := int64(0)
		if ann == afterAnn {
			after = afterID
		}
		for {
			if examined >= budget {
				res.Partial = true
				res.Next = ann.String() + "_" + strconv.FormatInt(after, 10)
				return res, s.decorate(ctx, q, res.Rows)
			}
			need := min(200, budget-examined)
			es, err := s.o.DB.EnrollmentsOn(ctx, store.AnniversaryQuery{On: ann, AfterID: after, Specializations: specs, Limit: need, RiskListOnly: riskList})
			if err != nil {
				return res, err
			}
			examined += len(es)
			var cs []cand
			for _, e := range es {
				if c, ok := candidate(e, ann); ok {
					cs = append(cs, c)
				}
			}
			if err := accept(cs); err != nil {
				return res, err
			}
			if len(res.Rows) >= limit {
				// Resume after the last accepted row of this anniversary.
				lastRow := res.Rows[len(res.Rows)-1]
				res.Next = ann.String() + "_" + strconv.FormatInt(lastRow.EnrollmentID, 10)
				return res, s.decorate(ctx, q, res.Rows)
			}
			if len(es) < need {
				break
			}
			after = es[len(es)-1].ID
		}
	}
	return res, s.decorate(ctx, q, res.Rows)
}

// decorate adds the partners' names (the anniversary walk reads none), the outbox statuses of each
// row's reminders and the drawing's coordinates.
func (s *Server) decorate(ctx context.Context, q timelineQuery, rows []timelineRow) error {
	var unnamed []string
	for _, r := range rows {
		if r.PartnerName == "" {
			unnamed = append(unnamed, r.PartnerID)
		}
	}
	names, err := s.o.DB.PartnerNames(ctx, unnamed)
	if err != nil {
		return err
	}
	for i := range rows {
		if rows[i].PartnerName == "" {
			rows[i].PartnerName = names[rows[i].PartnerID]
		}
	}
	entries := make([]agenda.Entry, len(rows))
	for i, r := range rows {
		entries[i] = r.Entry
	}
	if err := agenda.Annotate(ctx, s.o.DB, s.o.Roles, entries); err != nil {
		return err
	}
	from, to := q.From, q.To
	for i := range rows {
		r := &rows[i]
		r.Y = svgTop + float64(i)*rowHeight
		r.LabelY, r.BarY, r.MarkY, r.AnnY1, r.AnnY2, r.MarkLabelY = r.Y+14, r.Y+6, r.Y+12, r.Y+2, r.Y+22, r.Y+32
		start, end := r.WindowOpensOn, r.GraceEndsOn
		if start.Before(from) {
			start, r.ClipStart = from, true
		}
		if end.After(to) {
			end, r.ClipEnd = to, true
		}
		if !end.Before(start) {
			r.BarX = dayX(from, to, start)
			r.BarW = dayX(from, to, end) - r.BarX
		}
		r.AnnIn = !r.AnniversaryOn.Before(from) && !r.AnniversaryOn.After(to)
		r.AnnX = dayX(from, to, r.AnniversaryOn)
		r.Label = truncate(r.PartnerName, 22) + " · " + truncate(r.Specialization, 26)
		r.Entry = entries[i]
		for _, rem := range r.Reminders {
			m := reminderMark{Reminder: rem, X: dayX(from, to, rem.DueOn), Detail: "no outbox row yet"}
			if len(rem.Rows) > 0 {
				m.Detail = rowsDetail(rem.Rows)
			}
			m.Label = funcs["signed"].(func(int) string)(rem.OffsetDays) + " " + rem.Status
			r.Marks = append(r.Marks, m)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

type axisTick struct {
	X     float64
	Label string
}

type renewalsData struct {
	From, To, Partner, Area    string
	AtRisk                     bool
	Areas                      []string
	Rows                       []timelineRow
	Next                       template.URL
	First                      template.URL
	Paged, Partial             bool
	TodayX                     float64
	TodayIn                    bool
	Today                      string
	Height                     float64
	Ticks                      []axisTick
	Title                      string
	Width, PlotLeft, PlotRight float64
}

func (s *Server) renewals(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := r.URL.Query()
	today := s.today()
	q := timelineQuery{From: today, To: today.AddDays(120), Partner: v.Get("partner"), Area: v.Get("area"), After: v.Get("after")}
	if err := checkPartnerFilter(q.Partner); err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	for _, p := range []struct {
		key string
		dst *renewal.Date
	}{{"from", &q.From}, {"to", &q.To}} {
		if val := v.Get(p.key); val != "" {
			d, err := renewal.ParseDate(val)
			if err != nil {
				s.badRequest(w, r, fmt.Sprintf("%s: %v", p.key, err))
				return
			}
			*p.dst = d
		}
	}
	switch v.Get("at_risk") {
	case "", "0", "false":
	case "1", "true":
		q.AtRisk = true
	default:
		s.badRequest(w, r, fmt.Sprintf("at_risk %q: want 1 or 0", v.Get("at_risk")))
		return
	}
	if q.To.Before(q.From) {
		s.badRequest(w, r, fmt.Sprintf("to %s is before from %s", q.To, q.From))
		return
	}
	if q.From.DaysUntil(q.To) > 366 {
		s.badRequest(w, r, "the range is at most 366 days")
		return
	}
	if q.After != "" {
		if _, err := parseOutboxCursor(q.After); err != nil {
			s.badRequest(w, r, err.Error())
			return
		}
	}
	res, err := s.timeline(ctx, q, PageSize, timelineBudget)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := renewalsData{From: q.From.String(), To: q.To.String(), Partner: q.Partner, Area: q.Area, AtRisk: q.AtRisk,
		Rows: res.Rows, Paged: q.After != "", Partial: res.Partial, Today: today.String(),
		TodayIn: !today.Before(q.From) && !today.After(q.To), TodayX: dayX(q.From, q.To, today),
		Height: svgTop + float64(max(len(res.Rows), 1))*rowHeight + 10,
		Width:  svgWidth, PlotLeft: plotLeft, PlotRight: plotRight,
		Title: fmt.Sprintf("Renewal timeline from %s to %s: %d renewals", q.From, q.To, len(res.Rows))}
	seen := map[string]bool{}
	for _, sp := range s.o.Catalog.Specializations() {
		if !seen[sp.Area] {
			seen[sp.Area] = true
			d.Areas = append(d.Areas, sp.Area)
		}
	}
	base := q.values()
	d.First = s.link("/renewals", base)
	if res.Next != "" {
		nq := q.values()
		nq.Set("after", res.Next)
		d.Next = s.link("/renewals", nq)
	}
	// Month ticks: the first of each month in range, plus the range's first day.
	for day := q.From; !day.After(q.To); day = day.AddDays(1) {
		if day.Day() == 1 || day == q.From {
			d.Ticks = append(d.Ticks, axisTick{dayX(q.From, q.To, day), day.String()})
		}
	}
	if len(d.Ticks) > 1 && d.Ticks[1].X-d.Ticks[0].X < 80 {
		d.Ticks = d.Ticks[1:] // the range's start would overlap the first month's label
	}
	s.render(w, r, http.StatusOK, "renewals", "Renewals", "renewals", d)
}

// timelineBudget bounds the enrollments one timeline page examines: a sparse filter (an area, at
// risk) ends a page early with a link that continues the search, so no page reads the whole table.
const timelineBudget = 5000

// judgeBudget bounds the enrollments an at-risk page judges while the risk list is not current:
// judging reads each partner's scores, so it costs several times what examining dates does.
const judgeBudget = 2000
