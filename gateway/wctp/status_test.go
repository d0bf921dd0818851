package wctp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// replyMarker is in every reply's text: replies are PHI too, and go into
// the reply body (unlike a page's text), never into a log line.
const replyMarker = "PATIENT-JONES"

// trackedID is the tracking number of the page fakeTracker knows: client
// answering-svc's to 8005551212.
var trackedID = fixedID(testNow.Add(-time.Minute)).String()

// fakeTracker keeps tracked pages in memory and hands out one status and
// one reply, each until confirmed, as a wctp.Tracker should. It checks
// ownership as the port requires: a page is visible to its party only.
type fakeTracker struct {
	mu      sync.Mutex
	tracked []Tracked
	pages   map[string]fakePage // by party kind/ID and tracking number
	err     error
	polls   []Caller
	// out are the items handed out and not confirmed, by sequence number.
	out  map[string]Item
	next int
}

type fakePage struct {
	party     Party
	recipient string
	report    Report
}

func newFakeTracker() *fakeTracker {
	f := &fakeTracker{pages: map[string]fakePage{}, out: map[string]Item{}}
	f.pages[trackedID] = fakePage{party: Party{Client: true, ID: "answering-svc"}, recipient: "8005551212", report: Report{
		Received: testNow.Add(-time.Minute),
		Status:   Status{State: StateAcknowledged, At: testNow.Add(-10 * time.Second)},
		Replies: []Reply{{ID: "01KREPLY0000000000000000000", From: "dr-lee", At: testNow.Add(-20 * time.Second),
			Text: paging.NewPHI("On my way, 5 min " + replyMarker + " <ok> & \"thanks\"")}},
	}}
	return f
}

func (f *fakeTracker) Track(ctx context.Context, t Tracked) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.tracked = append(f.tracked, t)
	return nil
}

func (f *fakeTracker) Query(ctx context.Context, c Caller, tracking, recipient string) (Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Report{}, f.err
	}
	p, ok := f.pages[tracking]
	if !ok || p.party != c.Party || p.recipient != recipient {
		return Report{}, ErrUnknownMessage
	}
	return p.report, nil
}

func (f *fakeTracker) Poll(ctx context.Context, c Caller, received []Received, max int) ([]Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.polls = append(f.polls, c)
	for _, r := range received {
		if r.OK {
			if _, ok := f.out[r.Seq]; ok {
				f.out[r.Seq] = Item{} // confirmed: never again
			}
		}
	}
	if c.ID != "nursecall-4w" {
		return nil, nil
	}
	if len(f.out) == 0 {
		base := Item{Message: fixedID(testNow.Add(-time.Minute)), Ref: "4W-0001", Recipient: "4711", Received: testNow.Add(-time.Minute)}
		st, rp := base, base
		st.Status = Status{State: StateDelivered, At: testNow.Add(-50 * time.Second)}
		rp.Reply = &Reply{ID: "01KREPLY0000000000000000000", From: "dr-lee", At: testNow.Add(-20 * time.Second),
			Text: paging.NewPHI("Coming " + replyMarker)}
		for _, it := range []Item{st, rp} {
			f.next++
			it.Seq = strconv.Itoa(f.next)
			f.out[it.Seq] = it
		}
	}
	var items []Item
	for _, seq := range slices.Sorted(func(yield func(string) bool) {
		for k := range f.out {
			if !yield(k) {
				return
			}
		}
	}) {
		if it := f.out[seq]; it.Seq != "" && len(items) < max {
			items = append(items, it)
		}
	}
	return items, nil
}

