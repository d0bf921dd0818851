package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// SMS from staff: "1" acknowledges their newest open page, "A <code>"
// the page whose SMS carried the code, other text is their reply in the
// page's thread; a message the agent sends again is handled once; an
// unknown number is audited and dropped.
func TestInboundSMS(t *testing.T) {
	m, _ := startMain(t, nil)
	ctx := context.Background()
	admin := paging.AuditEvent{Actor: "test"}
	// Dr Okafor (app stage, SMS +15555550101) gets pages to 1001 on the
	// app and by SMS at once.
	pol := routing.Policy{ID: "app-and-sms", Steps: []routing.Step{{Channels: []paging.Channel{paging.ChannelApp, paging.ChannelSMS}}}}
	if err := m.store.PutRecord(ctx, storage.KindPolicy, pol.ID, pol, admin); err != nil {
		t.Fatal(err)
	}
	pid, err := m.store.PagerID(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	pid.Policy = pol.ID
	if err := m.store.PutPagerID(ctx, pid, admin); err != nil {
		t.Fatal(err)
	}
	page := func(text string) engine.Route {
		t.Helper()
		msg := &paging.Message{ID: paging.NewID(time.Now()), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "4W nurse call"},
			PagerID: "1001", Priority: paging.PriorityHigh, Text: paging.NewPHI(text), Received: time.Now()}
		if err := (routedAccepter{m}).Accept(ctx, msg, admin); err != nil {
			t.Fatal(err)
		}
		var r engine.Route
		waitUntil(t, time.Minute, "the page routed by SMS", func() bool {
			r, err = m.engine.Route(ctx, msg.ID)
			return err == nil && len(r.Deliveries) > 0 && len(r.Deliveries[0].Attempts) == 2
		})
		return r
	}
	sms := func(from, text string) paging.ID {
		t.Helper()
		key := paging.NewID(time.Now())
		if err := m.onSMS(ctx, "demo-agent", key, &agentapi.SMS{Device: "modem-1", From: from, Text: agentapi.Text(text), Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	state := func(r engine.Route) string {
		t.Helper()
		got, err := m.engine.Route(ctx, r.Message)
		if err != nil {
			t.Fatal(err)
		}
		if got.Acked != nil {
			return got.State + " by " + got.Acked.Person + " on " + string(got.Acked.Channel)
		}
		return got.State
	}

	first, second := page("Bed 4 chest pain"), page("Bed 9 IV alarm")
	// The code on the first page's SMS acknowledges it, not the newer one.
	code := engine.SMSAckCode(first.Deliveries[0].ID)
	sms("+1 555 555 0101", "a "+strings.ToLower(code))
	if got := state(first); got != "acknowledged by amara.okafor on sms" {
		t.Fatalf("first page after A %s: %s", code, got)
	}
	if got := state(second); got != engine.StateActive {
		t.Fatalf("second page: %s", got)
	}
	// A reply, sent twice by the agent: posted once, in the open page's
	// thread.
	key := paging.NewID(time.Now())
	for range 2 {
		if err := m.onSMS(ctx, "demo-agent", key, &agentapi.SMS{Device: "modem-1", From: "0015555550101", Text: "On my way, 2 min", Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	view, err := m.store.ReadThread(ctx, second.Message, "amara.okafor", paging.ChannelApp, admin)
	if err != nil {
		t.Fatal(err)
	}
	replies := 0
	for _, msg := range view.Messages {
		if msg.Text.Reveal() == "On my way, 2 min" && msg.Author == "amara.okafor" {
			replies++
		}
	}
	if replies != 1 {
		t.Fatalf("the SMS reply is in the thread %d times, want once", replies)
	}
	// "1" acknowledges the newest open page.
	sms("+15555550101", " 1 ")
	if got := state(second); got != "acknowledged by amara.okafor on sms" {
		t.Fatalf("second page after 1: %s", got)
	}
	// A stranger: audited, dropped, no page touched.
	before, err := m.store.AuditEntries(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	sms("+15550000000", "1")
	after, err := m.store.AuditEntries(ctx, before[len(before)-1].Seq+1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].Action != "sms.unknown" || strings.Contains(after[0].Detail, "5550000000") {
		t.Fatalf("audit after an unknown number: %+v", after)
	}
}

func TestParseSMSAck(t *testing.T) {
	for _, c := range []struct {
		in, code string
		ack      bool
	}{
		{"1", "", true}, {" ack ", "", true}, {"Ack", "", true}, {"A 7Q2K", "7Q2K", true}, {"a 7q2k", "7Q2K", true},
		{"ACK 7Q2K", "7Q2K", true}, {"11", "", false}, {"A", "", false}, {"A 7Q2", "", false}, {"yes", "", false},
		{"1 on my way", "", false}, {"", "", false},
	} {
		code, ack := parseSMSAck(c.in)
		if code != c.code || ack != c.ack {
			t.Errorf("%q: %q %v, want %q %v", c.in, code, ack, c.code, c.ack)
		}
	}
}
