package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdCredentials: a *_file secret written credential:NAME reads $CREDENTIALS_DIRECTORY/NAME
// (the unit's LoadCredential=NAME:PATH); without the variable it is a configuration error naming the
// key; a name that is not a plain file name is refused.
func TestSystemdCredentials(t *testing.T) {
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "smtp-password"), []byte("s3cret-from-credential\n"), 0o600)
	e := newEnv(t, "[mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nusername = \"renewald\"\npassword_file = \"credential:smtp-password\"\n")
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"", "transport = \"smtp\"", 1)), 0o600)
	run := func(env ...string) (int, string) {
		c := e.cmd("config", "check")
		c.Env = append(os.Environ(), env...)
		out, err := c.CombinedOutput()
		code := 0
		if err != nil {
			code = c.ProcessState.ExitCode()
		}
		return code, string(out)
	}
	if code, out := run("CREDENTIALS_DIRECTORY=" + creds); code != 0 || strings.Contains(out, "s3cret") {
		t.Errorf("with the credential: exit %d\n%s", code, out)
	}
	if code, out := run("CREDENTIALS_DIRECTORY="); code != 2 || !strings.Contains(out, "mail.smtp.password_file") || !strings.Contains(out, "CREDENTIALS_DIRECTORY") {
		t.Errorf("without CREDENTIALS_DIRECTORY: exit %d\n%s", code, out)
	}
	if code, out := run("CREDENTIALS_DIRECTORY=" + t.TempDir()); code != 2 || !strings.Contains(out, "mail.smtp.password_file") {
		t.Errorf("a missing credential: exit %d\n%s", code, out)
	}
	m := &Main{Getenv: func(string) string { return creds }}
	for _, bad := range []string{"credential:", "credential:../x", "credential:a/b"} {
		if _, err := m.secretPath("mail.smtp.password_file", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSecretFromTheEnvironmentIsRemoved: once read, RENEWALD_SMTP_PASSWORD is removed from the
// process's environment, so nothing renewald starts inherits it.
func TestSecretFromTheEnvironmentIsRemoved(t *testing.T) {
	env := map[string]string{"RENEWALD_SMTP_PASSWORD": "pw"}
	m := &Main{Getenv: func(k string) string { return env[k] }, Unsetenv: func(k string) error { delete(env, k); return nil }}
	got, err := m.secret("", "RENEWALD_SMTP_PASSWORD", "mail.smtp.password_file")
	if err != nil || got != "pw" {
		t.Fatalf("secret %q %v", got, err)
	}
	if _, ok := env["RENEWALD_SMTP_PASSWORD"]; ok {
		t.Error("the password is still in the environment")
	}
}
