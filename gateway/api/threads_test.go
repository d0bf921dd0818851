package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/api"
	"pagebridge/gateway/paging"
)

// JSON shapes of the threads endpoints, as a client reads them.
type (
	recipientJSON struct {
		Person, Reason string
		Held           bool
		HeldReason     string `json:"held_reason"`
	}
	threadRecJSON struct {
		ID, Kind, Label, Priority string
		Members                   []struct {
			Person  string
			AddedBy string `json:"added_by"`
			Note    string
		}
	}
	composedJSON struct {
		Thread        threadRecJSON
		Message       string
		Reached, Held []recipientJSON
	}
	receiptJSON struct{ Person, State, Channel string }
	messageJSON struct {
		ID, Kind, Author, Text, Template string
		Receipts                         []receiptJSON
		Page                             *struct {
			PagerID string `json:"pager_id"`
		}
	}
	threadViewJSON struct {
		threadRecJSON
		Subject  string
		Messages []messageJSON
	}
	inboxJSON struct {
		Threads []struct {
			ID, Kind, Label, Priority string
			Unread                    int
		}
		Next string
	}
)

func (m messageJSON) receipt(person string) string {
	for _, rc := range m.Receipts {
		if rc.Person == person {
			return rc.State
		}
	}
	return ""
}

// addPerson puts an app-stage person in the directory.
func (r *rig) addPerson(id string) {
	r.t.Helper()
	p := paging.Person{ID: id, Name: "Dr " + id, Stage: paging.StageApp, Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: id}}}
	if err := r.st.PutPerson(context.Background(), p, seed); err != nil {
		r.t.Fatal(err)
	}
}

// personToken makes a token of role that acts as person.
func (r *rig) personToken(role api.Role, person string) string {
	r.t.Helper()
	secret, _, err := api.CreateToken(context.Background(), r.st, "test "+string(role)+" "+person, string(role), person, 0, seed)
	if err != nil {
		r.t.Fatal(err)
	}
	return secret
}

// with sends method path with token and wants status.
func (r *rig) with(token, method, path string, body any, status int) resp {
	r.t.Helper()
	res := r.do(req{method: method, path: path, token: token, body: body})
	if res.code != status {
		r.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.code, status, res.body)
	}
	return res
}

func (r *rig) inboxOf(token string) inboxJSON {
	r.t.Helper()
	var in inboxJSON
	r.with(token, "GET", "/api/v1/inbox", nil, 200).json(r.t, &in)
	return in
}

// assertNowhere fails if any marker is in the logs or the audit log.
func assertNowhere(t *testing.T, r *rig, markers ...string) {
	t.Helper()
	all, _ := json.Marshal(r.audit())
	logs := r.logs.String()
	for _, m := range markers {
		if strings.Contains(string(all), m) || strings.Contains(logs, m) {
			t.Errorf("%q is in the audit log or the logs", m)
		}
	}
}

