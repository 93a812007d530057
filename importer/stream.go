package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/renewald/renewald/renewal"
)

// Sink receives the validated rows of an import in file order and remembers what it has seen, so
// rows that contradict each other are found across files without the importer holding them: the
// in-memory Dataset is one, the store's streaming import (a staging table per key, in the import's
// transaction) is another. Each method reports a conflict with an earlier row of the same import;
// the importer then finds that row again (a second read of the files, on the error path only) and
// names both places in its error. An error returned by a Sink stops the import.
type Sink interface {
	// Partner is called for every row that names a partner, before the row itself; users and scores
	// say that the row gives the partner's user list or capability scores (which then replace the
	// stored ones). It returns the name the partner was first given in this import: another name than
	// name is a conflict.
	Partner(id, name string, users, scores bool) (firstName string, err error)
	// User reports a user (partner, email) already given in this import.
	User(partnerID string, u renewal.User) (dup bool, err error)
	// Enrollment reports an enrollment (partner, specialization, attained_on) already given, or, for an
	// active one, another active enrollment of the same partner and specialization (R1).
	Enrollment(e renewal.Enrollment) (dup, activeTaken bool, err error)
	// Score reports capability scores of a designation already given for the partner.
	Score(partnerID string, sc renewal.CapabilityScore) (dup bool, err error)
	// Outcome reports an outcome of the same partner, specialization and anniversary already given.
	Outcome(o renewal.Outcome) (dup bool, err error)
}

// Summary is what a streamed import read.
type Summary struct {
	Rows     int      // data rows read (CSV lines, JSON partners)
	Warnings []string // at most MaxWarnings
	// WarningsOmitted counts the warnings beyond MaxWarnings, not kept.
	WarningsOmitted int
}

// source is one input file: reopened to find an earlier row or a line number for an error.
type source struct {
	name string
	open func() (io.ReadCloser, error)
}

