package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/oncall"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
	"pagebridge/storage"
)

// resource is the four CRUD handlers of one kind of record.
type resource struct {
	kind, plural        string
	list, get, put, del func(c *gin.Context, k *call) (reply, error)
}

// records describes how one kind of record is stored.
type records[T any] struct {
	kind, plural string
	list         func(ctx context.Context) ([]T, error)
	get          func(ctx context.Context, id string) (T, error)
	put          func(ctx context.Context, v T, by paging.AuditEvent) error
	del          func(ctx context.Context, id string, by paging.AuditEvent) error
	id           func(v *T) *string
	// check, if set, validates a record before it is put.
	check func(ctx context.Context, v *T) error
	// inUse, if set, refuses a delete (storage.ErrInUse) the store itself
	// would allow but that would leave something dangling.
	inUse func(ctx context.Context, id string) error
}

func (r records[T]) resource() resource {
	return resource{kind: r.kind, plural: r.plural,
		list: func(c *gin.Context, k *call) (reply, error) {
			items, err := r.list(c.Request.Context())
			if err != nil {
				return reply{}, err
			}
			if items == nil {
				items = []T{}
			}
			return jsonReply(http.StatusOK, map[string]any{r.plural: items})
		},
		get: func(c *gin.Context, k *call) (reply, error) {
			v, err := r.get(c.Request.Context(), c.Param("id"))
			if err != nil {
				return reply{}, err
			}
			return jsonReply(http.StatusOK, v)
		},
		put: func(c *gin.Context, k *call) (reply, error) {
			ctx := c.Request.Context()
			var v T
			if err := decode(c, &v, false); err != nil {
				return reply{}, err
			}
			if err := pathBodyID(c, "id", r.id(&v)); err != nil {
				return reply{}, err
			}
			if err := r.save(ctx, v, k.by()); err != nil {
				return reply{}, err
			}
			return jsonReply(http.StatusOK, v)
		},
		del: func(c *gin.Context, k *call) (reply, error) {
			if err := r.remove(c.Request.Context(), c.Param("id"), k.by()); err != nil {
				return reply{}, err
			}
			return noContent()
		},
	}
}

// save checks v and writes it: a reference to a record that does not
// exist (a group member, a pager ID's target) is paging.ErrInvalid.
func (r records[T]) save(ctx context.Context, v T, by paging.AuditEvent) error {
	if r.check != nil {
		if err := r.check(ctx, &v); err != nil {
			return err
		}
	}
	return refErr(r.put(ctx, v, by))
}

// remove deletes a record, refusing (storage.ErrInUse) one still named
// elsewhere.
func (r records[T]) remove(ctx context.Context, id string, by paging.AuditEvent) error {
	if r.inUse != nil {
		if _, err := r.get(ctx, id); err != nil {
			return err
		}
		if err := r.inUse(ctx, id); err != nil {
			return err
		}
	}
	return r.del(ctx, id, by)
}

func (a *API) directoryResources() []resource {
	return []resource{a.peopleRecords().resource(), a.roleRecords().resource(), a.groupRecords().resource(),
		a.pagerIDRecords().resource()}
}

func (a *API) peopleRecords() records[paging.Person] {
	st := a.st
	return records[paging.Person]{kind: "person", plural: "people", list: st.People, get: st.Person, put: st.PutPerson,
		del: st.DeletePerson, id: func(p *paging.Person) *string { return &p.ID },
		inUse: func(ctx context.Context, id string) error {
			return a.scheduledBy(ctx, "person "+id, func(s *oncall.Schedule) bool { return names(s, id) })
		}}
}

func (a *API) roleRecords() records[paging.Role] {
	st := a.st
	return records[paging.Role]{kind: "role", plural: "roles", list: st.Roles, get: st.Role, put: st.PutRole,
		del: st.DeleteRole, id: func(r *paging.Role) *string { return &r.ID },
		inUse: func(ctx context.Context, id string) error {
			return a.scheduledBy(ctx, "role "+id, func(s *oncall.Schedule) bool { return s.RoleID == id })
		}}
}

func (a *API) groupRecords() records[paging.Group] {
	st := a.st
	return records[paging.Group]{kind: "group", plural: "groups", list: st.Groups, get: st.Group, put: st.PutGroup,
		del: st.DeleteGroup, id: func(g *paging.Group) *string { return &g.ID }}
}

