package renewal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnrollmentStatus is whether a partner still holds a specialization (R1).
type EnrollmentStatus string

// Enrollment statuses.
const (
	StatusActive  EnrollmentStatus = "active"
	StatusRemoved EnrollmentStatus = "removed"
)

// Partner is one partner organisation as imported.
type Partner struct {
	ID          string
	Name        string
	Users       []User // replaces the stored users when UsersGiven
	UsersGiven  bool
	Enrollments []Enrollment
	Scores      []CapabilityScore
	ScoresGiven bool
}

// User is one person of a partner with their roles as imported.
type User struct {
	Email string
	Name  string
	Roles []string
}

// Enrollment is a partner's hold of a specialization from AttainedOn (R1).
type Enrollment struct {
	ID             int64 // store id; 0 before it is stored
	PartnerID      string
	Specialization string // canonical catalog name
	AttainedOn     Date
	Status         EnrollmentStatus
}

// Reminder is one queued email with everything needed to write it: the outbox row and the renewal it
// is about.
type Reminder struct {
	OutboxID       int64
	PartnerID      string
	PartnerName    string
	Specialization string
	AttainedOn     Date
	Milestone      Milestone
	Recipient      string
	RecipientName  string
	MessageID      string
	Attempts       int       // attempts so far, this one included once claimed
	FirstAttemptAt time.Time // when it was first attempted (zero before)
	Scores         []CapabilityScore
	RecipientRoles []string // the recipient roles (R8) the recipient holds at the partner, as imported
	CoRecipients   []User   // the others at the partner the same reminder goes to (Email, Name; no Roles)
}

// MessageID returns the stable Message-ID of the reminder keyed by (enrollment, anniversary, offset,
// recipient): a repeat after a crash carries the same one.
func MessageID(enrollmentID int64, anniversary Date, offset int, recipient, domain string) string {
	return MessageIDTagged(enrollmentID, anniversary, offset, RecipientTag(recipient), domain)
}

// RecipientTag is the recipient's part of a Message-ID: a short hash, so addresses do not leak
// into headers of other mail. Callers that build many IDs for one recipient compute it once.
func RecipientTag(recipient string) string {
	h := sha256.Sum256([]byte(strings.ToLower(recipient)))
	return hex.EncodeToString(h[:6])
}

// MessageIDTagged is MessageID with the recipient tag already computed.
func MessageIDTagged(enrollmentID int64, anniversary Date, offset int, tag, domain string) string {
	if domain == "" {
		domain = "renewald.invalid"
	}
	return "<renewal." + strconv.FormatInt(enrollmentID, 10) + "." + strings.ReplaceAll(anniversary.String(), "-", "") + "." +
		fmt.Sprintf("%+d", offset) + "." + tag + "@" + domain + ">"
}

// OutcomeRenewed is the one renewal outcome operators record (from Partner Center): the partner met
// the requirements and was re-enrolled.
const OutcomeRenewed = "renewed"

// Outcome is a recorded result of one renewal: the anniversary of a partner's specialization was
// renewed on RenewedOn, so that anniversary's later reminders are not sent.
type Outcome struct {
	PartnerID      string
	Specialization string // canonical catalog name
	Anniversary    Date
	RenewedOn      Date
	Where          string // "file: line 3" of an import, for errors
}

// RenewedReason is what a reminder cancelled by a recorded renewal records.
func RenewedReason(on Date) string { return "renewal recorded: renewed on " + on.String() }

// AnniversaryNumber returns n when d is the n-th anniversary (n ≥ 1) of a specialization attained on
// attained (R2); ok is false when d is not one of its anniversaries.
func AnniversaryNumber(attained, d Date) (n int, ok bool) {
	n = d.Year() - attained.Year()
	if n < 1 || Anniversary(attained, n).Compare(d) != 0 {
		return 0, false
	}
	return n, true
}
