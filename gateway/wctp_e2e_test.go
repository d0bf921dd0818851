package main

// WCTP status and two-way, end to end: the demo daemon over HTTPS on
// loopback, an enterprise sender polling (wctp-PollForMessages) and a
// transient client asking (wctp-ClientQuery) about pages to an app-stage
// person, who reads, replies and acknowledges through the JSON API; a
// restart between a reply handed out and its confirmation.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

// wctpDoc is what the test reads of a WCTP reply.
type wctpDoc struct {
	Poll *struct {
		Messages []struct {
			Seq    string    `xml:"sequenceNo,attr"`
			Status *wctpInfo `xml:"wctp-StatusInfo"`
			Reply  *wctpInfo `xml:"wctp-MessageReply"`
		} `xml:"wctp-Message"`
		NoMessages *struct{}    `xml:"wctp-NoMessages"`
		Failure    *wctpFailure `xml:"wctp-Failure"`
	} `xml:"wctp-PollResponse"`
	Query *struct {
		Messages []struct {
			Status *wctpInfo `xml:"wctp-ClientStatusInfo"`
			Reply  *wctpInfo `xml:"wctp-ClientMessageReply"`
		} `xml:"wctp-ClientMessage"`
		Failure *wctpFailure `xml:"wctp-Failure"`
	} `xml:"wctp-ClientQueryResponse"`
	Confirmation *struct {
		Success *struct{}    `xml:"wctp-Success"`
		Failure *wctpFailure `xml:"wctp-Failure"`
	} `xml:"wctp-Confirmation"`
	Client *struct {
		Success *struct {
			Tracking string `xml:"trackingNumber,attr"`
		} `xml:"wctp-ClientSuccess"`
	} `xml:"wctp-SubmitClientResponse"`
}

type wctpInfo struct {
	Header struct {
		RespondingTo string `xml:"responseToMessageID,attr"`
		From         string `xml:"onBehalfOfRecipientID,attr"`
		Control      struct {
			ID string `xml:"messageID,attr"`
		} `xml:"wctp-MessageControl"`
	} `xml:"wctp-ResponseHeader"`
	Notification *struct {
		Type   string `xml:"type,attr"`
		Status string `xml:"pagebridgeStatus,attr"`
	} `xml:"wctp-Notification"`
	Failure *wctpFailure `xml:"wctp-Failure"`
	Text    string       `xml:"wctp-Payload>wctp-Alphanumeric"`
}

type wctpFailure struct {
	Code int `xml:"errorCode,attr"`
}

// state is what a status says: QUEUED, DELIVERED, READ, ACKNOWLEDGED, or
// FAILED <code>.
func (i *wctpInfo) state() string {
	switch {
	case i.Failure != nil:
		return fmt.Sprintf("FAILED %d", i.Failure.Code)
	case i.Notification != nil && i.Notification.Status != "":
		return i.Notification.Status
	case i.Notification != nil:
		return i.Notification.Type
	}
	return "?"
}

