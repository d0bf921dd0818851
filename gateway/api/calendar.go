package api

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// feedRequest is the body of POST /calendar-feeds: one of role and
// person.
type feedRequest struct {
	Name   string `json:"name,omitempty"`
	Role   string `json:"role,omitempty"`
	Person string `json:"person,omitempty"`
	// TTL is a Go duration ("8760h"); empty: never expires.
	TTL string `json:"ttl,omitempty"`
}

type feedCreated struct {
	// URL is the feed's path on this server, secret included.
	URL   string      `json:"url"`
	Token string      `json:"token"`
	Info  TokenRecord `json:"record"`
}

// manager reports whether the caller manages everyone's feeds.
func manager(k *call) bool { return k.tok.Role == RoleAdmin || k.tok.Role == RoleIT }

// ownsFeed: operators and clinicians see and revoke only the feeds they
// made, or that belong to their person.
func ownsFeed(k *call, f *TokenRecord) bool {
	return manager(k) || f.CreatedBy == k.actor || f.CreatedBy == "token:"+k.tok.ID ||
		(k.tok.Person != "" && f.Person == k.tok.Person)
}

func (a *API) createFeed(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	var req feedRequest
	if err := decode(c, &req, false); err != nil {
		return reply{}, err
	}
	ttl, err := parseTTL(req.TTL)
	if err != nil {
		return reply{}, err
	}
	var feed Feed
	switch {
	case (req.Role == "") == (req.Person == ""):
		return reply{}, fmt.Errorf("%w calendar feed: give a role or a person", paging.ErrInvalid)
	case req.Role != "":
		feed = Feed{Kind: paging.TargetRole, ID: req.Role}
		if _, err := a.st.Role(ctx, req.Role); err != nil {
			return reply{}, refErr(err)
		}
	default:
		if !manager(k) && req.Person != k.tok.Person {
			return reply{}, forbidden("a %s token makes calendar feeds only for roles and its own person", k.tok.Role)
		}
		feed = Feed{Kind: paging.TargetPerson, ID: req.Person}
		if _, err := a.st.Person(ctx, req.Person); err != nil {
			return reply{}, refErr(err)
		}
	}
	if req.Name == "" {
		req.Name = "on call: " + string(feed.Kind) + " " + feed.ID
	}
	secret, rec, err := createToken(ctx, a.st, a.clock.Now(), tokenSpec{Kind: KindCalendar, Name: req.Name, Person: k.tok.Person,
		Feed: &feed, TTL: ttl}, k.by())
	if err != nil {
		return reply{}, err
	}
	k.object = "calendar-feed/" + rec.ID
	return jsonReply(http.StatusCreated, feedCreated{URL: Prefix + "/calendar/" + secret + ".ics", Token: secret, Info: rec})
}

func (a *API) listFeeds(c *gin.Context, k *call) (reply, error) {
	list, err := a.tokens(c.Request.Context(), KindCalendar, func(t *TokenRecord) bool { return ownsFeed(k, t) })
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, map[string]any{"feeds": list})
}

func (a *API) revokeFeed(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	st, err := a.token(ctx, c.Param("id"), KindCalendar)
	if err != nil {
		return reply{}, err
	}
	if !ownsFeed(k, &st.TokenRecord) {
		// Not the caller's: as if it did not exist.
		return reply{}, fmt.Errorf("calendar feed %s: %w", st.ID, paging.ErrNotFound)
	}
	rec, err := a.revoke(ctx, st, k.by())
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, rec)
}

