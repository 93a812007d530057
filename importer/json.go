package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/renewald/renewald/renewal"
)

type jsonFile struct {
	Partners []jsonPartner `json:"partners"`
}

type jsonPartner struct {
	ID              flexString       `json:"id"`
	Name            string           `json:"name"`
	Users           *[]jsonUser      `json:"users"`
	Specializations []jsonEnrollment `json:"specializations"`
	Scores          *[]jsonScore     `json:"capability_scores"`
}

type jsonUser struct {
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

type jsonEnrollment struct {
	Name       string        `json:"name"`
	AttainedOn string        `json:"attained_on"`
	Status     string        `json:"status"`
	Renewals   []jsonOutcome `json:"renewals"`
}

type jsonOutcome struct {
	AnniversaryOn string `json:"anniversary_on"`
	Outcome       string `json:"outcome"`
	On            string `json:"on"`
}

type jsonScore struct {
	Designation string         `json:"designation"`
	Enterprise  map[string]int `json:"enterprise"`
	SMB         map[string]int `json:"smb"`
}

// flexString accepts a JSON string or number (partner ids are often written as numbers).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
		return fmt.Errorf("want a string or a whole number, got %s", Quote(string(b)))
	}
	*f = flexString(b)
	return nil
}

func (im Importer) readJSON(ds *Dataset, file string, data []byte) error {
	if err := checkDuplicateKeys(data); err != nil {
		return &InputError{File: file, Msg: err.Error()}
	}
	var doc jsonFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return &InputError{File: file, Msg: describeJSONError(data, err)}
	}
	if dec.More() {
		return &InputError{File: file, Msg: "trailing data after the top-level object"}
	}
	for i, jp := range doc.Partners {
		at := fmt.Sprintf("partners[%d]", i)
		ds.Rows++
		e, err := ds.partner(file, at, strings.TrimSpace(string(jp.ID)), jp.Name)
		if err != nil {
			return err
		}
		if jp.Users != nil {
			e.p.UsersGiven = true
			for j, u := range *jp.Users {
				if err := im.addUser(ds, e, file, fmt.Sprintf("%s.users[%d]", at, j), u.Email, u.Name, u.Roles); err != nil {
					return err
				}
			}
		}
		for j, s := range jp.Specializations {
			where := fmt.Sprintf("%s.specializations[%d]", at, j)
			if err := im.addEnrollment(e, file, where, s.Name, s.AttainedOn, s.Status); err != nil {
				return err
			}
			en := e.p.Enrollments[len(e.p.Enrollments)-1]
			for k, o := range s.Renewals {
				at := fmt.Sprintf("%s.renewals[%d]", where, k)
				out, err := im.outcome(ds, file, at, e.p.ID, en.Specialization, o.AnniversaryOn, o.Outcome, o.On)
				if err != nil {
					return err
				}
				if _, ok := renewal.AnniversaryNumber(en.AttainedOn, out.Anniversary); !ok {
					return &InputError{File: file, Where: at, Field: "anniversary_on",
						Msg: fmt.Sprintf("%s is not an anniversary of %s attained %s", out.Anniversary, en.Specialization, en.AttainedOn)}
				}
			}
		}
		if jp.Scores != nil {
			e.p.ScoresGiven = true
			for j, sc := range *jp.Scores {
				if err := im.addScore(e, file, fmt.Sprintf("%s.capability_scores[%d]", at, j), sc); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (im Importer) addScore(e *partnerEntry, file, where string, sc jsonScore) error {
	if err := checkText(sc.Designation, true); err != nil {
		return &InputError{File: file, Where: where, Field: "designation", Msg: err.Error()}
	}
	for field, m := range map[string]map[string]int{"enterprise": sc.Enterprise, "smb": sc.SMB} {
		for metric := range m {
			if err := checkText(metric, true); err != nil {
				return &InputError{File: file, Where: where, Field: field, Msg: "metric name: " + err.Error()}
			}
		}
	}
	d, err := im.Catalog.Designation(sc.Designation)
	if err != nil {
		return &InputError{File: file, Where: where, Field: "designation", Msg: shortenEcho(err.Error(), sc.Designation)}
	}
	if first, dup := e.scores[d.Name]; dup {
		return &InputError{File: file, Where: where, Field: "designation", Msg: fmt.Sprintf("duplicate scores for %s (first at %s)", d.Name, first)}
	}
	for field, m := range map[string]map[string]int{"enterprise": sc.Enterprise, "smb": sc.SMB} {
		if err := renewal.CheckMetrics(d, m); err != nil {
			return &InputError{File: file, Where: where, Field: field, Msg: err.Error()}
		}
	}
	e.scores[d.Name] = file + ": " + where
	e.p.Scores = append(e.p.Scores, renewal.CapabilityScore{Designation: d.Name, Enterprise: sc.Enterprise, SMB: sc.SMB})
	return nil
}

// describeJSONError turns a decoding error into one line with the line number and field.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("line %d: %v", lineOf(data, se.Offset), se)
	case errors.As(err, &te):
		return fmt.Sprintf("line %d: %s: want %s, got %s", lineOf(data, te.Offset), te.Field, te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return "empty file"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of file"
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			return "unknown field " + Quote(n)
		}
	}
	return msg
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// checkDuplicateKeys walks the JSON tokens and fails on an object key given twice, which
// encoding/json would otherwise resolve silently to the last value, and on nesting deeper than
// MaxJSONDepth (so a file of nested objects costs no more than its size).
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys   map[string]bool
		object bool
		expect bool // object: the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // syntax errors are reported by the real decode, with a line
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return fmt.Errorf("line %d: key %s appears twice in one object", lineOf(data, dec.InputOffset()), Quote(k))
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && len(stack) >= MaxJSONDepth {
			return fmt.Errorf("line %d: nested deeper than %d levels", lineOf(data, dec.InputOffset()), MaxJSONDepth)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, object: true, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}
