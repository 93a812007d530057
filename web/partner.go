package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// UserCountLimit is how far the partner page counts a partner's users: more are shown as "more
// than 10000" (counting 1,000,000 takes longer than a page may).
const UserCountLimit = 10_000

type userView struct {
	store.UserInfo
	Receives bool
}

type renewalView struct {
	Anniversary, WindowOpens, WindowCloses, GraceEnds string
	Year                                              int
	Kind                                              string // odd or even
	Due                                               string
	Outcome                                           string
	Stage                                             string
	Current                                           bool
}

type enrollmentView struct {
	store.EnrollmentInfo
	Area, Validation string
	Known            bool // the catalog knows the specialization
	Renewals         []renewalView
	Qualification    renewal.Qualification
	Timeline         template.URL
}

type partnerData struct {
	Partner     store.PartnerInfo
	Users       []userView // one page of PageSize users at most, by address
	UsersNext   template.URL
	UsersFirst  template.URL // set on a page after the first
	Enrollments []enrollmentView
	Rows        []outboxRowView
	MoreRows    template.URL
	Outbox      template.URL
	Timeline    template.URL
}

func (s *Server) partner(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := pageContext(r)
	defer cancel()
	id := r.PathValue("id")
	after := r.URL.Query().Get("users_after")
	if len(after) > importer.MaxEmailLen {
		s.badRequest(w, r, fmt.Sprintf("users_after: an address is at most %d bytes", importer.MaxEmailLen))
		return
	}
	p, err := s.o.DB.Partner(ctx, id, s.o.Roles.Keys(), UserCountLimit)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, fmt.Sprintf("There is no partner %q.", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := partnerData{Partner: p, Outbox: s.link("/outbox", url.Values{"partner": {id}}),
		Timeline: s.link("/renewals", url.Values{"partner": {id}})}
	if err := s.partnerUsers(ctx, r, id, after, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	es, err := s.o.DB.Enrollments(ctx, id, true, 0, 1000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	outcomes, err := s.o.DB.Outcomes(ctx, ids)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	scores, err := s.o.DB.Scores(ctx, []string{id})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	today := s.today()
	for _, e := range es {
		ev := enrollmentView{EnrollmentInfo: e}
		spec, err := s.o.Catalog.Lookup(e.Specialization)
		attained, derr := renewal.ParseDate(e.AttainedOn)
		if err == nil && derr == nil {
			ev.Known, ev.Area, ev.Validation = true, spec.Area, spec.Validation.Label()
			ev.Qualification = s.o.Catalog.Qualify(spec, s.fresh().Current(scores[id]))
			cur := s.o.Rules.NextRenewal(attained, spec.Validation, today)
			for n := cur.Number - 1; n <= cur.Number+1; n++ {
				rn, ok := s.o.Rules.Renewal(attained, spec.Validation, n)
				if !ok {
					continue
				}
				rv := renewalView{Anniversary: rn.Anniversary.String(), WindowOpens: rn.WindowOpens.String(),
					WindowCloses: rn.WindowCloses.String(), GraceEnds: rn.GraceEnds.String(), Year: rn.Year, Kind: "odd",
					Due: "qualification requirements", Outcome: "open", Stage: string(rn.StageOn(today)), Current: n == cur.Number}
				if rn.Even() {
					rv.Kind = "even"
				}
				if rn.ManualValidation != renewal.ValidationNone {
					rv.Due += " and " + rn.ManualValidation.Label()
				}
				if on, ok := outcomes[e.ID][rv.Anniversary]; ok {
					rv.Outcome = "renewed on " + on.String()
				}
				ev.Renewals = append(ev.Renewals, rv)
			}
			ev.Timeline = s.link("/renewals", url.Values{"partner": {id}, "from": {cur.WindowOpens.AddDays(-60).String()}, "to": {cur.GraceEnds.String()}})
		}
		d.Enrollments = append(d.Enrollments, ev)
	}
	rows, err := s.o.Outbox.ListAfter(ctx, store.Filter{PartnerID: id}, store.Cursor{}, PageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(rows) > PageSize {
		rows = rows[:PageSize]
		last := rows[len(rows)-1]
		d.MoreRows = s.link("/outbox", url.Values{"partner": {id}, "after": {last.DueOn + "_" + strconv.FormatInt(last.ID, 10)}})
	}
	for _, row := range rows {
		d.Rows = append(d.Rows, outboxRowView{row, s.href("outbox", row.ID), s.href("partners", row.PartnerID)})
	}
	s.render(w, r, http.StatusOK, "partner", "Partner "+p.Name, "", d)
}

// partnerUsers reads one page of a partner's users, after the address after, and the links to the
// next page and the first.
func (s *Server) partnerUsers(ctx context.Context, r *http.Request, id, after string, d *partnerData) error {
	users, err := s.o.DB.PartnerUsers(ctx, id, after, PageSize+1)
	if err != nil {
		return err
	}
	page := string(s.href("partners", id))
	if len(users) > PageSize {
		users = users[:PageSize]
		d.UsersNext = template.URL(page + "?" + url.Values{"users_after": {users[len(users)-1].Email}}.Encode())
	}
	if after != "" {
		d.UsersFirst = template.URL(page)
	}
	for _, u := range users {
		d.Users = append(d.Users, userView{UserInfo: u, Receives: s.o.Roles.Matches(u.Roles...)})
	}
	return nil
}
