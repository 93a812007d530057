package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/renewald/renewald/renewal"
)

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
	AsOf        string         `json:"as_of"` // YYYY-MM-DD, the day the scores describe; "": the import's day
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

// jsonStream is a JSON file read token by token: the top-level object and the partners array by
// the decoder's tokens, each partner decoded on its own, so memory holds one partner at a time.
type jsonStream struct {
	file string
	lim  *jsonLimiter // also counts the lines read
	dec  *json.Decoder
}

// buffered returns what the decoder has read but not consumed.
func (js *jsonStream) buffered() []byte {
	b, _ := io.ReadAll(js.dec.Buffered())
	return b
}

// line is the line of the decoder's position.
func (js *jsonStream) line() int {
	return js.lim.lines - bytes.Count(js.buffered(), []byte("\n")) + 1
}

func (js *jsonStream) fail(line int, format string, args ...any) error {
	return &InputError{File: js.file, Msg: fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)}
}

// tokenError describes an error of the decoder's Token at its position.
func (js *jsonStream) tokenError(err error) error {
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return ie // a string or number past its limit
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &InputError{File: js.file, Msg: "unexpected end of file"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return js.fail(js.line(), "%s", depthMessage(se))
	}
	return js.fail(js.line(), "%v", err)
}

// depthMessage names nesting beyond the decoder's own limit as the importer's.
func depthMessage(se *json.SyntaxError) string {
	if strings.Contains(se.Error(), "exceeded max depth") {
		return fmt.Sprintf("nested deeper than %d levels", MaxJSONDepth)
	}
	return se.Error()
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "object"
		}
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

func (r *run) readJSON(src source, br *bufio.Reader) error {
	js := &jsonStream{file: src.name, lim: &jsonLimiter{r: br, file: src.name}}
	js.dec = json.NewDecoder(js.lim)
	tok, err := js.dec.Token()
	if err == io.EOF {
		return &InputError{File: js.file, Msg: "empty file"}
	}
	if err != nil {
		return js.tokenError(err)
	}
	if tok != json.Delim('{') {
		return js.fail(js.line(), "want an object with a partners array, got %s", tokenKind(tok))
	}
	keys := map[string]bool{}
	n := 0 // partners read
	for js.dec.More() {
		tok, err := js.dec.Token()
		if err != nil {
			return js.tokenError(err)
		}
		key, _ := tok.(string)
		if keys[key] {
			return js.fail(js.line(), "key %s appears twice in one object", Quote(key))
		}
		keys[key] = true
		if !strings.EqualFold(key, "partners") {
			return js.fail(js.line(), "%s: unknown field (want partners)", pathKey(key))
		}
		tok, err = js.dec.Token()
		if err != nil {
			return js.tokenError(err)
		}
		if tok == nil {
			continue // "partners": null, no partners
		}
		if tok != json.Delim('[') {
			return js.fail(js.line(), "partners: want an array, got %s", tokenKind(tok))
		}
		for js.dec.More() {
			if err := r.jsonPartner(js, n); err != nil {
				return err
			}
			n++
		}
		if _, err := js.dec.Token(); err != nil { // ]
			return js.tokenError(err)
		}
	}
	if _, err := js.dec.Token(); err != nil { // }
		return js.tokenError(err)
	}
	if js.dec.More() {
		return &InputError{File: js.file, Msg: "trailing data after the top-level object"}
	}
	return nil
}

