package agentbus_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/sim"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/agentbus"
	"pagebridge/gateway/paging"
)

// Jobs one way and pages the other, at once: every job is sent exactly
// once to the terminal it names and has exactly one result, every page a
// sender had acknowledged is stored exactly once, and afterwards nothing is
// left in the agent's spool or in flight.
func TestRoundTripBothWays(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		const jobs, pages = 500, 500
		r := newRig(t, b, rigOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()

		texts := make([]string, pages)
		for i := range texts {
			texts[i] = fmt.Sprintf("inbound page %d", i)
		}
		sent := make(chan map[string]int, 1)
		go func() { sent <- r.sendPages(ctx, texts, 8) }()

		type want struct {
			term int
			text string
		}
		jobsByKey := map[paging.ID]want{}
		keys := make([]paging.ID, 0, jobs)
		for i := range jobs {
			w := want{term: i % 2, text: fmt.Sprintf("job %d", i)}
			k := r.submit(terminalIDs[w.term], w.text, paging.PriorityNormal)
			jobsByKey[k] = w
			keys = append(keys, k)
		}
		res := r.results(keys, 2*time.Minute)
		for k, w := range jobsByKey {
			got := res[k]
			if got.Outcome != string(agentapi.OutcomeSent) || got.Resent || got.Device != terminalIDs[w.term] || got.Agent != agentID || got.Code != "211" {
				t.Errorf("job %q: result %+v, want sent (211) on %s, not re-sent", w.text, got, terminalIDs[w.term])
			}
		}
		if n := len(r.allResults()); n != jobs {
			t.Errorf("%d results stored for %d jobs", n, jobs)
		}
		took := []map[string]int{r.pagesByText(0), r.pagesByText(1)}
		for _, w := range jobsByKey {
			if n := took[w.term][w.text]; n != 1 {
				t.Errorf("job %q reached %s %d times, want once", w.text, terminalIDs[w.term], n)
			}
			if n := took[1-w.term][w.text]; n != 0 {
				t.Errorf("job %q for %s reached %s too", w.text, terminalIDs[w.term], terminalIDs[1-w.term])
			}
		}
		for i, term := range r.terms {
			if n := len(term.Pages()); n != jobs/2 {
				t.Errorf("%s took %d pages, want %d", terminalIDs[i], n, jobs/2)
			}
		}

		acked := <-sent
		if len(acked) != pages {
			t.Fatalf("%d of %d inbound pages acknowledged by the agent", len(acked), pages)
		}
		r.waitDrained(time.Minute)
		waitFor(t, time.Minute, func() (bool, string) {
			n := r.storedCount()
			return n >= pages, fmt.Sprintf("%d of %d inbound pages stored", n, pages)
		})
		stored := r.storedTexts()
		for text, sends := range acked {
			if n := stored[text]; n != 1 {
				t.Errorf("inbound %q (sent %d times) stored %d times, want once", text, sends, n)
			}
		}
		if len(stored) != pages {
			t.Errorf("%d distinct pages stored, want %d", len(stored), pages)
		}
		if st := r.bridge.Stats(); st.InFlight != 0 || st.Rejected != 0 || st.Acked != jobs {
			t.Errorf("bridge stats %+v: want %d acked, none in flight, none rejected", st, jobs)
		}
		// A job the gateway sent again (its ack late) is a duplicate the
		// agent passed over.
		if st := r.agent.Stats(); st.Rejected != 0 || st.Received-st.Duplicates != jobs {
			t.Errorf("agent stats %+v: want %d distinct jobs received, none rejected", st, jobs)
		}
	})
}

