package airtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/pocsag/pocsagtest"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// rig is a scheduler on a simulated transmitter.
type rig struct {
	s     *Scheduler
	drv   *transmitter.Driver
	clock *transmitter.SimClock
	ptt   *transmitter.FakePTT
	out   *bytes.Buffer
	sent  map[string][]time.Time
	order []string
}

func newRig(t *testing.T, cfg transmitter.Config, opts Options) *rig {
	t.Helper()
	r := &rig{clock: transmitter.NewSimClock(t0), out: &bytes.Buffer{}, sent: map[string][]time.Time{}}
	r.ptt = &transmitter.FakePTT{Clock: r.clock}
	drv, err := transmitter.New(r.out, r.ptt, r.clock, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.drv = drv
	opts.Clock = r.clock
	opts.OnSent = func(id string, at time.Time) {
		r.sent[id] = append(r.sent[id], at)
		r.order = append(r.order, id)
	}
	r.s = New(drv, opts)
	return r
}

// drain runs the scheduler until nothing is queued.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for range 10000 {
		err := r.s.step(context.Background())
		if errors.Is(err, errIdle) {
			return
		}
	}
	t.Fatal("scheduler did not drain")
}

func (r *rig) enqueue(t *testing.T, req Request) {
	t.Helper()
	if err := r.s.Enqueue(req); err != nil {
		t.Fatal(err)
	}
}

// decoded is the audio the transmitter sent, decoded.
func (r *rig) decoded(t *testing.T, rate pocsag.Rate) []pocsagtest.Message {
	t.Helper()
	msgs, err := pocsagtest.Decode(pocsagtest.SliceNRZ(r.out.Bytes(), pocsag.DefaultSampleRate, rate, false))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return msgs
}

func alphaReq(id string, ric uint32, text string, p paging.Priority) Request {
	return Request{ID: id, Rate: pocsag.Rate1200, Priority: p,
		Page: pocsag.Page{RIC: ric, Function: 3, Kind: pocsag.Alpha, Text: paging.NewPHI(text)}}
}

// text40 is a 40-character page text.
func text40(i int) string {
	return fmt.Sprintf("%-40s", fmt.Sprintf("Page %04d: ward 4W bed %d call 4711", i, i%30))
}

// TestPacked: 20 pages to different capcodes go behind one preamble, in
// frame order, each decoded with its address, function and text, each
// reported sent once at the time its codewords were on air.
func TestPacked(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{})
	rng := rand.New(rand.NewPCG(1, 1))
	want := map[uint32]string{}
	var pages []pocsag.Page
	for i := range 20 {
		ric := uint32(rng.IntN(pocsag.MaxRIC))
		want[ric] = text40(i)
		req := alphaReq(fmt.Sprint(i), ric, text40(i), paging.PriorityNormal)
		pages = append(pages, req.Page)
		r.enqueue(t, req)
	}
	r.drain(t)
	if st := r.drv.Stats(); st.Transmissions != 1 {
		t.Errorf("%d transmissions, want 1", st.Transmissions)
	}
	msgs := r.decoded(t, pocsag.Rate1200)
	if len(msgs) != 20 {
		t.Fatalf("decoded %d pages", len(msgs))
	}
	for _, m := range msgs {
		if want[m.RIC] != m.Alpha() || m.Function != 3 || !m.Terminated || m.Transmission != 0 {
			t.Errorf("page to %d: %q function %d", m.RIC, m.Alpha(), m.Function)
		}
	}
	// The same layout as pocsag.Encode's (soonest frame first): as many
	// batches, behind key-up and preamble, then the tail.
	tx, err := pocsag.Encode(pocsag.Rate1200, pages...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := transmitter.DefaultConfig()
	keyed := r.ptt.Changes()
	if len(keyed) != 2 || keyed[1].At.Sub(keyed[0].At) != cfg.KeyUp+tx.Duration()+cfg.Tail {
		t.Errorf("keyed %+v, want %v", keyed, cfg.KeyUp+tx.Duration()+cfg.Tail)
	}
	for i, m := range msgs {
		if i > 0 && m.Pos <= msgs[i-1].Pos {
			t.Errorf("page %d at %d before page %d at %d", i, m.Pos, i-1, msgs[i-1].Pos)
		}
		if !slices.Contains(tx.Starts, m.Pos) {
			t.Errorf("page to %d at %d, where pocsag.Encode puts no page", m.RIC, m.Pos)
		}
	}
	for i := range 20 {
		at := r.sent[fmt.Sprint(i)]
		if len(at) != 1 || at[0].Before(keyed[0].At) || at[0].After(keyed[1].At) {
			t.Errorf("page %d reported sent at %v", i, at)
		}
	}
	if snap := r.s.Snapshot(); snap.Sent.Normal != 20 || snap.Queued != (Depth{}) || snap.Transmissions != 1 || snap.LastError != "" {
		t.Errorf("snapshot %+v", snap)
	}
}

