package importer

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxFieldBytes bounds one field as written in a file, quotes and escapes included: a CSV field (the
// roles field: MaxRolesPerUser times as much) or a JSON string, key or number. The limiters below
// refuse a longer one while reading it, so a file's longest field costs at most this much memory;
// the value itself is then held to its own, smaller limit (MaxNameLen, MaxPartnerIDLen, MaxEmailLen).
// 2 KiB leaves room for a MaxNameLen value written with every character escaped (\u00e9: 6 bytes).
const MaxFieldBytes = 2 << 10

// csvMaxColumns bounds the fields of a CSV header.
const csvMaxColumns = 64

// csvLimiter passes a CSV file through to encoding/csv (which reads a whole record into memory)
// and fails as soon as a field passes its limit or a record has more fields than the header. It
// follows the quoting of encoding/csv: a field starting with a quote runs to the closing quote,
// line breaks and doubled quotes included. It reads the header itself, before any record after it,
// to know each column's name and limit.
type csvLimiter struct {
	r    io.Reader
	file string
	err  *InputError

	line    int // the line being read
	recLine int // the line where the record being read starts
	col     int // its field being read
	n       int // bytes of that field so far
	state   int

	header  []byte   // the header record as written, until it ends
	names   []string // the header's names, once read
	limits  []int    // per column, once the header is read
	maxCols int
}

const (
	csvFieldStart = iota
	csvUnquoted
	csvQuoted
	csvQuoteSeen // a quote inside a quoted field: closing, or the first of two
)

func newCSVLimiter(r io.Reader, file string) *csvLimiter {
	return &csvLimiter{r: r, file: file, line: 1, recLine: 1, maxCols: csvMaxColumns}
}

// endHeader reads the names of the header just ended: the records after it have as many fields,
// each at most MaxFieldBytes, roles MaxRolesPerUser times as much. A header that does not parse is
// left to encoding/csv to refuse.
func (l *csvLimiter) endHeader() {
	if len(bytes.TrimRight(l.header, "\r\n")) == 0 {
		l.header = l.header[:0] // a blank line before the header, skipped as encoding/csv does
		return
	}
	names, err := csv.NewReader(bytes.NewReader(l.header)).Read()
	l.header = nil
	l.names = []string{}
	if err != nil {
		return
	}
	l.names, l.maxCols = names, len(names)
	l.limits = make([]int, len(names))
	for i, n := range names {
		l.names[i] = strings.ToLower(strings.TrimSpace(n))
		l.limits[i] = MaxFieldBytes
		if l.names[i] == "roles" {
			l.limits[i] = MaxRolesPerUser * MaxFieldBytes
		}
	}
}

func (l *csvLimiter) limit(col int) int {
	if l.limits == nil {
		return MaxFieldBytes
	}
	return l.limits[col]
}

func (l *csvLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if l.names != nil && (l.state == csvUnquoted || l.state == csvQuoted) {
			// The common case first: ordinary bytes of a field, counted without stepping.
			k := i
			if l.state == csvUnquoted {
				for k < n && p[k] != ',' && p[k] != '\n' {
					k++
				}
			} else {
				for k < n && p[k] != '"' && p[k] != '\n' {
					k++
				}
			}
			if l.n += k - i; l.n > l.limit(l.col) {
				l.fail(fmt.Sprintf("longer than %d bytes as written", l.limit(l.col)))
				return i, l.err
			}
			if i = k; i == n {
				break
			}
		}
		if l.names == nil {
			l.header = append(l.header, p[i])
		}
		if !l.step(p[i]) {
			return i, l.err
		}
	}
	return n, err
}