// Payloads on the bus that either end must refuse: each is counted as
// rejected by the end it reached, nothing is stored or run because of it,
// and both ends go on working.
func TestBadPayloadsRejected(t *testing.T) {
	t.Parallel()
	const sent = `"2026-01-02T03:04:05Z"`
	key := func() string { return paging.NewID(time.Now()).String() }
	env := func(v int, k, kind, body string) []byte {
		return []byte(fmt.Sprintf(`{"v":%d,"key":%q,"sent":%s,"kind":%q,"body":%s}`, v, k, sent, kind, body))
	}
	job := func(dev, extra string) string {
		return `{"device":"` + dev + `","priority":"normal","action":"tap.page","to":"1002","text":"bad job","attempt":1` + extra + `}`
	}
	result := func(jobKey, outcome, extra string) string {
		return `{"job":"` + jobKey + `","device":"term-1","outcome":"` + outcome + `","at":` + sent + `,"attempt":1` + extra + `}`
	}
	inbound := func(line, prio, text, extra string) string {
		return `{"line":"` + line + `","protocol":"tap","pager_id":"1002","priority":"` + prio + `","text":"` + text + `","received":` + sent + extra + `}`
	}
	status := func(agent, state, devState string) string {
		return `{"agent":"` + agent + `","state":"` + state + `","version":"x","pending":0,"devices":[{"id":"term-1","kind":"paging-terminal","state":"` + devState + `","since":` + sent + `,"queue":0,"done":0,"failed":0}]}`
	}
	keys := func(n int, k func() string) string {
		ks := make([]string, n)
		for i := range ks {
			ks[i] = `"` + k() + `"`
		}
		return `{"keys":[` + strings.Join(ks, ",") + `]}`
	}
	batch := func(items ...[]byte) []byte {
		return env(1, key(), agentapi.KindBatch, `{"items":[`+string(bytes.Join(items, []byte(",")))+`]}`)
	}
	oversize := func(kind, body string) []byte {
		p := env(1, key(), kind, body)
		return append(p[:len(p)-1], []byte(`,"pad":"`+strings.Repeat("x", agentapi.MaxPayload)+`"}`)...)
	}

	// The well-formed payloads the bad ones are variations of open fine,
	// so that each bad one fails for the reason its name gives.
	for _, good := range []struct {
		p    []byte
		body agentapi.Body
	}{
		{env(1, key(), agentapi.KindJob, job("term-1", "")), &agentapi.Job{}},
		{env(1, key(), agentapi.KindResult, result(key(), "sent", "")), &agentapi.Result{}},
		{env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "x", "")), &agentapi.Inbound{}},
		{env(1, key(), agentapi.KindAck, keys(agentapi.MaxKeys, key)), &agentapi.Ack{}},
		{env(1, key(), agentapi.KindStatus, status(agentID, "online", "ready")), &agentapi.AgentStatus{}},
	} {
		if _, err := agentapi.Open(good.p, good.body); err != nil {
			t.Fatalf("the well-formed %T does not open: %v", good.body, err)
		}
	}

	const toAgent, toGateway = "agent", "gateway"
	jobTopic := agentapi.JobTopic(agentID, "term-1")
	ackToAgent := agentapi.AckToAgentTopic(agentID)
	resultTopic := agentapi.ResultTopic(agentID)
	inboundTopic := agentapi.InboundTopic(agentID)
	ackToGateway := agentapi.AckToGatewayTopic(agentID)
	statusTopic := agentapi.StatusTopic(agentID)
	notULID := strings.Repeat("Z", 26) // 26 characters, but past the largest ULID
	cases := []struct {
		name, side, topic string
		payload           []byte
	}{
		// Jobs, to the agent.
		{"job/garbage bytes", toAgent, jobTopic, []byte("\x00\x01\x02garbage\xfe")},
		{"job/empty payload", toAgent, jobTopic, []byte{}},
		{"job/invalid UTF-8", toAgent, jobTopic, env(1, key(), agentapi.KindJob, job("term-1", `,"x":"`+"\xff\xfe"+`"`))},
		{"job/JSON of the wrong shape", toAgent, jobTopic, []byte(`[1,2,3]`)},
		{"job/envelope fields of the wrong type", toAgent, jobTopic, []byte(`{"v":"1","key":1,"kind":[],"body":"job"}`)},
		{"job/unknown version v:2", toAgent, jobTopic, env(2, key(), agentapi.KindJob, job("term-1", ""))},
		{"job/oversize", toAgent, jobTopic, oversize(agentapi.KindJob, job("term-1", ""))},
		{"job/short key", toAgent, jobTopic, env(1, "01ABC", agentapi.KindJob, job("term-1", ""))},
		{"job/key not a ULID", toAgent, jobTopic, env(1, notULID, agentapi.KindJob, job("term-1", ""))},
		{"job/no kind", toAgent, jobTopic, env(1, key(), "", job("term-1", ""))},
		{"job/unknown body field", toAgent, jobTopic, env(1, key(), agentapi.KindJob, job("term-1", `,"ttl":60`))},
		{"job/attempt 0", toAgent, jobTopic, env(1, key(), agentapi.KindJob, strings.Replace(job("term-1", ""), `"attempt":1`, `"attempt":0`, 1))},
		{"job/unknown priority", toAgent, jobTopic, env(1, key(), agentapi.KindJob, strings.Replace(job("term-1", ""), `"normal"`, `"urgent"`, 1))},
		{"job/result on the job topic", toAgent, jobTopic, env(1, key(), agentapi.KindResult, result(key(), "sent", ""))},
		{"job/for term-2 on term-1's topic", toAgent, jobTopic, env(1, key(), agentapi.KindJob, job("term-2", ""))},
		// Batches: refused whole when malformed, item by item otherwise.
		{"job/batch without items", toAgent, jobTopic, batch()},
		{"job/batch with an unknown field", toAgent, jobTopic, env(1, key(), agentapi.KindBatch, `{"items":[`+string(env(1, key(), agentapi.KindJob, job("term-1", "")))+`],"ttl":1}`)},
		{"job/batch of more than MaxBatch items", toAgent, jobTopic, batch(slices.Repeat([][]byte{env(1, key(), agentapi.KindJob, job("term-1", ""))}, agentapi.MaxBatch+1)...)},
		{"job/batch holding a result", toAgent, jobTopic, batch(env(1, key(), agentapi.KindResult, result(key(), "sent", "")))},
		{"job/batch inside a batch", toAgent, jobTopic, batch(batch(env(1, key(), agentapi.KindJob, job("term-1", ""))))},
		{"result/batch holding a bad result", toGateway, resultTopic, batch(env(1, key(), agentapi.KindResult, result(key(), "maybe", "")))},
		{"inbound/batch with items not a list", toGateway, inboundTopic, env(1, key(), agentapi.KindBatch, `{"items":"x"}`)},
		// Acks, to the agent.
		{"ack to agent/no keys", toAgent, ackToAgent, env(1, key(), agentapi.KindAck, `{"keys":[]}`)},
		{"ack to agent/more than MaxKeys keys", toAgent, ackToAgent, env(1, key(), agentapi.KindAck, keys(agentapi.MaxKeys+1, key))},
		{"ack to agent/short key", toAgent, ackToAgent, env(1, key(), agentapi.KindAck, `{"keys":["01ABC"]}`)},
		{"ack to agent/job on the ack topic", toAgent, ackToAgent, env(1, key(), agentapi.KindJob, job("term-1", ""))},
		{"ack to agent/garbage", toAgent, ackToAgent, []byte("ack!")},
		{"ack to agent/key not a ULID", toAgent, ackToAgent, env(1, key(), agentapi.KindAck, `{"keys":["`+strings.Repeat("Z", 26)+`"]}`)},
		// Results, to the gateway.
		{"result/garbage", toGateway, resultTopic, []byte("\xff\x00result")},
		{"result/empty payload", toGateway, resultTopic, []byte{}},
		{"result/unknown outcome", toGateway, resultTopic, env(1, key(), agentapi.KindResult, result(key(), "delivered-maybe", ""))},
		{"result/job key not a ULID", toGateway, resultTopic, env(1, key(), agentapi.KindResult, result(notULID, "sent", ""))},
		{"result/no time", toGateway, resultTopic, env(1, key(), agentapi.KindResult, strings.Replace(result(key(), "sent", ""), `"at":`+sent+`,`, ``, 1))},
		{"result/unknown version v:2", toGateway, resultTopic, env(2, key(), agentapi.KindResult, result(key(), "sent", ""))},
		{"result/inbound on the result topic", toGateway, resultTopic, env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "x", ""))},
		{"result/note too long", toGateway, resultTopic, env(1, key(), agentapi.KindResult, result(key(), "sent", `,"note":"`+strings.Repeat("n", agentapi.MaxNote+1)+`"`))},
		// Inbound pages, to the gateway.
		{"inbound/bad line id", toGateway, inboundTopic, env(1, key(), agentapi.KindInbound, inbound("tap/in", "normal", "x", ""))},
		{"inbound/unknown priority", toGateway, inboundTopic, env(1, key(), agentapi.KindInbound, inbound("tap-in", "urgent", "x", ""))},
		{"inbound/unknown body field", toGateway, inboundTopic, env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "x", `,"ward":"4W"`))},
		{"inbound/invalid UTF-8", toGateway, inboundTopic, env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "\xc3\x28", ""))},
		{"inbound/oversize", toGateway, inboundTopic, oversize(agentapi.KindInbound, inbound("tap-in", "normal", "x", ""))},
		{"inbound/no received time", toGateway, inboundTopic, env(1, key(), agentapi.KindInbound, strings.Replace(inbound("tap-in", "normal", "x", ""), `,"received":`+sent, ``, 1))},
		{"inbound/short key", toGateway, inboundTopic, env(1, "01ABC", agentapi.KindInbound, inbound("tap-in", "normal", "x", ""))},
		{"inbound/all-zero key", toGateway, inboundTopic, env(1, strings.Repeat("0", 26), agentapi.KindInbound, inbound("tap-in", "normal", "x", ""))},
		{"job/all-zero key", toAgent, jobTopic, env(1, strings.Repeat("0", 26), agentapi.KindJob, job("term-1", ""))},
		{"result/all-zero key", toGateway, resultTopic, env(1, strings.Repeat("0", 26), agentapi.KindResult, result(key(), "sent", ""))},
		{"result/all-zero job key", toGateway, resultTopic, env(1, key(), agentapi.KindResult, result(strings.Repeat("0", 26), "sent", ""))},
		// Acks, to the gateway.
		{"ack to gateway/no keys", toGateway, ackToGateway, env(1, key(), agentapi.KindAck, `{"keys":[]}`)},
		{"ack to gateway/more than MaxKeys keys", toGateway, ackToGateway, env(1, key(), agentapi.KindAck, keys(agentapi.MaxKeys+1, key))},
		{"ack to gateway/result on the ack topic", toGateway, ackToGateway, env(1, key(), agentapi.KindResult, result(key(), "sent", ""))},
		{"ack to gateway/empty payload", toGateway, ackToGateway, []byte{}},
		{"ack to gateway/all-zero key", toGateway, ackToGateway, env(1, key(), agentapi.KindAck, `{"keys":["`+strings.Repeat("0", 26)+`"]}`)},
		// Status, to the gateway (published without retain: a rejected
		// status must not linger on the broker).
		{"status/of agent-2 on agent-1's topic", toGateway, statusTopic, env(1, key(), agentapi.KindStatus, status("agent-2", "online", "ready"))},
		{"status/unknown state", toGateway, statusTopic, env(1, key(), agentapi.KindStatus, status(agentID, "asleep", "ready"))},
		{"status/device in an unknown state", toGateway, statusTopic, env(1, key(), agentapi.KindStatus, status(agentID, "online", "on-fire"))},
		{"status/garbage", toGateway, statusTopic, []byte("{")},
		{"status/unknown version v:2", toGateway, statusTopic, env(2, key(), agentapi.KindStatus, status(agentID, "online", "ready"))},
	}

	eachBroker(t, func(t *testing.T, b bus) {
		r := newRig(t, b, rigOptions{})
		raw := rawClient(t, b, "raw-"+b.name)
		var wantAgent, wantGateway uint64
		for _, c := range cases {
			before := [2]uint64{r.agent.Stats().Rejected, r.bridge.Stats().Rejected}
			if c.side == toAgent {
				wantAgent++
			} else {
				wantGateway++
			}
			publish(t, raw, c.topic, c.payload)
			waitFor(t, 30*time.Second, func() (bool, string) {
				now := [2]uint64{r.agent.Stats().Rejected, r.bridge.Stats().Rejected}
				return now[0] == wantAgent && now[1] == wantGateway,
					fmt.Sprintf("%s: rejected by agent %d→%d, by gateway %d→%d; want %d and %d", c.name, before[0], now[0], before[1], now[1], wantAgent, wantGateway)
			})
		}

		// Nothing came of any of them.
		as, bs := r.agent.Stats(), r.bridge.Stats()
		if as.Received != 0 || as.Duplicates != 0 {
			t.Errorf("agent took jobs from bad payloads: %+v", as)
		}
		if bs.Results != 0 || bs.Inbound != 0 || bs.Acked != 0 || bs.Duplicates != 0 {
			t.Errorf("gateway took reports from bad payloads: %+v", bs)
		}
		if st, err := r.agent.Spool().Stats(context.Background()); err != nil || st.Jobs != 0 || st.Items != 0 {
			t.Errorf("agent's spool after bad payloads: %+v %v", st, err)
		}
		if n := len(r.allResults()); n != 0 {
			t.Errorf("%d job results stored from bad payloads", n)
		}
		if n := r.storedCount(); n != 0 {
			t.Errorf("%d messages stored from bad payloads", n)
		}
		for i, term := range r.terms {
			if n := len(term.Pages()); n != 0 {
				t.Errorf("%s took %d pages from bad payloads", terminalIDs[i], n)
			}
		}
		if ags := r.bridge.Agents(); len(ags) != 1 || ags[0].ID != agentID || ags[0].State != "online" || !allReady(ags[0]) {
			t.Errorf("gateway's agents after bad status payloads: %+v", ags)
		}

		// Both ends still work.
		k := r.submit("term-1", "after the bad payloads", paging.PriorityNormal)
		if res := r.results([]paging.ID{k}, time.Minute)[k]; res.Outcome != string(agentapi.OutcomeSent) {
			t.Errorf("job after the bad payloads: %+v", res)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if acked := r.sendPages(ctx, []string{"page after the bad payloads"}, 1); len(acked) != 1 {
			t.Fatal("inbound page after the bad payloads not acknowledged")
		}
		waitFor(t, time.Minute, func() (bool, string) {
			n := r.storedCount()
			return n == 1, fmt.Sprintf("%d messages stored, want 1", n)
		})
		if got := r.storedTexts(); got["page after the bad payloads"] != 1 {
			t.Errorf("stored after the bad payloads: %v", got)
		}
		if n := r.pagesByText(0)["after the bad payloads"]; n != 1 {
			t.Errorf("job after the bad payloads reached term-1 %d times", n)
		}
		// A batch with a bad item among good ones: the good ones are
		// stored, the bad one alone is refused.
		wantGateway++
		publish(t, raw, inboundTopic, batch(
			env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "batched one", "")),
			env(1, key(), agentapi.KindInbound, inbound("tap-in", "urgent", "batched bad", "")),
			env(1, key(), agentapi.KindInbound, inbound("tap-in", "normal", "batched two", ""))))
		waitFor(t, time.Minute, func() (bool, string) {
			n := r.storedCount()
			return n == 3, fmt.Sprintf("%d messages stored, want 3", n)
		})
		if got := r.storedTexts(); got["batched one"] != 1 || got["batched two"] != 1 || got["batched bad"] != 0 {
			t.Errorf("stored from a batch with a bad item: %v", got)
		}
		if as, bs := r.agent.Stats().Rejected, r.bridge.Stats().Rejected; as != wantAgent || bs != wantGateway {
			t.Errorf("rejected by agent %d, by gateway %d; want %d and %d", as, bs, wantAgent, wantGateway)
		}
	})
}

