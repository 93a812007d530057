// Package importer reads partner data files (JSON and CSV, DESIGN.md §6), validates every row against
// the catalog and the field rules, and merges them into one data set for the store. Any bad row fails
// the whole import with an error naming the file, the line or JSON path, and the field.
package importer

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/renewald/renewald/renewal"
)

// Limits on imported text, so hostile files cannot bloat the database or the emails.
const (
	MaxNameLen      = 256
	MaxPartnerIDLen = 64
	MaxEmailLen     = 254
	MaxRolesPerUser = 32 // roles of one user
	MaxJSONDepth    = 32 // nesting of JSON objects and arrays
	MaxWarnings     = 20 // warnings kept in a Dataset; the rest are only counted
	MaxEchoedChars  = 80 // characters of a bad value repeated in an error
)

// ErrInput marks every validation error, so callers can tell bad input from I/O failure.
var ErrInput = errors.New("invalid input")

// InputError is one bad field: where it is and what is wrong.
type InputError struct {
	File  string
	Where string // "line 12" or "partners[3].users[0]"
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	s := e.File
	if e.Where != "" {
		s += ": " + e.Where
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrInput) true.
func (e *InputError) Unwrap() error { return ErrInput }

// Dataset is the merged content of the imported files, held in memory: Files builds it, for callers
// that want the rows themselves (tests, fixtures). The import command streams into the store instead
// (Stream), so its memory does not grow with the files.
type Dataset struct {
	Partners []*renewal.Partner // in first-seen order
	Warnings []string           // kept but worth a look, e.g. unknown roles; at most MaxWarnings
	// WarningsOmitted counts the warnings beyond MaxWarnings, not kept.
	WarningsOmitted int
	Rows            int               // data rows read
	Outcomes        []renewal.Outcome // recorded renewal outcomes, checked against the store's enrollments on import
	byID            map[string]*partnerEntry
	outcomes        map[string]bool // partner|specialization|anniversary
}

type partnerEntry struct {
	p        *renewal.Partner
	users    map[string]bool // email
	enrolled map[string]bool // spec|date
	active   map[string]bool // spec (R1: at most one active enrollment)
	scores   map[string]bool // designation
}

// Importer validates files against a catalog.
type Importer struct {
	Catalog *renewal.Catalog
	// Progress, when set, is called after every data row with the number of rows read so far.
	Progress func(rows int)
}

// Files reads and merges files into memory; the format is chosen by extension (.json, .csv).
func (im Importer) Files(paths ...string) (*Dataset, error) {
	ds := newDataset()
	sum, err := im.Stream(ds, paths...)
	if err != nil {
		return nil, err
	}
	ds.Rows, ds.Warnings, ds.WarningsOmitted = sum.Rows, sum.Warnings, sum.WarningsOmitted
	return ds, nil
}

func newDataset() *Dataset {
	return &Dataset{byID: map[string]*partnerEntry{}, outcomes: map[string]bool{}}
}

// Partner implements Sink.
func (ds *Dataset) Partner(id, name string, users, scores bool) (string, error) {
	e, ok := ds.byID[id]
	if !ok {
		e = &partnerEntry{p: &renewal.Partner{ID: id, Name: name},
			users: map[string]bool{}, enrolled: map[string]bool{}, active: map[string]bool{}, scores: map[string]bool{}}
		ds.byID[id] = e
		ds.Partners = append(ds.Partners, e.p)
	}
	if e.p.Name != name {
		return e.p.Name, nil
	}
	e.p.UsersGiven = e.p.UsersGiven || users
	e.p.ScoresGiven = e.p.ScoresGiven || scores
	return name, nil
}

// User implements Sink.
func (ds *Dataset) User(partnerID string, u renewal.User) (bool, error) {
	e := ds.byID[partnerID]
	if e.users[u.Email] {
		return true, nil
	}
	e.users[u.Email] = true
	e.p.Users = append(e.p.Users, u)
	return false, nil
}

// Enrollment implements Sink.
func (ds *Dataset) Enrollment(en renewal.Enrollment) (dup, activeTaken bool, err error) {
	e := ds.byID[en.PartnerID]
	key := en.Specialization + "|" + en.AttainedOn.String()
	if e.enrolled[key] {
		return true, false, nil
	}
	if en.Status == renewal.StatusActive {
		if e.active[en.Specialization] {
			return false, true, nil
		}
		e.active[en.Specialization] = true
	}
	e.enrolled[key] = true
	e.p.Enrollments = append(e.p.Enrollments, en)
	return false, false, nil
}

// Score implements Sink.
func (ds *Dataset) Score(partnerID string, sc renewal.CapabilityScore) (bool, error) {
	e := ds.byID[partnerID]
	if e.scores[sc.Designation] {
		return true, nil
	}
	e.scores[sc.Designation] = true
	e.p.Scores = append(e.p.Scores, sc)
	return false, nil
}

// Outcome implements Sink.
func (ds *Dataset) Outcome(o renewal.Outcome) (bool, error) {
	key := o.PartnerID + "|" + o.Specialization + "|" + o.Anniversary.String()
	if ds.outcomes[key] {
		return true, nil
	}
	ds.outcomes[key] = true
	ds.Outcomes = append(ds.Outcomes, o)
	return false, nil
}

// Quote quotes a value for an error message: Go-quoted, so invisible characters show as escapes, and
// cut to MaxEchoedChars characters.
func Quote(s string) string {
	if utf8.RuneCountInString(s) <= MaxEchoedChars {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == MaxEchoedChars {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s)
}

// checkPartner validates a partner id and name, returning the trimmed name.
func checkPartner(file, where, id, name string) (string, error) {
	if err := checkPartnerID(id); err != nil {
		return "", &InputError{File: file, Where: where, Field: "partner_id", Msg: err.Error()}
	}
	if err := checkText(name, true); err != nil {
		return "", &InputError{File: file, Where: where, Field: "partner_name", Msg: err.Error()}
	}
	return strings.TrimSpace(name), nil
}

// checkUser validates one user row: the address lower-cased (IDNA domain), roles trimmed and
// de-duplicated (the first spelling kept); unknown roles are warned about and kept.
func (r *run) checkUser(file, where, email, name string, roles []string) (renewal.User, error) {
	addr, err := checkEmail(email)
	if err != nil {
		return renewal.User{}, &InputError{File: file, Where: where, Field: "email", Msg: err.Error()}
	}
	if err := checkText(name, false); err != nil {
		return renewal.User{}, &InputError{File: file, Where: where, Field: "name", Msg: err.Error()}
	}
	var clean []string
	var seen map[string]bool
	n := 0
	for _, ro := range roles {
		if strings.TrimSpace(ro) != "" {
			n++
		}
	}
	if n > MaxRolesPerUser {
		return renewal.User{}, &InputError{File: file, Where: where, Field: "roles", Msg: fmt.Sprintf("%d roles, at most %d", n, MaxRolesPerUser)}
	}
	for _, ro := range roles {
		ro = strings.TrimSpace(ro)
		if ro == "" {
			continue
		}
		if err := checkText(ro, true); err != nil {
			return renewal.User{}, &InputError{File: file, Where: where, Field: "roles", Msg: err.Error()}
		}
		if !renewal.KnownRole(ro) {
			r.warn("%s: %s: roles: unknown role %s kept as is", file, where, Quote(ro))
		}
		k := renewal.RoleKey(ro)
		if seen == nil {
			seen = map[string]bool{}
		}
		if !seen[k] {
			seen[k] = true
			clean = append(clean, ro)
		}
	}
	return renewal.User{Email: addr, Name: strings.TrimSpace(name), Roles: clean}, nil
}

// checkEnrollment validates one enrollment of a partner.
func (im Importer) checkEnrollment(file, where, partnerID, spec, attained, status string) (renewal.Enrollment, error) {
	for _, f := range []struct{ name, v string }{{"specialization", spec}, {"attained_on", attained}, {"status", status}} {
		if err := checkText(f.v, f.name != "status"); err != nil {
			return renewal.Enrollment{}, &InputError{File: file, Where: where, Field: f.name, Msg: err.Error()}
		}
	}
	s, err := im.Catalog.Lookup(spec)
	if err != nil {
		return renewal.Enrollment{}, &InputError{File: file, Where: where, Field: "specialization", Msg: shortenEcho(err.Error(), spec)}
	}
	d, err := renewal.ParseDate(strings.TrimSpace(attained))
	if err != nil {
		return renewal.Enrollment{}, &InputError{File: file, Where: where, Field: "attained_on", Msg: err.Error()}
	}
	if d.Year() < 2000 || d.Year() > 2100 {
		return renewal.Enrollment{}, &InputError{File: file, Where: where, Field: "attained_on", Msg: fmt.Sprintf("%s is outside 2000..2100", d)}
	}
	st := renewal.EnrollmentStatus(strings.ToLower(strings.TrimSpace(status)))
	if st == "" {
		st = renewal.StatusActive
	}
	if st != renewal.StatusActive && st != renewal.StatusRemoved {
		return renewal.Enrollment{}, &InputError{File: file, Where: where, Field: "status", Msg: fmt.Sprintf("%s is not active or removed", Quote(status))}
	}
	return renewal.Enrollment{PartnerID: partnerID, Specialization: s.Name, AttainedOn: d, Status: st}, nil
}

// checkOutcome validates one renewal outcome.
func (im Importer) checkOutcome(file, where, partnerID, spec, anniversary, outcome, on string) (renewal.Outcome, error) {
	if err := checkPartnerID(partnerID); err != nil {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "partner_id", Msg: err.Error()}
	}
	for _, f := range []struct{ name, v string }{{"specialization", spec}, {"anniversary_on", anniversary}, {"outcome", outcome}, {"on", on}} {
		if err := checkText(f.v, false); err != nil {
			return renewal.Outcome{}, &InputError{File: file, Where: where, Field: f.name, Msg: err.Error()}
		}
	}
	s, err := im.Catalog.Lookup(spec)
	if err != nil {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "specialization", Msg: err.Error()}
	}
	ann, err := renewal.ParseDate(strings.TrimSpace(anniversary))
	if err != nil {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "anniversary_on", Msg: err.Error()}
	}
	if o := strings.ToLower(strings.TrimSpace(outcome)); o != renewal.OutcomeRenewed {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "outcome", Msg: fmt.Sprintf("%s is not %q", Quote(outcome), renewal.OutcomeRenewed)}
	}
	d, err := renewal.ParseDate(strings.TrimSpace(on))
	if err != nil {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "on", Msg: err.Error()}
	}
	return renewal.Outcome{PartnerID: partnerID, Specialization: s.Name, Anniversary: ann, RenewedOn: d, Where: file + ": " + where}, nil
}