// TestCriticalPreempts: a critical page queued while a long queue of
// routine pages is on air goes out within a few batches, in the same
// transmission, ahead of the routine pages not yet laid out; no routine
// page is cut or lost.
func TestCriticalPreempts(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{})
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range 150 {
		r.enqueue(t, alphaReq(fmt.Sprint(i), uint32(rng.IntN(pocsag.MaxRIC)), text40(i), paging.PriorityNormal))
	}
	arrive := t0.Add(5*time.Second + 123*time.Millisecond)
	r.clock.At(arrive, func() {
		r.enqueue(t, alphaReq("code", 1234567, "CODE BLUE 4W Rm 412", paging.PriorityCritical))
	})
	r.drain(t)
	at := r.sent["code"]
	if len(at) != 1 {
		t.Fatalf("critical page sent %d times", len(at))
	}
	wait := at[0].Sub(arrive)
	if b := pocsag.Rate1200.BatchDuration(); wait > 4*b {
		t.Errorf("critical page waited %v, more than 4 batches (%v)", wait, 4*b)
	}
	if wait > r.s.WorstCriticalWait() {
		t.Errorf("critical page waited %v, above the bound %v", wait, r.s.WorstCriticalWait())
	}
	msgs := r.decoded(t, pocsag.Rate1200)
	if len(msgs) != 151 {
		t.Fatalf("decoded %d pages, want 151", len(msgs))
	}
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Alpha()]++
		if m.RIC == 1234567 && m.Transmission != 0 {
			t.Errorf("critical page in transmission %d, want the one on air", m.Transmission)
		}
	}
	for i := range 150 {
		if seen[text40(i)] != 1 || len(r.sent[fmt.Sprint(i)]) != 1 {
			t.Errorf("page %d decoded %d times, reported %d", i, seen[text40(i)], len(r.sent[fmt.Sprint(i)]))
		}
	}
	// Pages reported before the critical one were laid out before it came.
	for _, id := range r.order {
		if id == "code" {
			break
		}
		if r.sent[id][0].After(at[0]) {
			t.Errorf("page %s reported before the critical page but sent after it", id)
		}
	}
	if snap := r.s.Snapshot(); snap.MaxCriticalWait != wait || snap.Sent.Critical != 1 {
		t.Errorf("snapshot max critical wait %v sent %+v, want %v", snap.MaxCriticalWait, snap.Sent, wait)
	}
}

// TestCriticalOtherRate: a critical page at 512 bit/s ends the 1200
// bit/s transmission on air after the page in progress, and goes next,
// within the bound.
func TestCriticalOtherRate(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{})
	for i := range 150 {
		r.enqueue(t, alphaReq(fmt.Sprint(i), uint32(1000+i*37), text40(i), paging.PriorityNormal))
	}
	arrive := t0.Add(3 * time.Second)
	r.clock.At(arrive, func() {
		req := alphaReq("code", 7654321&pocsag.MaxRIC, "CODE BLUE", paging.PriorityCritical)
		req.Rate = pocsag.Rate512
		r.enqueue(t, req)
	})
	r.drain(t)
	at := r.sent["code"]
	if len(at) != 1 {
		t.Fatalf("critical page sent %d times", len(at))
	}
	if wait := at[0].Sub(arrive); wait > r.s.WorstCriticalWait() || wait > 5*time.Second {
		t.Errorf("critical page at another rate waited %v (bound %v)", wait, r.s.WorstCriticalWait())
	}
	ch := r.ptt.Changes()
	if len(ch) < 6 || ch[1].At.After(arrive.Add(2*time.Second)) {
		t.Errorf("the first transmission did not end soon after the critical page came: %+v", ch[:min(len(ch), 4)])
	}
	for i := range 150 {
		if len(r.sent[fmt.Sprint(i)]) != 1 {
			t.Errorf("page %d reported %d times", i, len(r.sent[fmt.Sprint(i)]))
		}
	}
}

