package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
	"pagebridge/ui"
)

// The dispatcher console's, the hardware page's and the profile's ports,
// over the store, the engine and the bus bridge.

// consoleLine names the dispatcher console as a page's line.
const consoleLine = "dispatcher console"

// webDispatch is ui.Dispatch.
type webDispatch struct{ m *Main }

var _ ui.Dispatch = webDispatch{}

func (d webDispatch) Targets(ctx context.Context) (ui.DispatchTargets, error) {
	var out ui.DispatchTargets
	dir, err := webMessaging(d).Directory(ctx)
	if err != nil {
		return out, err
	}
	out.People, out.Roles, out.Groups = dir.People, dir.Roles, dir.Groups
	pids, err := d.m.store.PagerIDs(ctx)
	if err != nil {
		return out, err
	}
	for _, p := range pids {
		out.Pagers = append(out.Pagers, ui.PagerOption{ID: p.ID, Label: p.Label, Target: p.Target.String()})
	}
	return out, nil
}

// pagerFor finds the pager ID a page to target goes through: the engine
// routes pages by pager ID, so a person, role or group is paged through
// the first pager ID (by ID) that maps to it.
func (d webDispatch) pagerFor(ctx context.Context, to paging.Target) (string, error) {
	pids, err := d.m.store.PagerIDs(ctx)
	if err != nil {
		return "", err
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i].ID < pids[j].ID })
	for _, p := range pids {
		if p.Target == to {
			return p.ID, nil
		}
	}
	return "", fmt.Errorf("%w: no pager ID maps to %s %s: add one in the directory, or send a message from New message", paging.ErrInvalid, to.Kind, to.ID)
}

func (d webDispatch) Page(ctx context.Context, as ui.Caller, req ui.PageRequest) (paging.ID, error) {
	kind, id, _ := strings.Cut(req.To, ":")
	var pagerID string
	switch kind {
	case "pager":
		if _, err := d.m.store.PagerID(ctx, id); err != nil {
			if errors.Is(err, paging.ErrNotFound) {
				return paging.ID{}, fmt.Errorf("%w: pager ID %s is not in the directory", paging.ErrInvalid, id)
			}
			return paging.ID{}, err
		}
		pagerID = id
	case string(paging.TargetPerson), string(paging.TargetRole), string(paging.TargetGroup):
		var err error
		if pagerID, err = d.pagerFor(ctx, paging.Target{Kind: paging.TargetKind(kind), ID: id}); err != nil {
			return paging.ID{}, err
		}
	default:
		return paging.ID{}, fmt.Errorf("%w: whom to page", paging.ErrInvalid)
	}
	now := time.Now()
	msg := &paging.Message{ID: paging.NewID(now), PagerID: pagerID, Priority: req.Priority, Text: req.Text, Received: now,
		Source: paging.Source{Protocol: paging.ProtocolWeb, Line: consoleLine, Sender: as.Person, Address: as.Source}}
	by := paging.AuditEvent{Actor: as.Actor, Source: as.Source, Detail: "sent from the dispatcher console to " + req.To}
	if err := (routedAccepter{d.m}).Accept(ctx, msg, by); err != nil {
		return paging.ID{}, err
	}
	d.m.pages.Add(1)
	return msg.ID, nil
}

// pagesScanned bounds how many of the newest routes the console's list
// looks through.
const pagesScanned = 1000

