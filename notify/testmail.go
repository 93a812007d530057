package notify

import (
	"bytes"
	"fmt"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TestEnvelope builds the short message of "renewald mail test": marked as a test in its subject,
// body and an X-Renewald-Test header, auto-submitted, with the given Message-ID.
func TestEnvelope(from, replyTo, to *mail.Address, messageID string, now time.Time) (*Envelope, error) {
	m := gomail.NewMsg()
	m.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, from)
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	if replyTo != nil {
		m.SetAddrHeaderFromMailAddress(gomail.HeaderReplyTo, replyTo)
	}
	m.Subject("renewald test message")
	m.SetMessageIDWithValue(messageID)
	m.SetDateWithValue(now)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetGenHeader("X-Renewald-Test", "yes")
	m.SetUserAgent("renewald")
	m.SetBodyString(gomail.TypeTextPlain, "This is a test message from renewald, sent by an operator with "+
		"\"renewald mail test\" to check the mail configuration. It is not a renewal reminder and did not "+
		"go through the outbox. No action is needed.\n")
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("encode test message: %w", err)
	}
	return &Envelope{From: from.Address, To: to.Address, MessageID: "<" + messageID + ">", Data: b.Bytes()}, nil
}
