package importer

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

var (
	usersHeader    = []string{"partner_id", "partner_name", "email", "name", "roles"}
	specsHeader    = []string{"partner_id", "partner_name", "specialization", "attained_on"}
	outcomesHeader = []string{"partner_id", "specialization", "anniversary_on", "outcome", "on"}
)

// readCSV reads one CSV file row by row, each field limited while it is read (csvLimiter).
func (r *run) readCSV(src source, br *bufio.Reader) error {
	file := src.name
	cr := csv.NewReader(newCSVLimiter(br, file))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return &InputError{File: file, Msg: "empty file"}
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return ie // a field or record past its limit
	}
	if err != nil {
		return &InputError{File: file, Where: "line 1", Msg: csvMessage(err)}
	}
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
	}
	var users, outcomes bool
	switch {
	case slices.Equal(header, usersHeader):
		users = true
	case slices.Equal(header, outcomesHeader):
		outcomes = true
	case slices.Equal(header, specsHeader), slices.Equal(header, append(slices.Clone(specsHeader), "status")):
	default:
		return &InputError{File: file, Where: "line 1", Msg: fmt.Sprintf("header %s is none of %q (users), %q[,status] (specializations) and %q (renewal outcomes)",
			Quote(strings.Join(header, ",")), strings.Join(usersHeader, ","), strings.Join(specsHeader, ","), strings.Join(outcomesHeader, ","))}
	}
	im := r.im
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if errors.As(err, &ie) {
			return ie
		}
		if err != nil {
			var pe *csv.ParseError
			where := ""
			if errors.As(err, &pe) {
				where = "line " + strconv.Itoa(pe.StartLine)
			}
			return &InputError{File: file, Where: where, Msg: csvMessage(err)}
		}
		line, _ := cr.FieldPos(0)
		where := "line " + strconv.Itoa(line)
		if len(rec) != len(header) {
			return &InputError{File: file, Where: where, Msg: fmt.Sprintf("%d fields, want %d", len(rec), len(header))}
		}
		r.row()
		if outcomes {
			// The partner and enrollment may be stored already: the store checks the anniversary.
			o, err := im.checkOutcome(file, where, strings.TrimSpace(rec[0]), rec[1], rec[2], rec[3], rec[4])
			if err != nil {
				return err
			}
			if err := r.h.outcome(file, where, o); err != nil {
				return err
			}
			continue
		}
		id := strings.TrimSpace(rec[0])
		name, err := checkPartner(file, where, id, rec[1])
		if err != nil {
			return err
		}
		if err := r.h.partner(file, where, id, name, users, false); err != nil {
			return err
		}
		if users {
			if strings.TrimSpace(rec[2]) == "" && strings.TrimSpace(rec[3]) == "" && strings.TrimSpace(rec[4]) == "" {
				// "partner_id,partner_name,,," says the partner has no users any more: its list is
				// replaced by what the file gives, which may be nothing.
				continue
			}
			u, err := r.checkUser(file, where, rec[2], rec[3], strings.Split(rec[4], ";"))
			if err != nil {
				return err
			}
			if err := r.h.user(file, where, id, u); err != nil {
				return err
			}
			continue
		}
		status := ""
		if len(rec) == 5 {
			status = rec[4]
		}
		e, err := im.checkEnrollment(file, where, id, rec[2], rec[3], status)
		if err != nil {
			return err
		}
		if err := r.h.enrollment(file, where, e); err != nil {
			return err
		}
	}
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
