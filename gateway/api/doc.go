// Package api is the gateway's JSON API under /api/v1: the directory
// (people, roles, groups, pager IDs, CSV import and export), on-call
// schedules and who is on call, escalation policies, presence, pages
// (routes and acknowledgements), secure threads (inbox, threads, replies,
// colleagues, receipts) and message templates, API tokens and calendar
// feeds. The OpenAPI 3.1 description is openapi.yaml, embedded as
// [OpenAPI] and served at /api/v1/openapi.yaml.
//
// Main types and functions:
//
//   - [New] and [API.Register]: the API on a gin router, over [Deps]
//     (the store, the engine, the threads service). [API.Routes] is the
//     route table: every endpoint, the [Role]s that may call it, and
//     those that must act as a person to.
//   - [CreateToken]: an API token, for bootstrapping the first admin
//     token from the command line.
//   - [Admin] ([NewAdmin]): the same configuration writes for the web
//     app's administration pages — [Records] of people, roles, groups,
//     pager IDs, schedules and policies with the API's checks and in-use
//     refusals, templates with the placeholder check, and the CSV import
//     (with a dry run that says per row whether it is new, changed or
//     unchanged) and export. The handlers here call the same functions.
//
// # Authorisation
//
// Every call but two carries "Authorization: Bearer pbt_<id>_<secret>":
// the token's ID, then 32 random bytes as 64 hex digits. Only the
// secret's SHA-256 is stored, and it is compared in constant time. A
// token has a [Role] (admin, it, operator, clinician), optionally a
// person it acts as (required for clinicians), optional [Scope]s that
// narrow the role, an optional expiry, and can be revoked. The two
// public calls are the OpenAPI document and calendar feeds
// (GET /api/v1/calendar/pbc_<id>_<secret>.ics), which carry their own
// revocable token in the path because calendar apps cannot send a
// header; a feed token is not an API token and the reverse.
//
// Some calls are made as the token's person (a [Route]'s AsPerson, the
// OpenAPI document's x-person): the inbox and every thread call, for
// admin, operator and clinician tokens (IT has none: it manages the box,
// not conversations), and reading templates, for operator and clinician
// tokens. A token of such a role made without a person is refused (403,
// "acts as nobody").
//
// # Secure threads
//
// The threads endpoints call [threads.Service] as the token's person;
// nil in [Deps] answers them 503. Decisions made here:
//
//   - Members only. The API sets no access hook, so an admin or operator
//     reads and writes only the threads they are a member of, like
//     anyone: a role is not a way into someone else's conversation.
//     Break-glass (time-boxed, with a reason and an alert to the privacy
//     officer) is not offered; if the gateway sets Options.Access anyway,
//     each access it grants is audited by the service ("thread.access").
//   - Critical messages only from admin and operator tokens (DESIGN:
//     "critical only for roles allowed to"); a clinician's is 403 and
//     stores nothing.
//   - Message text and subjects are PHI: they are answered only in the
//     body of a member's successful GET /threads/{id}; never in an error,
//     a log line or an audit entry. The inbox shows labels, which hold
//     none. Reads are audited once by the store ("thread.read", and
//     "message.read" for a page), besides the API's own entry for the
//     call; the API adds no entry of its own for them.
//   - A message that reaches nobody (nobody on call, everyone held back)
//     is 409 with who was held back and why; an unknown person, group,
//     role or template named in a body is 400, an unknown thread 404.
//   - Reading a thread through the API marks it read on the app channel.
//   - Templates are the store's (checked with threads.ParseTemplate) and
//     work without the service; IT and admin write them.
//
// # Audit
//
// Every call is written to the audit chain before its answer leaves:
// actor "token:<id>" (with " person:<id>" for a token that acts as
// someone; "anonymous" before authentication; "feed:<id>" for a
// calendar), action "api.<METHOD> <route pattern>", the object, the
// client's address and the status. Refusals (401, 403) are audited and
// logged. A store write also gets the store's own entry ("person.update"
// ...) for the same actor, with the API action as its detail (thread
// entries, "thread.post" and friends, carry the store's own detail
// instead). If the audit entry cannot be written the caller gets 503 and
// none of the data asked for.
//
// # Caveats
//
//   - The source recorded is the TCP peer (gin's RemoteIP), not
//     X-Forwarded-For: behind a reverse proxy every call shows the
//     proxy's address.
//   - A write that committed but whose API audit entry then failed is
//     answered 503 although it happened (its own store entry records it);
//     every write is idempotent but token and feed creation, which leave
//     an unused token behind, and composing and replying, which a retry
//     posts again (a second thread, a second message). A thread read so
//     answered 503 has still been marked read.
//   - Requests to paths that match no route (gin's 404 and 405) never
//     reach the API and are not audited.
//   - Deleting a person or role still named by a schedule, or a policy
//     still named by a role or pager ID, is refused (409) by a check made
//     before the delete, outside its transaction: a schedule written at
//     the same moment can slip through.
//   - Pages are served as the engine's routes, which hold no PHI; a
//     page's text is available only to the members of its thread, in
//     the thread (the engine does not open page threads yet).
//   - The inbox's next cursor is a position (last activity, thread): a
//     thread that moves up while a client pages through may be listed
//     twice, or missed until it reloads the top.
//   - A caller who is not a member learns that a thread exists (403, where
//     an unknown ID is 404), nothing more; thread IDs are ULIDs.
//   - GET /threads/{id} answers the whole thread (retention bounds it);
//     paging through a long one is not offered, as in the store.
//   - Unauthenticated calls are audited too, so a flood of them grows the
//     audit log; rate limiting is not done here.
//   - Token use is not recorded on the token (no "last used"): that would
//     be a store write per call.
package api
