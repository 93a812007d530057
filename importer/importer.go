// Package importer reads partner data files (JSON and CSV, DESIGN.md §6), validates every row against
// the catalog and the field rules, and merges them into one data set for the store. Any bad row fails
// the whole import with an error naming the file, the line or JSON path, and the field.
package importer

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
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

// Dataset is the merged content of the imported files.
type Dataset struct {
	Partners []*renewal.Partner // in first-seen order
	Warnings []string           // kept but worth a look, e.g. unknown roles; at most MaxWarnings
	// WarningsOmitted counts the warnings beyond MaxWarnings, not kept.
	WarningsOmitted int
	Rows            int               // data rows read
	Outcomes        []renewal.Outcome // recorded renewal outcomes, checked against the store's enrollments on import
	byID            map[string]*partnerEntry
	outcomes        map[string]string // partner|specialization|anniversary → where first seen
}

type partnerEntry struct {
	p        *renewal.Partner
	nameAt   string
	users    map[string]string // email → where first seen
	enrolled map[string]string // spec|date → where first seen
	active   map[string]string // spec → where its active enrollment is (R1: at most one)
	scores   map[string]string // designation → where first seen
}

// Importer validates files against a catalog.
type Importer struct {
	Catalog *renewal.Catalog
}

// Files reads and merges files; the format is chosen by extension (.json, .csv).
func (im Importer) Files(paths ...string) (*Dataset, error) {
	ds := &Dataset{byID: map[string]*partnerEntry{}, outcomes: map[string]string{}}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json":
			err = im.readJSON(ds, p, data)
		case ".csv":
			err = im.readCSV(ds, p, data)
		default:
			err = &InputError{File: p, Msg: "unknown file type (want .json or .csv)"}
		}
		if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// partner returns the entry for id, checking the name agrees with earlier rows.
func (ds *Dataset) partner(file, where, id, name string) (*partnerEntry, error) {
	if err := checkPartnerID(id); err != nil {
		return nil, &InputError{File: file, Where: where, Field: "partner_id", Msg: err.Error()}
	}
	if err := checkText(name, true); err != nil {
		return nil, &InputError{File: file, Where: where, Field: "partner_name", Msg: err.Error()}
	}
	name = strings.TrimSpace(name)
	at := file + ": " + where
	e, ok := ds.byID[id]
	if !ok {
		e = &partnerEntry{p: &renewal.Partner{ID: id, Name: name}, nameAt: at,
			users: map[string]string{}, enrolled: map[string]string{}, active: map[string]string{}, scores: map[string]string{}}
		ds.byID[id] = e
		ds.Partners = append(ds.Partners, e.p)
		return e, nil
	}
	if e.p.Name != name {
		return nil, &InputError{File: file, Where: where, Field: "partner_name",
			Msg: fmt.Sprintf("partner %s is named %s here but %s at %s", id, Quote(name), Quote(e.p.Name), e.nameAt)}
	}
	return e, nil
}

// warn records a warning, keeping at most MaxWarnings.
func (ds *Dataset) warn(format string, args ...any) {
	if len(ds.Warnings) >= MaxWarnings {
		ds.WarningsOmitted++
		return
	}
	ds.Warnings = append(ds.Warnings, fmt.Sprintf(format, args...))
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

func (im Importer) addUser(ds *Dataset, e *partnerEntry, file, where, email, name string, roles []string) error {
	addr, err := checkEmail(email)
	if err != nil {
		return &InputError{File: file, Where: where, Field: "email", Msg: err.Error()}
	}
	if err := checkText(name, false); err != nil {
		return &InputError{File: file, Where: where, Field: "name", Msg: err.Error()}
	}
	if first, dup := e.users[addr]; dup {
		return &InputError{File: file, Where: where, Field: "email",
			Msg: fmt.Sprintf("duplicate user %s of partner %s (first at %s)", addr, e.p.ID, first)}
	}
	var clean []string
	seen := map[string]bool{}
	n := 0
	for _, r := range roles {
		if strings.TrimSpace(r) != "" {
			n++
		}
	}
	if n > MaxRolesPerUser {
		return &InputError{File: file, Where: where, Field: "roles", Msg: fmt.Sprintf("%d roles, at most %d", n, MaxRolesPerUser)}
	}
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if err := checkText(r, true); err != nil {
			return &InputError{File: file, Where: where, Field: "roles", Msg: err.Error()}
		}
		if !renewal.KnownRole(r) {
			ds.warn("%s: %s: roles: unknown role %s kept as is", file, where, Quote(r))
		}
		if k := renewal.RoleKey(r); !seen[k] {
			seen[k] = true
			clean = append(clean, r)
		}
	}
	e.users[addr] = file + ": " + where
	e.p.UsersGiven = true
	e.p.Users = append(e.p.Users, renewal.User{Email: addr, Name: strings.TrimSpace(name), Roles: clean})
	return nil
}