// A conversation: lee writes to kim, kim's inbox shows it unread without
// its text, kim reads it (marking it read: her unread count, lee's
// receipt), replies, adds ng; ng reports receipts; every inbox counts.
func TestThreadConversation(t *testing.T) {
	r := newRig(t)
	r.addPerson("ng")
	lee, kim, ng := r.tok[api.RoleClinician], r.personToken(api.RoleClinician, "kim"), r.personToken(api.RoleClinician, "ng")
	const text, subject = "Bed 12 asks for you, potassium 6.1", "Mrs Example, bed 12"

	var c composedJSON
	r.with(lee, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "person", "id": "kim"},
		"priority": "high", "subject": subject, "text": text}, 201).json(t, &c)
	if c.Thread.Kind != "direct" || c.Thread.Priority != "high" || c.Thread.Label != "direct · Dr lee → Dr kim" ||
		len(c.Reached) != 1 || c.Reached[0].Person != "kim" || len(c.Held) != 0 || c.Message == "" {
		t.Fatalf("composed %+v", c)
	}
	path := "/api/v1/threads/" + c.Thread.ID

	res := r.with(kim, "GET", "/api/v1/inbox", nil, 200)
	var in inboxJSON
	res.json(t, &in)
	if len(in.Threads) != 1 || in.Threads[0].ID != c.Thread.ID || in.Threads[0].Unread != 1 || in.Threads[0].Priority != "high" || in.Next != "" {
		t.Fatalf("kim's inbox %s", res.body)
	}
	if strings.Contains(string(res.body), "Bed 12") || strings.Contains(string(res.body), "Example") {
		t.Fatalf("the inbox shows PHI: %s", res.body)
	}

	// Reading marks it read, for kim and in lee's receipts.
	var v threadViewJSON
	r.with(kim, "GET", path, nil, 200).json(t, &v)
	if v.Subject != subject || len(v.Messages) != 1 || v.Messages[0].Text != text || v.Messages[0].Author != "lee" ||
		v.Messages[0].receipt("kim") != "read" {
		t.Fatalf("kim reads %+v", v)
	}
	if in := r.inboxOf(kim); in.Threads[0].Unread != 0 {
		t.Fatalf("read, yet unread %d", in.Threads[0].Unread)
	}
	r.with(lee, "GET", path, nil, 200).json(t, &v)
	if v.Messages[0].receipt("kim") != "read" {
		t.Fatalf("lee sees kim's receipt %+v", v.Messages[0].Receipts)
	}

	// kim replies and adds ng.
	var posted struct{ Thread, Message string }
	r.with(kim, "POST", path+"/messages", map[string]any{"text": "Coming, 5 minutes"}, 201).json(t, &posted)
	if posted.Thread != c.Thread.ID || posted.Message == "" {
		t.Fatalf("reply %+v", posted)
	}
	if in := r.inboxOf(lee); in.Threads[0].Unread != 1 {
		t.Fatalf("lee's inbox after the reply %+v", in)
	}
	var added struct {
		Added  []string
		Thread threadRecJSON
	}
	r.with(kim, "POST", path+"/members", map[string]any{"people": []string{"ng", "lee"}}, 200).json(t, &added)
	if !slices.Equal(added.Added, []string{"ng"}) || len(added.Thread.Members) != 3 || added.Thread.Members[2].AddedBy != "kim" {
		t.Fatalf("added %+v", added)
	}
	if in := r.inboxOf(ng); len(in.Threads) != 1 || in.Threads[0].Unread != 2 {
		t.Fatalf("ng's inbox %+v", in)
	}

	// ng's app reports delivery, then an acknowledgement; a receipt only
	// moves forward.
	receipt := path + "/messages/" + posted.Message + "/receipt"
	r.with(ng, "POST", receipt, map[string]any{"state": "delivered"}, 204)
	r.with(ng, "POST", receipt, map[string]any{"state": "acknowledged", "channel": "app"}, 204)
	r.with(ng, "POST", receipt, map[string]any{"state": "delivered"}, 204)
	r.with(kim, "POST", receipt, map[string]any{"state": "read"}, 400) // her own message
	r.with(lee, "GET", path, nil, 200).json(t, &v)
	if len(v.Messages) != 2 || v.Messages[1].Text != "Coming, 5 minutes" || v.Messages[1].receipt("ng") != "acknowledged" ||
		v.Messages[1].receipt("lee") != "read" {
		t.Fatalf("lee reads %+v", v)
	}

	// Each call has its API entry; the store has its own for what it did,
	// as the same actor; no text or subject anywhere in them or the logs.
	actions := map[string]int{}
	for _, e := range r.audit() {
		actions[e.Action]++
	}
	for action, n := range map[string]int{"thread.create": 1, "thread.post": 2, "thread.read": 3, "thread.add": 1, "thread.receipt": 2,
		"api.GET /api/v1/threads/:id": 3, "api.POST /api/v1/threads": 1, "api.POST /api/v1/threads/:id/messages/:msg/receipt": 4} {
		if actions[action] != n {
			t.Errorf("%d %s entries, want %d", actions[action], action, n)
		}
	}
	assertNowhere(t, r, "Bed 12", "potassium", "Example", "Coming, 5")
}