func bytesSource(name string, data []byte) source {
	return source{name: name, open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func fileSource(path string) source {
	return source{name: path, open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// Stream reads files in order (the format chosen by extension, .json or .csv), validates every row
// and hands it to sink as it is read: memory does not grow with the files. The first bad row, or
// conflict between rows, stops it with an *InputError naming the file, line or JSON path, and field.
func (im Importer) Stream(sink Sink, paths ...string) (*Summary, error) {
	files := make([]source, len(paths))
	for i, p := range paths {
		files[i] = fileSource(p)
	}
	return im.stream(sink, files)
}

func (im Importer) stream(sink Sink, files []source) (*Summary, error) {
	r := &run{im: im, files: files, sum: &Summary{}}
	r.h = &checker{r: r, sink: sink}
	for _, f := range files {
		if err := r.read(f); err != nil {
			return nil, err
		}
	}
	return r.sum, nil
}

// run is one pass over the files: the import itself (checker) or a search for an earlier row
// (locator).
type run struct {
	im       Importer
	files    []source
	sum      *Summary
	h        handler
	locating bool
}

// handler takes the validated rows of a pass.
type handler interface {
	partner(file, where, id, name string, users, scores bool) error
	user(file, where, partnerID string, u renewal.User) error
	enrollment(file, where string, e renewal.Enrollment) error
	score(file, where, partnerID string, sc renewal.CapabilityScore) error
	outcome(file, where string, o renewal.Outcome) error
}

func (r *run) read(f source) error {
	var ext string
	switch strings.ToLower(filepath.Ext(f.name)) {
	case ".json":
		ext = "json"
	case ".csv":
		ext = "csv"
	default:
		return &InputError{File: f.name, Msg: "unknown file type (want .json or .csv)"}
	}
	rc, err := f.open()
	if err != nil {
		return fmt.Errorf("read %s: %w", f.name, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 256<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3) // a byte-order mark, as spreadsheets and some editors write
	}
	if ext == "json" {
		return r.readJSON(f, br)
	}
	return r.readCSV(f, br)
}

// row counts a data row.
func (r *run) row() {
	if r.locating {
		return
	}
	r.sum.Rows++
	if r.im.Progress != nil {
		r.im.Progress(r.sum.Rows)
	}
}

// warn records a warning, keeping at most MaxWarnings.
func (r *run) warn(format string, args ...any) {
	if r.locating {
		return
	}
	if len(r.sum.Warnings) >= MaxWarnings {
		r.sum.WarningsOmitted++
		return
	}
	r.sum.Warnings = append(r.sum.Warnings, fmt.Sprintf(format, args...))
}

// errFound stops a locating pass at the row it looks for.
var errFound = errors.New("found")

// locate reads the files again from the start and returns "file: where" of the first row that match
// accepts.
func (r *run) locate(match func(kind string, partnerID string, v any) bool) string {
	l := &locator{match: match}
	again := &run{im: Importer{Catalog: r.im.Catalog}, files: r.files, sum: &Summary{}, h: l, locating: true}
	for _, f := range r.files {
		if err := again.read(f); err != nil {
			if errors.Is(err, errFound) {
				return l.at
			}
			break
		}
	}
	return "an earlier row"
}

type locator struct {
	match func(kind string, partnerID string, v any) bool
	at    string
}

func (l *locator) hit(file, where, kind, partnerID string, v any) error {
	if l.match(kind, partnerID, v) {
		l.at = file + ": " + where
		return errFound
	}
	return nil
}

func (l *locator) partner(file, where, id, _ string, _, _ bool) error {
	return l.hit(file, where, "partner", id, nil)
}
func (l *locator) user(file, where, partnerID string, u renewal.User) error {
	return l.hit(file, where, "user", partnerID, u)
}
func (l *locator) enrollment(file, where string, e renewal.Enrollment) error {
	return l.hit(file, where, "enrollment", e.PartnerID, e)
}
func (l *locator) score(file, where, partnerID string, sc renewal.CapabilityScore) error {
	return l.hit(file, where, "score", partnerID, sc)
}
func (l *locator) outcome(file, where string, o renewal.Outcome) error {
	return l.hit(file, where, "outcome", o.PartnerID, o)
}

// checker hands rows to the Sink and turns its conflicts into input errors naming both rows.
type checker struct {
	r    *run
	sink Sink
}

func sinkError(file, where string, err error) error {
	return fmt.Errorf("%s: %s: %w", file, where, err)
}

func (c *checker) partner(file, where, id, name string, users, scores bool) error {
	first, err := c.sink.Partner(id, name, users, scores)
	if err != nil {
		return sinkError(file, where, err)
	}
	if first != name {
		at := c.r.locate(func(kind, pid string, _ any) bool { return kind == "partner" && pid == id })
		return &InputError{File: file, Where: where, Field: "partner_name",
			Msg: fmt.Sprintf("partner %s is named %s here but %s at %s", id, Quote(name), Quote(first), at)}
	}
	return nil
}

func (c *checker) user(file, where, partnerID string, u renewal.User) error {
	dup, err := c.sink.User(partnerID, u)
	if err != nil {
		return sinkError(file, where, err)
	}
	if dup {
		first := c.r.locate(func(kind, pid string, v any) bool {
			return kind == "user" && pid == partnerID && v.(renewal.User).Email == u.Email
		})
		return &InputError{File: file, Where: where, Field: "email",
			Msg: fmt.Sprintf("duplicate user %s of partner %s (first at %s)", u.Email, partnerID, first)}
	}
	return nil
}

func (c *checker) enrollment(file, where string, e renewal.Enrollment) error {
	dup, taken, err := c.sink.Enrollment(e)
	if err != nil {
		return sinkError(file, where, err)
	}
	switch {
	case dup:
		first := c.r.locate(func(kind, pid string, v any) bool {
			o, ok := v.(renewal.Enrollment)
			return kind == "enrollment" && ok && pid == e.PartnerID && o.Specialization == e.Specialization && o.AttainedOn == e.AttainedOn
		})
		return &InputError{File: file, Where: where, Field: "specialization",
			Msg: fmt.Sprintf("duplicate enrollment %s attained %s for partner %s (first at %s)", e.Specialization, e.AttainedOn, e.PartnerID, first)}
	case taken:
		first := c.r.locate(func(kind, pid string, v any) bool {
			o, ok := v.(renewal.Enrollment)
			return kind == "enrollment" && ok && pid == e.PartnerID && o.Specialization == e.Specialization && o.Status == renewal.StatusActive
		})
		return &InputError{File: file, Where: where, Field: "attained_on",
			Msg: fmt.Sprintf("partner %s already holds %s, active from another attainment date at %s (a partner holds a specialization once; mark the old one removed)", e.PartnerID, e.Specialization, first)}
	}
	return nil
}

func (c *checker) score(file, where, partnerID string, sc renewal.CapabilityScore) error {
	dup, err := c.sink.Score(partnerID, sc)
	if err != nil {
		return sinkError(file, where, err)
	}
	if dup {
		first := c.r.locate(func(kind, pid string, v any) bool {
			return kind == "score" && pid == partnerID && v.(renewal.CapabilityScore).Designation == sc.Designation
		})
		return &InputError{File: file, Where: where, Field: "designation", Msg: fmt.Sprintf("duplicate scores for %s (first at %s)", sc.Designation, first)}
	}
	return nil
}

func (c *checker) outcome(file, where string, o renewal.Outcome) error {
	dup, err := c.sink.Outcome(o)
	if err != nil {
		return sinkError(file, where, err)
	}
	if dup {
		first := c.r.locate(func(kind, pid string, v any) bool {
			x, ok := v.(renewal.Outcome)
			return kind == "outcome" && ok && pid == o.PartnerID && x.Specialization == o.Specialization && x.Anniversary == o.Anniversary
		})
		return &InputError{File: file, Where: where, Field: "anniversary_on",
			Msg: fmt.Sprintf("duplicate outcome for %s of partner %s on %s (first at %s)", o.Specialization, o.PartnerID, o.Anniversary, first)}
	}
	return nil
}
