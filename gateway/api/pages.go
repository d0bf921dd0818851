package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
)

// Bounds of GET /pages.
const (
	DefaultPages = 50
	MaxPages     = 500
)

var errNoEngine = fmt.Errorf("the paging engine is not running: %w", paging.ErrTemporary)

func (a *API) listPages(c *gin.Context, k *call) (reply, error) {
	if a.pages == nil {
		return reply{}, errNoEngine
	}
	limit := DefaultPages
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPages {
			return reply{}, fmt.Errorf("%w: limit %q, want 1 to %d", paging.ErrInvalid, v, MaxPages)
		}
		limit = n
	}
	pages := []engine.Route{}
	err := a.pages.Routes(c.Request.Context(), limit, func(r engine.Route) error {
		pages = append(pages, r)
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, map[string]any{"pages": pages})
}

func pageID(c *gin.Context) (paging.ID, error) {
	id, err := paging.ParseID(c.Param("id"))
	if err != nil {
		return id, fmt.Errorf("%w: page id %q is not a message ID", paging.ErrInvalid, c.Param("id"))
	}
	return id, nil
}

// getPage returns a page's route: who it reached, on which channels,
// how far its escalation came. No PHI: the text stays sealed.
func (a *API) getPage(c *gin.Context, k *call) (reply, error) {
	if a.pages == nil {
		return reply{}, errNoEngine
	}
	id, err := pageID(c)
	if err != nil {
		return reply{}, err
	}
	r, err := a.pages.Route(c.Request.Context(), id)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, r)
}

// ackRequest is the body of POST /pages/{id}/ack. Person defaults to the
// token's person; channel to app.
type ackRequest struct {
	Person  string         `json:"person,omitempty"`
	Channel paging.Channel `json:"channel,omitempty"`
}

func (a *API) ackPage(c *gin.Context, k *call) (reply, error) {
	if a.pages == nil {
		return reply{}, errNoEngine
	}
	ctx := c.Request.Context()
	id, err := pageID(c)
	if err != nil {
		return reply{}, err
	}
	var req ackRequest
	if err := decode(c, &req, true); err != nil {
		return reply{}, err
	}
	if req.Person == "" {
		req.Person = k.tok.Person
	}
	clinician := k.tok.Role == RoleClinician
	switch {
	case clinician && req.Person != k.tok.Person:
		return reply{}, forbidden("a clinician token acknowledges only as its own person (%s)", k.tok.Person)
	case req.Person == "":
		return reply{}, fmt.Errorf("%w ack: person is required (this token acts as nobody)", paging.ErrInvalid)
	}
	if req.Channel == "" {
		req.Channel = paging.ChannelApp
	}
	if !req.Channel.Valid() {
		return reply{}, fmt.Errorf("%w ack: channel %q is not app, pager or sms", paging.ErrInvalid, req.Channel)
	}
	if _, err := a.st.Person(ctx, req.Person); err != nil {
		return reply{}, refErr(err)
	}
	r, err := a.pages.Route(ctx, id)
	if err != nil {
		return reply{}, err
	}
	if clinician && !slices.ContainsFunc(r.Deliveries, func(d paging.Delivery) bool { return d.PersonID == req.Person }) {
		return reply{}, forbidden("page %s was not delivered to %s", id, req.Person)
	}
	r, err = a.pages.Acknowledge(ctx, id, req.Person, req.Channel)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, r)
}

func (a *API) getAgents(c *gin.Context, k *call) (reply, error) {
	return jsonReply(http.StatusOK, a.agents(c.Request.Context()))
}