// A message to a role reaches whoever is on call for it now, as a page
// would.
func TestComposeToRoleOnCall(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/cardiology", `{"name":"Cardiology"}`, 200)
	r.as(api.RoleIT, "PUT", "/api/v1/schedules/cardio", `{"role_id":"cardiology","name":"Cardiology","time_zone":"Europe/Berlin",`+
		`"layers":[{"name":"12h","participants":["lee","kim"],"start":"2026-11-01T08:00","shift":{"n":12,"unit":"hour"}}]}`, 200)
	kim := r.personToken(api.RoleClinician, "kim")
	var c composedJSON
	r.with(kim, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "role", "id": "cardiology"},
		"text": "ECG in 3B please"}, 201).json(t, &c) // 11:00 in Berlin: lee's day shift
	if c.Thread.Kind != "role" || c.Thread.Priority != "normal" || len(c.Reached) != 1 || c.Reached[0].Person != "lee" ||
		!strings.Contains(c.Reached[0].Reason, `layer "12h", shift of lee`) || c.Thread.Label != "role cardiology · from Dr kim" {
		t.Fatalf("composed %+v", c)
	}
	in := r.inboxOf(r.tok[api.RoleClinician])
	if len(in.Threads) != 1 || in.Threads[0].ID != c.Thread.ID || in.Threads[0].Unread != 1 {
		t.Fatalf("lee's inbox %+v", in)
	}
	// An unknown role is the body's mistake, not the URL's.
	r.with(kim, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "role", "id": "dermatology"}, "text": "x"}, 400)
}

// Someone who is not a member gets 403 on every call about the thread,
// and no answer holds its text or subject; nothing they try changes it.
func TestNonMemberSeesNothing(t *testing.T) {
	r := newRig(t)
	r.addPerson("ray")
	const text, subject = "MARKER-TEXT room 4", "MARKER-SUBJECT"
	var c composedJSON
	r.with(r.tok[api.RoleClinician], "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "person", "id": "kim"},
		"subject": subject, "text": text}, 201).json(t, &c)
	path := "/api/v1/threads/" + c.Thread.ID
	before := len(r.audit())

	// ray, a clinician; and an admin and an operator acting as ray: a
	// role is no way into a thread.
	for _, tok := range []string{r.personToken(api.RoleClinician, "ray"), r.personToken(api.RoleAdmin, "ray"), r.personToken(api.RoleOperator, "ray")} {
		for _, q := range []req{
			{method: "GET", path: path},
			{method: "POST", path: path + "/messages", body: map[string]any{"text": "let me in"}},
			{method: "POST", path: path + "/members", body: map[string]any{"people": []string{"ray"}}},
			{method: "POST", path: path + "/messages/" + c.Message + "/receipt", body: map[string]any{"state": "read"}},
		} {
			q.token = tok
			res := r.do(q)
			if res.code != 403 || !strings.Contains(res.errorText(t), "ray is not a member of thread "+c.Thread.ID) {
				t.Errorf("%s %s: %d %s", q.method, q.path, res.code, res.body)
			}
			if strings.Contains(string(res.body), "MARKER") {
				t.Errorf("%s %s answers the text to a non-member: %s", q.method, q.path, res.body)
			}
		}
		res := r.with(tok, "GET", "/api/v1/inbox", nil, 200)
		if strings.Contains(string(res.body), c.Thread.ID) || strings.Contains(string(res.body), "MARKER") {
			t.Errorf("ray's inbox: %s", res.body)
		}
	}
	// Each refusal is audited as one, and the store read nothing for them.
	refused := 0
	for _, e := range r.audit()[before:] {
		switch {
		case strings.HasPrefix(e.Detail, "status 403: "):
			refused++
		case strings.HasPrefix(e.Action, "thread."):
			t.Errorf("a refused call reached the store: %+v", e)
		}
	}
	if refused != 12 {
		t.Errorf("%d refusals audited, want 12", refused)
	}
	var v threadViewJSON
	r.with(r.tok[api.RoleClinician], "GET", path, nil, 200).json(t, &v)
	if len(v.Messages) != 1 || len(v.Members) != 2 {
		t.Fatalf("a non-member changed the thread: %+v", v)
	}
	assertNowhere(t, r, "MARKER")
}