func (im Importer) addEnrollment(e *partnerEntry, file, where, spec, attained, status string) error {
	for _, f := range []struct{ name, v string }{{"specialization", spec}, {"attained_on", attained}, {"status", status}} {
		if err := checkText(f.v, f.name != "status"); err != nil {
			return &InputError{File: file, Where: where, Field: f.name, Msg: err.Error()}
		}
	}
	s, err := im.Catalog.Lookup(spec)
	if err != nil {
		return &InputError{File: file, Where: where, Field: "specialization", Msg: shortenEcho(err.Error(), spec)}
	}
	d, err := renewal.ParseDate(strings.TrimSpace(attained))
	if err != nil {
		return &InputError{File: file, Where: where, Field: "attained_on", Msg: err.Error()}
	}
	if d.Year() < 2000 || d.Year() > 2100 {
		return &InputError{File: file, Where: where, Field: "attained_on", Msg: fmt.Sprintf("%s is outside 2000..2100", d)}
	}
	st := renewal.EnrollmentStatus(strings.ToLower(strings.TrimSpace(status)))
	if st == "" {
		st = renewal.StatusActive
	}
	if st != renewal.StatusActive && st != renewal.StatusRemoved {
		return &InputError{File: file, Where: where, Field: "status", Msg: fmt.Sprintf("%s is not active or removed", Quote(status))}
	}
	key := s.Name + "|" + d.String()
	if first, dup := e.enrolled[key]; dup {
		return &InputError{File: file, Where: where, Field: "specialization",
			Msg: fmt.Sprintf("duplicate enrollment %s attained %s for partner %s (first at %s)", s.Name, d, e.p.ID, first)}
	}
	if st == renewal.StatusActive {
		if first, dup := e.active[s.Name]; dup {
			return &InputError{File: file, Where: where, Field: "attained_on",
				Msg: fmt.Sprintf("partner %s already holds %s, active from another attainment date at %s (a partner holds a specialization once; mark the old one removed)", e.p.ID, s.Name, first)}
		}
		e.active[s.Name] = file + ": " + where
	}
	e.enrolled[key] = file + ": " + where
	e.p.Enrollments = append(e.p.Enrollments, renewal.Enrollment{PartnerID: e.p.ID, Specialization: s.Name, AttainedOn: d, Status: st})
	return nil
}

// outcome validates one renewal outcome and adds it to the data set.
func (im Importer) outcome(ds *Dataset, file, where, partnerID, spec, anniversary, outcome, on string) (renewal.Outcome, error) {
	if err := checkPartnerID(partnerID); err != nil {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "partner_id", Msg: err.Error()}
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
	key := partnerID + "|" + s.Name + "|" + ann.String()
	if first, dup := ds.outcomes[key]; dup {
		return renewal.Outcome{}, &InputError{File: file, Where: where, Field: "anniversary_on",
			Msg: fmt.Sprintf("duplicate outcome for %s of partner %s on %s (first at %s)", s.Name, partnerID, ann, first)}
	}
	ds.outcomes[key] = file + ": " + where
	o := renewal.Outcome{PartnerID: partnerID, Specialization: s.Name, Anniversary: ann, RenewedOn: d, Where: file + ": " + where}
	ds.Outcomes = append(ds.Outcomes, o)
	return o, nil
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

// checkPartnerID accepts 1..64 printable characters without spaces.
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
