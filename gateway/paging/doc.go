// Package paging is the domain core of Pagebridge: messages (pages), the
// people, roles and groups they are for, the endpoints that reach them, and
// the deliveries and attempts that track every page until someone
// acknowledges it.
//
// It does no IO. The edges (storage, the protocol bridges, the UI, the bus)
// implement the ports declared here: [Store], [Directory], [Clock] and
// [Accepter]. A test fails if this package imports net, os, bbolt, serial or
// gin directly.
//
// Main types:
//
//   - [Message]: one page as it was received, with its [Source], legacy
//     pager ID, [Priority] and text held in a [PHI] value.
//   - [Person], [Role], [Group], [Endpoint], [PagerID]: the directory.
//   - [Delivery] and [Attempt]: the per-recipient, per-channel progress of a
//     message, moved only through [State.CanTransition].
//
// # Caveats
//
//   - [PHI] redacts itself in every formatting path (fmt verbs, slog, JSON).
//     The only way to the text is [PHI.Reveal]; call it only where the text
//     is sealed, shown to an authorised user or sent on a channel whose policy
//     allows it.
//   - IDs are ULIDs: they sort by creation time, which storage uses for keys.
//     Their entropy comes from crypto/rand, so they are unguessable enough to
//     be handed out as WCTP tracking numbers.
package paging