// A critical job goes before the normal ones the agent already holds for
// a terminal that is away.
func TestCriticalJobGoesFirst(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		const normal = 200
		r := newRig(t, b, rigOptions{})
		term := r.terms[0]
		if err := term.Unplug(); err != nil {
			t.Fatal(err)
		}
		var keys []paging.ID
		for i := range normal {
			keys = append(keys, r.submit("term-1", fmt.Sprintf("normal %d", i), paging.PriorityNormal))
		}
		const critical = "CODE BLUE 4W bed 12"
		keys = append(keys, r.submit("term-1", critical, paging.PriorityCritical))
		waitFor(t, time.Minute, func() (bool, string) {
			d := r.agent.Stats().Devices["term-1"]
			return d.Queue == normal+1, fmt.Sprintf("term-1 holds %d jobs, want %d (%+v)", d.Queue, normal+1, d)
		})
		if n := len(term.Pages()); n != 0 {
			t.Fatalf("unplugged terminal took %d pages", n)
		}
		if err := term.Plug(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := term.WaitPages(ctx, func(p []tap.Page) bool { return len(p) > 0 }); err != nil {
			t.Fatal(err)
		}
		if first := term.Pages()[0].Text.Reveal(); first != critical {
			t.Errorf("first page after the terminal came back: %q, want the critical one", first)
		}
		res := r.results(keys, 2*time.Minute)
		for _, k := range keys {
			if res[k].Outcome != string(agentapi.OutcomeSent) || res[k].Resent {
				t.Errorf("job %s: %+v, want sent, not re-sent", k, res[k])
			}
		}
		took := r.pagesByText(0)
		if took[critical] != 1 || len(took) != normal+1 || len(term.Pages()) != normal+1 {
			t.Errorf("terminal took %d pages, %d distinct (critical %d times); want each of %d once",
				len(term.Pages()), len(took), took[critical], normal+1)
		}
	})
}

