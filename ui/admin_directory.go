package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"pagebridge/gateway/paging"
)

// People, roles, groups, pager IDs and the CSV import.

// personRow is a person as the list shows them.
type personRow struct {
	paging.Person
	App, Pager, SMS string
}

func endpointOf(p paging.Person, ch paging.Channel) (paging.Endpoint, bool) {
	for _, e := range p.Endpoints {
		if e.Channel == ch {
			return e, true
		}
	}
	return paging.Endpoint{}, false
}

func rowOf(p paging.Person) personRow {
	r := personRow{Person: p}
	if e, ok := endpointOf(p, paging.ChannelApp); ok {
		r.App = e.Address
	}
	if e, ok := endpointOf(p, paging.ChannelPager); ok {
		r.Pager = e.Address
	}
	if e, ok := endpointOf(p, paging.ChannelSMS); ok {
		r.SMS = e.Address
	}
	return r
}

// Stages are the migration stages, in the order a person moves.
var Stages = []paging.Stage{paging.StagePager, paging.StageBoth, paging.StageApp}

type peopleData struct {
	Query  string
	People []personRow
	Stages []paging.Stage
	Counts map[paging.Stage]int
}

func (w *Web) peoplePage(c *gin.Context) {
	people, err := w.opts.Admin.People().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	q := strings.TrimSpace(c.Query("q"))
	d := peopleData{Query: q, Stages: Stages, Counts: map[paging.Stage]int{}}
	for _, p := range people {
		d.Counts[p.Stage]++
		if q != "" && !matches(q, p.ID, p.Name, p.Department, p.Title, strings.Join(p.Roles, " ")) {
			continue
		}
		d.People = append(d.People, rowOf(p))
	}
	w.adminPage(c, http.StatusOK, "admin_people.html", "People", noticeOf(c), c.Query("error"), d)
}

// matches: every word of q is in one of the fields, ignoring case.
func matches(q string, fields ...string) bool {
	all := strings.ToLower(strings.Join(fields, " "))
	for _, t := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(all, t) {
			return false
		}
	}
	return true
}

// personForm is the edit form of one person.
type personForm struct {
	New                         bool
	ID, Name, Department, Title string
	Stage                       paging.Stage
	Roles                       []string
	App, Pager, PagerVia, SMS   string
	// Kept: the endpoints beyond the first of each channel, kept as
	// they are (the form edits one of each).
	Kept     int
	AllRoles []paging.Role
	Stages   []paging.Stage
}

func formOf(p paging.Person) personForm {
	r := rowOf(p)
	f := personForm{ID: p.ID, Name: p.Name, Department: p.Department, Title: p.Title, Stage: p.Stage, Roles: p.Roles,
		App: r.App, Pager: r.Pager, SMS: r.SMS}
	if e, ok := endpointOf(p, paging.ChannelPager); ok {
		f.PagerVia = e.Via
	}
	f.Kept = len(p.Endpoints) - len(firstEndpoints(p.Endpoints))
	return f
}

// firstEndpoints are the first endpoint of each channel.
func firstEndpoints(es []paging.Endpoint) []paging.Endpoint {
	var out []paging.Endpoint
	for _, e := range es {
		if !slices.ContainsFunc(out, func(o paging.Endpoint) bool { return o.Channel == e.Channel }) {
			out = append(out, e)
		}
	}
	return out
}

func (w *Web) showPerson(c *gin.Context, status int, f personForm, errMsg string) {
	roles, err := w.opts.Admin.Roles().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	f.AllRoles, f.Stages = roles, Stages
	title := "Person " + f.ID
	if f.New {
		title = "New person"
	}
	w.adminPage(c, status, "admin_person.html", title, noticeOf(c), errMsg, f)
}

func (w *Web) personPage(c *gin.Context) {
	id := c.Param("id")
	if id == "new" {
		w.showPerson(c, http.StatusOK, personForm{New: true, Stage: paging.StagePager}, "")
		return
	}
	p, ok := w.person(c, id)
	if !ok {
		return
	}
	w.showPerson(c, http.StatusOK, formOf(p), "")
}

