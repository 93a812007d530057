package main

import (
	"strings"
	"testing"
	"time"
)

// TestConfigCheckSignatureKeys (issue 26): config check warns, exit 0, while mail.organisation is
// empty; it is quiet once set; it refuses a reply_to that is not an address and a contact that is
// neither an address nor an https URL (exit 2, naming the key).
func TestConfigCheckSignatureKeys(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	code, out, errs := runMain(t, nil, now, "--config", "../../config.example.toml", "config", "check")
	if code != 0 || !strings.Contains(out, "config ok") || !strings.Contains(errs, "warning: mail.organisation is empty") {
		t.Errorf("example: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	good := writeFile(t, "good.toml", "[mail]\norganisation = \"Contoso Partner Programme\"\nreply_to = \"team@contoso.example\"\ncontact = \"https://contoso.example/renewed\"\n")
	if code, _, errs := runMain(t, nil, now, "--config", good, "config", "check"); code != 0 || strings.Contains(errs, "warning") {
		t.Errorf("signed: exit %d, stderr %q", code, errs)
	}
	for key, file := range map[string]string{
		"mail.reply_to": "[mail]\norganisation = \"C\"\nreply_to = \"not an address\"\n",
		"mail.contact":  "[mail]\norganisation = \"C\"\ncontact = \"ftp://contoso.example\"\n",
	} {
		p := writeFile(t, "bad.toml", file)
		if code, _, errs := runMain(t, nil, now, "--config", p, "config", "check"); code != 2 || !strings.Contains(errs, key) {
			t.Errorf("%s: exit %d, stderr %q", key, code, errs)
		}
	}
}
