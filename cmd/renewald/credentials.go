package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// credentialPrefix marks a *_file setting that names a systemd credential instead of a file:
// "credential:NAME" reads $CREDENTIALS_DIRECTORY/NAME, which the unit's LoadCredential=NAME:PATH
// fills (readable by the service's user only, whoever owns PATH), so a root-only secret file need
// not be made readable to the service.
const credentialPrefix = "credential:"

// credentialsDirEnv is where systemd puts the credentials of a service (LoadCredential=).
const credentialsDirEnv = "CREDENTIALS_DIRECTORY"

// secretPath resolves a *_file setting named key: a path as given, or for "credential:NAME" the
// file NAME in $CREDENTIALS_DIRECTORY (an error naming key when the variable is unset or the name is
// not a plain file name).
func (m *Main) secretPath(key, file string) (string, error) {
	name, ok := strings.CutPrefix(file, credentialPrefix)
	if !ok {
		return file, nil
	}
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", usageErrorf("%s: %q: want credential:NAME with a plain name, as in LoadCredential=NAME:/etc/renewald/NAME", key, file)
	}
	dir := m.Getenv(credentialsDirEnv)
	if dir == "" {
		return "", usageErrorf("%s: %s needs $%s, which systemd sets for a unit with LoadCredential=%s:PATH; it is not set",
			key, file, credentialsDirEnv, name)
	}
	return filepath.Join(dir, name), nil
}

// readSecretFile reads a *_file setting named key (a path or credential:NAME).
func (m *Main) readSecretFile(key, file string) ([]byte, error) {
	p, err := m.secretPath(key, file)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, asUsage(fmt.Errorf("%s: %w", key, err))
	}
	return b, nil
}

// secretFromEnv returns the secret in the environment variable env and removes it from the
// environment, so that no process renewald starts inherits it and nothing later reads it from there.
// (The kernel's copy in /proc/PID/environ stays as the process was started: a credential is better.)
func (m *Main) secretFromEnv(env string) string {
	v := m.Getenv(env)
	if v != "" && m.Unsetenv != nil {
		m.Unsetenv(env)
	}
	return v
}
