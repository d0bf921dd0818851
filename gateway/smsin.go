package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/threads"
)

// smsScope marks the SMS the gateway has handled, by their bus keys, so
// that one the agent sends again is not handled twice.
const smsScope = "sms"

// smsRecent is how many of the newest pages an SMS from staff is matched
// against.
const smsRecent = 500

// onSMS handles a text message a modem received. From a number in the
// directory, "1", "ACK" or "A <code>" acknowledges the page the person's
// SMS was about (the newest one still open, or the one whose SMS carried
// the code); other text becomes the person's reply in that page's thread.
// From anywhere else it is audited and dropped, without an answer. A
// message handled before (the agent sent it again) is not handled again.
func (m *Main) onSMS(ctx context.Context, agent string, key paging.ID, sms *agentapi.SMS) error {
	if seen, err := m.store.Seen(ctx, smsScope, key.String()); err != nil || seen {
		return err
	}
	if err := m.handleSMS(ctx, agent, key, sms); err != nil {
		return err
	}
	return m.store.MarkSeen(ctx, smsScope, key.String())
}

func (m *Main) handleSMS(ctx context.Context, agent string, key paging.ID, sms *agentapi.SMS) error {
	ev := paging.AuditEvent{Actor: "agent:" + agent, Object: "sms/" + key.String(), Source: sms.Device}
	person, err := m.personBySMS(ctx, sms.From)
	if err != nil {
		return err
	}
	if person == "" {
		ev.Action, ev.Detail = "sms.unknown", "from a number not in the directory (ending "+lastDigits(sms.From, 2)+"); dropped, not answered"
		m.log.Info("SMS from a number not in the directory dropped", "agent", agent, "device", sms.Device, "sms", key)
		return m.store.Audit(ctx, time.Now(), ev)
	}
	ev.Actor = "person:" + person
	code, isAck := parseSMSAck(string(sms.Text))
	r, found, err := m.smsRoute(ctx, person, code)
	if err != nil {
		return err
	}
	switch {
	case !found:
		m.log.Info("SMS from staff matches no page of theirs; dropped", "person", person, "sms", key)
		ev.Action, ev.Detail = "sms.unmatched", "no page of theirs to acknowledge or reply to; dropped"
		return m.store.Audit(ctx, time.Now(), ev)
	case isAck:
		if r.State == engine.StateAcknowledged {
			return nil // acknowledged already, by them or someone else
		}
		_, err := m.engine.Acknowledge(ctx, r.Message, person, paging.ChannelSMS)
		if errors.Is(err, paging.ErrNotFound) {
			return nil
		}
		if err == nil {
			m.log.Info("page acknowledged by SMS", "person", person, "message", r.Message, "sms", key)
		}
		return err
	}
	_, err = m.threads.Reply(ctx, threads.Caller{Person: person, Actor: "person:" + person + " (sms)", Source: sms.Device},
		r.Message, threads.Content{Text: sms.Text.PHI()})
	if errors.Is(err, paging.ErrNotFound) || errors.Is(err, threads.ErrForbidden) {
		m.log.Info("SMS reply not posted: the page has no thread of theirs; dropped", "person", person, "message", r.Message, "sms", key)
		ev.Action = "sms.unmatched"
		ev.Detail = "reply to message/" + r.Message.String() + " not posted: the page has no thread of theirs; dropped"
		return m.store.Audit(ctx, time.Now(), ev)
	}
	if err == nil {
		m.log.Info("SMS reply posted in the page's thread", "person", person, "message", r.Message, "sms", key)
	}
	return err
}

// parseSMSAck reads "1", "ACK" or "A <code>" (any case, blanks around):
// isAck, and the code if one was given.
func parseSMSAck(text string) (code string, isAck bool) {
	f := strings.Fields(strings.ToUpper(text))
	switch {
	case len(f) == 1 && (f[0] == "1" || f[0] == "ACK"):
		return "", true
	case len(f) == 2 && (f[0] == "A" || f[0] == "ACK") && len(f[1]) == 4:
		return f[1], true
	}
	return "", false
}

// smsRoute finds the page an SMS from person is about: with a code, the
// page whose SMS to them carried it; without, the newest page they were
// sent an SMS for that is still open, else the newest at all.
func (m *Main) smsRoute(ctx context.Context, person, code string) (engine.Route, bool, error) {
	var open, any *engine.Route
	errDone := errors.New("done")
	err := m.engine.Routes(ctx, smsRecent, func(r engine.Route) error {
		for _, d := range r.Deliveries {
			if d.PersonID != person {
				continue
			}
			for _, a := range d.Attempts {
				if a.Channel != paging.ChannelSMS || (code != "" && engine.SMSAckCode(d.ID) != code) {
					continue
				}
				if any == nil {
					any = &r
				}
				if r.State == engine.StateActive || r.State == engine.StateFallback {
					open = &r
					return errDone
				}
				if code != "" {
					return errDone
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return engine.Route{}, false, err
	}
	switch {
	case open != nil:
		return *open, true, nil
	case any != nil:
		return *any, true, nil
	}
	return engine.Route{}, false, nil
}

// personBySMS finds the person whose SMS endpoint is from ("" if none).
// Numbers compare by their digits after a leading + or 00.
func (m *Main) personBySMS(ctx context.Context, from string) (string, error) {
	want := normalNumber(from)
	if want == "" {
		return "", nil
	}
	people, err := m.store.People(ctx)
	if err != nil {
		return "", fmt.Errorf("sms: directory: %w", err)
	}
	for _, p := range people {
		for _, e := range p.Endpoints {
			if e.Channel == paging.ChannelSMS && normalNumber(e.Address) == want {
				return p.ID, nil
			}
		}
	}
	return "", nil
}

// normalNumber is "+" and the digits of an international number ("+49…",
// "0049…"); other numbers (national, short codes, names) stay as they are
// but for blanks.
func normalNumber(s string) string {
	s = strings.Join(strings.Fields(s), "")
	if rest, ok := strings.CutPrefix(s, "00"); ok && len(rest) > 6 {
		s = "+" + rest
	}
	return s
}

// lastDigits is the last n characters of a number, for audit entries that
// must not hold a stranger's whole number.
func lastDigits(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