// serveFeed serves GET /calendar/{token}.ics. Calendar apps cannot send
// an Authorization header, so the token is in the path; it is never
// logged, and the audit entry names the feed by its ID.
func (a *API) serveFeed(c *gin.Context, k *call) (reply, error) {
	ctx := c.Request.Context()
	tok, ok := strings.CutSuffix(c.Param("feed"), ".ics")
	if !ok {
		return reply{}, fmt.Errorf("calendar feed: %w (the path ends in .ics)", paging.ErrNotFound)
	}
	rec, why, err := a.lookup(ctx, tok, prefixCalendar, KindCalendar)
	if err != nil {
		return reply{}, err
	}
	if rec == nil {
		a.log.Warn("calendar feed refused", logSource, k.source, logReason, why)
		return reply{}, fmt.Errorf("calendar feed: %w", paging.ErrNotFound)
	}
	k.actor = "feed:" + rec.ID
	k.object = "calendar/" + string(rec.Feed.Kind) + "/" + rec.Feed.ID
	now := a.clock.Now()
	from, to := now.Add(-a.feedPast), now.Add(a.feedAhead)
	var (
		cal    oncall.Calendar
		shifts []oncall.Shift
	)
	switch rec.Feed.Kind {
	case paging.TargetRole:
		role, err := a.st.Role(ctx, rec.Feed.ID)
		if err != nil {
			return reply{}, err
		}
		scheds, err := a.roleSchedules(ctx, role.ID)
		if err != nil {
			return reply{}, err
		}
		shifts = a.shiftsOf(scheds, from, to, nil)
		people, err := a.st.People(ctx)
		if err != nil {
			return reply{}, err
		}
		names := map[string]string{}
		for _, p := range people {
			names[p.ID] = p.Name
		}
		cal = oncall.Calendar{ScheduleID: "role/" + role.ID, Name: role.Name, People: names}
	default:
		person, err := a.st.Person(ctx, rec.Feed.ID)
		if err != nil {
			return reply{}, err
		}
		scheds, err := storage.Records[oncall.Schedule](ctx, a.st, storage.KindSchedule)
		if err != nil {
			return reply{}, err
		}
		var roles []string
		shifts = a.shiftsOf(scheds, from, to, func(s *oncall.Schedule, sh []oncall.Shift) []oncall.Shift {
			sh = slices.DeleteFunc(sh, func(x oncall.Shift) bool { return x.Person != person.ID })
			if len(sh) > 0 {
				name := s.Name
				if r, err := a.st.Role(ctx, s.RoleID); err == nil {
					name = r.Name
				}
				if !slices.Contains(roles, name) {
					roles = append(roles, name)
				}
			}
			return sh
		})
		name := strings.Join(roles, ", ")
		if name == "" {
			name = person.Name
		}
		cal = oncall.Calendar{ScheduleID: "person/" + person.ID, Name: name}
	}
	cal.Stamp = now
	var b bytes.Buffer
	if err := oncall.ICal(&b, cal, mergeShifts(shifts)); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, contentType: "text/calendar; charset=utf-8", body: b.Bytes(),
		header: map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}}, nil
}

// shiftsOf gathers the shifts of scheds between from and to, each
// schedule's through keep if set. A stored schedule that no longer
// validates is left out (and logged): the feed shows the rest.
func (a *API) shiftsOf(scheds []oncall.Schedule, from, to time.Time, keep func(*oncall.Schedule, []oncall.Shift) []oncall.Shift) []oncall.Shift {
	var out []oncall.Shift
	for i := range scheds {
		s := &scheds[i]
		sh, err := oncall.Shifts(s, from, to)
		if err != nil {
			a.log.Warn("schedule left out of a calendar feed", "schedule", s.ID, logErr, err)
			continue
		}
		if keep != nil {
			sh = keep(s, sh)
		}
		out = append(out, sh...)
	}
	return out
}

// mergeShifts joins each person's overlapping or touching shifts (from
// several schedules of a role, or a person's several roles) into one, so
// every event of a feed has its own UID; ordered by start, then person.
func mergeShifts(in []oncall.Shift) []oncall.Shift {
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b oncall.Shift) int {
		return cmp.Or(strings.Compare(a.Person, b.Person), a.Start.Compare(b.Start))
	})
	var out []oncall.Shift
	for _, x := range s {
		if n := len(out); n > 0 && out[n-1].Person == x.Person && !x.Start.After(out[n-1].End) {
			last := &out[n-1]
			if x.End.After(last.End) {
				last.End = x.End
			}
			if x.Reason != "" && !strings.Contains(last.Reason, x.Reason) {
				last.Reason += "; " + x.Reason
			}
			continue
		}
		out = append(out, x)
	}
	slices.SortStableFunc(out, func(a, b oncall.Shift) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Person, b.Person))
	})
	return out
}
