package store

import (
	"errors"
	"net/url"
	"strings"
)

// ErrUnparsableDSN marks a PostgreSQL DSN renewald cannot read. Its messages never quote the DSN:
// where a DSN does not parse, no one can tell which part of it is the password.
var ErrUnparsableDSN = errors.New("unparsable DSN")

// dsnError says why a DSN does not parse, without quoting it; it is ErrUnparsableDSN.
type dsnError string

func (e dsnError) Error() string        { return string(e) }
func (e dsnError) Is(target error) bool { return target == ErrUnparsableDSN }

// UnparsableDSN is how messages name a DSN that does not parse.
const UnparsableDSN = "(unparsable DSN)"

// redacted stands for a password in messages.
const redacted = "xxxxx"

// dsnPair is one keyword=value of a key=value DSN.
type dsnPair struct{ key, value string }

// parsedDSN is a DSN read as libpq reads it: a URL (postgres:// or postgresql://) or key=value pairs.
type parsedDSN struct {
	url   *url.URL
	pairs []dsnPair
}

// CheckDSN reports whether dsn parses as a libpq URL or key=value DSN. The error, ErrUnparsableDSN,
// says what is wrong without quoting any of the DSN.
func CheckDSN(dsn string) error {
	_, err := parseDSN(dsn)
	return err
}

// RedactDSN returns dsn with every password (the URL's, password= and sslpassword=) replaced by
// "xxxxx", for logs and errors; a DSN that does not parse is "(unparsable DSN)", never the input.
func RedactDSN(dsn string) string {
	p, err := parseDSN(dsn)
	if err != nil {
		return UnparsableDSN
	}
	if p.url != nil {
		u := *p.url
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), redacted)
			}
		}
		q := u.Query()
		for k := range q {
			if isPasswordKey(k) {
				q.Set(k, redacted)
				u.RawQuery = q.Encode()
			}
		}
		return u.String()
	}
	parts := make([]string, len(p.pairs))
	for i, kv := range p.pairs {
		v := kv.value
		if isPasswordKey(kv.key) {
			v = redacted
		}
		parts[i] = kv.key + "=" + quoteDSNValue(v)
	}
	return strings.Join(parts, " ")
}

// passwords returns every password the DSN holds, for scrubbing messages that may quote them.
func (p parsedDSN) passwords() []string {
	var out []string
	if p.url != nil {
		if pw, ok := p.url.User.Password(); ok {
			out = append(out, pw, url.PathEscape(pw), url.QueryEscape(pw))
		}
		for k, vs := range p.url.Query() {
			if isPasswordKey(k) {
				out = append(out, vs...)
			}
		}
	}
	for _, kv := range p.pairs {
		if isPasswordKey(kv.key) {
			out = append(out, kv.value)
		}
	}
	return out
}

// isPasswordKey reports whether a DSN keyword holds a password (password, sslpassword).
func isPasswordKey(k string) bool { return strings.Contains(strings.ToLower(k), "password") }

// parseDSN reads dsn as pgx tells its forms apart: a URL when it starts with postgres:// or
// postgresql://, else key=value pairs. It is stricter than libpq where the parts of a DSN would
// be ambiguous (a '#' or an '@' after the host in a URL, a keyword that is not a word).
func parseDSN(dsn string) (parsedDSN, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return parseDSNURL(dsn)
	}
	return parseDSNPairs(dsn)
}

func parseDSNURL(dsn string) (parsedDSN, error) {
	const encode = "percent-encode '#', '%', '/', '@', '[', ']', '?', ':' and spaces in the user name and password"
	if strings.Contains(dsn, "#") {
		return parsedDSN{}, dsnError("a '#' in a DSN URL (" + encode + ")")
	}
	u, err := url.Parse(dsn)
	if err != nil { // its text quotes the DSN
		return parsedDSN{}, dsnError("not a valid URL (" + encode + ")")
	}
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawPath, "@") {
		return parsedDSN{}, dsnError("an '@' after the host of a DSN URL (" + encode + ")")
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return parsedDSN{}, dsnError("the query of the DSN URL is not valid (percent-encode '&', '=', '%' and '+' in its values)")
	}
	return parsedDSN{url: u}, nil
}

// parseDSNPairs reads key=value pairs as libpq does: a value is a run without spaces, or in single
// quotes; a backslash escapes the next character.
func parseDSNPairs(s string) (parsedDSN, error) {
	var p parsedDSN
	for {
		s = strings.TrimLeft(s, " \t\n\r\v\f")
		if s == "" {
			return p, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return parsedDSN{}, dsnError("a keyword without '=' in the key=value DSN")
		}
		key := strings.TrimRight(s[:eq], " \t\n\r\v\f")
		if !isDSNKeyword(key) {
			return parsedDSN{}, dsnError("a keyword that is not a word in the key=value DSN (quote values with spaces: password='…')")
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\v\f")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i, closed := 0, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' {
				if i+1 == len(s) {
					return parsedDSN{}, dsnError("a backslash at the end of the key=value DSN")
				}
				i++
				val.WriteByte(s[i])
				continue
			}
			if quoted && c == '\'' {
				closed = true
				break
			}
			if !quoted && strings.IndexByte(" \t\n\r\v\f", c) >= 0 {
				break
			}
			val.WriteByte(c)
		}
		if quoted && !closed {
			return parsedDSN{}, dsnError("an unclosed quote in the key=value DSN")
		}
		if quoted {
			i++ // the closing quote
		}
		s = s[i:]
		p.pairs = append(p.pairs, dsnPair{key, val.String()})
	}
}

// isDSNKeyword reports whether k can be a libpq keyword: letters, digits and underscores.
func isDSNKeyword(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// quoteDSNValue writes v as a key=value DSN value: in single quotes, escaped, when it is empty or
// holds a space, a quote or a backslash.
func quoteDSNValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