// person reads the person id, answering the error itself.
func (w *Web) person(c *gin.Context, id string) (paging.Person, bool) {
	people, err := w.opts.Admin.People().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return paging.Person{}, false
	}
	p, ok := find(people, func(p *paging.Person) string { return p.ID }, id)
	if !ok {
		w.fail(c, fmt.Errorf("person %s: %w", id, paging.ErrNotFound))
	}
	return p, ok
}

func (w *Web) savePerson(c *gin.Context) {
	ctx := c.Request.Context()
	isNew := c.Param("id") == "new"
	f := personForm{New: isNew, ID: strings.TrimSpace(c.PostForm("id")), Name: strings.TrimSpace(c.PostForm("name")),
		Department: strings.TrimSpace(c.PostForm("department")), Title: strings.TrimSpace(c.PostForm("title")),
		Stage: paging.Stage(c.PostForm("stage")), Roles: c.PostFormArray("roles"),
		App: strings.TrimSpace(c.PostForm("app")), Pager: strings.TrimSpace(c.PostForm("pager")),
		PagerVia: strings.TrimSpace(c.PostForm("pager_via")), SMS: strings.TrimSpace(c.PostForm("sms"))}
	if !isNew {
		f.ID = c.Param("id")
	}
	people, err := w.opts.Admin.People().List(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	old, exists := find(people, func(p *paging.Person) string { return p.ID }, f.ID)
	if isNew && exists {
		w.showPerson(c, http.StatusBadRequest, f, fmt.Sprintf("There is already a person %s.", f.ID))
		return
	}
	p := paging.Person{ID: f.ID, Name: f.Name, Department: f.Department, Title: f.Title, Stage: f.Stage, Roles: f.Roles}
	for _, e := range []paging.Endpoint{{Channel: paging.ChannelApp, Address: f.App},
		{Channel: paging.ChannelPager, Address: f.Pager, Via: f.PagerVia}, {Channel: paging.ChannelSMS, Address: f.SMS}} {
		if e.Address != "" {
			p.Endpoints = append(p.Endpoints, e)
		}
	}
	// Endpoints beyond the first of a channel stay as they were.
	first := firstEndpoints(old.Endpoints)
	for _, e := range old.Endpoints {
		if !slices.Contains(first, e) {
			p.Endpoints = append(p.Endpoints, e)
		}
	}
	if err := w.opts.Admin.People().Put(ctx, p, by(c)); err != nil {
		if status, msg, ok := w.changeFailed(err); ok {
			w.showPerson(c, status, f, msg)
			return
		}
		w.fail(c, err)
		return
	}
	done(c, "/app/admin/people/"+p.ID, "Saved "+p.Name+".")
}

// moveStage moves a person to another migration stage. Moving to app or
// both without an app endpoint adds the usual one (the person's ID, as
// their web account acts as them); moving to pager or both without a
// pager endpoint is refused, since pages would then reach nobody there.
func (w *Web) moveStage(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Param("id")
	stage := paging.Stage(c.PostForm("stage"))
	p, ok := w.person(c, id)
	if !ok {
		return
	}
	back := "/app/admin/people?q=" + url.QueryEscape(c.PostForm("q"))
	refuse := func(msg string) { c.Redirect(http.StatusSeeOther, back+"&error="+url.QueryEscape(msg)) }
	if !stage.Valid() {
		refuse("Choose pager, both or app.")
		return
	}
	notice := fmt.Sprintf("%s moved from %s to %s stage.", p.Name, p.Stage, stage)
	if _, hasPager := endpointOf(p, paging.ChannelPager); stage != paging.StageApp && !hasPager {
		refuse(fmt.Sprintf("%s has no pager endpoint; add one before the %s stage.", p.Name, stage))
		return
	}
	if _, ok := endpointOf(p, paging.ChannelApp); !ok && stage != paging.StagePager {
		p.Endpoints = append(p.Endpoints, paging.Endpoint{Channel: paging.ChannelApp, Address: p.ID})
		notice += " App endpoint " + p.ID + " added."
	}
	p.Stage = stage
	if err := w.opts.Admin.People().Put(ctx, p, by(c)); err != nil {
		if _, msg, ok := w.changeFailed(err); ok {
			refuse(msg)
			return
		}
		w.fail(c, err)
		return
	}
	done(c, back, notice)
}

func (w *Web) deletePerson(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.People().Delete, "/app/admin/people", "person")
}

