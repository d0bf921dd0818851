package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// targetRouteP99 is the bound on resolving and persisting one page
// with a hospital's directory loaded, fsync excluded.
const targetRouteP99 = 5 * time.Millisecond

// A hospital for the routing benchmark.
const (
	benchPeople    = 10000
	benchRoles     = 500
	benchSchedules = 1000 // two per role
	benchGroups    = 500
)

type routeResult struct {
	p50, p99, max time.Duration
	pages         int
	load          time.Duration // building the engine's directory snapshot
	fsyncIncluded bool
}

// benchRoute loads a hospital into a fresh store and routes pages one at
// a time, timing each from the engine's pick-up to its committed route
// (resolution, the step's attempts and jobs, the timer, the audit
// entries). The store lives on tmpfs when there is one, so the figure
// leaves the disk's fsync out, as the target does.
func benchRoute(ctx context.Context, dir string, pages int) (routeResult, error) {
	var res routeResult
	base := "/dev/shm"
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		base, res.fsyncIncluded = dir, true
	}
	sub, err := os.MkdirTemp(base, "pagebridge-bench-route-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(sub)
	sc := DefaultConfig().Storage
	sc.DataDir = filepath.Join(sub, "data")
	sc.KeyFile = filepath.Join(sub, "keys", "kek")
	sc.AuditKeyFile = filepath.Join(sub, "keys", "audit-hmac")
	sc.CreateKeys = true
	sc.CommitLinger.Duration = 0 // one page at a time: nothing to wait for
	if err := os.MkdirAll(sc.DataDir, 0o700); err != nil {
		return res, err
	}
	st, err := openStore(sc, slog.New(slog.DiscardHandler))
	if err != nil {
		return res, err
	}
	defer st.Close()
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	if err := st.ImportDirectory(ctx, benchHospital(at), paging.AuditEvent{Actor: "bench"}); err != nil {
		return res, err
	}
	clock := paging.ClockFunc(func() time.Time { return at })
	eng, err := engine.New(engine.Options{Store: st, Jobs: engine.OutboxJobs{Clock: clock}, Clock: clock,
		Config:  engine.Config{SMSDevice: "bench-agent/modem-1"},
		AgentOf: func(string) (string, bool) { return "bench-agent", true }})
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := eng.LoadDirectory(ctx); err != nil {
		return res, err
	}
	res.load = time.Since(t0)

	const warm = 200
	var lat []time.Duration
	for i := range warm + pages {
		// Pages to people, roles and groups in turn, of every priority.
		var pid string
		switch i % 3 {
		case 0:
			pid = fmt.Sprintf("1%04d", i*7919%benchPeople)
		case 1:
			pid = fmt.Sprintf("2%03d", i%benchRoles)
		default:
			pid = fmt.Sprintf("3%03d", i%benchGroups)
		}
		m := &paging.Message{ID: paging.NewID(at), Source: paging.Source{Protocol: paging.ProtocolWCTP, Line: "bench"},
			PagerID: pid, Priority: paging.Priority(i % 3), Text: paging.NewPHI("bench page text of a typical length, about sixty characters"), Received: at}
		if err := st.Accept(ctx, m, paging.AuditEvent{Actor: "bench"}); err != nil {
			return res, err
		}
		t := time.Now()
		if err := eng.Tick(ctx); err != nil {
			return res, err
		}
		if i >= warm {
			lat = append(lat, time.Since(t))
		}
	}
	slices.Sort(lat)
	res.pages = len(lat)
	res.p50, res.p99, res.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	return res, nil
}

