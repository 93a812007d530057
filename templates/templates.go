// Package templates holds the embedded email templates — subject, plain text and HTML — and loads
// operator overrides from a directory. Rendering data is supplied by the caller.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	texttemplate "text/template"
)

//go:embed files/*.tmpl
var embedded embed.FS

// Names of the template files; a templates_dir may override any of them.
const (
	SubjectFile = "subject.tmpl"
	TextFile    = "body.txt.tmpl"
	HTMLFile    = "body.html.tmpl"
)

// funcs are the helpers every template may call: join, and days ("1 day", "5 days").
var funcs = map[string]any{"join": strings.Join, "days": days}

// days words a count of days.
func days(n int) string {
	if n == 1 || n == -1 {
		return strconv.Itoa(n) + " day"
	}
	return strconv.Itoa(n) + " days"
}

// Set is a parsed set of templates.
type Set struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Rendered is one rendered email.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Load parses the embedded templates, each replaced by the file of the same name in dir when dir is
// not empty and holds it.
func Load(dir string) (*Set, error) {
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("templates folder %s: not a readable folder", dir)
		}
	}
	read := func(name string) (string, string, error) {
		if dir != "" {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err == nil {
				return string(b), p, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", p, fmt.Errorf("read template: %w", err)
			}
		}
		b, err := embedded.ReadFile("files/" + name)
		return string(b), "embedded " + name, err
	}
	var s Set
	src, where, err := read(SubjectFile)
	if err != nil {
		return nil, err
	}
	if s.subject, err = texttemplate.New(SubjectFile).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("template %s: %w", where, err)
	}
	if src, where, err = read(TextFile); err != nil {
		return nil, err
	}
	if s.text, err = texttemplate.New(TextFile).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("template %s: %w", where, err)
	}
	if src, where, err = read(HTMLFile); err != nil {
		return nil, err
	}
	if s.html, err = htmltemplate.New(HTMLFile).Funcs(funcs).Option("missingkey=error").Parse(src); err != nil {
		return nil, fmt.Errorf("template %s: %w", where, err)
	}
	return &s, nil
}

// Subject renders only the subject line (one line, spaces folded).
func (s *Set) Subject(data any) (string, error) {
	var b bytes.Buffer
	if err := s.subject.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render subject: %w", err)
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// Render renders the subject, then the text and HTML bodies; setSubject, when not nil, is called
// with the subject before the bodies render so they can show it.
func (s *Set) Render(data any, setSubject func(string)) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = s.Subject(data); err != nil {
		return r, err
	}
	if setSubject != nil {
		setSubject(r.Subject)
	}
	var b bytes.Buffer
	if err := s.text.Execute(&b, data); err != nil {
		return r, fmt.Errorf("render text body: %w", err)
	}
	r.Text = b.String()
	b.Reset()
	if err := s.html.Execute(&b, data); err != nil {
		return r, fmt.Errorf("render HTML body: %w", err)
	}
	r.HTML = b.String()
	return r, nil
}
