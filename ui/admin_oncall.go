package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// On call on a calendar: who is on call for a role, day by day, computed
// by the on-call code (oncall.Shifts) and rendered here; rotations
// (layers) and overrides are edited in forms.

// calShift is a shift cut to one day, in the schedule's zone.
type calShift struct {
	Person, Name, Reason string
	From, Until          string
	Override             bool
}

type calDay struct {
	Date    time.Time
	Today   bool
	InRange bool
	Shifts  []calShift
}

// calSchedule is one schedule of the role, with its days.
type calSchedule struct {
	oncall.Schedule
	Weeks     [][]calDay
	Layers    []layerForm
	Error     string
	Overrides []overrideView
}

type overrideView struct {
	oncall.Override
	From, Until string
}

type layerForm struct {
	Name, Participants, Start, Unit, Windows string
	N                                        int
}

type onCallData struct {
	Role      string
	Roles     []paging.Role
	View      string
	Start     time.Time
	Prev      string
	Next      string
	Schedules []calSchedule
	People    []paging.Person
	Zones     string
}

const dateLayout = "2006-01-02"

func (w *Web) onCallPage(c *gin.Context) { w.showOnCall(c, http.StatusOK, c.Query("error")) }

func (w *Web) showOnCall(c *gin.Context, status int, errMsg string) {
	ctx := c.Request.Context()
	roles, err := w.opts.Admin.Roles().List(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	d := onCallData{Role: c.Query("role"), Roles: roles, View: c.DefaultQuery("view", "week")}
	if d.Role == "" && len(roles) > 0 {
		d.Role = roles[0].ID
	}
	if d.View != "month" {
		d.View = "week"
	}
	if d.People, err = w.opts.Admin.People().List(ctx); err != nil {
		w.fail(c, err)
		return
	}
	names := map[string]string{}
	for _, p := range d.People {
		names[p.ID] = p.Name
	}
	scheds, err := w.opts.Admin.Schedules().List(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	now := w.auth.now()
	for _, s := range scheds {
		if s.RoleID != d.Role {
			continue
		}
		d.Schedules = append(d.Schedules, w.calendar(s, d.View, c.Query("start"), now, names, &d))
	}
	w.adminPage(c, status, "admin_oncall.html", "On call", noticeOf(c), errMsg, d)
}

// calendar lays out a schedule's shifts over a week (from Monday) or a
// month (whole weeks), in the schedule's time zone.
func (w *Web) calendar(s oncall.Schedule, view, start string, now time.Time, names map[string]string, d *onCallData) calSchedule {
	cs := calSchedule{Schedule: s}
	for _, l := range s.Layers {
		cs.Layers = append(cs.Layers, layerFormOf(l))
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		cs.Error = "time zone " + s.TimeZone + " is unknown"
		return cs
	}
	for _, o := range s.Overrides {
		cs.Overrides = append(cs.Overrides, overrideView{Override: o, From: o.Start.In(loc).Format("Mon 2 Jan 15:04"),
			Until: o.End.In(loc).Format("Mon 2 Jan 15:04")})
	}
	day := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	if t, err := time.ParseInLocation(dateLayout, start, loc); err == nil {
		day = t
	}
	first, weeks := day, 1
	if view == "month" {
		first = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, loc)
		d.Prev, d.Next = first.AddDate(0, -1, 0).Format(dateLayout), first.AddDate(0, 1, 0).Format(dateLayout)
	}
	anchor := first
	first = first.AddDate(0, 0, -((int(first.Weekday()) + 6) % 7)) // Monday
	if view == "month" {
		last := time.Date(anchor.Year(), anchor.Month()+1, 1, 0, 0, 0, 0, loc)
		weeks = int((last.Sub(first).Hours()/24)+6) / 7
	} else {
		d.Prev, d.Next = first.AddDate(0, 0, -7).Format(dateLayout), first.AddDate(0, 0, 7).Format(dateLayout)
	}
	d.Start = first
	end := first.AddDate(0, 0, 7*weeks)
	shifts, err := oncall.Shifts(&s, first, end)
	if err != nil {
		cs.Error = userError(err)
		return cs
	}
	today := now.In(loc).Format(dateLayout)
	for wk := range weeks {
		var row []calDay
		for i := range 7 {
			date := first.AddDate(0, 0, wk*7+i)
			next := date.AddDate(0, 0, 1)
			cd := calDay{Date: date, Today: date.Format(dateLayout) == today, InRange: view != "month" || date.Month() == anchor.Month()}
			for _, sh := range shifts {
				if !sh.Start.Before(next) || !sh.End.After(date) {
					continue
				}
				from, until := max64(sh.Start, date), min64(sh.End, next)
				cshift := calShift{Person: sh.Person, Name: names[sh.Person], Reason: sh.Reason,
					From: from.In(loc).Format("15:04"), Until: until.In(loc).Format("15:04"),
					Override: strings.Contains(sh.Reason, "override")}
				if !until.Before(next) {
					cshift.Until = "24:00"
				}
				if cshift.Name == "" {
					cshift.Name = sh.Person
				}
				cd.Shifts = append(cd.Shifts, cshift)
			}
			row = append(row, cd)
		}
		cs.Weeks = append(cs.Weeks, row)
	}
	return cs
}

func max64(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// layerFormOf is a rotation as its form shows it.
func layerFormOf(l oncall.Layer) layerForm {
	f := layerForm{Name: l.Name, Participants: strings.Join(l.Participants, ", "), Start: l.Start.String(), N: l.Shift.N,
		Unit: string(l.Shift.Unit)}
	var ws []string
	for _, win := range l.Windows {
		var days []string
		for _, d := range win.Days {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
		ws = append(ws, strings.Join(days, ",")+" "+win.Start.String()+"-"+win.End.String())
	}
	f.Windows = strings.Join(ws, "; ")
	return f
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// parseWindows reads "mon,tue 08:00-17:00; sat 00:00-24:00".
func parseWindows(s string) ([]oncall.Window, error) {
	var out []oncall.Window
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, span, ok := strings.Cut(part, " ")
		from, to, ok2 := strings.Cut(strings.TrimSpace(span), "-")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%w: window %q: write days then a span, as mon,tue 08:00-17:00", paging.ErrInvalid, part)
		}
		var win oncall.Window
		for d := range strings.SplitSeq(days, ",") {
			wd, ok := weekdays[strings.ToLower(strings.TrimSpace(d))]
			if !ok {
				return nil, fmt.Errorf("%w: window %q: %q is not a day (mon ... sun)", paging.ErrInvalid, part, d)
			}
			win.Days = append(win.Days, wd)
		}
		var err error
		if win.Start, err = oncall.ParseTimeOfDay(from); err != nil {
			return nil, err
		}
		if win.End, err = oncall.ParseTimeOfDay(to); err != nil {
			return nil, err
		}
		out = append(out, win)
	}
	return out, nil
}

// saveSchedule creates or replaces a schedule's settings and rotations
// (its overrides are kept). The form has one row per rotation plus an
// empty one; a row without participants is dropped.
func (w *Web) saveSchedule(c *gin.Context) {
	ctx := c.Request.Context()
	s := oncall.Schedule{ID: strings.TrimSpace(c.PostForm("id")), RoleID: c.PostForm("role"), Name: strings.TrimSpace(c.PostForm("name")),
		TimeZone: strings.TrimSpace(c.PostForm("time_zone"))}
	back := "/app/admin/oncall?role=" + esc(s.RoleID)
	fail := func(err error) {
		if _, msg, ok := w.changeFailed(err); ok {
			c.Redirect(http.StatusSeeOther, back+"&error="+esc("Not saved: "+msg))
			return
		}
		w.fail(c, err)
	}
	scheds, err := w.opts.Admin.Schedules().List(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	if old, ok := find(scheds, func(s *oncall.Schedule) string { return s.ID }, s.ID); ok {
		if c.PostForm("new") == "1" {
			fail(fmt.Errorf("%w: there is already a schedule %s", paging.ErrInvalid, s.ID))
			return
		}
		s.Overrides = old.Overrides
	}
	names, parts, starts, ns, units, wins := c.PostFormArray("layer_name"), c.PostFormArray("layer_participants"),
		c.PostFormArray("layer_start"), c.PostFormArray("layer_n"), c.PostFormArray("layer_unit"), c.PostFormArray("layer_windows")
	for i := range parts {
		if strings.TrimSpace(parts[i]) == "" || i >= len(names) || i >= len(starts) || i >= len(ns) || i >= len(units) || i >= len(wins) {
			continue
		}
		l := oncall.Layer{Name: strings.TrimSpace(names[i]), Participants: words(parts[i]), Shift: oncall.Length{Unit: oncall.Unit(units[i])}}
		if l.Start, err = oncall.ParseLocalTime(strings.TrimSpace(starts[i])); err != nil {
			fail(err)
			return
		}
		if l.Shift.N, err = strconv.Atoi(strings.TrimSpace(ns[i])); err != nil {
			fail(fmt.Errorf("%w: rotation %q: the shift length is a whole number", paging.ErrInvalid, l.Name))
			return
		}
		if l.Windows, err = parseWindows(wins[i]); err != nil {
			fail(err)
			return
		}
		s.Layers = append(s.Layers, l)
	}
	if err := w.opts.Admin.Schedules().Put(ctx, s, by(c)); err != nil {
		fail(err)
		return
	}
	done(c, back, "Saved schedule "+s.ID+".")
}

// schedule reads the schedule id, answering the error itself.
func (w *Web) schedule(c *gin.Context, id string) (oncall.Schedule, bool) {
	scheds, err := w.opts.Admin.Schedules().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return oncall.Schedule{}, false
	}
	s, ok := find(scheds, func(s *oncall.Schedule) string { return s.ID }, id)
	if !ok {
		w.fail(c, fmt.Errorf("schedule %s: %w", id, paging.ErrNotFound))
	}
	return s, ok
}

// addOverride adds who covers from–until, in the schedule's zone: in
// addition to whoever is on call, or replacing one of them.
func (w *Web) addOverride(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	s, ok := w.schedule(c, id)
	if !ok {
		return
	}
	back := "/app/admin/oncall?role=" + esc(s.RoleID) + "&start=" + esc(c.PostForm("back_start")) + "&view=" + esc(c.PostForm("back_view"))
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		c.Redirect(http.StatusSeeOther, back+"&error="+esc("The schedule's time zone is unknown."))
		return
	}
	from, err1 := time.ParseInLocation("2006-01-02T15:04", c.PostForm("from"), loc)
	until, err2 := time.ParseInLocation("2006-01-02T15:04", c.PostForm("until"), loc)
	if err1 != nil || err2 != nil {
		c.Redirect(http.StatusSeeOther, back+"&error="+esc("Give the override's start and end as date and time."))
		return
	}
	o := oncall.Override{ID: "web-" + strconv.FormatInt(w.auth.now().UnixNano(), 36), Start: from, End: until,
		Kind: oncall.OverrideAdd, Person: c.PostForm("person")}
	if r := c.PostForm("replaces"); r != "" {
		o.Kind, o.Replaces = oncall.OverrideReplace, r
	}
	s.Overrides = append(s.Overrides, o)
	if err := w.opts.Admin.Schedules().Put(ctx, s, by(c)); err != nil {
		if _, msg, ok := w.changeFailed(err); ok {
			c.Redirect(http.StatusSeeOther, back+"&error="+esc("Override not added: "+msg))
			return
		}
		w.fail(c, err)
		return
	}
	done(c, back, "Override added.")
}

func (w *Web) deleteOverride(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	s, ok := w.schedule(c, id)
	if !ok {
		return
	}
	kept := s.Overrides[:0]
	for _, o := range s.Overrides {
		if o.ID != c.Param("ov") {
			kept = append(kept, o)
		}
	}
	s.Overrides = kept
	if err := w.opts.Admin.Schedules().Put(ctx, s, by(c)); err != nil {
		w.fail(c, err)
		return
	}
	done(c, "/app/admin/oncall?role="+esc(s.RoleID), "Override removed.")
}

func (w *Web) deleteSchedule(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.Schedules().Delete, "/app/admin/oncall", "schedule")
}