// shortenEcho replaces the Go-quoted value in msg (an error of another package) by Quote(value).
func shortenEcho(msg, value string) string {
	return strings.Replace(msg, strconv.Quote(value), Quote(value), 1)
}

// forbidden reports whether r may not appear in imported text: controls (Cc, C1 included), format
// characters (Cf: bidi overrides, zero-width characters) and line and paragraph separators (Zl, Zp).
func forbidden(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// CheckChars refuses text that is not valid UTF-8 or holds a forbidden character, naming it.
func CheckChars(s string) error {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if c < 0x20 || c == 0x7f {
			ascii = false // a control character: named below
			break
		}
	}
	if ascii {
		return nil // printable ASCII: the common case, checked without decoding runes
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if forbidden(r) {
			return fmt.Errorf("%s holds an invisible, control or line-breaking character (%U)", Quote(s), r)
		}
	}
	return nil
}

// checkPartnerID accepts 1..64 printable characters without spaces, "/" or "\", and not "." or "..":
// the id is one segment of the partner page's path.
func checkPartnerID(id string) error {
	if id == "" {
		return errors.New("missing")
	}
	if len(id) > MaxPartnerIDLen {
		return fmt.Errorf("longer than %d characters", MaxPartnerIDLen)
	}
	if err := CheckChars(id); err != nil {
		return err
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s holds a space or control character", Quote(id))
		}
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%s is not a partner id (it cannot be part of a page's path)", Quote(id))
	}
	if strings.ContainsAny(id, `/\`) {
		return fmt.Errorf("%s holds a / or \\ (a partner id is one segment of a page's path)", Quote(id))
	}
	return nil
}

// checkText accepts valid UTF-8 without forbidden characters, at most MaxNameLen bytes.
func checkText(s string, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return errors.New("missing")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	}
	return CheckChars(s)
}

// checkEmail accepts one bare address and returns it lower-cased, a non-ASCII domain in its IDNA
// (xn--) form.
func checkEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("missing")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("holds a line break")
	}
	if len(s) > MaxEmailLen {
		return "", fmt.Errorf("%s is not a valid email address (longer than %d bytes)", Quote(s), MaxEmailLen)
	}
	if err := CheckChars(s); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", fmt.Errorf("%s is not a valid email address", Quote(s))
	}
	addr, err := ASCIIDomain(s)
	if err != nil {
		return "", err
	}
	return strings.ToLower(addr), nil
}

// ASCIIDomain returns addr with a non-ASCII domain turned into its IDNA (xn--) form, the form that
// goes into the SMTP envelope and the headers; an ASCII domain is returned as is.
func ASCIIDomain(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at+1], addr[at+1:]
	if isASCII(domain) {
		return addr, nil
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("%s: domain %s is not a valid internationalised domain name: %v", Quote(addr), Quote(domain), err)
	}
	return local + ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
