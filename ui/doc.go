// Package ui is the gateway's HTTP face: the gin router with its security
// headers, the health and readiness probes, the metrics endpoint, the
// status page, and the staff web app under /app/ (sign-in, the live inbox
// and threads). Templates and static files are embedded, so the appliance
// serves everything itself, with no CDN and no build step.
//
// Protocol endpoints (WCTP, the JSON API) are mounted by the gateway onto
// the router this package builds; they are plain http.Handlers.
//
// Main types and functions:
//
//   - [New]: the router; [Options.Web] mounts the web app.
//   - [NewWeb], [Web]: the web app over two ports the gateway implements,
//     [Accounts] (accounts and sessions) and [Messaging] (inbox, threads,
//     acknowledgements, receipts); ui imports neither the store nor the
//     engine. [Web.Run] runs its WebSocket hub; [Web.ThreadChanged] is
//     what the gateway's observers call when a thread or a page's route
//     changed.
//   - [Files] (attach.go): attachments and search, an optional port.
//     Reply and compose take files (multipart; a request's body is cut at
//     [WebOptions.MaxUpload] before anything parses it, and parsed in
//     memory only, never spilled to a temporary file); a file is served
//     to members only with its stored type, nosniff, a sandbox CSP, no
//     caching, inline only for the raster images the gateway marks
//     ([Attachment].Inline), a download otherwise. Search is a POST, so
//     the query (perhaps PHI) is in no URL, history or access log.
//   - [Admin]: the administration pages under /app/admin/ (people and
//     their migration stage, roles, groups, pager IDs with the CSV
//     import's dry run, on call on a calendar with overrides, escalation
//     policies, templates, accounts, the audit log with its verification)
//     over a port the gateway implements with the JSON API's own checks
//     (api.Admin). Administrators may use all of it, IT what the API lets
//     IT do; every change is audited by the store and the request by the
//     web app.
//   - [Dispatch] and [Profiles] (ports_dispatch.go), optional ports: the
//     dispatcher console (/app/dispatch: page a pager ID, person, role or
//     group; a code call with its recipients live; on-call lookup; the
//     pages still escalating), a page's answers from its thread
//     (responding, can't respond), the hardware page (/app/hardware), and
//     the profile (presence and forwarding, notification preferences, a
//     photo, password change, must-change-password enforced).
//     [Web.PageChanged] and [Web.HardwareChanged] tell the open consoles
//     and hardware pages, by role, that something changed.
//   - The PWA (pwa.go): /app/manifest.webmanifest, /app/sw.js (scope
//     /app/) and /app/offline, served without a session; icons drawn by
//     a test (TestIcons -icons) and committed as PNG.
//   - [NewAuth], [Auth]: sign-in (argon2id password, TOTP second factor
//     with enrolment by QR code), per-address and per-account rate
//     limits, lockout, idle timeout and lifetime of sessions, sign out,
//     sign out everywhere, an administrator's revocation; [Policy].
//
// # Security
//
//   - A strict Content-Security-Policy ([ContentSecurityPolicy]): every
//     script and style a file under static/, no inline script, style
//     attribute or handler, no data: images (the QR code is a PNG served
//     from here).
//   - Session cookies are __Host-, Secure, HttpOnly, SameSite=Strict; the
//     store keeps a session's token only as its SHA-256.
//   - Every state-changing request carries the session's CSRF token (form
//     field or X-CSRF-Token header, compared in constant time) and must
//     come from this origin; the sign-in form has its own double-submit
//     token. The WebSocket checks Origin against Host.
//   - Message text is always inert: html/template escapes it in pages,
//     app.js sets it with textContent only.
//   - Live frames carry no PHI (an inbox entry's label is staff data); a
//     page that shows a thread fetches its messages with an audited read.
//
// # Caveats
//
//   - The service worker keeps the shell only: static files and the
//     offline page. With no network a page opens as "offline"; nothing of
//     a thread or the inbox is ever on the device.
//   - Notifications exist only while a page of the app is open (no push
//     service on-premises). They say priority and the thread's label,
//     never a message's text; the sound needs one touch of the page first
//     (browsers' autoplay rule), vibration a phone that has it.
//   - The console pages a person, role or group through the first pager
//     ID mapped to it (the engine routes by pager ID); with none, it says
//     so and the dispatcher uses New message instead.
//   - The hardware page's frame only says "changed": every open hardware
//     page then fetches the whole status (small: one entry per device).
//   - The idle timeout is exact to 15 s (a request writes the session's
//     last-seen time only when it is older) plus the sweep of open pages
//     (15 s).
//   - The rate limits live in memory: a restart forgets them (the
//     lockout, which is stored, does not).
//   - An open page reports user activity at most once a minute; a page
//     left open without anyone touching it is signed out at the idle
//     timeout, as it should be.
//   - A "delivered" receipt is recorded when the page's socket says it got
//     the message's event, or when the member opens the thread; a message
//     shown only by an inbox reload after a dropped socket counts when it
//     is opened.
//   - The last audit chain verification an administrator ran is kept in
//     memory only (a restart shows "not verified"); verifying reads the
//     whole chain.
//   - The audit log's filters are substring matches over a scan of the
//     chain, newest first, 1000 entries at a time; a filter matching few
//     entries of a long chain reads all of it per page. Its CSV export
//     stops at 200,000 entries.
//   - An administration request's own audit entry is written after its
//     answer (the store's entry for the change it made is written with
//     the change): unlike the JSON API, a failure to write it is logged,
//     not answered 503.
//   - An import's dry run and its apply are two requests: the file is
//     posted again with "Apply", and the apply checks everything again
//     (what changed in between counts), so the preview can differ from
//     what is written.
package ui
