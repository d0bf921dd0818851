// Package routing decides who a page reaches, on which channels, with
// what text, and when each escalation step is due. It is pure code: no
// IO, no clock; every function that depends on the time takes now.
//
// Main types and functions:
//
//   - [Resolve] and [ResolveAll]: a [paging.Target] (person, role, group)
//     to [Recipient]s through a [Directory] (people, groups, who is on
//     call, [Presence]), following forwards, each with the reason why.
//   - [Channels]: a person's [Route]s for their migration stage and an
//     escalation step.
//   - [Notice]: what text a channel may carry under a [PHIPolicy].
//   - [Policy]: an escalation policy; [Policy.Due] says which steps are
//     due at now.
//
// # Presence and forwarding
//
// A person with no presence record, or whose record's Until has passed,
// is available with no forward.
//
//   - available, busy: paged themselves.
//   - dnd: paged themselves for a critical page (critical breaks through
//     do not disturb); a lower page follows the forward, or with none is
//     held (not delivered, recorded with the reason).
//   - off-duty: never paged themselves; follows the forward, or with none
//     is held.
//   - a state that is none of these counts as available, and the reason
//     says so: a bad record must not silence pages.
//
// A forward (ForwardTo) is followed whenever it is set and not expired,
// in every state: set while available or busy it is an explicit handover
// ("in theatre, pages to dr-kim") and honoured as one. Forwards chain up
// to [MaxForwards].
//
// Below critical, the page goes to the end of the chain. If the chain
// fails (a loop, more than MaxForwards forwards, a forward to an unknown
// person, or an end who cannot take the page: off duty, or dnd), the page
// goes to the first person on the chain who can take it themselves (an
// available or busy person who forwarded), because a forward must never
// make a page less reachable; with nobody, it is held for the person it
// was for, with the reason.
//
// A critical page goes to every person on the chain who can take it
// themselves (available, busy, dnd), not only to the end: the person who
// forwarded still hears a cardiac arrest unless off duty. Held only if
// nobody on the chain can take it.
//
// A forwarded recipient has ForwardedFrom set to the person the page was
// for, and a Reason that shows each hop: `role cardiology → on call by
// schedule "Cardiology" (layer nights) → forwarded from dr-lee (off
// duty)`.
//
// # Escalation timing
//
// Flat step k of a policy is step k mod len(Steps) of round
// k / len(Steps). Its time is the page's arrival plus every delay up to
// and including its own, so it depends only on the arrival and the
// policy: the engine persists the index of the last step run and a timer
// at the next due time, and a restart computes the same times. After the
// last step the page waits for an acknowledgement until [Policy.FallbackAt],
// then goes to the fallback; it never just stops.
//
// # Caveats
//
//   - A repeated round's first step waits its own Delay after the previous
//     round's last step; with Steps[0].Delay = 0 the next round starts as
//     the last step fires. Give the first step a delay, or add a last step
//     with one, to space rounds.
//   - Due after an outage returns every overdue step at once. Run them
//     together, merging their recipients and routes, rather than paging
//     the same person on the same channel several times in a second.
//   - Flat step indexes only mean something against the policy they were
//     computed for: if an administrator edits a policy while a page walks
//     it, the engine should keep the version the page started with.
//   - Resolve's result depends on the Directory's order (OnCall's and a
//     group's members'); it adds none of its own. A Directory that answers
//     "not found" for a failed read makes a person look unknown: held as
//     a role or group member, ErrNotFound as a target.
//   - Notice counts maxLen in bytes of UTF-8; turning text into a pager's
//     or modem's character set, and splitting SMS, is the device's job.
package routing