// deleteAndBack deletes the record :id and goes back to list; a refusal
// (still in use) is shown there.
func (w *Web) deleteAndBack(c *gin.Context, del func(ctx context.Context, id string, by paging.AuditEvent) error, list, kind string) {
	id := c.Param("id")
	if err := del(c.Request.Context(), id, by(c)); err != nil {
		if _, msg, ok := w.changeFailed(err); ok {
			c.Redirect(http.StatusSeeOther, list+"?error="+url.QueryEscape("Not deleted: "+msg))
			return
		}
		w.fail(c, err)
		return
	}
	done(c, list, "Deleted "+kind+" "+id+".")
}

// Roles and groups share a page.

type directoryData struct {
	Roles    []paging.Role
	Groups   []paging.Group
	Policies []string
}

func (w *Web) directoryPage(c *gin.Context) {
	w.showDirectory(c, http.StatusOK, c.Query("error"))
}

func (w *Web) showDirectory(c *gin.Context, status int, errMsg string) {
	ctx := c.Request.Context()
	var d directoryData
	var err error
	if d.Roles, err = w.opts.Admin.Roles().List(ctx); err == nil {
		if d.Groups, err = w.opts.Admin.Groups().List(ctx); err == nil {
			d.Policies, err = w.policyIDs(c)
		}
	}
	if err != nil {
		w.fail(c, err)
		return
	}
	w.adminPage(c, status, "admin_directory.html", "Roles and groups", noticeOf(c), errMsg, d)
}

func (w *Web) policyIDs(c *gin.Context) ([]string, error) {
	ps, err := w.opts.Admin.Policies().List(c.Request.Context())
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids, err
}

func (w *Web) saveRole(c *gin.Context) {
	r := paging.Role{ID: strings.TrimSpace(c.PostForm("id")), Name: strings.TrimSpace(c.PostForm("name")),
		Policy: c.PostForm("policy")}
	w.saveAndBack(c, put(c, w.opts.Admin.Roles(), r, func(r *paging.Role) string { return r.ID }), "/app/admin/directory", "Saved role "+r.ID+".", w.showDirectory)
}

func (w *Web) deleteRole(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.Roles().Delete, "/app/admin/directory", "role")
}

func (w *Web) saveGroup(c *gin.Context) {
	g := paging.Group{ID: strings.TrimSpace(c.PostForm("id")), Name: strings.TrimSpace(c.PostForm("name")),
		Members: words(c.PostForm("members"))}
	w.saveAndBack(c, put(c, w.opts.Admin.Groups(), g, func(g *paging.Group) string { return g.ID }), "/app/admin/directory", "Saved group "+g.ID+".", w.showDirectory)
}

func (w *Web) deleteGroup(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.Groups().Delete, "/app/admin/directory", "group")
}

// saveAndBack finishes a save: back to list with a notice, or the page
// again with the refusal.
func (w *Web) saveAndBack(c *gin.Context, err error, list, notice string, show func(*gin.Context, int, string)) {
	if err != nil {
		if status, msg, ok := w.changeFailed(err); ok {
			show(c, status, msg)
			return
		}
		w.fail(c, err)
		return
	}
	done(c, list, notice)
}

// Pager IDs.

type pagerIDsData struct {
	PagerIDs   []paging.PagerID
	Policies   []string
	Priorities []paging.Priority
	Query      string
}

func (w *Web) pagerIDsPage(c *gin.Context) { w.showPagerIDs(c, http.StatusOK, c.Query("error")) }

func (w *Web) showPagerIDs(c *gin.Context, status int, errMsg string) {
	ids, err := w.opts.Admin.PagerIDs().List(c.Request.Context())
	if err != nil {
		w.fail(c, err)
		return
	}
	d := pagerIDsData{Priorities: []paging.Priority{paging.PriorityNormal, paging.PriorityHigh, paging.PriorityCritical},
		Query: strings.TrimSpace(c.Query("q"))}
	for _, p := range ids {
		if d.Query == "" || matches(d.Query, p.ID, p.Target.String(), p.Label, p.Policy) {
			d.PagerIDs = append(d.PagerIDs, p)
		}
	}
	if d.Policies, err = w.policyIDs(c); err != nil {
		w.fail(c, err)
		return
	}
	w.adminPage(c, status, "admin_pagerids.html", "Pager IDs", noticeOf(c), errMsg, d)
}

