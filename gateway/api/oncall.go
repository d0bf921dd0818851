package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

func isNotFound(err error) bool { return errors.Is(err, paging.ErrNotFound) }

// timeParam parses an RFC 3339 query parameter, or returns def.
func timeParam(c *gin.Context, name string, def time.Time) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time such as 2026-11-27T10:00:00Z", paging.ErrInvalid, name, v)
	}
	return t, nil
}

// roleSchedules returns the stored schedules of role, in ID order.
func (a *API) roleSchedules(ctx context.Context, role string) ([]oncall.Schedule, error) {
	all, err := storage.Records[oncall.Schedule](ctx, a.st, storage.KindSchedule)
	if err != nil {
		return nil, err
	}
	var out []oncall.Schedule
	for _, s := range all {
		if s.RoleID == role {
			out = append(out, s)
		}
	}
	return out, nil
}

// OnCallEntry is one person on call, and why.
type OnCallEntry struct {
	Person string `json:"person"`
	// Name is the person's name, empty if they are not in the directory.
	Name     string    `json:"name,omitempty"`
	Schedule string    `json:"schedule"`
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Presence is their presence at that instant (available, busy,
	// off-duty, dnd): whether a page would reach them or their forward.
	Presence routing.PresenceState `json:"presence"`
	Forward  string                `json:"forward_to,omitempty"`
}

// OnCallAnswer is the answer of GET /oncall/{role}.
type OnCallAnswer struct {
	Role      string        `json:"role"`
	At        time.Time     `json:"at"`
	Schedules []string      `json:"schedules"`
	OnCall    []OnCallEntry `json:"on_call"`
}

func (a *API) onCall(c *gin.Context, k *call) (reply, error) {
	ctx, role := c.Request.Context(), c.Param("role")
	at, err := timeParam(c, "at", a.clock.Now())
	if err != nil {
		return reply{}, err
	}
	if _, err := a.st.Role(ctx, role); err != nil {
		return reply{}, err
	}
	scheds, err := a.roleSchedules(ctx, role)
	if err != nil {
		return reply{}, err
	}
	ans := OnCallAnswer{Role: role, At: at, Schedules: []string{}, OnCall: []OnCallEntry{}}
	for i := range scheds {
		s := &scheds[i]
		ans.Schedules = append(ans.Schedules, s.ID)
		for _, as := range oncall.OnCall(s, at) {
			e := OnCallEntry{Person: as.Person, Schedule: s.ID, Reason: as.Reason, Since: as.Since, Until: as.Until,
				Presence: routing.PresenceAvailable}
			if p, err := a.st.Person(ctx, as.Person); err == nil {
				e.Name = p.Name
			} else if !isNotFound(err) {
				return reply{}, err
			}
			var pr routing.Presence
			if err := a.st.GetRecord(ctx, storage.KindPresence, as.Person, &pr); err == nil {
				pr = pr.Effective(at)
				e.Presence, e.Forward = pr.State, pr.ForwardTo
			} else if !isNotFound(err) {
				return reply{}, err
			}
			ans.OnCall = append(ans.OnCall, e)
		}
	}
	return jsonReply(http.StatusOK, ans)
}

func (a *API) shifts(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	now := a.clock.Now()
	from, err := timeParam(c, "from", now)
	if err != nil {
		return reply{}, err
	}
	to, err := timeParam(c, "to", from.Add(7*24*time.Hour))
	if err != nil {
		return reply{}, err
	}
	if !to.After(from) {
		return reply{}, fmt.Errorf("%w: to must be after from", paging.ErrInvalid)
	}
	var s oncall.Schedule
	if err := a.st.GetRecord(ctx, storage.KindSchedule, c.Param("id"), &s); err != nil {
		return reply{}, err
	}
	shifts, err := oncall.Shifts(&s, from, to)
	if err != nil {
		return reply{}, err
	}
	if shifts == nil {
		shifts = []oncall.Shift{}
	}
	return jsonReply(http.StatusOK, map[string]any{"schedule": s.ID, "from": from, "to": to, "shifts": shifts})
}

// MaxPresenceNote bounds a presence note, which senders see.
const MaxPresenceNote = 200

// mayPresence: a clinician sets only their own presence.
func mayPresence(k *call, person string) error {
	if k.tok.Role == RoleClinician && k.tok.Person != person {
		return forbidden("a clinician token sets only its own person's presence")
	}
	return nil
}

func (a *API) listPresence(c *gin.Context, k *call) (reply, error) {
	list, err := storage.Records[routing.Presence](c.Request.Context(), a.st, storage.KindPresence)
	if err != nil {
		return reply{}, err
	}
	if list == nil {
		list = []routing.Presence{}
	}
	return jsonReply(http.StatusOK, map[string]any{"presence": list})
}

// presenceView is a stored presence with what applies now.
type presenceView struct {
	routing.Presence
	Effective routing.PresenceState `json:"effective"`
}

func (a *API) getPresence(c *gin.Context, k *call) (reply, error) {
	ctx, person := c.Request.Context(), c.Param("person")
	if _, err := a.st.Person(ctx, person); err != nil {
		return reply{}, err
	}
	p := routing.Presence{Person: person, State: routing.PresenceAvailable}
	if err := a.st.GetRecord(ctx, storage.KindPresence, person, &p); err != nil && !isNotFound(err) {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, presenceView{Presence: p, Effective: p.Effective(a.clock.Now()).State})
}

func (a *API) putPresence(c *gin.Context, k *call) (reply, error) {
	ctx, person := c.Request.Context(), c.Param("person")
	if err := mayPresence(k, person); err != nil {
		return reply{}, err
	}
	var p routing.Presence
	if err := decode(c, &p, false); err != nil {
		return reply{}, err
	}
	if err := pathBodyID(c, "person", &p.Person); err != nil {
		return reply{}, err
	}
	now := a.clock.Now()
	switch {
	case !p.State.Valid():
		return reply{}, fmt.Errorf("%w presence: state %q is not available, busy, off-duty or dnd", paging.ErrInvalid, p.State)
	case p.ForwardTo == person:
		return reply{}, fmt.Errorf("%w presence: forward_to is the person themself", paging.ErrInvalid)
	case !p.Until.IsZero() && !p.Until.After(now):
		return reply{}, fmt.Errorf("%w presence: until is not in the future", paging.ErrInvalid)
	case len(p.Note) > MaxPresenceNote:
		return reply{}, fmt.Errorf("%w presence: note longer than %d bytes", paging.ErrInvalid, MaxPresenceNote)
	}
	if _, err := a.st.Person(ctx, person); err != nil {
		return reply{}, err
	}
	if p.ForwardTo != "" {
		if _, err := a.st.Person(ctx, p.ForwardTo); err != nil {
			return reply{}, refErr(err)
		}
	}
	if err := a.st.PutRecord(ctx, storage.KindPresence, person, p, k.by()); err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, presenceView{Presence: p, Effective: p.Effective(now).State})
}

func (a *API) deletePresence(c *gin.Context, k *call) (reply, error) {
	person := c.Param("person")
	if err := mayPresence(k, person); err != nil {
		return reply{}, err
	}
	if err := a.st.DeleteRecord(c.Request.Context(), storage.KindPresence, person, k.by()); err != nil {
		return reply{}, err
	}
	return noContent()
}