// A token that acts as nobody cannot use the personal endpoints, whatever
// its role; IT has no threads at all. Admin and IT read templates without
// a person (they write them); an operator needs one.
func TestThreadsNeedAPerson(t *testing.T) {
	r := newRig(t)
	compose := map[string]any{"to": map[string]string{"kind": "person", "id": "kim"}, "text": "x"}
	for _, c := range []struct {
		role         api.Role
		method, path string
		body         any
		code         int
		says         string
	}{
		{api.RoleAdmin, "GET", "/api/v1/inbox", nil, 403, "acts as nobody"},
		{api.RoleAdmin, "POST", "/api/v1/threads", compose, 403, "acts as nobody"},
		{api.RoleAdmin, "GET", "/api/v1/threads/01KB0000000000000000000000", nil, 403, "acts as nobody"},
		{api.RoleOperator, "GET", "/api/v1/inbox", nil, 403, "acts as nobody"},
		{api.RoleOperator, "POST", "/api/v1/threads", compose, 403, "acts as nobody"},
		{api.RoleOperator, "GET", "/api/v1/templates", nil, 403, "acts as nobody"},
		{api.RoleIT, "GET", "/api/v1/inbox", nil, 403, "role it may not call this"},
		{api.RoleAdmin, "GET", "/api/v1/templates", nil, 200, ""},
		{api.RoleIT, "GET", "/api/v1/templates", nil, 200, ""},
	} {
		res := r.do(req{method: c.method, path: c.path, token: r.tok[c.role], body: c.body})
		if res.code != c.code || c.says != "" && !strings.Contains(res.errorText(t), c.says) {
			t.Errorf("%s %s as %s without a person: %d %s", c.method, c.path, c.role, res.code, res.body)
		}
	}
	for _, e := range r.audit() {
		if strings.HasPrefix(e.Action, "thread.") {
			t.Errorf("a refused call reached the store: %+v", e)
		}
	}
}

// Critical is for operators and administrators; a clinician's critical
// message is refused and stores nothing. Critical breaks through do not
// disturb; a normal message to someone on do not disturb reaches nobody.
func TestCriticalOnlyForOperatorsAndAdmins(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleOperator, "PUT", "/api/v1/presence/kim", `{"state":"dnd"}`, 200)
	toKim := func(prio string) map[string]any {
		return map[string]any{"to": map[string]string{"kind": "person", "id": "kim"}, "priority": prio, "text": "Code blue 4W"}
	}
	res := r.with(r.tok[api.RoleClinician], "POST", "/api/v1/threads", toKim("critical"), 403)
	if !strings.Contains(res.errorText(t), "may not send critical") {
		t.Errorf("refusal says %q", res.errorText(t))
	}
	var nobody struct {
		Error string
		Held  []recipientJSON
	}
	r.with(r.tok[api.RoleClinician], "POST", "/api/v1/threads", toKim("normal"), 409).json(t, &nobody)
	if len(nobody.Held) != 1 || nobody.Held[0].Person != "kim" || !nobody.Held[0].Held || nobody.Held[0].HeldReason == "" ||
		!strings.Contains(nobody.Error, "nobody to reach") {
		t.Errorf("409 %+v", nobody)
	}
	for _, e := range r.audit() {
		if e.Action == "thread.create" {
			t.Fatalf("a refused message opened a thread: %+v", e)
		}
	}
	if in := r.inboxOf(r.tok[api.RoleClinician]); len(in.Threads) != 0 {
		t.Fatalf("lee's inbox after refusals %+v", in)
	}

	for _, role := range []api.Role{api.RoleOperator, api.RoleAdmin} {
		var c composedJSON
		r.with(r.personToken(role, "lee"), "POST", "/api/v1/threads", toKim("critical"), 201).json(t, &c)
		if c.Thread.Priority != "critical" || len(c.Reached) != 1 || c.Reached[0].Person != "kim" {
			t.Errorf("%s's critical message %+v", role, c)
		}
	}
	if in := r.inboxOf(r.personToken(api.RoleClinician, "kim")); len(in.Threads) != 2 || in.Threads[0].Priority != "critical" {
		t.Errorf("kim's inbox %+v", in)
	}
}