// TestGroup: identical pages to a group capcode go once, reported for
// every ID, at the higher priority; other duplicates go as asked.
func TestGroup(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{})
	for i := range 30 {
		req := alphaReq(fmt.Sprint("g", i), 500000, "CODE BLUE 4W", paging.PriorityNormal)
		req.Group = true
		if i == 29 {
			req.Priority = paging.PriorityCritical
		}
		r.enqueue(t, req)
	}
	other := alphaReq("g-other", 500000, "CODE BLUE 5E", paging.PriorityNormal)
	other.Group = true
	r.enqueue(t, other)
	r.enqueue(t, alphaReq("p1", 600000, "same text", paging.PriorityNormal))
	r.enqueue(t, alphaReq("p2", 600000, "same text", paging.PriorityNormal))
	r.enqueue(t, alphaReq("p1", 600000, "same text", paging.PriorityNormal)) // same ID again
	if snap := r.s.Snapshot(); snap.Queued != (Depth{Normal: 3, Critical: 1}) {
		t.Errorf("queued %+v", snap.Queued)
	}
	r.drain(t)
	msgs := r.decoded(t, pocsag.Rate1200)
	count := map[string]int{}
	for _, m := range msgs {
		count[fmt.Sprint(m.RIC, " ", m.Alpha())]++
	}
	if count["500000 CODE BLUE 4W"] != 1 || count["500000 CODE BLUE 5E"] != 1 || count["600000 same text"] != 2 || len(msgs) != 4 {
		t.Errorf("on air: %v", count)
	}
	for i := range 30 {
		if len(r.sent[fmt.Sprint("g", i)]) != 1 {
			t.Errorf("group request %d reported %d times", i, len(r.sent[fmt.Sprint("g", i)]))
		}
	}
	if r.order[0] != "g0" || len(r.sent["p1"]) != 1 {
		t.Errorf("first reported %s (want the group page, raised to critical); p1 %d times", r.order[0], len(r.sent["p1"]))
	}
}

func TestCancel(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{})
	a, b := alphaReq("a", 700000, "group text", paging.PriorityNormal), alphaReq("b", 700000, "group text", paging.PriorityNormal)
	a.Group, b.Group = true, true
	r.enqueue(t, a)
	r.enqueue(t, b)
	r.enqueue(t, alphaReq("c", 800000, "to be cancelled", paging.PriorityHigh))
	if !r.s.Cancel("a") || !r.s.Cancel("c") || r.s.Cancel("c") || r.s.Cancel("nope") {
		t.Fatal("Cancel results wrong")
	}
	r.drain(t)
	if len(r.sent) != 1 || len(r.sent["b"]) != 1 || len(r.decoded(t, pocsag.Rate1200)) != 1 {
		t.Errorf("sent %v", r.sent)
	}
}

// TestFIFOWindow: with a window of one the packer sends in arrival order.
func TestFIFOWindow(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{Window: 1})
	for i := range 40 {
		r.enqueue(t, alphaReq(fmt.Sprint(i), uint32(2000+(i*5)%8+8*i), "x", paging.PriorityNormal))
	}
	r.drain(t)
	for i, id := range r.order {
		if id != fmt.Sprint(i) {
			t.Fatalf("order %v", r.order)
		}
	}
}

// TestEnqueueErrors: requests that cannot go are refused with a clear
// error that does not quote the text, and nothing is queued.
func TestEnqueueErrors(t *testing.T) {
	cfg := transmitter.DefaultConfig()
	cfg.MaxTransmission = 3 * time.Second
	r := newRig(t, cfg, Options{MaxChars: 300})
	secret := "Patient Jane Roe"
	for _, c := range []struct {
		name string
		req  Request
		want error
	}{
		{"no ID", alphaReq("", 8, secret, paging.PriorityNormal), ErrInvalid},
		{"bad rate", func() Request { q := alphaReq("x", 8, secret, paging.PriorityNormal); q.Rate = 1600; return q }(), pocsag.ErrRate},
		{"bad priority", alphaReq("x", 8, secret, 7), ErrInvalid},
		{"RIC out of range", alphaReq("x", 1<<21, secret, paging.PriorityNormal), pocsag.ErrRIC},
		{"bad character", alphaReq("x", 8, secret+"\x01", paging.PriorityNormal), pocsag.ErrCharacter},
		{"function 4", func() Request { q := alphaReq("x", 8, secret, paging.PriorityNormal); q.Page.Function = 4; return q }(), pocsag.ErrFunction},
		{"above MaxChars", alphaReq("x", 8, strings.Repeat(secret, 20), paging.PriorityNormal), ErrTooLong},
		{"longer than a transmission", alphaReq("x", 8, strings.Repeat("y", 250), paging.PriorityNormal), ErrTooLong},
	} {
		err := r.s.Enqueue(c.req)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		} else if strings.Contains(err.Error(), "Jane") {
			t.Errorf("%s: error quotes the text: %v", c.name, err)
		}
	}
	if snap := r.s.Snapshot(); snap.Queued != (Depth{}) {
		t.Errorf("queued %+v", snap.Queued)
	}
}

