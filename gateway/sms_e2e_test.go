package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/sim"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// SMS end to end, real daemons: a HIGH page to an app-stage person who
// does not acknowledge on the app within the policy's delay goes out as
// an SMS on the simulated modem (a notice, no PHI); her reply "1" from her
// number acknowledges the page on the SMS channel and ends its escalation.
func TestSMSEscalationAndAckByReply(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	r := newRig(t, rigSpec{modems: []sim.ModemOptions{{}}})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(r.gwLog)
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.Contains(l, "admin request") {
					t.Log(l)
				}
			}
		}
	})
	step := 3 * time.Second
	r.seed(storage.Import{
		People: []paging.Person{{ID: "amara.okafor", Name: "Dr Amara Okafor", Stage: paging.StageApp,
			Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "amara.okafor"}, {Channel: paging.ChannelSMS, Address: "+15555550101"}}}},
		PagerIDs: []paging.PagerID{{ID: "1001", Target: paging.Target{Kind: paging.TargetPerson, ID: "amara.okafor"}, Priority: paging.PriorityHigh, Policy: "app-then-sms"}},
		Records: []storage.ImportRecord{{Kind: storage.KindPolicy, ID: "app-then-sms", Value: routing.Policy{ID: "app-then-sms",
			Steps: []routing.Step{{}, {Delay: step, Channels: []paging.Channel{paging.ChannelSMS}}, {Delay: step, Channels: []paging.Channel{paging.ChannelSMS}}}}}},
	})
	r.sendTAP("1001", "Bed 7 patient John Roe chest pain")
	mod := r.modems[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := mod.WaitMessages(ctx, func(m []sim.SentMessage) bool { return len(m) >= 1 }); err != nil {
		t.Fatal("no SMS after the app step:", err)
	}
	sms := mod.Messages()[0]
	if sms.Number() != "+15555550101" || !strings.Contains(sms.Text, "Reply 1") || strings.Contains(sms.Text, "John Roe") {
		t.Fatalf("SMS %q to %s", sms.Text, sms.Number())
	}
	if _, err := mod.Deliver(ctx, sim.Inbound{From: "+15555550101", Text: "1"}); err != nil {
		t.Fatal(err)
	}
	var rt engine.Route
	waitUntil(t, time.Minute, "the page acknowledged by SMS", func() bool {
		for _, p := range r.pages() {
			if p.PagerID == "1001" && p.State == engine.StateAcknowledged {
				rt = p
				return true
			}
		}
		return false
	})
	if rt.Acked == nil || rt.Acked.Person != "amara.okafor" || rt.Acked.Channel != paging.ChannelSMS {
		t.Fatalf("acknowledged %+v", rt.Acked)
	}
	// Nothing more is due: the escalation's timer is gone.
	if rt.Timer != (paging.ID{}) || !rt.Next.IsZero() {
		t.Fatalf("a step is still due at %v after the ack", rt.Next)
	}
}
