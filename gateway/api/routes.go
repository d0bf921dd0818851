package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Who may call what. Admin may call everything; the public routes have
// nil roles.
var (
	everyone   = []Role{RoleAdmin, RoleIT, RoleOperator, RoleClinician}
	managers   = []Role{RoleAdmin, RoleIT}
	pageReader = []Role{RoleAdmin, RoleIT, RoleOperator}
	acker      = []Role{RoleAdmin, RoleOperator, RoleClinician}
	presenceW  = []Role{RoleAdmin, RoleOperator, RoleClinician} // clinicians: their own only
	adminOnly  = []Role{RoleAdmin}
	// threadUser: the secure-threads endpoints, each made as the token's
	// person (AsPerson). IT manages the box, not conversations.
	threadUser = []Role{RoleAdmin, RoleOperator, RoleClinician}
	// templateReaderAsPerson: templates are read by everyone, but an
	// operator token must act as a person (it reads them to write); admin
	// and IT manage them and read them as they are.
	templateReaderAsPerson = []Role{RoleOperator, RoleClinician}
)

// table is the route table: every endpoint, the roles it allows, the
// scope a narrowed token needs, the audit object and the handler.
func (a *API) table() []*route {
	var rs []*route
	add := func(method, path string, roles []Role, scope Scope, object string, h func(c *gin.Context, k *call) (reply, error)) {
		rs = append(rs, &route{Method: method, Path: path, Roles: roles, Scope: scope, Object: object, handle: h})
	}
	// asPerson adds a route whose callers in asRoles must act as a person.
	asPerson := func(asRoles []Role, method, path string, roles []Role, scope Scope, object string, h func(c *gin.Context, k *call) (reply, error)) {
		add(method, path, roles, scope, object, h)
		rs[len(rs)-1].AsPerson = asRoles
	}
	// Directory.
	for _, r := range a.directoryResources() {
		add(http.MethodGet, "/"+r.plural, everyone, ScopeDirectoryRead, r.plural, r.list)
		add(http.MethodGet, "/"+r.plural+"/:id", everyone, ScopeDirectoryRead, r.kind+"/:id", r.get)
		add(http.MethodPut, "/"+r.plural+"/:id", managers, ScopeDirectoryWrite, r.kind+"/:id", r.put)
		add(http.MethodDelete, "/"+r.plural+"/:id", managers, ScopeDirectoryWrite, r.kind+"/:id", r.del)
	}
	add(http.MethodPost, "/import/people", managers, ScopeDirectoryWrite, "import/people", a.importPeople)
	add(http.MethodPost, "/import/pagerids", managers, ScopeDirectoryWrite, "import/pagerids", a.importPagerIDs)
	add(http.MethodGet, "/export/people.csv", managers, ScopeExport, "export/people", a.exportPeople)
	add(http.MethodGet, "/export/pagerids.csv", managers, ScopeExport, "export/pagerids", a.exportPagerIDs)

	// On call.
	sched := a.scheduleResource()
	add(http.MethodGet, "/schedules", everyone, ScopeOnCallRead, "schedules", sched.list)
	add(http.MethodGet, "/schedules/:id", everyone, ScopeOnCallRead, "schedule/:id", sched.get)
	add(http.MethodPut, "/schedules/:id", managers, ScopeOnCallWrite, "schedule/:id", sched.put)
	add(http.MethodDelete, "/schedules/:id", managers, ScopeOnCallWrite, "schedule/:id", sched.del)
	add(http.MethodGet, "/schedules/:id/shifts", everyone, ScopeOnCallRead, "schedule/:id", a.shifts)
	add(http.MethodGet, "/oncall/:role", everyone, ScopeOnCallRead, "role/:role", a.onCall)

	// Escalation policies.
	pol := a.policyResource()
	add(http.MethodGet, "/policies", managers, ScopePoliciesRead, "policies", pol.list)
	add(http.MethodGet, "/policies/:id", managers, ScopePoliciesRead, "policy/:id", pol.get)
	add(http.MethodPut, "/policies/:id", managers, ScopePoliciesWrite, "policy/:id", pol.put)
	add(http.MethodDelete, "/policies/:id", managers, ScopePoliciesWrite, "policy/:id", pol.del)

	// Presence.
	add(http.MethodGet, "/presence", everyone, ScopePresenceRead, "presence", a.listPresence)
	add(http.MethodGet, "/presence/:person", everyone, ScopePresenceRead, "presence/:person", a.getPresence)
	add(http.MethodPut, "/presence/:person", presenceW, ScopePresenceWrite, "presence/:person", a.putPresence)
	add(http.MethodDelete, "/presence/:person", presenceW, ScopePresenceWrite, "presence/:person", a.deletePresence)

	// Pages.
	add(http.MethodGet, "/pages", pageReader, ScopePagesRead, "pages", a.listPages)
	add(http.MethodGet, "/pages/:id", pageReader, ScopePagesRead, "message/:id", a.getPage)
	add(http.MethodPost, "/pages/:id/ack", acker, ScopePagesAck, "message/:id", a.ackPage)

	// Secure threads: the caller is the token's person.
	asPerson(threadUser, http.MethodGet, "/inbox", threadUser, ScopeThreadsRead, "inbox", a.inbox)
	asPerson(threadUser, http.MethodPost, "/threads", threadUser, ScopeThreadsWrite, "threads", a.compose)
	asPerson(threadUser, http.MethodGet, "/threads/:id", threadUser, ScopeThreadsRead, "thread/:id", a.readThread)
	asPerson(threadUser, http.MethodPost, "/threads/:id/messages", threadUser, ScopeThreadsWrite, "thread/:id", a.postReply)
	asPerson(threadUser, http.MethodPost, "/threads/:id/members", threadUser, ScopeThreadsWrite, "thread/:id", a.addColleagues)
	asPerson(threadUser, http.MethodPost, "/threads/:id/messages/:msg/receipt", threadUser, ScopeThreadsWrite,
		"thread/:id/message/:msg", a.receipt)
	asPerson(threadUser, http.MethodGet, "/threads/:id/messages/:msg/files/:n", threadUser, ScopeThreadsRead,
		"thread/:id/message/:msg", a.readFile)

	// Message templates (configuration, no PHI).
	asPerson(templateReaderAsPerson, http.MethodGet, "/templates", everyone, ScopeThreadsRead, "templates", a.listTemplates)
	asPerson(templateReaderAsPerson, http.MethodGet, "/templates/:id", everyone, ScopeThreadsRead, "template/:id", a.getTemplate)
	add(http.MethodPut, "/templates/:id", managers, ScopeTemplatesWrite, "template/:id", a.putTemplate)
	add(http.MethodDelete, "/templates/:id", managers, ScopeTemplatesWrite, "template/:id", a.deleteTemplate)

	// Tokens.
	add(http.MethodGet, "/tokens", adminOnly, ScopeTokens, "tokens", a.listTokens)
	add(http.MethodPost, "/tokens", adminOnly, ScopeTokens, "tokens", a.createTokenHandler)
	add(http.MethodGet, "/tokens/:id", adminOnly, ScopeTokens, "token/:id", a.getToken)
	add(http.MethodDelete, "/tokens/:id", adminOnly, ScopeTokens, "token/:id", a.revokeToken)

	// Calendar feeds: managed with a bearer token, read with their own.
	add(http.MethodGet, "/calendar-feeds", everyone, ScopeCalendar, "calendar-feeds", a.listFeeds)
	add(http.MethodPost, "/calendar-feeds", everyone, ScopeCalendar, "calendar-feeds", a.createFeed)
	add(http.MethodDelete, "/calendar-feeds/:id", everyone, ScopeCalendar, "calendar-feed/:id", a.revokeFeed)
	add(http.MethodGet, "/calendar/:feed", nil, "", "calendar", a.serveFeed)

	// Hardware health, when the gateway hands it to the API.
	if a.agents != nil {
		add(http.MethodGet, "/agents", managers, ScopeHardwareRead, "agents", a.getAgents)
	}

	add(http.MethodGet, "/openapi.yaml", nil, "", "openapi", a.openAPI)
	return rs
}