// jsonPartner decodes and imports the next element of the partners array.
func (r *run) jsonPartner(js *jsonStream, i int) error {
	file := js.file
	at := fmt.Sprintf("partners[%d]", i)
	var raw json.RawMessage
	if err := js.dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return js.tokenError(err)
		}
		// Decode the element again from the decoder's buffer for the error's offset in it.
		line := js.line()
		b := js.buffered()
		skip := len(b) - len(bytes.TrimLeft(b, " \t\r\n,"))
		var again json.RawMessage
		err := json.NewDecoder(bytes.NewReader(b[skip:])).Decode(&again)
		if errors.As(err, &se) && se.Offset <= int64(len(b)-skip) {
			line += bytes.Count(b[:skip+int(se.Offset)], []byte("\n"))
		}
		return js.fail(line, "%s", depthMessage(se))
	}
	startLine := func() int { return js.line() - bytes.Count(raw, []byte("\n")) }
	if off, err := checkDuplicateKeys(raw, 2); err != nil {
		return js.fail(startLine()+bytes.Count(raw[:off], []byte("\n")), "%v", err)
	}
	var jp jsonPartner
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jp); err != nil {
		return &InputError{File: file, Msg: describeJSONError(raw, startLine(), i, err)}
	}
	r.row()
	id := strings.TrimSpace(string(jp.ID))
	name, err := checkPartner(file, at, id, jp.Name)
	if err != nil {
		return err
	}
	if err := r.h.partner(file, at, id, name, jp.Users != nil, jp.Scores != nil); err != nil {
		return err
	}
	if jp.Users != nil {
		for j, u := range *jp.Users {
			where := fmt.Sprintf("%s.users[%d]", at, j)
			user, err := r.checkUser(file, where, u.Email, u.Name, u.Roles)
			if err != nil {
				return err
			}
			if err := r.h.user(file, where, id, user); err != nil {
				return err
			}
		}
	}
	for j, s := range jp.Specializations {
		where := fmt.Sprintf("%s.specializations[%d]", at, j)
		en, err := r.im.checkEnrollment(file, where, id, s.Name, s.AttainedOn, s.Status)
		if err != nil {
			return err
		}
		if err := r.h.enrollment(file, where, en); err != nil {
			return err
		}
		for k, o := range s.Renewals {
			at := fmt.Sprintf("%s.renewals[%d]", where, k)
			out, err := r.im.checkOutcome(file, at, id, en.Specialization, o.AnniversaryOn, o.Outcome, o.On)
			if err != nil {
				return err
			}
			if _, ok := renewal.AnniversaryNumber(en.AttainedOn, out.Anniversary); !ok {
				return &InputError{File: file, Where: at, Field: "anniversary_on",
					Msg: fmt.Sprintf("%s is not an anniversary of %s attained %s", out.Anniversary, en.Specialization, en.AttainedOn)}
			}
			if err := r.h.outcome(file, at, out); err != nil {
				return err
			}
		}
	}
	if jp.Scores != nil {
		for j, sc := range *jp.Scores {
			where := fmt.Sprintf("%s.capability_scores[%d]", at, j)
			score, err := r.im.checkScore(file, where, sc)
			if err != nil {
				return err
			}
			if err := r.h.score(file, where, id, score); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkScore validates the capability scores of one designation.
func (im Importer) checkScore(file, where string, sc jsonScore) (renewal.CapabilityScore, error) {
	if err := checkText(sc.Designation, true); err != nil {
		return renewal.CapabilityScore{}, &InputError{File: file, Where: where, Field: "designation", Msg: err.Error()}
	}
	for field, m := range map[string]map[string]int{"enterprise": sc.Enterprise, "smb": sc.SMB} {
		for metric := range m {
			if err := checkText(metric, true); err != nil {
				return renewal.CapabilityScore{}, &InputError{File: file, Where: where, Field: field, Msg: "metric name: " + err.Error()}
			}
		}
	}
	d, err := im.Catalog.Designation(sc.Designation)
	if err != nil {
		return renewal.CapabilityScore{}, &InputError{File: file, Where: where, Field: "designation", Msg: shortenEcho(err.Error(), sc.Designation)}
	}
	for field, m := range map[string]map[string]int{"enterprise": sc.Enterprise, "smb": sc.SMB} {
		if err := renewal.CheckMetrics(d, m); err != nil {
			return renewal.CapabilityScore{}, &InputError{File: file, Where: where, Field: field, Msg: err.Error()}
		}
	}
	score := renewal.CapabilityScore{Designation: d.Name, Enterprise: sc.Enterprise, SMB: sc.SMB}
	if sc.AsOf != "" {
		if score.AsOf, err = renewal.ParseDate(sc.AsOf); err != nil {
			return renewal.CapabilityScore{}, &InputError{File: file, Where: where, Field: "as_of", Msg: shortenEcho(err.Error(), sc.AsOf)}
		}
	}
	return score, nil
}

// describeJSONError turns the decoding error of partner i, which starts on line startLine, into one
// line with the line number and field.
func describeJSONError(raw []byte, startLine, i int, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("line %d: %v", startLine+lineOf(raw, se.Offset)-1, se)
	case errors.As(err, &te):
		field := fmt.Sprintf("partners.%d", i)
		if te.Field != "" {
			field += "." + te.Field
		}
		return fmt.Sprintf("line %d: %s: want %s, got %s", startLine+lineOf(raw, te.Offset)-1, field, te.Type, te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of file"
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			w := &fieldWalker{dec: json.NewDecoder(bytes.NewReader(raw)), name: n}
			if w.value(reflect.TypeFor[jsonPartner](), fmt.Sprintf("partners[%d]", i)) {
				return fmt.Sprintf("line %d: %s: unknown field (want %s)", startLine+lineOf(raw, w.offset)-1, w.path, w.want)
			}
			return "unknown field " + Quote(n)
		}
	}
	return msg
}

// fieldWalker finds the key an unknown-field error of encoding/json names: the first key, in the
// order written, that is named so and that no field of the Go type at its place takes.
type fieldWalker struct {
	dec    *json.Decoder
	name   string
	path   string // of the key found, as other errors write it: partners[3].users[0].emial
	offset int64  // just after it
	want   string // the keys its object takes
}

// value walks the next value, of Go type t (nil: not checked), at path; true when the key is found.
func (w *fieldWalker) value(t reflect.Type, path string) bool {
	tok, err := w.dec.Token()
	if err != nil {
		return false
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return false
			}
			key, _ := tok.(string)
			kpath := path + "." + pathKey(key)
			var vt reflect.Type
			switch {
			case t == nil:
			case t.Kind() == reflect.Map:
				vt = t.Elem()
			case t.Kind() == reflect.Struct:
				f, ok := jsonField(t, key)
				if !ok && key == w.name {
					w.path, w.offset, w.want = kpath, w.dec.InputOffset(), jsonFieldNames(t)
					return true
				}
				vt = f
			}
			if w.value(vt, kpath) {
				return true
			}
		}
	case json.Delim('['):
		var et reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			et = t.Elem()
		}
		for k := 0; w.dec.More(); k++ {
			if w.value(et, fmt.Sprintf("%s[%d]", path, k)) {
				return true
			}
		}
	default:
		return false
	}
	w.dec.Token() // } or ]
	return false
}

// jsonField returns the type of the field of struct t that takes key, matched as encoding/json
// matches (the tag's name, case folded).
func jsonField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if strings.EqualFold(name, key) {
			return t.Field(i).Type, true
		}
	}
	return nil, false
}

// jsonFieldNames lists the keys struct t takes: "a, b or c".
func jsonFieldNames(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func lineOf(data []byte, offset int64) int {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// checkDuplicateKeys walks the JSON tokens of one value nested depth levels deep and fails on an
// object key given twice, which encoding/json would otherwise resolve silently to the last value,
// and on nesting deeper than MaxJSONDepth (so a file of nested objects costs no more than its
// size). It returns the offset in data where it failed.
func checkDuplicateKeys(data []byte, depth int) (int, error) {
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
			return 0, nil
		}
		if err != nil {
			return 0, nil // syntax errors are reported by the real decode, with a line
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return int(dec.InputOffset()), fmt.Errorf("key %s appears twice in one object", Quote(k))
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && depth+len(stack) >= MaxJSONDepth {
			return int(dec.InputOffset()), fmt.Errorf("nested deeper than %d levels", MaxJSONDepth)
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
