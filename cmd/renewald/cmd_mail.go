package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/notify"
)

// mailTestResult is the outcome of "mail test", as printed with --json.
type mailTestResult struct {
	Accepted  bool    `json:"accepted"`
	Transport string  `json:"transport"`
	Server    string  `json:"server,omitempty"` // host:port (smtp)
	Dir       string  `json:"dir,omitempty"`    // file transport
	From      string  `json:"from"`
	To        string  `json:"to"`
	MessageID string  `json:"message_id"`
	Reply     *string `json:"reply"` // the server's answer to the message, null when not accepted
	TLS       string  `json:"tls,omitempty"`
	Auth      string  `json:"auth,omitempty"`
	Error     *string `json:"error"`
	Temporary bool    `json:"temporary,omitempty"` // a failure worth retrying as it is (4xx, network, TLS, token)

	// graph transport: never a token
	Cloud         string `json:"cloud,omitempty"`
	GraphEndpoint string `json:"graph_endpoint,omitempty"`
	Mailbox       string `json:"mailbox,omitempty"`
	Credential    string `json:"credential,omitempty"` // "client secret" or "certificate <thumbprint>"
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	TokenAnswer   string `json:"token_answer,omitempty"` // the token endpoint's answer: status and error code, or the token's lifetime
	GraphStatus   int    `json:"graph_status,omitempty"` // Graph's HTTP status (202 when accepted)
	GraphCode     string `json:"graph_code,omitempty"`   // Graph's error code
}

// cmdMail runs "mail test --to ADDRESS [--json]": one test message through the configured
// transport, not through the outbox. Exit 0 when accepted, 1 when not, 2 for a bad address or
// configuration.
func (m *Main) cmdMail(ctx context.Context, args []string) error {
	fs := m.newFlagSet("mail test")
	to := fs.String("to", "", "address to send the test message to (required)")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "test" || *to == "" {
		return usageErrorf("usage: renewald mail test --to ADDRESS [--json]")
	}
	rcpt, err := config.ParseAddress(*to)
	if err != nil {
		return usageErrorf("--to %q: %v", *to, err)
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	from, err := config.ParseAddress(cfg.Mail.From)
	if err != nil {
		return asUsage(fmt.Errorf("mail.from: %w", err))
	}
	var replyTo *mail.Address
	if cfg.Mail.ReplyTo != "" {
		if replyTo, err = config.ParseAddress(cfg.Mail.ReplyTo); err != nil {
			return asUsage(fmt.Errorf("mail.reply_to: %w", err))
		}
	}
	now := m.Now()
	domain := notify.AddressDomain(from.Address)
	msgID := fmt.Sprintf("renewald-test.%s@%s", strconv.FormatInt(now.UnixNano(), 36), domain)
	env, err := notify.TestEnvelope(from, replyTo, rcpt, msgID, now)
	if err != nil {
		return err
	}
	res := mailTestResult{Transport: cfg.Mail.Transport, From: from.Address, To: rcpt.Address, MessageID: env.MessageID}
	var sendErr error
	switch cfg.Mail.Transport {
	case "file":
		res.Dir = cfg.Mail.FileDir
		sess, err := (&notify.File{Dir: cfg.Mail.FileDir}).Open(ctx)
		if err == nil {
			err = sess.Send(ctx, 0, env)
		}
		if err == nil {
			reply := "written to " + cfg.Mail.FileDir
			res.Reply = &reply
		}
		sendErr = err
	case "graph":
		t, err := m.graphTransport(cfg)
		if err != nil {
			return err
		}
		_, res.GraphEndpoint = cfg.Mail.Graph.Endpoints()
		res.Cloud, res.Mailbox = cfg.Mail.Graph.Cloud, graphMailbox(cfg)
		r, err := t.Test(ctx, env)
		res.Credential, res.TokenEndpoint, res.TokenAnswer = r.Credential, r.TokenEndpoint, r.TokenAnswer
		res.GraphStatus, res.GraphCode = r.Status, r.Code
		if err == nil {
			res.Reply = &r.Reply
		}
		sendErr = err
	default:
		t, err := m.smtpTransport(cfg)
		if err != nil {
			return err
		}
		res.Server = net.JoinHostPort(cfg.Mail.SMTP.Host, strconv.Itoa(cfg.Mail.SMTP.Port))
		r, err := t.Test(ctx, env)
		res.TLS, res.Auth = r.TLSVersion, r.Auth
		if err == nil {
			res.Reply = &r.Reply
		}
		sendErr = err
	}
	if sendErr != nil {
		msg := oneLine(sendErr.Error())
		res.Error = &msg
		var se *notify.SendError
		res.Temporary = errors.As(sendErr, &se) && se.Temporary
	} else {
		res.Accepted = true
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if res.Transport == "graph" {
		fmt.Fprintf(m.Stdout, "Microsoft Graph: cloud %s (%s), mailbox %s, credential: %s\n", res.Cloud, res.GraphEndpoint, res.Mailbox, res.Credential)
		fmt.Fprintf(m.Stdout, "token endpoint %s: %s\n", res.TokenEndpoint, res.TokenAnswer)
		if res.GraphStatus != 0 {
			fmt.Fprintln(m.Stdout, strings.TrimSpace(fmt.Sprintf("Graph sendMail: HTTP %d %s", res.GraphStatus, res.GraphCode)))
		}
		if res.Accepted {
			fmt.Fprintf(m.Stdout, "test message %s accepted by Microsoft Graph for %s: %s\n", res.MessageID, res.Mailbox, *res.Reply)
		}
	} else if res.Accepted {
		switch res.Transport {
		case "file":
			fmt.Fprintf(m.Stdout, "test message %s %s\n", res.MessageID, *res.Reply)
		default:
			fmt.Fprintf(m.Stdout, "test message %s accepted by %s: %s\nTLS: %s, auth: %s\n", res.MessageID, res.Server, *res.Reply, res.TLS, res.Auth)
		}
	}
	if sendErr != nil {
		return fmt.Errorf("test message to %s not accepted: %s", rcpt.Address, *res.Error)
	}
	return nil
}