// Templates: written by admin and IT, checked; read by everyone with a
// person; a message from a template and values; errors name placeholders,
// never values.
func TestTemplateCompose(t *testing.T) {
	r := newRig(t)
	lee, kim := r.tok[api.RoleClinician], r.personToken(api.RoleClinician, "kim")
	var tpl struct{ Name, Text, Description, UpdatedBy string }
	r.as(api.RoleIT, "PUT", "/api/v1/templates/call-back", map[string]any{"text": "Patient in {room}, please call {caller} {{urgent}}",
		"description": "call back"}, 200).json(t, &tpl)
	if tpl.Name != "call-back" || tpl.Text != "Patient in {room}, please call {caller} {{urgent}}" {
		t.Fatalf("template %+v", tpl)
	}
	for _, body := range []map[string]any{
		{"text": "Patient in {Room}"},
		{"text": "unclosed {room"},
		{"text": ""},
		{"name": "other", "text": "x"},
		{"text": "x", "updated_by": "me"},
	} {
		r.as(api.RoleAdmin, "PUT", "/api/v1/templates/bad", body, 400)
	}
	r.as(api.RoleClinician, "PUT", "/api/v1/templates/mine", map[string]any{"text": "x"}, 403)
	r.as(api.RoleIT, "GET", "/api/v1/templates/bad", nil, 404)

	var list struct{ Templates []struct{ Name string } }
	r.with(lee, "GET", "/api/v1/templates", nil, 200).json(t, &list)
	if len(list.Templates) != 1 || list.Templates[0].Name != "call-back" {
		t.Fatalf("templates %+v", list)
	}
	r.with(r.personToken(api.RoleOperator, "kim"), "GET", "/api/v1/templates/call-back", nil, 200)

	toKim := map[string]string{"kind": "person", "id": "kim"}
	var c composedJSON
	r.with(lee, "POST", "/api/v1/threads", map[string]any{"to": toKim, "template": "call-back",
		"values": map[string]string{"room": "4W-12", "caller": "ext 4711"}}, 201).json(t, &c)
	var v threadViewJSON
	r.with(kim, "GET", "/api/v1/threads/"+c.Thread.ID, nil, 200).json(t, &v)
	if len(v.Messages) != 1 || v.Messages[0].Text != "Patient in 4W-12, please call ext 4711 {urgent}" || v.Messages[0].Template != "call-back" {
		t.Fatalf("rendered %+v", v.Messages)
	}
	// A reply from a template too.
	r.with(kim, "POST", "/api/v1/threads/"+c.Thread.ID+"/messages", map[string]any{"template": "call-back",
		"values": map[string]string{"room": "4W-13", "caller": "ext 4712"}}, 201)

	for _, c := range []struct {
		body map[string]any
		code int
		says string
	}{
		{map[string]any{"to": toKim, "template": "call-back", "values": map[string]string{"room": "SECRET-ROOM"}}, 400, "no value for {caller}"},
		{map[string]any{"to": toKim, "template": "call-back", "values": map[string]string{"room": "SECRET-ROOM", "caller": "x", "bed": "SECRET-BED"}}, 400, "no placeholder {bed}"},
		{map[string]any{"to": toKim, "template": "nope", "values": map[string]string{"room": "SECRET-ROOM"}}, 400, `template "nope"`},
		{map[string]any{"to": toKim, "template": "call-back", "text": "SECRET-TEXT"}, 400, "not both"},
		{map[string]any{"to": toKim, "values": map[string]string{"room": "SECRET-ROOM"}}, 400, "values without a template"},
	} {
		res := r.with(lee, "POST", "/api/v1/threads", c.body, c.code)
		if msg := res.errorText(t); !strings.Contains(msg, c.says) || strings.Contains(msg, "SECRET") {
			t.Errorf("%v: %s", c.body, msg)
		}
	}
	r.with(kim, "POST", "/api/v1/threads/"+c.Thread.ID+"/messages", map[string]any{"template": "nope"}, 400)
	assertNowhere(t, r, "SECRET", "4W-12", "ext 4711")

	r.as(api.RoleAdmin, "DELETE", "/api/v1/templates/call-back", nil, 204)
	r.as(api.RoleAdmin, "DELETE", "/api/v1/templates/call-back", nil, 404)
	r.with(lee, "GET", "/api/v1/templates/call-back", nil, 404)
}