// The same job delivered several times runs once and has one result; the
// same inbound page delivered several times is stored once.
func TestDuplicateDeliveryDeduplicated(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		r := newRig(t, b, rigOptions{})
		raw := rawClient(t, b, "raw-dup-"+b.name)
		results := subscribe(t, raw, agentapi.ResultTopic(agentID))

		now := time.Now()
		jobKey := paging.NewID(now)
		const jobText = "job delivered six times"
		p, err := agentapi.Encode(jobKey, now, &agentapi.Job{Device: "term-1", Priority: paging.PriorityNormal,
			Action: "tap.page", To: "1002", Text: jobText, Attempt: 1})
		if err != nil {
			t.Fatal(err)
		}
		topic := agentapi.JobTopic(agentID, "term-1")
		// Three at once, while the job is new or pending; three more once
		// it is done.
		for range 3 {
			publish(t, raw, topic, p)
		}
		if res := r.results([]paging.ID{jobKey}, time.Minute)[jobKey]; res.Outcome != string(agentapi.OutcomeSent) {
			t.Errorf("result %+v, want sent", res)
		}
		for range 3 {
			publish(t, raw, topic, p)
		}
		waitFor(t, time.Minute, func() (bool, string) {
			st := r.agent.Stats()
			return st.Received == 6 && st.Duplicates == 5, fmt.Sprintf("agent received %d, duplicates %d; want 6 and 5", st.Received, st.Duplicates)
		})
		r.waitDrained(time.Minute)
		if n := r.pagesByText(0)[jobText]; n != 1 || len(r.terms[0].Pages()) != 1 {
			t.Errorf("term-1 took the job %d times (%d pages), want once", n, len(r.terms[0].Pages()))
		}
		if n := len(r.allResults()); n != 1 {
			t.Errorf("%d results stored, want 1", n)
		}
		// The agent made one result for it (published perhaps more than
		// once, always under the same key).
		resultKeys := map[string]bool{}
		for _, m := range results.all() {
			var res agentapi.Result
			e, err := agentapi.Open(m, &res)
			if err != nil {
				t.Fatalf("agent published a bad result: %v", err)
			}
			if res.Job == jobKey.String() {
				resultKeys[e.Key] = true
			}
		}
		if len(resultKeys) != 1 {
			t.Errorf("agent made %d results for the job, want 1", len(resultKeys))
		}

		inKey := paging.NewID(now)
		const inText = "inbound delivered five times"
		p, err = agentapi.Encode(inKey, now, &agentapi.Inbound{Line: "tap-in", Protocol: paging.ProtocolTAP, PagerID: "1002",
			Priority: paging.PriorityNormal, Text: inText, Received: now})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			publish(t, raw, agentapi.InboundTopic(agentID), p)
		}
		waitFor(t, time.Minute, func() (bool, string) {
			st := r.bridge.Stats()
			return st.Inbound == 5, fmt.Sprintf("gateway took %d inbound deliveries, want 5", st.Inbound)
		})
		ids, err := r.store.MessageIDs(context.Background(), paging.ID{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != inKey {
			t.Errorf("stored message IDs %v, want only %s", ids, inKey)
		}
		if got := r.storedTexts(); got[inText] != 1 {
			t.Errorf("stored texts %v, want the inbound page once", got)
		}
	})
}

