package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/api"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
)

// Who is on call for a role at an instant, and why; and a schedule's
// shifts over a range.
func TestOnCall(t *testing.T) {
	r := newRig(t)
	r.as(api.RoleAdmin, "PUT", "/api/v1/roles/cardiology", `{"name":"Cardiology"}`, 200)
	r.as(api.RoleIT, "PUT", "/api/v1/schedules/cardio", `{"role_id":"cardiology","name":"Cardiology","time_zone":"Europe/Berlin",`+
		`"layers":[{"name":"12h","participants":["lee","kim"],"start":"2026-11-01T08:00","shift":{"n":12,"unit":"hour"}}]}`, 200)
	r.as(api.RoleOperator, "PUT", "/api/v1/presence/kim", `{"state":"dnd","forward_to":"lee"}`, 200)

	for _, c := range []struct {
		at, who, presence string
	}{
		{"2026-11-27T09:00:00%2B01:00", "lee", "available"}, // 08:00 Berlin starts a day shift: lee's
		{"2026-11-27T21:00:00%2B01:00", "kim", "dnd"},
	} {
		var ans api.OnCallAnswer
		r.as(api.RoleClinician, "GET", "/api/v1/oncall/cardiology?at="+c.at, nil, 200).json(t, &ans)
		if len(ans.OnCall) != 1 || ans.OnCall[0].Person != c.who || ans.OnCall[0].Schedule != "cardio" ||
			!strings.Contains(ans.OnCall[0].Reason, `layer "12h"`) || string(ans.OnCall[0].Presence) != c.presence || ans.OnCall[0].Name != "Dr "+c.who {
			t.Errorf("at %s: %+v", c.at, ans)
		}
	}
	r.as(api.RoleClinician, "GET", "/api/v1/oncall/nope", nil, 404)

	var sh struct {
		Shifts []struct {
			Person     string
			Start, End time.Time
		}
	}
	r.as(api.RoleOperator, "GET", "/api/v1/schedules/cardio/shifts?from=2026-11-27T07:00:00Z&to=2026-11-28T07:00:00Z", nil, 200).json(t, &sh)
	if len(sh.Shifts) != 2 || sh.Shifts[0].Person != "lee" || sh.Shifts[1].Person != "kim" || !sh.Shifts[1].End.Equal(time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("shifts %+v", sh)
	}
	if res := r.do(req{method: "GET", path: "/api/v1/schedules/cardio/shifts?from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z", token: r.tok[api.RoleIT]}); res.code != 400 {
		t.Fatalf("a range over the limit: %d", res.code)
	}
}

// An acknowledgement through the API stops the page: the route is
// acknowledged, its timer cleared, and later ticks page nobody. A
// clinician acknowledges only as themself, only pages they were sent.
func TestAckStopsThePage(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.st.PutPagerID(ctx, paging.PagerID{ID: "1002", Target: paging.Target{Kind: paging.TargetPerson, ID: "lee"}}, seed); err != nil {
		t.Fatal(err)
	}
	id := r.page("1002", "Bed 12 needs you")
	path := "/api/v1/pages/" + id.String()

	var list struct{ Pages []engine.Route }
	res := r.as(api.RoleOperator, "GET", "/api/v1/pages?limit=10", nil, 200)
	res.json(t, &list)
	if len(list.Pages) != 1 || list.Pages[0].Message != id || list.Pages[0].State != engine.StateActive {
		t.Fatalf("pages %+v", list)
	}
	if strings.Contains(string(res.body), "Bed 12") {
		t.Fatalf("page text in the API: %s", res.body)
	}
	r.as(api.RoleClinician, "GET", path, nil, 403)

	// kim (a clinician of her own) was not paged, and no clinician acks
	// as someone else.
	var kimTok struct{ Token string }
	r.as(api.RoleAdmin, "POST", "/api/v1/tokens", map[string]any{"name": "kim's phone", "role": "clinician", "person": "kim"}, 201).json(t, &kimTok)
	for _, c := range []struct {
		token, body, says string
	}{
		{r.tok[api.RoleClinician], `{"person":"kim"}`, "only as its own person"},
		{kimTok.Token, `{"person":"lee"}`, "only as its own person"},
		{kimTok.Token, ``, "was not delivered to kim"},
	} {
		res := r.do(req{method: "POST", path: path + "/ack", token: c.token, body: c.body, contentType: "application/json"})
		if res.code != 403 || !strings.Contains(res.errorText(t), c.says) {
			t.Errorf("ack %s: %d %s", c.body, res.code, res.body)
		}
	}
	if rt, _ := r.eng.Route(ctx, id); rt.State != engine.StateActive {
		t.Fatalf("a refused ack changed the page: %s", rt.State)
	}

	var acked engine.Route
	r.as(api.RoleClinician, "POST", path+"/ack", `{"channel":"app"}`, 200).json(t, &acked)
	if acked.State != engine.StateAcknowledged || acked.Acked == nil || acked.Acked.Person != "lee" {
		t.Fatalf("ack: %+v", acked)
	}
	rt, err := r.eng.Route(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rt.State != engine.StateAcknowledged || rt.Timer != (paging.ID{}) {
		t.Fatalf("route after the ack: %+v", rt)
	}
	attempts := len(rt.Deliveries[0].Attempts)
	for range 5 {
		r.clock.add(10 * time.Minute)
		r.tick()
	}
	if rt, _ = r.eng.Route(ctx, id); rt.State != engine.StateAcknowledged || len(rt.Deliveries) != 1 || len(rt.Deliveries[0].Attempts) != attempts {
		t.Fatalf("the page went on after the ack: %+v", rt)
	}
	// An operator may ack as anyone; the page stays acknowledged.
	r.as(api.RoleOperator, "POST", path+"/ack", `{"person":"kim"}`, 200)
	r.as(api.RoleOperator, "POST", path+"/ack", ``, 400) // an operator token acts as nobody
	r.as(api.RoleIT, "POST", path+"/ack", `{"person":"lee"}`, 403)
	r.as(api.RoleOperator, "GET", "/api/v1/pages/01KB0000000000000000000000", nil, 404)
}