// benchHospital is 10,000 people in the three migration stages, 500 roles
// with two schedules each (a 24/7 weekly rotation of eight and a weekday
// daytime layer over it, with overrides), 500 groups of ten, presence for
// a tenth of the staff, a policy per role and a pager ID for everything.
func benchHospital(at time.Time) storage.Import {
	var im storage.Import
	stages := []paging.Stage{paging.StagePager, paging.StageBoth, paging.StageApp}
	person := func(i int) string { return fmt.Sprintf("p%05d", i) }
	for i := range benchPeople {
		id := person(i)
		im.People = append(im.People, paging.Person{ID: id, Name: "Staff " + id, Department: fmt.Sprintf("dept-%d", i%40),
			Stage: stages[i%3], Endpoints: []paging.Endpoint{
				{Channel: paging.ChannelApp, Address: id},
				{Channel: paging.ChannelPager, Address: fmt.Sprintf("%05d", i), Via: "terminal-1"},
				{Channel: paging.ChannelSMS, Address: fmt.Sprintf("+1555%07d", i)}}})
		im.PagerIDs = append(im.PagerIDs, paging.PagerID{ID: fmt.Sprintf("1%04d", i), Target: paging.Target{Kind: paging.TargetPerson, ID: id}})
		if i%10 == 0 {
			st := []routing.PresenceState{routing.PresenceBusy, routing.PresenceDND, routing.PresenceOffDuty}[i/10%3]
			im.Records = append(im.Records, storage.ImportRecord{Kind: storage.KindPresence, ID: id,
				Value: routing.Presence{Person: id, State: st, ForwardTo: person((i + 1) % benchPeople)}})
		}
	}
	start := oncall.LocalTime{Year: 2026, Month: 1, Day: 5, Hour: 8}
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	for r := range benchRoles {
		rid := fmt.Sprintf("role-%03d", r)
		pol := "policy-" + rid
		im.Roles = append(im.Roles, paging.Role{ID: rid, Name: "Role " + rid, Policy: pol})
		im.PagerIDs = append(im.PagerIDs, paging.PagerID{ID: fmt.Sprintf("2%03d", r), Target: paging.Target{Kind: paging.TargetRole, ID: rid}})
		im.Records = append(im.Records, storage.ImportRecord{Kind: storage.KindPolicy, ID: pol, Value: routing.Policy{ID: pol, Repeat: 2, Steps: []routing.Step{
			{}, {Delay: 2 * time.Minute, Channels: []paging.Channel{paging.ChannelPager}},
			{Delay: 2 * time.Minute, Channels: []paging.Channel{paging.ChannelSMS}}}}})
		for k := range benchSchedules / benchRoles {
			var parts []string
			for j := range 8 {
				parts = append(parts, person((r*37+k*11+j)%benchPeople))
			}
			s := oncall.Schedule{ID: fmt.Sprintf("sched-%03d-%d", r, k), RoleID: rid, Name: fmt.Sprintf("%s %d", rid, k), TimeZone: "America/New_York",
				Layers: []oncall.Layer{
					{Name: "weekly", Participants: parts, Start: start, Shift: oncall.Length{N: 1, Unit: oncall.UnitWeek}},
					{Name: "days", Participants: parts[:4], Start: start, Shift: oncall.Length{N: 1, Unit: oncall.UnitDay},
						Windows: []oncall.Window{{Days: weekdays, Start: 8 * 60, End: 17 * 60}}},
				}}
			for o := range 5 {
				s.Overrides = append(s.Overrides, oncall.Override{ID: fmt.Sprintf("o%d", o), Start: at.Add(time.Duration(o*24-12) * time.Hour),
					End: at.Add(time.Duration(o*24-4) * time.Hour), Kind: oncall.OverrideReplace, Person: parts[(o+1)%8], Replaces: parts[o%8]})
			}
			im.Records = append(im.Records, storage.ImportRecord{Kind: storage.KindSchedule, ID: s.ID, Value: s})
		}
	}
	for g := range benchGroups {
		gid := fmt.Sprintf("group-%03d", g)
		var members []string
		for j := range 10 {
			members = append(members, person((g*53+j*7)%benchPeople))
		}
		im.Groups = append(im.Groups, paging.Group{ID: gid, Name: "Group " + gid, Members: members})
		im.PagerIDs = append(im.PagerIDs, paging.PagerID{ID: fmt.Sprintf("3%03d", g), Target: paging.Target{Kind: paging.TargetGroup, ID: gid}})
	}
	return im
}