// The gateway sees the agent and its devices, through Agents() and its
// metrics; an agent that stops cleanly says it is offline, and one whose
// connection breaks is marked offline by its last will.
func TestAgentStatus(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		px := startProxy(t, b.addr)
		r := newRig(t, b, rigOptions{agentBroker: "tcp://" + px.addr})

		h, _ := r.health()
		kinds := map[string]string{}
		for _, d := range h.Devices {
			kinds[d.ID] = d.Kind
		}
		wantKinds := map[string]string{"term-1": "paging-terminal", "term-2": "paging-terminal", "tap-in": "tap-line"}
		if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
			t.Errorf("devices %v, want %v", kinds, wantKinds)
		}
		if h.Version != "test" {
			t.Errorf("version %q", h.Version)
		}
		m := metrics(t, r.bridge)
		up := `pagebridge_agent_up{agent="agent-1"}`
		if m[up] != 1 {
			t.Errorf("%s = %v, want 1", up, m[up])
		}
		for dev, kind := range wantKinds {
			for _, s := range []string{"open", "initialising", "ready", "failing", "absent"} {
				name := fmt.Sprintf(`pagebridge_device_state{agent="agent-1",device=%q,kind=%q,state=%q}`, dev, kind, s)
				v, ok := m[name]
				want := 0.0
				if s == "ready" {
					want = 1
				}
				if !ok || v != want {
					t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
				}
			}
		}
		if v := m["pagebridge_bus_connected{}"]; v != 1 {
			t.Errorf("pagebridge_bus_connected = %v, want 1", v)
		}

		// The agent's connection breaks without a DISCONNECT: the broker
		// publishes its will.
		px.cut()
		r.waitAgent(30*time.Second, "offline", func(h agentbus.AgentHealth) bool { return h.State == "offline" })
		if v := metrics(t, r.bridge)[up]; v != 0 {
			t.Errorf("after the will: %s = %v, want 0", up, v)
		}

		// Back on the bus by itself.
		px.resume()
		r.waitAgent(30*time.Second, "online again with every device ready", func(h agentbus.AgentHealth) bool {
			return h.State == "online" && allReady(h)
		})
		if v := metrics(t, r.bridge)[up]; v != 1 {
			t.Errorf("after reconnecting: %s = %v, want 1", up, v)
		}

		// A clean stop.
		if err := r.stopAgent(); err != nil {
			t.Fatalf("agent Run: %v", err)
		}
		r.waitAgent(30*time.Second, "offline after a clean stop", func(h agentbus.AgentHealth) bool { return h.State == "offline" })
		if v := metrics(t, r.bridge)[up]; v != 0 {
			t.Errorf("after a clean stop: %s = %v, want 0", up, v)
		}
	})
}