// failureIn checks that w is a WCTP document holding wrapper/wctp-Failure
// and returns its errorCode.
func failureIn(t *testing.T, w *httptest.ResponseRecorder, wrapper string) int {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("HTTP status = %d, want 200; body %q", w.Code, w.Body)
	}
	d := getDoc()
	defer d.release()
	root, perr := d.parse(w.Body.Bytes())
	if perr != nil {
		t.Fatalf("reply does not parse: %v\n%s", perr, w.Body)
	}
	if root.name != opOperation || len(root.children) != 1 || root.children[0].name != wrapper ||
		len(root.children[0].children) != 1 || root.children[0].children[0].name != "wctp-Failure" {
		t.Fatalf("reply is not %s/wctp-Failure:\n%s", wrapper, w.Body)
	}
	f := root.children[0].children[0]
	code, _ := f.attr("errorCode")
	n, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("errorCode %q", code)
	}
	if text, _ := f.attr("errorText"); text != CodeText(n) {
		t.Errorf("errorText = %q, want %q", text, CodeText(n))
	}
	return n
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name + ".golden"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("reply differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

const statusOp = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<wctp-Operation wctpVersion="wctp-dtd-v1r3">%s</wctp-Operation>`

func TestVersionQuery(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Responder = "Pagebridge at General Hospital"
		c.Contact = Contact{Email: "it@hospital.example", Info: "Pagebridge WCTP gateway"}
	})
	w := e.post(t, fmt.Sprintf(statusOp, `<wctp-VersionQuery inquirer="nurse call" dateTime="2026-03-01T09:59:59"/>`))
	golden(t, "versionquery", w.Body.Bytes())
	if e.acc.Calls() != 0 || len(e.tr.tracked) != 0 {
		t.Error("a version query accepted or tracked something")
	}
	// Without configuration, the defaults: no wctp-ContactInfo.
	e = newEnv(t, nil)
	w = e.post(t, fmt.Sprintf(statusOp, `<wctp-VersionQuery inquirer="x"/>`))
	if body := w.Body.String(); !strings.Contains(body, `responder="Pagebridge"`) || strings.Contains(body, "wctp-ContactInfo") {
		t.Errorf("default version response:\n%s", body)
	}
}

func TestClientQuery(t *testing.T) {
	e := newEnv(t, nil)
	q := `<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="8005551212" trackingNumber="` + trackedID + `"/>`
	w := e.post(t, fmt.Sprintf(statusOp, q))
	body := w.Body.String()
	golden(t, "clientquery", []byte(body))
	if !strings.Contains(body, "On my way, 5 min "+replyMarker+" &lt;ok&gt; &amp; &#34;thanks&#34;") {
		t.Errorf("reply text missing or not escaped:\n%s", body)
	}
	for name, edit := range map[string]string{
		"another recipient":      `recipientID="4711"`,
		"another tracking":       `trackingNumber="` + fixedID(testNow).String() + `"`,
		"a sender's own page ID": `trackingNumber="4W-0001"`,
	} {
		attr := edit[:strings.IndexByte(edit, '=')+1]
		old := q[strings.Index(q, attr):]
		old = old[:len(attr)+1+strings.IndexByte(old[len(attr)+1:], '"')+1]
		w := e.do(t, "POST", "text/xml", fmt.Sprintf(statusOp, strings.Replace(q, old, edit, 1)))
		if code := failureIn(t, w, "wctp-ClientQueryResponse"); code != CodeUnknownMessage {
			t.Errorf("%s: code %d, want %d", name, code, CodeUnknownMessage)
		}
	}
}

// TestClientQueryStates renders each state as WCTP has it.
func TestClientQueryStates(t *testing.T) {
	for _, tt := range []struct {
		state State
		want  string
	}{
		{StateQueued, `<wctp-Notification type="QUEUED"/>`},
		{StateDelivered, `<wctp-Notification type="DELIVERED"/>`},
		{StateRead, `<wctp-Notification type="READ"/>`},
		{StateAcknowledged, `<wctp-Notification type="READ" pagebridgeStatus="ACKNOWLEDGED"/>`},
		{StateExpired, `<wctp-Failure errorCode="501" errorText="Message expired"/>`},
	} {
		e := newEnv(t, nil)
		p := e.tr.pages[trackedID]
		p.report.Status.State, p.report.Replies = tt.state, nil
		e.tr.pages[trackedID] = p
		w := e.post(t, fmt.Sprintf(statusOp, `<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="8005551212" trackingNumber="`+trackedID+`"/>`))
		if !strings.Contains(w.Body.String(), "<wctp-ClientStatusInfo>\n<wctp-ClientResponseHeader") || !strings.Contains(w.Body.String(), tt.want+"\n</wctp-ClientStatusInfo>") {
			t.Errorf("%v: want %s in\n%s", tt.state, tt.want, w.Body)
		}
		if strings.Contains(w.Body.String(), "wctp-ClientMessageReply") {
			t.Errorf("%v: a reply without replies", tt.state)
		}
	}
}

func TestPollForMessages(t *testing.T) {
	e := newEnv(t, nil)
	poll := func(inner string) string {
		t.Helper()
		w := e.do(t, "POST", "text/xml", fmt.Sprintf(statusOp, `<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w" maxMessagesInBatch="5">`+inner+`</wctp-PollForMessages>`))
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		return w.Body.String()
	}
	first := poll("")
	golden(t, "pollresponse", []byte(first))
	if !strings.Contains(first, "Coming "+replyMarker) {
		t.Errorf("reply text missing:\n%s", first)
	}
	// Unconfirmed (or failed): the same messages, the same numbers.
	if again := poll(`<wctp-MessageReceived sequenceNo="2"><wctp-Failure errorCode="604"/></wctp-MessageReceived>`); again != first {
		t.Errorf("unconfirmed poll differs:\n%s\nfirst:\n%s", again, first)
	}
	// Confirm the status: only the reply is left.
	if got := poll(`<wctp-MessageReceived sequenceNo="1"><wctp-Success successCode="200"/></wctp-MessageReceived>`); strings.Contains(got, "wctp-StatusInfo") || !strings.Contains(got, `<wctp-Message sequenceNo="2">`) {
		t.Errorf("after confirming 1:\n%s", got)
	}
	none := poll(`<wctp-MessageReceived sequenceNo="2"><wctp-Success successCode="200" successText="ok">fine</wctp-Success></wctp-MessageReceived>`)
	golden(t, "pollresponse-nomessages", []byte(none))
	if n := len(e.tr.polls); n != 4 || e.tr.polls[0].Party != (Party{ID: "nursecall-4w"}) || e.tr.polls[0].Remote == "" {
		t.Errorf("polls = %+v", e.tr.polls)
	}
}

