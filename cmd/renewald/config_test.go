package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheckReadsReferencedFiles(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := writeFile(t, "c.toml", "[mail.smtp]\npassword_file = \"/nonexistent/pw\"\n")
	code, _, errs := runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "password_file") {
		t.Errorf("missing password file: exit %d %q", code, errs)
	}
	p = writeFile(t, "c.toml", "[mail.smtp]\nca_file = \"/nonexistent/ca.pem\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "mail.smtp.ca_file") {
		t.Errorf("missing CA file: exit %d %q", code, errs)
	}
	notPEM := writeFile(t, "ca.pem", "hello\n")
	p = writeFile(t, "c.toml", "[mail.smtp]\nca_file = \""+notPEM+"\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "no PEM certificate") {
		t.Errorf("CA file without a certificate: exit %d %q", code, errs)
	}
	xo := "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\n"
	p = writeFile(t, "c.toml", xo+"client_secret_file = \"/nonexistent/secret\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "mail.smtp.oauth2.client_secret_file") {
		t.Errorf("missing client secret file: exit %d %q", code, errs)
	}
	p = writeFile(t, "c.toml", xo)
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "RENEWALD_OAUTH2_CLIENT_SECRET") {
		t.Errorf("no client secret: exit %d %q", code, errs)
	}
	code, out, errs := runMain(t, map[string]string{"RENEWALD_OAUTH2_CLIENT_SECRET": "s3cret-value"}, now, "--config", p, "config", "check")
	if code != 0 || strings.Contains(out+errs, "s3cret-value") {
		t.Errorf("client secret from the environment: exit %d %q %q", code, out, errs)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "subject.tmpl"), []byte("{{.Broken"), 0o600)
	p = writeFile(t, "c.toml", "[mail]\ntemplates_dir = \""+dir+"\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "subject.tmpl") {
		t.Errorf("broken template: exit %d %q", code, errs)
	}
}

// TestConfigCheckRendersEveryStage: a template that parses but cannot render (a misspelt field) is
// refused by config check, naming mail.templates_dir, rather than failing the first tick; metrics
// off loopback pass with allow_remote.
func TestConfigCheckRendersEveryStage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "body.txt.tmpl"), []byte("Hello {{.RecipientNmae}}\n"), 0o600)
	e := newEnv(t, fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir))
	// newEnv wrote a [mail] table already: merge the key into it.
	body, _ := os.ReadFile(e.cfg)
	cfg := strings.Replace(string(body), fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir), "", 1)
	cfg = strings.Replace(cfg, "[mail]\n", fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir), 1)
	os.WriteFile(e.cfg, []byte(cfg), 0o600)
	if code, _, errs := e.run("config", "check"); code != 2 || !strings.Contains(errs, "mail.templates_dir") || !strings.Contains(errs, "RecipientNmae") {
		t.Errorf("exit %d: %s", code, errs)
	}
	// A misspelt field in a branch only an at-risk renewal takes is found too.
	os.Remove(filepath.Join(dir, "body.txt.tmpl"))
	os.WriteFile(filepath.Join(dir, "subject.tmpl"), []byte("{{if .AtRisk}}{{.AtRiskk}}{{end}}Renewal of {{.Specialization}}"), 0o600)
	if code, _, errs := e.run("config", "check"); code != 2 || !strings.Contains(errs, "AtRiskk") {
		t.Errorf("at-risk branch: exit %d: %s", code, errs)
	}
	ok := newEnv(t, "[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n")
	if code, _, errs := ok.run("config", "check"); code != 0 {
		t.Errorf("allow_remote: exit %d %s", code, errs)
	}
}
