// Package api is the gateway's JSON API under /api/v1: the directory
// (people, roles, groups, pager IDs, CSV import and export), on-call
// schedules and who is on call, escalation policies, presence, pages
// (routes and acknowledgements), API tokens and calendar feeds. The
// OpenAPI 3.1 description is openapi.yaml, embedded as [OpenAPI] and
// served at /api/v1/openapi.yaml.
//
// Main types and functions:
//
//   - [New] and [API.Register]: the API on a gin router. [API.Routes] is
//     the route table: every endpoint and the [Role]s that may call it.
//   - [CreateToken]: an API token, for bootstrapping the first admin
//     token from the command line.
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
// # Audit
//
// Every call is written to the audit chain before its answer leaves:
// actor "token:<id>" (with " person:<id>" for a token that acts as
// someone; "anonymous" before authentication; "feed:<id>" for a
// calendar), action "api.<METHOD> <route pattern>", the object, the
// client's address and the status. Refusals (401, 403) are audited and
// logged. A store write also gets the store's own entry ("person.update"
// ...) for the same actor, with the API action as its detail. If the
// audit entry cannot be written the caller gets 503 and none of the data
// asked for.
//
// # Caveats
//
//   - The source recorded is the TCP peer (gin's RemoteIP), not
//     X-Forwarded-For: behind a reverse proxy every call shows the
//     proxy's address.
//   - A write that committed but whose API audit entry then failed is
//     answered 503 although it happened (its own store entry records it);
//     every write is idempotent but token and feed creation, which leave
//     an unused token behind.
//   - Requests to paths that match no route (gin's 404 and 405) never
//     reach the API and are not audited.
//   - Deleting a person or role still named by a schedule, or a policy
//     still named by a role or pager ID, is refused (409) by a check made
//     before the delete, outside its transaction: a schedule written at
//     the same moment can slip through.
//   - Pages are served as the engine's routes, which hold no PHI; the
//     message text is not available through this API.
//   - Unauthenticated calls are audited too, so a flood of them grows the
//     audit log; rate limiting is not done here.
//   - Token use is not recorded on the token (no "last used"): that would
//     be a store write per call.
package api