func TestPollBatchBounds(t *testing.T) {
	for _, tt := range []struct {
		attr string
		want int
	}{{"", DefaultPollBatch}, {` maxMessagesInBatch="1"`, 1}, {` maxMessagesInBatch=" 7 "`, 7}, {` maxMessagesInBatch="100000"`, MaxPollBatch}} {
		r, err := ParseRequest([]byte(fmt.Sprintf(statusOp, `<wctp-PollForMessages pollerID="p" securityCode="s"`+tt.attr+`/>`)))
		if err != nil {
			t.Fatal(err)
		}
		if n := cmpOr(r.Poll.MaxMessages, DefaultPollBatch); n != tt.want {
			t.Errorf("%q: batch %d, want %d", tt.attr, n, tt.want)
		}
	}
}

func cmpOr(a, b int) int {
	if a == 0 {
		return b
	}
	return a
}

// TestSubmitTracked checks what a submit hands the tracker, after the
// accept, and that a tracker failing does not fail the accepted page.
func TestSubmitTracked(t *testing.T) {
	e := newEnv(t, nil)
	if resp := wctpReply(t, e.post(t, readTestdata(t, "submitrequest-v1r3.xml"))); !resp.Success {
		t.Fatalf("reply = %+v", resp)
	}
	if resp := wctpReply(t, e.post(t, readTestdata(t, "submitclientmessage-v1r3.xml"))); !resp.Success {
		t.Fatalf("reply = %+v", resp)
	}
	msgs, _ := e.acc.Messages()
	want := []Tracked{
		{Party: Party{ID: "nursecall-4w"}, Message: msgs[0].ID, Ref: "4W-0001", Recipient: "4711", Received: testNow,
			AllowResponse: false, NotifyDelivered: true},
		{Party: Party{Client: true, ID: "answering-svc"}, Message: msgs[1].ID, Recipient: "8005551212", Received: testNow,
			AllowResponse: true},
	}
	if !slices.Equal(e.tr.tracked, want) {
		t.Errorf("tracked\n%+v\nwant\n%+v", e.tr.tracked, want)
	}
	e = newEnv(t, nil)
	e.tr.err = errors.New("disk gone")
	if resp := wctpReply(t, e.post(t, readTestdata(t, "submitrequest-v1r3.xml"))); !resp.Success || e.acc.Calls() != 1 {
		t.Fatalf("a tracker failure failed the page: %+v", resp)
	}
	if !strings.Contains(e.log.String(), "not tracked") {
		t.Errorf("tracker failure not logged:\n%s", e.log)
	}
}