func (w *Web) savePagerID(c *gin.Context) {
	p := paging.PagerID{ID: strings.TrimSpace(c.PostForm("id")), Label: strings.TrimSpace(c.PostForm("label")),
		Target: paging.Target{Kind: paging.TargetKind(c.PostForm("target_kind")), ID: strings.TrimSpace(c.PostForm("target_id"))},
		Policy: c.PostForm("policy")}
	prio, err := paging.ParsePriority(c.PostForm("priority"))
	if err != nil {
		w.showPagerIDs(c, http.StatusBadRequest, "Choose a priority.")
		return
	}
	p.Priority = prio
	w.saveAndBack(c, put(c, w.opts.Admin.PagerIDs(), p, func(p *paging.PagerID) string { return p.ID }), "/app/admin/pagerids", "Saved pager ID "+p.ID+".", w.showPagerIDs)
}

func (w *Web) deletePagerID(c *gin.Context) {
	w.deleteAndBack(c, w.opts.Admin.PagerIDs().Delete, "/app/admin/pagerids", "pager ID")
}

// The CSV import: upload, a dry run showing what every row changes or
// every bad row with its line, then apply the same file (sent again with
// the form, held by nobody in between).

type importData struct {
	List   string
	Report *ImportReport
	// File is the checked file, posted again by "Apply".
	File    string
	Applied bool
	Counts  map[string]int
}

func (w *Web) importPage(c *gin.Context) {
	w.adminPage(c, http.StatusOK, "admin_import.html", "CSV import", noticeOf(c), "", importData{List: c.DefaultQuery("list", ListPeople)})
}

func (w *Web) importFile(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxUpload+64<<10)
	d := importData{List: c.PostForm("list")}
	if d.List != ListPeople && d.List != ListPagerIDs {
		w.adminPage(c, http.StatusBadRequest, "admin_import.html", "CSV import", "", "Choose what the file holds.", d)
		return
	}
	data := []byte(c.PostForm("file_text"))
	if fh, err := c.FormFile("file"); err == nil {
		f, err := fh.Open()
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(f, maxUpload+1))
			f.Close()
		}
		if err != nil {
			w.adminPage(c, http.StatusBadRequest, "admin_import.html", "CSV import", "", "The file could not be read.", d)
			return
		}
	}
	if len(data) == 0 || len(data) > maxUpload {
		w.adminPage(c, http.StatusBadRequest, "admin_import.html", "CSV import", "",
			fmt.Sprintf("Choose a CSV file of at most %d MiB.", maxUpload>>20), d)
		return
	}
	apply := c.PostForm("apply") == "1"
	rep, err := w.opts.Admin.Import(c.Request.Context(), d.List, data, !apply, by(c))
	if err != nil {
		if status, msg, ok := w.changeFailed(err); ok {
			w.adminPage(c, status, "admin_import.html", "CSV import", "", msg, d)
			return
		}
		w.fail(c, err)
		return
	}
	d.Report, d.File, d.Applied = &rep, string(data), apply && len(rep.Rows) == 0
	d.Counts = map[string]int{}
	for _, ch := range rep.Changes {
		d.Counts[ch.What]++
	}
	status, msg, notice := http.StatusOK, "", ""
	switch {
	case len(rep.Rows) > 0:
		status, msg = http.StatusBadRequest, fmt.Sprintf("%d bad row(s): nothing was imported. Fix the file and check it again.", len(rep.Rows))
	case d.Applied:
		notice = fmt.Sprintf("Imported %d record(s).", rep.Imported)
	default:
		notice = "The file is good. Nothing is written until you apply it."
	}
	w.adminPage(c, status, "admin_import.html", "CSV import", notice, msg, d)
}

func (w *Web) export(c *gin.Context) {
	list := c.Param("list")
	list = strings.TrimSuffix(list, ".csv")
	b, err := w.opts.Admin.Export(c.Request.Context(), list)
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+list+`.csv"`)
	c.DataFromReader(http.StatusOK, int64(len(b)), "text/csv; charset=utf-8", bytes.NewReader(b), nil)
}
