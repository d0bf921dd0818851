// Package wctp is Pagebridge's WCTP way in: an http.Handler that accepts
// pages submitted with WCTP 1.3 (and 1.0–1.2, whose submit operations are
// the same) over HTTP(S), and a small client that submits them.
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
//   - [SubmitRequest], read by [Parse] and written by [Encode].
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
// # Codes
//
// WCTP refusals are wctp-Failure documents inside HTTP 200, wrapped in
// wctp-SubmitClientResponse when the request was a client message and in
// wctp-Confirmation otherwise. Codes, in about the order they are checked
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
//	300  another WCTP operation (wctp-ClientQuery, wctp-PollForMessages,
//	     wctp-SendMsgMulti, wctp-VersionQuery…)
//	419  wctp-MCR payload; 430  wctp-TransparentData payload
//	401  unknown senderID;  402  wrong or missing securityCode/miscInfo
//	411  text over Config.MaxTextLen characters
//	403  recipientID empty, too long or unknown to the directory
//	604  directory or store failed (the page was not stored: retry)
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
//     are accepted and ignored: no status notifications, no scheduled
//     delivery, no truncation yet.
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