// Escalation policies and templates.

type stepForm struct {
	Delay, Targets string
	Channels       []string
}

type policyForm struct {
	routing.Policy
	Fallback, Expire string
	Steps            []stepForm
}

type policiesData struct {
	Policies []policyForm
	Channels []paging.Channel
}

func (w *Web) policiesPage(c *gin.Context) { w.showPolicies(c, http.StatusOK, c.Query("error")) }

func (w *Web) showPolicies(c *gin.Context, status int, errMsg string) {
	ps, err := w.opts.Admin.Policies().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	d := policiesData{Channels: []paging.Channel{paging.ChannelApp, paging.ChannelPager, paging.ChannelSMS}}
	for _, p := range append(ps, routing.Policy{}) {
		f := policyForm{Policy: p}
		if p.FallbackAfter > 0 {
			f.Fallback = p.FallbackAfter.String()
		}
		if p.Expire > 0 {
			f.Expire = p.Expire.String()
		}
		for _, st := range p.Steps {
			sf := stepForm{Delay: st.Delay.String()}
			var ts []string
			for _, t := range st.Targets {
				ts = append(ts, t.String())
			}
			sf.Targets = strings.Join(ts, " ")
			for _, ch := range st.Channels {
				sf.Channels = append(sf.Channels, string(ch))
			}
			f.Steps = append(f.Steps, sf)
		}
		f.Steps = append(f.Steps, stepForm{}, stepForm{})
		d.Policies = append(d.Policies, f)
	}
	w.adminPage(c, status, "admin_policies.html", "Escalation policies", noticeOf(c), errMsg, d)
}