// TestDutyCycleScheduling: with a tight duty cycle the scheduler waits
// rather than exceed it; a critical page arriving during the wait goes at
// once on the reserve.
func TestDutyCycleScheduling(t *testing.T) {
	cfg := transmitter.DefaultConfig()
	cfg.MaxTransmission = 5 * time.Second
	cfg.DutyLimit, cfg.DutyWindow = 0.2, 60*time.Second // 12 s a minute, 5 s reserved
	r := newRig(t, cfg, Options{})
	for i := range 100 {
		r.enqueue(t, alphaReq(fmt.Sprint(i), uint32(3000+i*11), text40(i), paging.PriorityNormal))
	}
	arrive := t0.Add(30 * time.Second)
	r.clock.At(arrive, func() { r.enqueue(t, alphaReq("code", 1234567, "CODE BLUE", paging.PriorityCritical)) })
	r.drain(t)
	if len(r.sent) != 101 {
		t.Fatalf("%d pages sent", len(r.sent))
	}
	if wait := r.sent["code"][0].Sub(arrive); wait > r.s.WorstCriticalWait() {
		t.Errorf("critical page waited %v for the duty cycle (bound %v)", wait, r.s.WorstCriticalWait())
	}
	// Every window of 60 s holds at most 12 s of keyed time, and routine
	// transmissions alone at most 7 s.
	ch := r.ptt.Changes()
	var spans [][2]time.Time
	for i := 0; i+1 < len(ch); i += 2 {
		spans = append(spans, [2]time.Time{ch[i].At, ch[i+1].At})
	}
	for _, s := range spans {
		end := s[1]
		var used time.Duration
		for _, o := range spans {
			from, to := o[0], o[1]
			if from.Before(end.Add(-cfg.DutyWindow)) {
				from = end.Add(-cfg.DutyWindow)
			}
			if to.After(end) {
				to = end
			}
			if to.After(from) {
				used += to.Sub(from)
			}
		}
		if used > 12*time.Second {
			t.Errorf("window ending %v holds %v keyed", end.Sub(t0), used)
		}
	}
	// 100 pages of 15 codewords need about 94 batches, 42 s of air: at
	// 12 s a minute (7 for routine pages) that is several minutes.
	if last := ch[len(ch)-1].At.Sub(t0); last < 4*time.Minute {
		t.Errorf("all sent by %v: the duty cycle was not kept", last)
	}
	snap := r.s.Snapshot()
	if snap.AirTime > 12*time.Second || snap.CriticalHeadroom-snap.Headroom != 5*time.Second && snap.Headroom != 0 {
		t.Errorf("snapshot air time %v headroom %v critical %v", snap.AirTime, snap.Headroom, snap.CriticalHeadroom)
	}
}

// TestTransmitterFaults: a PTT that fails leaves the pages queued until it
// works; a write that fails mid-transmission re-queues the pages not yet
// on air, and every page is reported once.
func TestTransmitterFaults(t *testing.T) {
	r := newRig(t, transmitter.DefaultConfig(), Options{RetryDelay: time.Second})
	r.enqueue(t, alphaReq("a", 8, "first", paging.PriorityNormal))
	r.ptt.Fail(errors.New("EIO"))
	if err := r.s.step(context.Background()); !errors.Is(err, transmitter.ErrPTT) {
		t.Fatalf("step: %v", err)
	}
	snap := r.s.Snapshot()
	if snap.Queued.Normal != 1 || !strings.Contains(snap.LastError, "PTT") || len(r.sent) != 0 {
		t.Fatalf("after a PTT failure: %+v", snap)
	}
	if r.clock.Now() != t0.Add(time.Second) {
		t.Errorf("no retry pause: %v", r.clock.Now().Sub(t0))
	}
	r.ptt.Fail(nil)
	r.drain(t)
	if len(r.sent["a"]) != 1 || r.s.Snapshot().LastError != "" {
		t.Errorf("after recovery: sent %v, %+v", r.sent, r.s.Snapshot())
	}

	// A sound device that fails on its fifth write.
	fw := &failingWriter{failAt: 5}
	r2 := newRig(t, transmitter.DefaultConfig(), Options{RetryDelay: time.Second})
	drv, err := transmitter.New(fw, r2.ptt, r2.clock, transmitter.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	r2.s.drv = drv
	for i := range 20 {
		r2.enqueue(t, alphaReq(fmt.Sprint(i), uint32(9000+i*3), text40(i), paging.PriorityNormal))
	}
	if err := r2.s.step(context.Background()); !errors.Is(err, transmitter.ErrWrite) {
		t.Fatalf("step: %v", err)
	}
	first := len(r2.sent)
	if first == 0 || first >= 20 {
		t.Errorf("%d pages reported after a failure in the fourth batch", first)
	}
	r2.drain(t)
	for i := range 20 {
		if len(r2.sent[fmt.Sprint(i)]) != 1 {
			t.Errorf("page %d reported %d times", i, len(r2.sent[fmt.Sprint(i)]))
		}
	}
}

// failingWriter fails its failAt-th write only.
type failingWriter struct {
	failAt, writes int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes == w.failAt {
		return 0, errors.New("device gone")
	}
	return len(p), nil
}
