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
	"unicode/utf8"
)

//go:embed files/*.tmpl
var embedded embed.FS

// Names of the template files; a templates_dir may override any of them. The digest bodies are
// parsed beside the single-reminder bodies, so they can use their blocks ("lead", "facts", ...).
const (
	SubjectFile       = "subject.tmpl"
	TextFile          = "body.txt.tmpl"
	HTMLFile          = "body.html.tmpl"
	DigestSubjectFile = "digest_subject.tmpl"
	DigestTextFile    = "digest.txt.tmpl"
	DigestHTMLFile    = "digest.html.tmpl"
)

// funcs are the helpers every template may call: join, days ("1 day", "5 days") and inc (i+1, for
// numbering from 1).
var funcs = map[string]any{"join": strings.Join, "days": days, "inc": func(i int) int { return i + 1 }}

// days words a count of days.
func days(n int) string {
	if n == 1 || n == -1 {
		return strconv.Itoa(n) + " day"
	}
	return strconv.Itoa(n) + " days"
}

// Set is a parsed set of templates: the single reminder's, and the digest's.
type Set struct {
	single, digest kind
}

// kind is the subject and bodies of one kind of email.
type kind struct {
	subject            *texttemplate.Template
	text               *texttemplate.Template
	html               *htmltemplate.Template
	textName, htmlName string // the template to execute in text and html
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
	parseText := func(name string, base *texttemplate.Template) (*texttemplate.Template, error) {
		src, where, err := read(name)
		if err != nil {
			return nil, err
		}
		t := texttemplate.New(name).Funcs(funcs).Option("missingkey=error")
		if base != nil {
			if t, err = base.Clone(); err != nil {
				return nil, err
			}
			t = t.New(name)
		}
		if t, err = t.Parse(src); err != nil {
			return nil, fmt.Errorf("template %s: %w", where, err)
		}
		return t, nil
	}
	parseHTML := func(name string, base *htmltemplate.Template) (*htmltemplate.Template, error) {
		src, where, err := read(name)
		if err != nil {
			return nil, err
		}
		t := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error")
		if base != nil {
			if t, err = base.Clone(); err != nil {
				return nil, err
			}
			t = t.New(name)
		}
		if t, err = t.Parse(src); err != nil {
			return nil, fmt.Errorf("template %s: %w", where, err)
		}
		return t, nil
	}
	var err error
	if s.single.subject, err = parseText(SubjectFile, nil); err != nil {
		return nil, err
	}
	if s.single.text, err = parseText(TextFile, nil); err != nil {
		return nil, err
	}
	if s.single.html, err = parseHTML(HTMLFile, nil); err != nil {
		return nil, err
	}
	s.single.textName, s.single.htmlName = TextFile, HTMLFile
	if s.digest.subject, err = parseText(DigestSubjectFile, nil); err != nil {
		return nil, err
	}
	if s.digest.text, err = parseText(DigestTextFile, s.single.text); err != nil {
		return nil, err
	}
	if s.digest.html, err = parseHTML(DigestHTMLFile, s.single.html); err != nil {
		return nil, err
	}
	s.digest.textName, s.digest.htmlName = DigestTextFile, DigestHTMLFile
	return &s, nil
}

// Subject renders only the subject line of a single reminder (one line, spaces folded).
func (s *Set) Subject(data any) (string, error) { return s.single.subjectLine(data) }

func (k *kind) subjectLine(data any) (string, error) {
	var b bytes.Buffer
	if err := k.subject.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render subject: %w", err)
	}
	return capSubject(strings.Join(strings.Fields(b.String()), " ")), nil
}

// MaxSubjectBytes caps a rendered subject so that "Subject: " and it stay within RFC 5322's 998
// octets a line, whatever the template and the data.
const MaxSubjectBytes = 998 - len("Subject: ")

// capSubject cuts s to MaxSubjectBytes at a character boundary, marking the cut with an ellipsis.
func capSubject(s string) string {
	if len(s) <= MaxSubjectBytes {
		return s
	}
	cut := MaxSubjectBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Render renders a single reminder's subject, then its text and HTML bodies; setSubject, when not
// nil, is called with the subject before the bodies render so they can show it.
func (s *Set) Render(data any, setSubject func(string)) (Rendered, error) {
	return s.single.render(data, setSubject)
}

// RenderDigest renders a digest (several reminders to one recipient in one message) as Render does.
func (s *Set) RenderDigest(data any, setSubject func(string)) (Rendered, error) {
	return s.digest.render(data, setSubject)
}

func (k *kind) render(data any, setSubject func(string)) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = k.subjectLine(data); err != nil {
		return r, err
	}
	if setSubject != nil {
		setSubject(r.Subject)
	}
	var b bytes.Buffer
	if err := k.text.ExecuteTemplate(&b, k.textName, data); err != nil {
		return r, fmt.Errorf("render text body: %w", err)
	}
	r.Text = b.String()
	b.Reset()
	if err := k.html.ExecuteTemplate(&b, k.htmlName, data); err != nil {
		return r, fmt.Errorf("render HTML body: %w", err)
	}
	r.HTML = b.String()
	return r, nil
}