// Malformed requests are 400 (413 too large), with a message, and store
// nothing; a thread that does not exist is 404.
func TestThreadsBadInput(t *testing.T) {
	r := newRig(t)
	lee := r.tok[api.RoleClinician]
	var c composedJSON
	r.with(lee, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "person", "id": "kim"}, "text": "hello"}, 201).json(t, &c)
	path := "/api/v1/threads/" + c.Thread.ID
	receipt := path + "/messages/" + c.Message + "/receipt"
	kim := r.personToken(api.RoleClinician, "kim")
	before := r.audit()

	big := `{"to":{"kind":"person","id":"kim"},"text":"` + strings.Repeat("x", api.DefaultFilesBody) + `"}`
	for _, q := range []struct {
		name, method, path, token, body string
		code                            int
	}{
		{"truncated JSON", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"},"text":`, 400},
		{"not JSON", "POST", "/api/v1/threads", lee, "\x00\xff", 400},
		{"empty body", "POST", "/api/v1/threads", lee, ``, 400},
		{"unknown field", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"},"text":"x","patient":"y"}`, 400},
		{"unknown target field", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim","x":1},"text":"x"}`, 400},
		{"trailing data", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"},"text":"x"} {}`, 400},
		{"no text", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"}}`, 400},
		{"bad priority", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"},"priority":"urgent","text":"x"}`, 400},
		{"bad target kind", "POST", "/api/v1/threads", lee, `{"to":{"kind":"ward","id":"4W"},"text":"x"}`, 400},
		{"unknown person", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"nobody"},"text":"x"}`, 400},
		{"subject too long", "POST", "/api/v1/threads", lee, `{"to":{"kind":"person","id":"kim"},"subject":"` + strings.Repeat("s", 501) + `","text":"x"}`, 400},
		{"oversize", "POST", "/api/v1/threads", lee, big, 413},
		{"reply, unknown field", "POST", path + "/messages", kim, `{"text":"x","priority":"high"}`, 400},
		{"reply, no text", "POST", path + "/messages", kim, `{}`, 400},
		{"reply, text too long", "POST", path + "/messages", kim, `{"text":"` + strings.Repeat("x", paging.MaxTextLen+1) + `"}`, 400},
		{"members, not a list", "POST", path + "/members", kim, `{"people":"ng"}`, 400},
		{"members, nobody", "POST", path + "/members", kim, `{"people":[]}`, 400},
		{"members, unknown person", "POST", path + "/members", kim, `{"people":["nobody"]}`, 400},
		{"receipt, sent", "POST", receipt, kim, `{"state":"sent"}`, 400},
		{"receipt, bad state", "POST", receipt, kim, `{"state":"seen"}`, 400},
		{"receipt, bad channel", "POST", receipt, kim, `{"state":"read","channel":"fax"}`, 400},
		{"receipt, bad message id", "POST", path + "/messages/nope/receipt", kim, `{"state":"read"}`, 400},
		{"receipt, unknown message", "POST", path + "/messages/01KB0000000000000000000000/receipt", kim, `{"state":"read"}`, 404},
		{"bad thread id", "GET", "/api/v1/threads/nope", kim, ``, 400},
		{"unknown thread", "GET", "/api/v1/threads/01KB0000000000000000000000", kim, ``, 404},
		{"reply to an unknown thread", "POST", "/api/v1/threads/01KB0000000000000000000000/messages", kim, `{"text":"x"}`, 404},
		{"inbox limit", "GET", "/api/v1/inbox?limit=0", kim, ``, 400},
		{"inbox cursor", "GET", "/api/v1/inbox?after=yesterday", kim, ``, 400},
	} {
		res := r.do(req{method: q.method, path: q.path, token: q.token, body: q.body, contentType: "application/json"})
		if res.code != q.code || res.errorText(t) == "" {
			t.Errorf("%s: %d %.300s, want %d with an error", q.name, res.code, res.body, q.code)
		}
	}
	// Only the API's own entries: the store wrote nothing.
	for _, e := range r.audit()[len(before):] {
		if !strings.HasPrefix(e.Action, "api.") {
			t.Errorf("a bad request was stored: %+v", e)
		}
	}
	var v threadViewJSON
	r.with(lee, "GET", path, nil, 200).json(t, &v)
	if len(v.Messages) != 1 || len(v.Members) != 2 || v.Messages[0].receipt("kim") != "sent" {
		t.Fatalf("the thread after bad requests %+v", v)
	}
}

// The inbox pages, newest activity first; a reply moves a thread up.
func TestInboxPages(t *testing.T) {
	r := newRig(t)
	lee, kim := r.tok[api.RoleClinician], r.personToken(api.RoleClinician, "kim")
	var ids []string
	for range 3 {
		var c composedJSON
		r.with(lee, "POST", "/api/v1/threads", map[string]any{"to": map[string]string{"kind": "person", "id": "kim"}, "text": "x"}, 201).json(t, &c)
		ids = append(ids, c.Thread.ID)
		r.clock.add(1e9)
	}
	r.with(lee, "POST", "/api/v1/threads/"+ids[0]+"/messages", map[string]any{"text": "again"}, 201)
	var got []string
	next := ""
	for page := 0; ; page++ {
		var in inboxJSON
		r.with(kim, "GET", "/api/v1/inbox?limit=2&after="+next, nil, 200).json(t, &in)
		for _, th := range in.Threads {
			got = append(got, th.ID)
		}
		if next = in.Next; next == "" || page > 3 {
			break
		}
	}
	if want := []string{ids[0], ids[2], ids[1]}; !slices.Equal(got, want) {
		t.Fatalf("inbox %q, want %q", got, want)
	}
}

// A routed page's thread: its members read the page's text in it; others
// get 403; its receipts are the engine's deliveries, not the thread's.
func TestPageThread(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.st.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}}, seed); err != nil {
		t.Fatal(err)
	}
	id := r.page("1002", "PAGE-MARKER call 4W")
	route, err := r.eng.Route(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.thr.OpenForPage(ctx, route); err != nil || !ok {
		t.Fatalf("open the page's thread: %v %v", ok, err)
	}
	lee := r.tok[api.RoleClinician]
	in := r.inboxOf(lee)
	if len(in.Threads) != 1 || in.Threads[0].ID != id.String() || in.Threads[0].Kind != "page" || in.Threads[0].Label != "4W nurse call · pager 1002" {
		t.Fatalf("inbox %+v", in)
	}
	path := "/api/v1/threads/" + id.String()
	var v threadViewJSON
	r.with(lee, "GET", path, nil, 200).json(t, &v)
	if len(v.Messages) != 1 || v.Messages[0].Kind != "page" || v.Messages[0].Text != "PAGE-MARKER call 4W" || v.Messages[0].Page == nil ||
		v.Messages[0].Page.PagerID != "1002" {
		t.Fatalf("page thread %+v", v)
	}
	r.with(lee, "POST", path+"/messages/"+id.String()+"/receipt", map[string]any{"state": "read"}, 400)
	res := r.with(r.personToken(api.RoleOperator, "kim"), "GET", path, nil, 403)
	if strings.Contains(string(res.body), "MARKER") {
		t.Fatalf("a non-member got the page: %s", res.body)
	}
	reads := 0
	for _, e := range r.audit() {
		if e.Action == "message.read" && e.Object == "message/"+id.String() {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("%d message.read entries for the page, want 1", reads)
	}
	assertNowhere(t, r, "PAGE-MARKER")
}

// Without the threads service the threads endpoints answer 503 (audited);
// templates, which are the store's, still work.
func TestThreadsUnavailable(t *testing.T) {
	r := newRig(t)
	a := api.New(api.Deps{Store: r.st, Engine: r.eng, Clock: r.clock, Logger: slog.New(slog.DiscardHandler)})
	router := gin.New()
	a.Register(router)
	r.router = router
	lee := r.tok[api.RoleClinician]
	for _, q := range []req{
		{method: "GET", path: "/api/v1/inbox"},
		{method: "GET", path: "/api/v1/threads/01KB0000000000000000000000"},
		{method: "POST", path: "/api/v1/threads", body: map[string]any{"to": map[string]string{"kind": "person", "id": "kim"}, "text": "x"}},
	} {
		q.token = lee
		if res := r.do(q); res.code != http.StatusServiceUnavailable || !strings.Contains(res.errorText(t), "threads are not running") {
			t.Errorf("%s %s: %d %s", q.method, q.path, res.code, res.body)
		}
	}
	r.as(api.RoleAdmin, "PUT", "/api/v1/templates/t", map[string]any{"text": "hello {name}"}, 200)
	r.with(lee, "GET", "/api/v1/templates/t", nil, 200)
}
