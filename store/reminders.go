package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// What a reminder of the agenda (`schedule`, the status pages' timeline) will really do: the
// outbox rows it has, counted per status, and whether its partner has anyone to mail.

// RenewalKey names one anniversary of one enrollment.
type RenewalKey struct {
	EnrollmentID int64
	Anniversary  string
}

// ReminderStatus counts the outbox rows of one reminder (one offset of one renewal) in one status.
type ReminderStatus struct {
	EnrollmentID int64  `db:"enrollment_id"`
	Anniversary  string `db:"anniversary_on"`
	OffsetDays   int    `db:"offset_days"`
	Status       string `db:"status"`
	N            int    `db:"n"`
}

// reminderStatusesChunk bounds the enrollments of one query: a page of `schedule` (1,000) or of
// the timeline (100) is one query.
const reminderStatusesChunk = 1000

// ReminderStatuses returns the outbox rows of the given enrollments' renewals with an anniversary in
// [from, to], counted per reminder (enrollment, anniversary, offset) and status, in offset then
// status order: one query per 1,000 enrollments, through the outbox's unique (enrollment_id,
// anniversary_on, …) index.
func (s *DB) ReminderStatuses(ctx context.Context, enrollmentIDs []int64, from, to renewal.Date) (map[RenewalKey][]ReminderStatus, error) {
	out := map[RenewalKey][]ReminderStatus{}
	for start := 0; start < len(enrollmentIDs); start += reminderStatusesChunk {
		q, args, err := reminderStatusesQuery(enrollmentIDs[start:min(start+reminderStatusesChunk, len(enrollmentIDs))], from, to)
		if err != nil {
			return nil, fmt.Errorf("reminder statuses: %w", err)
		}
		var rows []ReminderStatus
		if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("reminder statuses: %w", err)
		}
		for _, r := range rows {
			k := RenewalKey{r.EnrollmentID, r.Anniversary}
			out[k] = append(out[k], r)
		}
	}
	return out, nil
}

func reminderStatusesQuery(ids []int64, from, to renewal.Date) (string, []any, error) {
	return sqlx.In(`SELECT enrollment_id, anniversary_on, offset_days, status, count(*) AS n FROM outbox
		WHERE enrollment_id IN (?) AND anniversary_on >= ? AND anniversary_on <= ?
		GROUP BY enrollment_id, anniversary_on, offset_days, status
		ORDER BY enrollment_id, anniversary_on, offset_days, status`, ids, from.String(), to.String())
}

// PartnersWithRecipients returns which of the given partners have a user holding one of roleKeys
// (renewal.RoleKey forms): those a reminder queued today would mail. One query per 1,000 partners,
// through the user_roles_by_key index.
func (s *DB) PartnersWithRecipients(ctx context.Context, partnerIDs []string, roleKeys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(roleKeys) == 0 {
		return out, nil
	}
	const chunk = 1000
	for start := 0; start < len(partnerIDs); start += chunk {
		q, args, err := partnersWithRecipientsQuery(partnerIDs[start:min(start+chunk, len(partnerIDs))], roleKeys)
		if err != nil {
			return nil, fmt.Errorf("partners with recipients: %w", err)
		}
		var ids []string
		if err := s.db.SelectContext(ctx, &ids, q, args...); err != nil {
			return nil, fmt.Errorf("partners with recipients: %w", err)
		}
		for _, id := range ids {
			out[id] = true
		}
	}
	return out, nil
}

func partnersWithRecipientsQuery(ids, roleKeys []string) (string, []any, error) {
	return sqlx.In(`SELECT DISTINCT partner_id FROM user_roles WHERE partner_id IN (?) AND role_key IN (?)`, ids, roleKeys)
}
