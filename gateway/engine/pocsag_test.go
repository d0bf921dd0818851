package engine_test

import (
	"strconv"
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// A pager with a POCSAG coding gets a pocsag.page job for its
// transmitter, carrying the directory's coding: the notice for an alpha
// pager, its digits for a numeric one, no text for a tone pager.
func TestPOCSAGPagerJobs(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := newHospital(t, start, engine.Config{PHI: routing.PHIPolicy{Pager: true}})
	tx := func(capcode string, c paging.POCSAG) paging.Endpoint {
		return paging.Endpoint{Channel: paging.ChannelPager, Address: capcode, Via: "agent-1/tx-1", POCSAG: c}
	}
	h.person("lee", paging.StagePager, tx("1234567", paging.POCSAG{Rate: 1200, Function: 3, Kind: paging.POCSAGAlpha}))
	h.person("kim", paging.StagePager, tx("2000", paging.POCSAG{Rate: 512, Function: 0, Kind: paging.POCSAGNumeric}))
	h.person("ops", paging.StagePager, tx("8", paging.POCSAG{Rate: 2400, Function: 1, Kind: paging.POCSAGTone, Group: true}))
	h.pagerID("1002", paging.Target{Kind: paging.TargetPerson, ID: "lee"})
	h.pagerID("2002", paging.Target{Kind: paging.TargetPerson, ID: "kim"})
	h.pagerID("3002", paging.Target{Kind: paging.TargetPerson, ID: "ops"})
	h.page("1002", paging.PriorityCritical, "Code blue 4W bed 12")
	h.page("2002", paging.PriorityNormal, "Call 4711")
	h.page("3002", paging.PriorityHigh, "Porter needed")

	h.jobs.mu.Lock()
	defer h.jobs.mu.Unlock()
	var got []string
	for _, it := range h.jobs.committed {
		var j agentapi.Job
		if _, err := agentapi.Open([]byte(it.Payload.Reveal()), &j); err != nil {
			t.Fatal(err)
		}
		if j.POCSAG == nil {
			t.Fatalf("job without its coding: %+v", j)
		}
		got = append(got, j.Device+" "+j.Action+" "+j.To+" "+j.POCSAG.Kind+" "+string(j.Text)+" "+
			strconv.Itoa(j.POCSAG.Rate)+"/"+strconv.Itoa(j.POCSAG.Function)+" "+map[bool]string{true: "group", false: "single"}[j.POCSAG.Group])
	}
	want(t, "jobs", got, []string{
		"tx-1 pocsag.page 1234567 alpha Code blue 4W bed 12 1200/3 single",
		"tx-1 pocsag.page 2000 numeric 4711 512/0 single",
		"tx-1 pocsag.page 8 tone  2400/1 group",
	})
}