// A job the agent cannot run is answered at once with fail-perm and a
// note saying why, and acknowledged, so the gateway stops sending it.
func TestRefusedJobs(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		r := newRig(t, b, rigOptions{})
		unknown := r.submit("term-9", "for a device the agent does not have", paging.PriorityNormal)
		sms := r.submitJob(&agentapi.Job{Device: "term-1", Priority: paging.PriorityHigh, Action: "sms.send",
			To: "+15550100", Text: "an SMS for a paging terminal"})
		res := r.results([]paging.ID{unknown, sms}, time.Minute)
		for k, note := range map[paging.ID]string{
			unknown: "no such device on this agent",
			sms:     `device kind paging-terminal does not carry out "sms.send"`,
		} {
			if got := res[k]; got.Outcome != string(agentapi.OutcomeFailPerm) || got.Note != note || got.Attempt != 1 {
				t.Errorf("job %s: %+v, want fail-perm with note %q", k, got, note)
			}
		}
		r.waitDrained(time.Minute)
		waitFor(t, time.Minute, func() (bool, string) {
			st := r.bridge.Stats()
			return st.Acked == 2, fmt.Sprintf("gateway stats %+v, want 2 acked", st)
		})
		// Acknowledged jobs leave the outbox: nothing of them is due, even
		// a day from now.
		waitFor(t, time.Minute, func() (bool, string) {
			due, err := r.store.DueOutbox(context.Background(), time.Now().Add(24*time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(due) == 0, fmt.Sprintf("%d refused jobs still in the outbox, to be sent again", len(due))
		})
		if n := len(r.allResults()); n != 2 {
			t.Errorf("%d results stored, want 2", n)
		}
		for i, term := range r.terms {
			if n := len(term.Pages()); n != 0 {
				t.Errorf("%s took %d pages", terminalIDs[i], n)
			}
		}
	})
}