// savePolicy reads a policy's form: one row per step (a row without a
// delay is dropped), targets as kind:id words, channels as checkboxes
// named channel_<row>.
func (w *Web) savePolicy(c *gin.Context) {
	p := routing.Policy{ID: strings.TrimSpace(c.PostForm("id")), Name: strings.TrimSpace(c.PostForm("name")),
		Team: c.PostForm("team") == "1"}
	bad := func(msg string) { w.showPolicies(c, http.StatusBadRequest, msg) }
	var err error
	if v := strings.TrimSpace(c.PostForm("repeat")); v != "" {
		if p.Repeat, err = strconv.Atoi(v); err != nil {
			bad("Repeat is a whole number.")
			return
		}
	}
	for _, f := range []struct {
		name string
		to   *time.Duration
	}{{"fallback_after", &p.FallbackAfter}, {"expire", &p.Expire}} {
		if v := strings.TrimSpace(c.PostForm(f.name)); v != "" {
			if *f.to, err = time.ParseDuration(v); err != nil {
				bad(fmt.Sprintf("%s %q is not a duration such as 5m or 1h30m.", f.name, v))
				return
			}
		}
	}
	delays, targets := c.PostFormArray("delay"), c.PostFormArray("targets")
	for i, dv := range delays {
		dv = strings.TrimSpace(dv)
		if dv == "" {
			continue
		}
		var st routing.Step
		if st.Delay, err = time.ParseDuration(dv); err != nil {
			bad(fmt.Sprintf("Step %d: delay %q is not a duration such as 0s or 5m.", i+1, dv))
			return
		}
		if i < len(targets) {
			for _, t := range words(targets[i]) {
				kind, id, ok := strings.Cut(t, ":")
				if !ok {
					bad(fmt.Sprintf("Step %d: target %q: write person:ID, role:ID or group:ID.", i+1, t))
					return
				}
				st.Targets = append(st.Targets, paging.Target{Kind: paging.TargetKind(kind), ID: id})
			}
		}
		for _, ch := range c.PostFormArray(fmt.Sprintf("channel_%d", i)) {
			st.Channels = append(st.Channels, paging.Channel(ch))
		}
		p.Steps = append(p.Steps, st)
	}
	w.saveAndBack(c, put(c, w.opts.Admin.Policies(), p, func(p *routing.Policy) string { return p.ID }), "/app/admin/policies", "Saved policy "+p.ID+".", w.showPolicies)
}

func (w *Web) deletePolicy(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.Policies().Delete, "/app/admin/policies", "policy")
}

func (w *Web) templatesPage(c *gin.Context) { w.showTemplates(c, http.StatusOK, c.Query("error")) }

func (w *Web) showTemplates(c *gin.Context, status int, errMsg string) {
	ts, err := w.opts.Admin.Templates().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	w.adminPage(c, status, "admin_templates.html", "Templates", noticeOf(c), errMsg, ts)
}

func (w *Web) saveTemplate(c *gin.Context) {
	t := Template{Name: strings.TrimSpace(c.PostForm("name")), Text: c.PostForm("text"), Description: strings.TrimSpace(c.PostForm("description"))}
	w.saveAndBack(c, put(c, w.opts.Admin.Templates(), t, func(t *Template) string { return t.Name }), "/app/admin/templates", "Saved template "+t.Name+".", w.showTemplates)
}

func (w *Web) deleteTemplate(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.Templates().Delete, "/app/admin/templates", "template")
}
