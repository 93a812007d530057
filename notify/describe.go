package notify

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// The Describe methods say how mail goes out, in words for the status page and config check; never
// a credential.

// Describe names the folder: "file: one .eml per message in DIR".
func (f *File) Describe() string { return "file: one .eml per message in " + f.Dir }

// Describe names the server and its TLS mode: "smtp to mail.example.com:587 (starttls)", with
// ", xoauth2" when the login is an OAuth2 token.
func (c SMTPConfig) Describe() string {
	mode := c.TLS
	if c.Auth == AuthXOAUTH2 {
		mode += ", xoauth2"
	}
	return "smtp to " + net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) + " (" + mode + ")"
}

// Describe names the sending mailbox and the cloud: "Microsoft Graph sendMail as MAILBOX (global
// cloud)"; endpoints that are no cloud's are named instead ("… at https://graph.example.net").
func (c GraphConfig) Describe() string {
	s := "Microsoft Graph sendMail as " + c.Mailbox
	login, graph := strings.TrimRight(c.LoginEndpoint, "/"), strings.TrimRight(c.GraphEndpoint, "/")
	names := make([]string, 0, len(Clouds))
	for name := range Clouds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if cl := Clouds[name]; cl.Login == login && cl.Graph == graph {
			return s + " (" + name + " cloud)"
		}
	}
	return s + " at " + redactURL(graph)
}