// step takes one byte; false means the file is refused (l.err).
func (l *csvLimiter) step(c byte) bool {
	if c == '\n' {
		l.line++
	}
	switch l.state {
	case csvFieldStart:
		switch c {
		case ',':
			return l.nextField()
		case '\n':
			l.endRecord()
			return true
		case '"':
			l.state = csvQuoted
		default:
			l.state = csvUnquoted
		}
	case csvUnquoted:
		switch c {
		case ',':
			return l.nextField()
		case '\n':
			l.endRecord()
			return true
		}
	case csvQuoted:
		if c == '"' {
			l.state = csvQuoteSeen
		}
	case csvQuoteSeen:
		switch c {
		case '"':
			l.state = csvQuoted
		case ',':
			return l.nextField()
		case '\n':
			l.endRecord()
			return true
		default:
			l.state = csvUnquoted // encoding/csv refuses this: "extraneous or missing \" in quoted-field"
		}
	}
	l.n++
	if l.n > l.limit(l.col) {
		l.fail(fmt.Sprintf("longer than %d bytes as written", l.limit(l.col)))
		return false
	}
	return true
}

func (l *csvLimiter) nextField() bool {
	l.col++
	l.n, l.state = 0, csvFieldStart
	if l.col >= l.maxCols {
		msg := fmt.Sprintf("more than %d fields", l.maxCols)
		if l.names == nil {
			msg = "header: " + msg
		}
		l.err = &InputError{File: l.file, Where: "line " + strconv.Itoa(l.recLine), Msg: msg}
		return false
	}
	return true
}

func (l *csvLimiter) endRecord() {
	if l.names == nil {
		l.endHeader()
	}
	l.col, l.n, l.state = 0, 0, csvFieldStart
	l.recLine = l.line
}

func (l *csvLimiter) fail(msg string) {
	where := "line " + strconv.Itoa(l.recLine)
	switch {
	case l.names == nil:
		l.err = &InputError{File: l.file, Where: where, Msg: "header: " + msg}
	case l.col < len(l.names):
		l.err = &InputError{File: l.file, Where: where, Field: l.names[l.col], Msg: msg}
	default:
		l.err = &InputError{File: l.file, Where: where, Msg: msg}
	}
}

// jsonLimiter passes a JSON file through to encoding/json (whose decoder holds a whole token, and
// the importer a whole partner, in memory) and fails as soon as a string, key or number passes
// MaxFieldBytes, naming the line and the path of the field as far as it has read. It also counts
// the lines read, for the line numbers of other errors.
type jsonLimiter struct {
	r     io.Reader
	file  string
	err   *InputError
	lines int // line breaks read

	state int
	n     int          // bytes of the string or number being read
	key   bool         // the string being read is an object's key
	stack []*jsonFrame // the containers around the position, up to MaxJSONDepth+1 deep
	depth int          // their number, also beyond the stack
	spare []*jsonFrame // frames popped, reused
}

// jsonFrame is an object or array around the position: an object's key being read or last read, an
// array's index.
type jsonFrame struct {
	object    bool
	expectKey bool
	key       []byte // as written, escapes included, at most MaxFieldBytes
	index     int
}

const (
	jsonOutside = iota
	jsonString
	jsonEscape
	jsonScalar
)

func (l *jsonLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if l.state == jsonString || l.state == jsonScalar {
			// The common case first: ordinary bytes of a string or number, counted without stepping.
			k := i
			if l.state == jsonString {
				for k < n && p[k] != '"' && p[k] != '\\' && p[k] != '\n' {
					k++
				}
			} else {
				for k < n && !isJSONDelimiter(p[k]) {
					k++
				}
			}
			if l.key {
				top := l.top()
				top.key = append(top.key, p[i:min(k, i+MaxFieldBytes-l.n)]...)
			}
			if l.n += k - i; l.n > MaxFieldBytes {
				l.fail()
				return i, l.err
			}
			if i = k; i == n {
				break
			}
		}
		if p[i] == '\n' {
			l.lines++
		}
		if !l.step(p[i]) {
			return i, l.err
		}
	}
	return n, err
}

func (l *jsonLimiter) top() *jsonFrame {
	if l.depth == 0 || l.depth > len(l.stack) {
		return nil
	}
	return l.stack[l.depth-1]
}

