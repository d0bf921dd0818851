// Package wctp is Pagebridge's WCTP way in: an http.Handler that accepts
// pages submitted with WCTP 1.3 (and 1.0–1.2, whose submit operations are
// the same) over HTTP(S), tells senders how their pages are doing and
// hands them the replies clinicians write, and a small client that
// submits pages.
//
// Main types:
//
//   - [Handler], built by [NewHandler] from a [Config]: the endpoint the
//     gateway mounts at POST /wctp. It answers a wctp-SubmitRequest from an
//     enterprise [Sender] with wctp-Confirmation/wctp-Success, and a
//     wctp-SubmitClientMessage from a transient [Client] with
//     wctp-SubmitClientResponse/wctp-ClientSuccess whose trackingNumber is
//     the message's ID, in both cases only after [paging.Accepter.Accept]
//     returned nil, that is after the page and its audit entry are durable.
//   - With a [Tracker] (Config.Tracker, the gateway's port over its store,
//     routes and threads): wctp-ClientQuery and wctp-PollForMessages, see
//     "Status and replies". wctp-VersionQuery is answered either way.
//   - [SubmitRequest], read by [Parse] and written by [Encode];
//     [ParseRequest] reads every operation the handler answers.
//   - [Submit] and [Response]: the client, for end-to-end tests and
//     benchmarks.
//
// # Who is who
//
// An enterprise sender names itself in wctp-Originator senderID and proves
// it with securityCode. A transient client has no securityCode in the DTD
// (wctp-ClientOriginator carries only senderID and miscInfo): it names
// itself in senderID and puts its password in miscInfo, as American
// Messaging's server documents. Senders and clients are configured
// separately; the audit actor is "wctp:" + senderID either way.
//
// # Status and replies
//
// What WCTP 1.3's DTD provides, and what Pagebridge does with it:
//
//   - wctp-VersionQuery (inquirer) → wctp-VersionResponse: responder
//     (Config.Responder), dateTimeOfRsp, wctp-ContactInfo when
//     Config.Contact is set, and a wctp-DTDSupport per DTD accepted
//     (supportType Supported, exceptions="yes": not every operation of
//     the DTDs is offered). No credentials: nothing in it is private.
//   - wctp-ClientQuery (senderID, recipientID, trackingNumber) is a
//     transient client's question about a page it submitted. The DTD gives
//     it no secret; Pagebridge requires the client's password in a
//     miscInfo attribute, as in its submits (401, 402), because tracking
//     numbers are message IDs, which are time-ordered, not secret, and
//     appear in logs. A tracking number that is not this client's page to
//     that recipientID is 504 (the same answer for unknown, another
//     client's, and forgotten). The wctp-ClientQueryResponse holds a
//     wctp-ClientMessage with wctp-ClientStatusInfo (the page's status now)
//     and, unless the submit said allowResponse="false", a
//     wctp-ClientMessage with wctp-ClientMessageReply per reply so far: a
//     query is a snapshot (the DTD has no confirmation for it), so the
//     same replies come with every query; a client tells them apart by
//     responseTimestamp.
//   - wctp-PollForMessages (pollerID, securityCode: an enterprise
//     sender's senderID and securityCode; 432 for either wrong) →
//     wctp-PollResponse with up to maxMessagesInBatch (default
//     [DefaultPollBatch], at most [MaxPollBatch]) wctp-Message elements,
//     or wctp-NoMessages. Each wctp-Message (sequenceNo) holds a
//     wctp-StatusInfo or a wctp-MessageReply whose wctp-ResponseHeader has
//     responseToMessageID = the sender's messageID, the pager ID as
//     originator, the sender as recipient, onBehalfOfRecipientID = who
//     wrote a reply, and wctp-MessageControl messageID = our ID of the page
//     (status) or of the reply.
//   - Confirmation: the DTD's only way for a poller to say it took a
//     message is wctp-MessageReceived (sequenceNo, wctp-Success or
//     wctp-Failure) in its next wctp-PollForMessages. Pagebridge reads it
//     so: wctp-Success confirms the message, which never comes again; a
//     message not confirmed, or answered wctp-Failure, comes again in a
//     later poll with the same sequenceNo (so a poller can drop a
//     duplicate). Delivery is at least once: what was handed out is kept
//     until confirmed, across restarts. maxMessagesInBatch only bounds a
//     response; it confirms nothing.
//   - Which statuses an enterprise sender polls for: those it asked for
//     with notifyWhenQueued, notifyWhenDelivered, notifyWhenRead (the DTD
//     defaults them to false), and the final outcome (acknowledged,
//     expired) when it asked for any; never one at or below a status it
//     confirmed. When a page passes a state without a poll in between,
//     the newest state asked for goes out, and an unconfirmed older one
//     is dropped. Replies: unless allowResponse="false" (the DTD defaults
//     it to true).
//   - States: wctp-Notification QUEUED (accepted; not yet shown to
//     anyone: an app attempt that only put it in an inbox stays QUEUED),
//     DELIVERED (a device reported delivery), READ (a device reported it
//     read, or someone it reached read its thread). The DTD has no type
//     for an acknowledgement (on any channel): it is sent as READ, which
//     it implies, with pagebridgeStatus="ACKNOWLEDGED", an attribute
//     senders that do not know it ignore. A page nobody acknowledged
//     before its policy's expiry is wctp-Failure 501. A failed attempt is
//     not a final state here (escalation walks on to others and the
//     fallback), so it is not reported. A page the engine found to repeat
//     an earlier one has that page's status.
//   - Reply texts are PHI: they travel only in the response body (serve
//     over TLS), never in a log line; each read of a thread to hand them
//     out is audited as the party's (thread.read), and each confirmation
//     too (wctp.confirm).
//
// # Codes
//
// WCTP refusals are wctp-Failure documents inside HTTP 200, wrapped in
// the response of the operation for a query (wctp-ClientQueryResponse,
// wctp-PollResponse, wctp-VersionResponse), in wctp-SubmitClientResponse
// when the request was a client message and in wctp-Confirmation
// otherwise. Codes, in about the order they are checked
// (a wrong root is 302 before the version is read; other 302s come after):
//
//	HTTP 405  method other than POST (with Allow: POST)
//	HTTP 415  Content-Type other than text/xml or application/xml
//	HTTP 413  body over Config.MaxBodyBytes
//	HTTP 400  body could not be read (sender gone, server ReadTimeout)
//	301  not well-formed XML: empty body, invalid UTF-8, characters XML
//	     forbids, a declared encoding other than UTF-8, an undeclared entity,
//	     a second root element, text after the root
//	302  well-formed but invalid: a DOCTYPE with an internal subset (entity
//	     and parameter entity declarations, billion laughs, external
//	     entities), any other directive, a root other than wctp-Operation,
//	     missing, repeated or unknown elements, a missing required attribute,
//	     an empty or over-long messageID, a deliveryPriority other than
//	     HIGH/NORMAL/LOW, control characters (other than tab, CR, LF in the
//	     text), an unknown operation; also a message the store refuses as
//	     invalid (paging.ErrInvalid without paging.ErrTemporary)
//	303  wctpVersion not one of [Versions]
//	300  another WCTP operation (wctp-SendMsgMulti, wctp-LookupSubscriber,
//	     wctp-MessageReply, wctp-DeviceLocation…); wctp-ClientQuery and
//	     wctp-PollForMessages when no Tracker is configured
//	419  wctp-MCR payload; 430  wctp-TransparentData payload
//	401  unknown senderID;  402  wrong or missing securityCode/miscInfo
//	411  text over Config.MaxTextLen characters
//	403  recipientID empty, too long or unknown to the directory
//	432  wctp-PollForMessages: unknown pollerID or wrong securityCode
//	504  wctp-ClientQuery: no such page of this client to this recipient
//	501  (inside a status, not as the answer) the page expired
//	604  directory or store failed (the page was not stored: retry);
//	     for a query or poll, the tracker failed (retry)
//	200  accepted
//
// errorText is a fixed phrase per code ([CodeText]); nothing the sender
// sent is echoed. Log lines carry the code, a fixed reason, the sender,
// pager ID, the message's ID and the text length, never the text (a
// [paging.PHI]), the secrets or the body.
//
// # Caveats
//
//   - Nothing is ever fetched. encoding/xml does not read DTDs or external
//     entities, and this package refuses any internal subset before an
//     entity could be used, so the DOCTYPE real senders send
//     (`<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">`)
//     is accepted with whatever system identifier it names and never read.
//     Keep it that way: do not set xml.Decoder.Entity or CharsetReader.
//   - The document is not validated against the DTD. Required elements and
//     attributes are checked; element order is not, and unknown attributes
//     are ignored (vendors add their own). submitTimestamp, notifyWhen*,
//     allowResponse, deliveryAfter/Before, preformatted and allowTruncation
//     are accepted and ignored, but for allowResponse and notifyWhen*
//     (true or false, else 302), which decide what a sender may poll
//     for: no pushed notifications (sendResponsesToID), no scheduled
//     delivery, no truncation yet. Replies are only polled for; a
//     wctp-MessageReply sent to the handler is 300.
//   - An accepter that implements [TrackedAccepter] (the gateway's) stores
//     a page and its tracking in one commit. With any other, the page is
//     tracked after its accept, in a second commit: if that fails, the
//     sender still hears 200 (the page is stored and routed) but can ask
//     nothing about it; the failure is logged. What is tracked is kept
//     for a day after the page (the gateway's wctpKeep): later queries
//     are 504, later replies are not polled.
//   - Poll and query cost grows with a sender's pages of the last day:
//     each is looked at (route and thread record) on every poll.
//   - Only UTF-8. A Content-Type charset parameter is ignored; the XML
//     declaration and the bytes decide.
//   - The handler bounds what it reads (http.MaxBytesReader) but not how
//     long reading takes. The gateway's http.Server must set
//     ReadHeaderTimeout (e.g. 5s) and ReadTimeout (e.g. 30s) against
//     slow-loris senders, plus WriteTimeout, IdleTimeout and
//     MaxHeaderBytes, and serve over TLS: securityCode, miscInfo and the
//     text travel in the body.
//   - The reply goes out after the commit. If the connection breaks in
//     between, the sender does not learn of the success and will retry, so
//     a page can be stored twice; deduplicating on (senderID, messageID) is
//     left to the store.
//   - The handler narrows its logger with component=wctp itself; pass it
//     the un-narrowed one.
//   - Refusals are logged one line each, unthrottled: a sender stuck in a
//     retry loop with a wrong securityCode fills the log at its rate.
//   - Replies carry the request's wctpVersion (1.1 senders see their own
//     DTD named); failures found before the version is known carry
//     [DefaultVersion].
package wctp
