package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

var (
	usersHeader    = []string{"partner_id", "partner_name", "email", "name", "roles"}
	specsHeader    = []string{"partner_id", "partner_name", "specialization", "attained_on"}
	outcomesHeader = []string{"partner_id", "specialization", "anniversary_on", "outcome", "on"}
)

func (im Importer) readCSV(ds *Dataset, file string, data []byte) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a byte-order mark from spreadsheet exports
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return &InputError{File: file, Msg: "empty file"}
	}
	if err != nil {
		return &InputError{File: file, Where: "line 1", Msg: csvMessage(err)}
	}
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
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			where := ""
			if errors.As(err, &pe) {
				where = fmt.Sprintf("line %d", pe.StartLine)
			}
			return &InputError{File: file, Where: where, Msg: csvMessage(err)}
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("line %d", line)
		if len(rec) != len(header) {
			return &InputError{File: file, Where: where, Msg: fmt.Sprintf("%d fields, want %d", len(rec), len(header))}
		}
		ds.Rows++
		if outcomes {
			// The partner and enrollment may be stored already: the store checks the anniversary.
			if _, err := im.outcome(ds, file, where, strings.TrimSpace(rec[0]), rec[1], rec[2], rec[3], rec[4]); err != nil {
				return err
			}
			continue
		}
		e, err := ds.partner(file, where, strings.TrimSpace(rec[0]), rec[1])
		if err != nil {
			return err
		}
		if users {
			if strings.TrimSpace(rec[2]) == "" && strings.TrimSpace(rec[3]) == "" && strings.TrimSpace(rec[4]) == "" {
				// "partner_id,partner_name,,," says the partner has no users any more: its list is
				// replaced by what the file gives, which may be nothing.
				e.p.UsersGiven = true
				continue
			}
			if err := im.addUser(ds, e, file, where, rec[2], rec[3], strings.Split(rec[4], ";")); err != nil {
				return err
			}
			continue
		}
		status := ""
		if len(rec) == 5 {
			status = rec[4]
		}
		if err := im.addEnrollment(e, file, where, rec[2], rec[3], status); err != nil {
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