func (l *jsonLimiter) step(c byte) bool {
	switch l.state {
	case jsonString:
		switch c {
		case '"':
			l.state, l.key = jsonOutside, false
			return true
		case '\\':
			l.state = jsonEscape
		}
		return l.grow(c)
	case jsonEscape:
		l.state = jsonString
		return l.grow(c)
	case jsonScalar:
		if !isJSONDelimiter(c) {
			return l.grow(c)
		}
		l.state = jsonOutside
	}
	switch c {
	case ' ', '\t', '\r', '\n':
	case '"':
		l.state, l.n = jsonString, 0
		top := l.top()
		l.key = top != nil && top.object && top.expectKey
		if l.key {
			top.key = top.key[:0]
		}
	case '{', '[':
		l.push(c == '{')
	case '}', ']':
		l.pop()
	case ',':
		if top := l.top(); top != nil {
			top.expectKey = top.object
			top.index++
		}
	case ':':
		if top := l.top(); top != nil {
			top.expectKey = false
		}
	default:
		l.state, l.n, l.key = jsonScalar, 0, false
		return l.grow(c)
	}
	return true
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}

// grow counts one byte of a string or number, refusing the file past MaxFieldBytes.
func (l *jsonLimiter) grow(c byte) bool {
	l.n++
	if l.n > MaxFieldBytes {
		l.fail()
		return false
	}
	if l.key {
		top := l.top()
		top.key = append(top.key, c)
	}
	return true
}

func (l *jsonLimiter) push(object bool) {
	l.depth++
	if l.depth > MaxJSONDepth+1 {
		return // the decoder refuses the depth; the path stops here
	}
	var f *jsonFrame
	if n := len(l.spare); n > 0 {
		f, l.spare = l.spare[n-1], l.spare[:n-1]
	} else {
		f = &jsonFrame{}
	}
	*f = jsonFrame{object: object, expectKey: object, key: f.key[:0]}
	l.stack = append(l.stack, f)
}

func (l *jsonLimiter) pop() {
	if l.depth == 0 {
		return // the decoder refuses it
	}
	if l.depth == len(l.stack) {
		l.spare = append(l.spare, l.stack[len(l.stack)-1])
		l.stack = l.stack[:len(l.stack)-1]
	}
	l.depth--
}

// fail refuses the file at the string or number being read, named by its path: the object that
// holds it (Where) and its key with the indexes below it (Field), as the importer's other errors
// name fields; a partner's id and name as partner_id and partner_name.
func (l *jsonLimiter) fail() {
	msg := fmt.Sprintf("longer than %d bytes as written", MaxFieldBytes)
	line := "line " + strconv.Itoa(l.lines+1)
	var where, field string
	frames := l.stack
	if l.key {
		frames = frames[:len(frames)-1] // the key's object is named by the frames above it
		msg = "a key " + msg
	}
	for _, f := range frames {
		switch {
		case !f.object:
			field += "[" + strconv.Itoa(f.index) + "]"
		default:
			if field != "" {
				where += field + "."
			}
			field = jsonKeyName(f.key)
		}
	}
	if l.key {
		where, field = where+field, ""
	}
	where = strings.TrimSuffix(where, ".")
	if strings.HasPrefix(where, "partners[") && !strings.Contains(where, ".") {
		switch field {
		case "id":
			field = "partner_id"
		case "name":
			field = "partner_name"
		}
	}
	if where != "" {
		line += ": " + where
	}
	l.err = &InputError{File: l.file, Where: line, Field: field, Msg: msg}
}

// jsonKeyName returns a key as written (escapes included) as it appears in a path: as is when it is
// a plain name, else Go-quoted and cut short.
func jsonKeyName(raw []byte) string {
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		s = string(raw)
	}
	return pathKey(s)
}

// pathKey writes a key for a JSON path: plain when it is a short name of letters, digits and
// underscores, else Go-quoted and cut to MaxEchoedChars characters.
func pathKey(k string) string {
	if k == "" || len(k) > MaxEchoedChars {
		return Quote(k)
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return Quote(k)
		}
	}
	return k
}