func (d webDispatch) Pages(ctx context.Context, limit int) ([]ui.PageSummary, error) {
	var open, other []ui.PageSummary
	err := d.m.engine.Routes(ctx, pagesScanned, func(r engine.Route) error {
		if r.State == engine.StateActive || r.State == engine.StateFallback {
			open = append(open, d.summary(r))
		} else if len(other) < limit {
			other = append(other, d.summary(r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := append(open, other...)
	if len(out) > limit && len(open) <= limit {
		out = out[:limit]
	}
	for i := range out {
		rs, err := d.m.store.Responses(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.Answer == storage.AnswerResponding {
				out[i].Responding++
			}
		}
	}
	return out, nil
}

func (d webDispatch) summary(r engine.Route) ui.PageSummary {
	s := ui.PageSummary{ID: r.Message, PagerID: r.PagerID, Label: r.Label, Target: r.Target.String(), Priority: r.Priority,
		Source: r.Source, State: r.State, Start: r.Start, Next: r.Next, Reached: len(r.Deliveries)}
	if s.Label == "" {
		s.Label = s.Target
	}
	if r.Acked != nil {
		s.AckedBy = r.Acked.Person
	}
	return s
}

func (d webDispatch) Roster(ctx context.Context, page paging.ID) (ui.Roster, error) {
	r, err := d.m.engine.Route(ctx, page)
	if err != nil {
		return ui.Roster{}, err
	}
	answers, err := d.m.store.Responses(ctx, page)
	if err != nil {
		return ui.Roster{}, err
	}
	n := webMessaging(d).names(ctx)
	out := ui.Roster{Page: d.summary(r)}
	if r.Acked != nil {
		out.Page.AckedBy = n.of(r.Acked.Person)
	}
	// One line per person: a person reached again (a repeat, a later
	// step) keeps one line with every attempt and the latest delivery.
	for _, dl := range r.Deliveries {
		i := slices.IndexFunc(out.Responders, func(rp ui.Responder) bool { return rp.Person == dl.PersonID })
		if i < 0 {
			out.Responders = append(out.Responders, ui.Responder{Person: dl.PersonID, Name: n.of(dl.PersonID), Reason: dl.Reason, Channels: []string{}})
			i = len(out.Responders) - 1
		}
		rp := &out.Responders[i]
		rp.Delivery = dl.State
		rp.Acked = rp.Acked || dl.State == paging.StateAcknowledged || r.Acked != nil && r.Acked.Person == dl.PersonID
		for _, a := range dl.Attempts {
			rp.Channels = append(rp.Channels, string(a.Channel)+" "+string(a.State))
		}
	}
	for _, a := range answers {
		i := slices.IndexFunc(out.Responders, func(rp ui.Responder) bool { return rp.Person == a.Person })
		if i < 0 {
			out.Responders = append(out.Responders, ui.Responder{Person: a.Person, Name: n.of(a.Person), Channels: []string{}})
			i = len(out.Responders) - 1
		}
		out.Responders[i].Answer, out.Responders[i].AnswerAt = a.Answer, a.At
	}
	for _, rp := range out.Responders {
		if rp.Answer == storage.AnswerResponding {
			out.Page.Responding++
		}
	}
	return out, nil
}

// OnCall is who is on call for role now (every schedule of the role),
// and who is when the first of them hands over.
func (d webDispatch) OnCall(ctx context.Context, role string) (ui.OnCallView, error) {
	rl, err := d.m.store.Role(ctx, role)
	if err != nil {
		return ui.OnCallView{}, err
	}
	all, err := storage.Records[oncall.Schedule](ctx, d.m.store, storage.KindSchedule)
	if err != nil {
		return ui.OnCallView{}, err
	}
	now := time.Now()
	out := ui.OnCallView{Role: role, Name: rl.Name, At: now}
	n := webMessaging(d).names(ctx)
	presence := func(person string, at time.Time) routing.Presence {
		p := routing.Presence{Person: person, State: routing.PresenceAvailable}
		if err := d.m.store.GetRecord(ctx, storage.KindPresence, person, &p); err != nil {
			return routing.Presence{Person: person, State: routing.PresenceAvailable}
		}
		return p.Effective(at)
	}
	add := func(list []ui.OnCallPerson, a oncall.Assignment, at time.Time) []ui.OnCallPerson {
		p := presence(a.Person, at)
		return append(list, ui.OnCallPerson{Person: a.Person, Name: n.of(a.Person), Reason: a.Reason, Since: a.Since, Until: a.Until,
			Presence: string(p.State), Forward: p.ForwardTo})
	}
	for i := range all {
		s := &all[i]
		if s.RoleID != role {
			continue
		}
		cur := oncall.OnCall(s, now)
		var handover time.Time
		for _, a := range cur {
			out.Now = add(out.Now, a, now)
			if !a.Until.IsZero() && (handover.IsZero() || a.Until.Before(handover)) {
				handover = a.Until
			}
		}
		if handover.IsZero() {
			// Nobody now: the first shift to come in the next week.
			shifts, err := oncall.Shifts(s, now, now.Add(7*24*time.Hour))
			if err != nil || len(shifts) == 0 {
				continue
			}
			handover = shifts[0].Start
		}
		for _, a := range oncall.OnCall(s, handover) {
			out.Next = add(out.Next, a, handover)
		}
	}
	return out, nil
}

// pageThread reads a thread for as and checks it is a page's thread and
// as a member.
func (d webDispatch) pageThread(ctx context.Context, as ui.Caller, thread paging.ID) error {
	t, err := webMessaging(d).member(ctx, as, thread)
	if err != nil {
		return err
	}
	if t.Kind != storage.ThreadPage {
		return fmt.Errorf("%w: only a page is answered with responding", paging.ErrInvalid)
	}
	return nil
}

func (d webDispatch) Respond(ctx context.Context, as ui.Caller, thread paging.ID, answer string) error {
	if err := d.pageThread(ctx, as, thread); err != nil {
		return err
	}
	by := paging.AuditEvent{Actor: as.Actor, Source: as.Source}
	if err := d.m.store.PutResponse(ctx, thread, storage.Response{Person: as.Person, Answer: answer}, by); err != nil {
		return err
	}
	r, err := d.m.engine.Route(ctx, thread)
	if err != nil {
		return err
	}
	if answer == storage.AnswerResponding && (r.State == engine.StateActive || r.State == engine.StateFallback) {
		// Coming is more than an acknowledgement: the escalation stops.
		if r, err = d.m.engine.Acknowledge(ctx, thread, as.Person, paging.ChannelApp); err != nil {
			return err
		}
	}
	if d.m.web != nil {
		d.m.web.PageChanged(thread, r.State, "response")
		d.m.web.ThreadChanged(thread, nil, paging.ID{}, as.Person, "response", true)
	}
	return nil
}

func (d webDispatch) Answer(ctx context.Context, as ui.Caller, thread paging.ID) (string, error) {
	if err := d.pageThread(ctx, as, thread); err != nil {
		if errors.Is(err, paging.ErrInvalid) {
			return "", nil
		}
		return "", err
	}
	rs, err := d.m.store.Responses(ctx, thread)
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		if r.Person == as.Person {
			return r.Answer, nil
		}
	}
	return "", nil
}

// signalBars puts a +CSQ rssi (0–31) on four bars, as phones do: below
// 2 none (-109 dBm or less), then up to 9, 14, 19, and 20 and over.
func signalBars(rssi int) int {
	switch {
	case rssi < 2:
		return 0
	case rssi < 10:
		return 1
	case rssi < 15:
		return 2
	case rssi < 20:
		return 3
	}
	return 4
}

// knownDeviceFields are the fields of agentapi.DeviceStatus the hardware
// page shows in their own places; any other goes to Extra.
var knownDeviceFields = []string{"id", "kind", "state", "since", "error", "queue", "done", "failed", "signal", "registration", "operator", "sim"}

// extraFields lists what a device's status (an agentapi.DeviceStatus)
// carries beyond the known fields (a transmitter's air time, say), in key
// order, as label and value: an object's fields one level down under its
// name as group, anything deeper as JSON.
func extraFields(d any) []ui.Field {
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out []ui.Field
	for _, k := range sortedKeys(m) {
		if slices.Contains(knownDeviceFields, k) {
			continue
		}
		sub, ok := m[k].(map[string]any)
		if !ok {
			if v, ok := fieldValue(m[k]); ok {
				out = append(out, ui.Field{Label: fieldLabel(k), Value: v})
			}
			continue
		}
		for _, sk := range sortedKeys(sub) {
			if v, ok := fieldValue(sub[sk]); ok {
				out = append(out, ui.Field{Group: fieldLabel(k), Label: fieldLabel(sk), Value: v})
			}
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldValue is a JSON value in words; false for null.
func fieldValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), "."), true
	case bool:
		if x {
			return "yes", true
		}
		return "no", true
	}
	b, _ := json.Marshal(v)
	return string(b), true
}

// fieldLabel turns a JSON key into words: "air_time" → "Air time",
// "used_s" → "Used (s)".
func fieldLabel(k string) string {
	if strings.HasSuffix(k, "_s") {
		k = strings.TrimSuffix(k, "_s") + " (s)"
	}
	k = strings.ReplaceAll(k, "_", " ")
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

func (d webDispatch) Hardware(ctx context.Context) ([]ui.HardwareAgent, error) {
	if d.m.bus == nil {
		return nil, nil
	}
	var out []ui.HardwareAgent
	for _, a := range d.m.bus.Agents() {
		ha := ui.HardwareAgent{ID: a.ID, State: a.State, Version: a.Version, Updated: a.Updated, InFlight: a.InFlight, Pending: a.Pending}
		for _, dv := range a.Devices {
			hd := ui.HardwareDevice{Device: ui.Device{ID: dv.ID, Kind: dv.Kind, State: dv.State, Error: dv.Error, Since: dv.Since,
				Queue: dv.Queue, Done: dv.Done, Failed: dv.Failed, Health: deviceHealth(dv)},
				Signal: -1, Registration: dv.Registration, Operator: dv.Operator, SIM: dv.SIM, Extra: extraFields(dv)}
			if dv.Signal > 0 && dv.Signal <= 31 {
				hd.Signal, hd.Bars = dv.Signal, signalBars(dv.Signal)
			}
			ha.Devices = append(ha.Devices, hd)
		}
		out = append(out, ha)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// webProfiles is ui.Profiles.
type webProfiles struct{ m *Main }

var _ ui.Profiles = webProfiles{}

func (p webProfiles) Profile(ctx context.Context, as ui.Caller) (ui.ProfileView, error) {
	person, err := p.m.store.Person(ctx, as.Person)
	if err != nil {
		return ui.ProfileView{}, err
	}
	out := ui.ProfileView{Person: person.ID, Name: person.Name, Presence: string(routing.PresenceAvailable)}
	if out.Name == "" {
		out.Name = person.ID
	}
	var pr routing.Presence
	switch err := p.m.store.GetRecord(ctx, storage.KindPresence, as.Person, &pr); {
	case err == nil:
		pr = pr.Effective(time.Now())
		out.Presence, out.Forward, out.Until, out.Note = string(pr.State), pr.ForwardTo, pr.Until, pr.Note
	case !errors.Is(err, paging.ErrNotFound):
		return ui.ProfileView{}, err
	}
	prof, err := p.m.store.Profile(ctx, as.Person)
	if err != nil {
		return ui.ProfileView{}, err
	}
	out.Mute, out.NoVibrate, out.HasPhoto = prof.Mute, prof.NoVibrate, prof.PhotoType != ""
	people, err := p.m.store.People(ctx)
	if err != nil {
		return ui.ProfileView{}, err
	}
	for _, x := range people {
		out.People = append(out.People, ui.Named{ID: x.ID, Name: x.Name})
	}
	return out, nil
}

func (p webProfiles) SetPresence(ctx context.Context, as ui.Caller, u ui.ProfileUpdate) error {
	pr := routing.Presence{Person: as.Person, State: routing.PresenceState(u.Presence), ForwardTo: u.Forward, Until: u.Until, Note: u.Note}
	switch {
	case !pr.State.Valid():
		return fmt.Errorf("%w: presence %q is not available, busy, dnd or off-duty", paging.ErrInvalid, u.Presence)
	case pr.ForwardTo == as.Person:
		return fmt.Errorf("%w: a forward to yourself", paging.ErrInvalid)
	}
	if pr.ForwardTo != "" {
		if _, err := p.m.store.Person(ctx, pr.ForwardTo); err != nil {
			if errors.Is(err, paging.ErrNotFound) {
				return fmt.Errorf("%w: nobody called %s to forward to", paging.ErrInvalid, pr.ForwardTo)
			}
			return err
		}
	}
	return p.m.store.PutRecord(ctx, storage.KindPresence, as.Person, pr, paging.AuditEvent{Actor: as.Actor, Source: as.Source})
}

func (p webProfiles) SetPreferences(ctx context.Context, as ui.Caller, mute, noVibrate bool) error {
	return p.m.store.SetPreferences(ctx, as.Person, storage.Preferences{Mute: mute, NoVibrate: noVibrate},
		paging.AuditEvent{Actor: as.Actor, Source: as.Source})
}

func (p webProfiles) SetPhoto(ctx context.Context, as ui.Caller, contentType string, b []byte) error {
	return p.m.store.SetPhoto(ctx, as.Person, contentType, b, paging.AuditEvent{Actor: as.Actor, Source: as.Source})
}

func (p webProfiles) Photo(ctx context.Context, person string) (string, []byte, error) {
	return p.m.store.Photo(ctx, person)
}

func (p webProfiles) SetPassword(ctx context.Context, as ui.Caller, username, hash string) error {
	return p.m.store.SetPassword(ctx, username, hash, paging.AuditEvent{Actor: as.Actor, Source: as.Source})
}

func (p webProfiles) MustChangePassword(ctx context.Context, username string) (bool, error) {
	a, err := p.m.store.Account(ctx, username)
	if err != nil {
		return false, err
	}
	return a.MustChangePassword, nil
}