// A page the terminal takes without answering leaves the job in doubt:
// the agent runs it again once the line is back, and its result says so;
// no other job reaches the terminal twice.
func TestJobInDoubtIsResent(t *testing.T) {
	t.Parallel()
	eachBroker(t, func(t *testing.T, b bus) {
		const silentText = "job 3, its answer lost"
		var silenced atomic.Bool
		answer := func(p tap.Page) sim.Answer {
			if p.Text.Reveal() == silentText && silenced.CompareAndSwap(false, true) {
				return sim.AnswerSilent
			}
			return sim.AnswerAccept
		}
		r := newRig(t, b, rigOptions{answers: []func(tap.Page) sim.Answer{answer}})
		texts := []string{"job 1", "job 2", silentText, "job 4", "job 5"}
		keys := make([]paging.ID, len(texts))
		for i, text := range texts {
			keys[i] = r.submit("term-1", text, paging.PriorityNormal)
		}
		res := r.results(keys, 2*time.Minute)
		for i, text := range texts {
			got := res[keys[i]]
			if text == silentText {
				if got.Outcome != string(agentapi.OutcomeSent) || !got.Resent || !strings.HasPrefix(got.Note, "outcome unknown, re-sent") {
					t.Errorf("job in doubt: %+v, want sent, re-sent, note \"outcome unknown, re-sent…\"", got)
				}
				continue
			}
			if got.Outcome != string(agentapi.OutcomeSent) || got.Resent || got.Note != "" {
				t.Errorf("job %q: %+v, want sent, not re-sent", text, got)
			}
		}
		took := r.pagesByText(0)
		for _, text := range texts {
			want := 1
			if text == silentText {
				want = 2
			}
			if took[text] != want {
				t.Errorf("term-1 took %q %d times, want %d", text, took[text], want)
			}
		}
		if n := len(r.terms[0].Pages()); n != len(texts)+1 {
			t.Errorf("term-1 took %d pages, want %d", n, len(texts)+1)
		}
		r.waitDrained(time.Minute)
	})
}
