// Package threads is the messaging side of routing: secure threads. A
// page that reaches people on the app becomes a thread they can read,
// reply to and add colleagues to; staff also write to each other
// directly, to groups and to roles. Threads are kept in the store
// (storage.CreateThread and friends): message texts and subjects sealed,
// every read of them and every change audited.
//
// Main types and functions:
//
//   - [Service], from [New]: [Service.OpenForPage] (a routed page's
//     thread), [Service.Compose] (a staff thread: a person, a group's
//     members, or whoever is on call for a role now, resolved through a
//     [DirectorySource] as a page would be), [Service.Reply],
//     [Service.AddColleague], [Service.Read] (marks read), [Service.Receipt]
//     (delivered, read, acknowledged), [Service.Inbox] (newest activity
//     first, priority and unread counts), templates, [Service.Sweep]
//     (retention).
//   - [PageThreadOf]: the thread a route calls for, for the engine to
//     open in its own commit.
//   - [Options.Observe] hears of every committed change ([Change]: a
//     post, members added, a receipt or a read), with the members to
//     tell and no PHI: the web app's live updates.
//   - Attachments: [Content.Files] on Reply and Compose, checked by
//     [AttachmentPolicy.Check] (size; type from the bytes by
//     http.DetectContentType, never the client's claim; names reduced to
//     their last element) and stored sealed with their message;
//     [Service.Attachment] hands one to a member (audited);
//     [InlineImage] says which types a page may show inline (raster
//     images, never SVG).
//   - [Service.Search] with a [ParseQuery] query: see Search below.
//   - [ParseTemplate], [RenderText], [Render], [Escape]: message templates
//     ("Patient in {patient_room}, please call {caller}"): every
//     placeholder needs a value and every value a placeholder; errors
//     ([*TemplateError]) name placeholders, never values.
//
// # Authorisation
//
// Only members read a thread, post to it, add colleagues to it or hold
// receipts in it ([ErrForbidden]). Operators, administrators and
// break-glass are the API's to decide: [Options.Access] lets a caller
// who is not a member in, and each such access is audited as
// "thread.access" before the read or write it allows. Who may send a
// critical message, and that a caller reads their own inbox, are the
// API's to check as well.
//
// # Search
//
// Texts are sealed, so there is nothing on disk to search in. Search opens
// the caller's own most recent threads ([SearchThreads] of them; retention
// bounds what each holds) in the gateway's memory and matches every term
// of the query against subjects, texts, pages and attachment names, case
// and accents folded (storage.SearchThreads). A keyed blind index (an HMAC
// of each normalised word, the key beside the KEK) was the alternative; it
// was not chosen because it would put on disk, for every word of every
// message, a token that repeats wherever the word does (word frequencies
// and which messages share a word, to anyone with the file, and to anyone
// with the key too, the words themselves by a dictionary), it would need
// its own key handling and rotation, and it finds whole words only. The
// cost of opening is small: AES-GCM opens of short texts run at some
// hundreds of thousands a second, so a clinician's 500 threads take
// milliseconds. Nothing opened is written anywhere and the query is never
// logged; the search is audited ("thread.search") with how much was
// searched and found. The access hook plays no part: a search covers the
// caller's own threads only.
//
// # Opening a page's thread
//
// The engine routes; this package does not watch it. Either the engine
// calls [Service.OpenForPage] with the route after each step it commits
// (idempotent; a route that reached nobody new writes nothing), or,
// better, the step's own commit opens the thread, so that a crash
// between the two cannot leave a page reached on the app without its
// thread: storage.RouteChange would carry a *storage.NewThread that
// ApplyRoute applies in its transaction, which the engine fills with
// [PageThreadOf] (through a hook set by main, since this package imports
// the engine). Either way, only the steps (the first routing, escalation
// steps, the fallback) should open it, never an acknowledgement or a job
// result: a page thread swept after its page was acknowledged must not
// come back.
//
// # Caveats
//
//   - A member added by escalation is credited to the step from the app
//     attempt's time against the route's policy (the route does not
//     record an attempt's step): steps run together after an outage are
//     credited to the last of them.
//   - The page in a thread is the message Accept stored, referenced, not
//     copied: its receipts are the route's deliveries (the engine's), and
//     reading the thread does not mark the page read there.
//   - Compose opens a new thread every time, a direct one too; it does
//     not look for an earlier conversation between the same people.
//   - A role or group thread's members are who the target reached when it
//     was composed: a later on-call change does not move it.
//   - Search looks at the caller's most recent [SearchThreads] threads
//     only; a report's More says there were older ones.
//   - An attachment is held in memory whole while it is stored and
//     served (the policy's size bounds it, 10 MiB by default).
//   - The retention sweep deletes a page thread's entry for the page, not
//     the page Accept stored (nor its route): that is the message store's
//     retention, which does not exist yet.
package threads
