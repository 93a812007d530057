package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// CountNoRecipientsOpen counts the no_recipients records of renewals still open: anniversaries on or
// after openFrom (renewal.Rules.GraceOpenFrom of today), whose grace period has not ended. Records of
// renewals long over are history, not a partner to fix.
func (o *Outbox) CountNoRecipientsOpen(ctx context.Context, openFrom renewal.Date) (int, error) {
	var n int
	if err := o.DB.db.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE status = 'no_recipients' AND anniversary_on >= ?`,
		openFrom.String()); err != nil {
		return 0, fmt.Errorf("count open no_recipients: %w", err)
	}
	return n, nil
}

// Uncovered is a no_recipients record whose partner has since gained a user with a recipient role.
type Uncovered struct {
	ID               int64  `db:"id"`
	EnrollmentID     int64  `db:"enrollment_id"`
	PartnerID        string `db:"partner_id"`
	AnniversaryOn    string `db:"anniversary_on"`
	RenewalYear      int    `db:"renewal_year"`
	ManualValidation string `db:"manual_validation"`
	OffsetDays       int    `db:"offset_days"`
	DueOn            string `db:"due_on"`
}

// NoRecipientsNowCovered returns the no_recipients records of open renewals (anniversaries on or
// after openFrom) of active enrollments whose partner now has a user holding one of roleKeys: an
// import has given the partner an admin, so the reminder can go out after all.
func (s *DB) NoRecipientsNowCovered(ctx context.Context, openFrom renewal.Date, roleKeys []string) ([]Uncovered, error) {
	q, args, err := sqlx.In(`SELECT o.id, o.enrollment_id, e.partner_id, o.anniversary_on, o.renewal_year, o.manual_validation,
		o.offset_days, o.due_on FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id
		WHERE o.status = 'no_recipients' AND o.anniversary_on >= ? AND e.status = 'active'
		  AND EXISTS (SELECT 1 FROM user_roles r WHERE r.partner_id = e.partner_id AND r.role_key IN (?))
		ORDER BY o.enrollment_id, o.anniversary_on, o.offset_days`, openFrom.String(), roleKeys)
	if err != nil {
		return nil, fmt.Errorf("no_recipients now covered: %w", err)
	}
	var out []Uncovered
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("no_recipients now covered: %w", err)
	}
	return out, nil
}