func TestWCTPStatusAndTwoWay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	root := t.TempDir()
	// The demo's config, with a transient client and a second sender and
	// client that must see nothing of the first ones' pages.
	cfg, err := demoConfig(root, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.WCTP.Clients = append(cfg.WCTP.Clients,
		WCTPClient{ID: "answering-svc", Password: "client-pw-e2e", Line: "answering service"},
		WCTPClient{ID: "other-svc", Password: "other-pw-e2e"})
	cfg.WCTP.Senders = append(cfg.WCTP.Senders, WCTPSender{ID: "other-nurse-call", SecurityCode: "other-code-e2e"})
	if err := writeConfig(filepath.Join(root, demoConfigName), cfg); err != nil {
		t.Fatal(err)
	}
	d := startDemo(t, root)
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	hc := httpClient(t, root, 2)
	sender := demoSender(t, root)

	api := func(token, method, path string, body any) (int, []byte) {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, d.url(path), &buf)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	post := func(body string) wctpDoc {
		t.Helper()
		resp, err := hc.Post(d.url("/wctp"), "text/xml", strings.NewReader(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">`+"\n"+
			`<wctp-Operation wctpVersion="wctp-dtd-v1r3">`+body+`</wctp-Operation>`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var doc wctpDoc
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("WCTP HTTP %s: %s", resp.Status, b)
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("WCTP reply: %v\n%s", err, b)
		}
		return doc
	}

	// Ben Lee, on the app only, is who pager 1002 reaches; he has a
	// clinician token.
	admin := demoToken(t, root)
	ben := paging.Person{ID: "ben.lee", Name: "Ben Lee RN", Department: "4 West", Title: "Charge nurse", Stage: paging.StageApp,
		Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "ben.lee"}}}
	if code, b := api(admin, http.MethodPut, "/api/v1/people/ben.lee", ben); code != http.StatusOK {
		t.Fatalf("put person: %d %s", code, b)
	}
	code, b := api(admin, http.MethodPost, "/api/v1/tokens", map[string]string{"name": "ben", "role": "clinician", "person": "ben.lee"})
	if code != http.StatusCreated {
		t.Fatalf("create token: %d %s", code, b)
	}
	var created struct{ Token string }
	json.Unmarshal(b, &created)
	benToken := created.Token

	// The enterprise sender's page, asking for every notification and
	// allowing replies; the client's page.
	const pageText, clientText = "Room 12 PATIENT-E2E-PAGE chest pain", "Room 14 PATIENT-E2E-CLIENT call back"
	const replyText, clientReplyText = "On my way PATIENT-E2E-REPLY", "Calling now PATIENT-E2E-CLIENT-REPLY"
	doc := post(`<wctp-SubmitRequest><wctp-SubmitHeader><wctp-Originator senderID="` + sender.ID + `" securityCode="` + sender.SecurityCode + `"/>` +
		`<wctp-MessageControl messageID="e2e-1" allowResponse="true" notifyWhenQueued="true" notifyWhenDelivered="true" notifyWhenRead="true"/>` +
		`<wctp-Recipient recipientID="1002"/></wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric>` + pageText +
		`</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest>`)
	if doc.Confirmation == nil || doc.Confirmation.Success == nil {
		t.Fatalf("submit not accepted: %+v", doc)
	}
	doc = post(`<wctp-SubmitClientMessage><wctp-SubmitClientHeader><wctp-ClientOriginator senderID="answering-svc" miscInfo="client-pw-e2e"/>` +
		`<wctp-ClientMessageControl allowResponse="true"/><wctp-Recipient recipientID="1002"/></wctp-SubmitClientHeader>` +
		`<wctp-Payload><wctp-Alphanumeric>` + clientText + `</wctp-Alphanumeric></wctp-Payload></wctp-SubmitClientMessage>`)
	if doc.Client == nil || doc.Client.Success == nil {
		t.Fatalf("client message not accepted: %+v", doc)
	}
	tracking := doc.Client.Success.Tracking

	type got struct {
		seq, kind, state, text, ref string
	}
	// poll polls as sender (confirming confirm), checks the reply is the
	// sender's, and lists what it carried.
	poll := func(id, code string, confirm ...string) []got {
		t.Helper()
		var recv strings.Builder
		for _, s := range confirm {
			recv.WriteString(`<wctp-MessageReceived sequenceNo="` + s + `"><wctp-Success successCode="200"/></wctp-MessageReceived>`)
		}
		doc := post(`<wctp-PollForMessages pollerID="` + id + `" securityCode="` + code + `">` + recv.String() + `</wctp-PollForMessages>`)
		if doc.Poll == nil || doc.Poll.Failure != nil {
			t.Fatalf("poll failed: %+v", doc.Poll)
		}
		if (len(doc.Poll.Messages) == 0) != (doc.Poll.NoMessages != nil) {
			t.Fatalf("poll: messages and wctp-NoMessages: %+v", doc.Poll)
		}
		var out []got
		for _, m := range doc.Poll.Messages {
			switch {
			case m.Status != nil:
				out = append(out, got{seq: m.Seq, kind: "status", state: m.Status.state(), ref: m.Status.Header.RespondingTo})
			case m.Reply != nil:
				out = append(out, got{seq: m.Seq, kind: "reply", text: m.Reply.Text, ref: m.Reply.Header.RespondingTo})
			}
		}
		return out
	}
	query := func(client, password, tracking string) (state string, replies []string, failure int) {
		t.Helper()
		doc := post(`<wctp-ClientQuery senderID="` + client + `" miscInfo="` + password + `" recipientID="1002" trackingNumber="` + tracking + `"/>`)
		if doc.Query == nil {
			t.Fatalf("no wctp-ClientQueryResponse: %+v", doc)
		}
		if doc.Query.Failure != nil {
			return "", nil, doc.Query.Failure.Code
		}
		for _, m := range doc.Query.Messages {
			if m.Status != nil {
				state = m.Status.state()
			}
			if m.Reply != nil {
				replies = append(replies, m.Reply.Text)
			}
		}
		return state, replies, 0
	}
	// pollFor polls (confirming what the last poll carried) until want
	// comes: statuses on the way are confirmed and dropped.
	var pending []string
	pollFor := func(what string, want func(g got) bool) got {
		t.Helper()
		var found got
		waitUntil(t, time.Minute, what, func() bool {
			list := poll(sender.ID, sender.SecurityCode, pending...)
			pending = pending[:0]
			for _, g := range list {
				if g.ref != "e2e-1" {
					t.Fatalf("a poll carried another page's message: %+v", g)
				}
				if want(g) {
					found = g
					pending = append(pending, g.seq)
					return true
				}
				pending = append(pending, g.seq)
			}
			return false
		})
		return found
	}

	// Queued, as soon as accepted; nobody has opened it yet.
	if g := pollFor("a QUEUED status", func(g got) bool { return g.kind == "status" }); g.state != "QUEUED" {
		t.Fatalf("first status %+v, want QUEUED", g)
	}
	if state, replies, fail := query("answering-svc", "client-pw-e2e", tracking); fail != 0 || state != "QUEUED" || len(replies) != 0 {
		t.Fatalf("client query: %q %q %d", state, replies, fail)
	}
	// Nobody else sees either page.
	if _, _, fail := query("other-svc", "other-pw-e2e", tracking); fail != 504 {
		t.Errorf("another client's query: failure %d, want 504", fail)
	}
	if _, _, fail := query("answering-svc", "wrong", tracking); fail != 402 {
		t.Errorf("wrong password: failure %d, want 402", fail)
	}
	if list := poll("other-nurse-call", "other-code-e2e"); len(list) != 0 {
		t.Errorf("another sender's poll carried %+v", list)
	}

	// Ben opens both pages' threads in the app (the engine opened them
	// for him): read.
	pageIDs := map[string]string{} // text → message ID
	waitUntil(t, time.Minute, "both pages in Ben's inbox", func() bool {
		code, b := api(benToken, http.MethodGet, "/api/v1/inbox", nil)
		if code != http.StatusOK {
			t.Fatalf("inbox: %d %s", code, b)
		}
		var inbox struct {
			Threads []struct {
				ID string `json:"id"`
			} `json:"threads"`
		}
		if err := json.Unmarshal(b, &inbox); err != nil {
			t.Fatalf("inbox: %v: %s", err, b)
		}
		for _, th := range inbox.Threads {
			code, b := api(benToken, http.MethodGet, "/api/v1/threads/"+th.ID, nil)
			if code != http.StatusOK {
				t.Fatalf("read thread: %d %s", code, b)
			}
			for _, text := range []string{pageText, clientText} {
				if bytes.Contains(b, []byte(text)) {
					pageIDs[text] = th.ID
				}
			}
		}
		return len(pageIDs) == 2
	})
	if g := pollFor("a READ status", func(g got) bool { return g.kind == "status" && g.state != "QUEUED" }); g.state != "READ" {
		t.Fatalf("status after Ben read the thread: %+v, want READ", g)
	}
	if state, _, _ := query("answering-svc", "client-pw-e2e", tracking); state != "READ" {
		t.Errorf("client query after the read: %q, want READ", state)
	}

	// Ben replies to both.
	for text, reply := range map[string]string{pageText: replyText, clientText: clientReplyText} {
		if code, b := api(benToken, http.MethodPost, "/api/v1/threads/"+pageIDs[text]+"/messages", map[string]string{"text": reply}); code != http.StatusCreated {
			t.Fatalf("reply: %d %s", code, b)
		}
	}
	r := pollFor("Ben's reply", func(g got) bool { return g.kind == "reply" })
	if r.text != replyText {
		t.Fatalf("reply %+v, want text %q", r, replyText)
	}
	if _, replies, _ := query("answering-svc", "client-pw-e2e", tracking); !slices.Equal(replies, []string{clientReplyText}) {
		t.Errorf("client query replies %q, want the client page's reply", replies)
	}

	// Not confirmed, the reply outlives a restart and comes again, with
	// the same number.
	pending = pending[:0]
	d.stop()
	d = startDemo(t, root)
	if again := pollFor("the unconfirmed reply after a restart", func(g got) bool { return g.kind == "reply" }); again != r {
		t.Fatalf("after the restart: %+v, want %+v", again, r)
	}
	// Confirmed, it never comes again.
	list := poll(sender.ID, sender.SecurityCode, r.seq)
	if slices.ContainsFunc(list, func(g got) bool { return g.kind == "reply" }) {
		t.Fatalf("a confirmed reply came again: %+v", list)
	}
	pending = pending[:0]
	for _, g := range list {
		pending = append(pending, g.seq)
	}

	// Ben acknowledges the enterprise page: the status says so.
	id, err := paging.ParseID(pageIDs[pageText])
	if err != nil {
		t.Fatal(err)
	}
	if code, b := api(benToken, http.MethodPost, "/api/v1/pages/"+id.String()+"/ack", map[string]string{}); code != http.StatusOK {
		t.Fatalf("ack: %d %s", code, b)
	}
	if g := pollFor("an ACKNOWLEDGED status", func(g got) bool { return g.kind == "status" && g.state == "ACKNOWLEDGED" }); g.kind != "status" {
		t.Fatal(g)
	}
	if list := poll(sender.ID, sender.SecurityCode, pending...); len(list) != 0 {
		t.Errorf("all confirmed, the poll still carried %+v", list)
	}
	if state, _, _ := query("answering-svc", "client-pw-e2e", tracking); state != "READ" {
		t.Errorf("the client's page, not acknowledged: %q, want READ", state)
	}

	// No reply text or page text in the logs.
	d.stop()
	stopped = true
	logs, err := os.ReadFile(filepath.Join(root, "logs", "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"PATIENT-E2E"} {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the log holds %q", s)
		}
	}
}
