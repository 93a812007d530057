package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOverrideFromDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SubjectFile), []byte("Custom {{.Name}}\n"), 0o600)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Subject(map[string]string{"Name": "  x  y "})
	if err != nil || got != "Custom x y" {
		t.Errorf("subject %q %v", got, err)
	}
	// The files not overridden stay the embedded ones.
	if s.single.text.Lookup("facts") == nil || !strings.Contains(s.single.text.Lookup("facts").Root.String(), "What must be met") {
		t.Error("text body not the embedded one")
	}
}

func TestBadTemplateNamesFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, HTMLFile), []byte("{{if}}"), 0o600)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, HTMLFile)) {
		t.Errorf("err = %v", err)
	}
}

func TestMissingFieldIsAnError(t *testing.T) {
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subject(map[string]any{}); err == nil {
		t.Error("rendering without data succeeded")
	}
}

func TestMissingFolderIsAnError(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("a missing templates folder was accepted")
	}
}

func TestSubjectIsCapped(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SubjectFile), []byte(`{{.Name}}{{.Name}}{{.Name}}`), 0o600)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Subject(map[string]string{"Name": strings.Repeat("é", 400)})
	if err != nil || len(got) > MaxSubjectBytes || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("subject of %d bytes, valid %v: %v", len(got), utf8.ValidString(got), err)
	}
}