func (a *API) pagerIDRecords() records[paging.PagerID] {
	st := a.st
	return records[paging.PagerID]{kind: "pagerid", plural: "pagerids", list: st.PagerIDs, get: st.PagerID, put: st.PutPagerID,
		del: st.DeletePagerID, id: func(p *paging.PagerID) *string { return &p.ID }}
}

// names reports whether a schedule puts person on call anywhere.
func names(s *oncall.Schedule, person string) bool {
	for _, l := range s.Layers {
		if slices.Contains(l.Participants, person) {
			return true
		}
	}
	for _, o := range s.Overrides {
		if o.Person == person || o.Replaces == person {
			return true
		}
	}
	return false
}

// scheduledBy refuses with ErrInUse when a schedule matches.
func (a *API) scheduledBy(ctx context.Context, what string, match func(*oncall.Schedule) bool) error {
	scheds, err := storage.Records[oncall.Schedule](ctx, a.st, storage.KindSchedule)
	if err != nil {
		return err
	}
	var refs []string
	for i := range scheds {
		if match(&scheds[i]) {
			refs = append(refs, "schedule "+scheds[i].ID)
		}
	}
	if len(refs) > 0 {
		return fmt.Errorf("%s: %w by %s", what, storage.ErrInUse, strings.Join(refs, ", "))
	}
	return nil
}

// recordStore adapts the store's generic records to records[T].
func recordStore[T any](st *storage.Store, kind storage.RecordKind, plural string, id func(*T) *string) records[T] {
	return records[T]{kind: string(kind), plural: plural, id: id,
		list: func(ctx context.Context) ([]T, error) { return storage.Records[T](ctx, st, kind) },
		get: func(ctx context.Context, key string) (T, error) {
			var v T
			err := st.GetRecord(ctx, kind, key, &v)
			return v, err
		},
		put: func(ctx context.Context, v T, by paging.AuditEvent) error {
			return st.PutRecord(ctx, kind, *id(&v), v, by)
		},
		del: func(ctx context.Context, key string, by paging.AuditEvent) error {
			return st.DeleteRecord(ctx, kind, key, by)
		},
	}
}

func (a *API) scheduleResource() resource { return a.scheduleRecords().resource() }

func (a *API) scheduleRecords() records[oncall.Schedule] {
	r := recordStore(a.st, storage.KindSchedule, "schedules", func(s *oncall.Schedule) *string { return &s.ID })
	r.check = func(ctx context.Context, s *oncall.Schedule) error {
		if err := s.Validate(); err != nil {
			return err
		}
		if _, err := a.st.Role(ctx, s.RoleID); err != nil {
			return refErr(err)
		}
		var people []string
		for _, l := range s.Layers {
			people = append(people, l.Participants...)
		}
		for _, o := range s.Overrides {
			people = append(people, o.Person, o.Replaces)
		}
		var missing []string
		for _, p := range people {
			if p == "" || slices.Contains(missing, p) {
				continue
			}
			if _, err := a.st.Person(ctx, p); err != nil {
				if !isNotFound(err) {
					return err
				}
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w schedule %q: not in the directory: %s", paging.ErrInvalid, s.ID, strings.Join(missing, ", "))
		}
		return nil
	}
	return r
}

func (a *API) policyResource() resource { return a.policyRecords().resource() }

func (a *API) policyRecords() records[routing.Policy] {
	r := recordStore(a.st, storage.KindPolicy, "policies", func(p *routing.Policy) *string { return &p.ID })
	r.check = func(_ context.Context, p *routing.Policy) error { return p.Validate() }
	r.inUse = func(ctx context.Context, id string) error {
		var refs []string
		roles, err := a.st.Roles(ctx)
		if err != nil {
			return err
		}
		for _, ro := range roles {
			if ro.Policy == id {
				refs = append(refs, "role "+ro.ID)
			}
		}
		ids, err := a.st.PagerIDs(ctx)
		if err != nil {
			return err
		}
		for _, p := range ids {
			if p.Policy == id {
				refs = append(refs, "pager id "+p.ID)
			}
		}
		if len(refs) > 0 {
			return fmt.Errorf("policy %s: %w by %s", id, storage.ErrInUse, strings.Join(refs, ", "))
		}
		return nil
	}
	return r
}
