// Package airtime schedules the air time of one paging transmitter: it
// queues pages with a priority, packs them behind one preamble per
// transmission in frame order, lets a critical page overtake routine
// pages at the next batch, sends a page to a group capcode once, and
// keeps within the transmitter's longest transmission and duty cycle.
//
// Main types and functions:
//
//   - [Scheduler] ([New], [Options]): [Scheduler.Enqueue] a [Request]
//     (caller's ID, pocsag.Page, rate, paging.Priority, Group);
//     [Scheduler.Run] sends until ctx ends, reporting each ID through
//     Options.OnSent with the time its page was on air;
//     [Scheduler.Cancel] takes back a page not yet laid out.
//   - A transmission is planned batch by batch as the driver asks for
//     batches (one batch ahead of the air): queued pages of the highest
//     priority at the transmission's rate are laid out, the one whose
//     frame comes soonest first (few idle codewords), until the batch is
//     full. A critical page queued meanwhile is laid out at the next
//     batch ahead of every routine page not yet laid out; a page already
//     laid out is never cut. If the critical page cannot join (another
//     rate, no room left), the transmission ends after the pages on air
//     and the next one starts with it.
//   - Routine transmissions wait for the duty cycle until the queue at
//     their rate fits (or a whole transmission does); a critical page
//     goes as soon as it fits, on the reserve the driver keeps for it,
//     and ends a routine wait.
//   - [Scheduler.Snapshot]: a [Snapshot] for the admin page and the
//     agent's status: queue depth by priority ([Depth]), pages sent,
//     air time used in the duty window and the headroom left (routine and
//     critical), [Scheduler.WorstCriticalWait] (the computed bound) and
//     the longest critical wait seen, transmissions, last error. No text.
//   - [Bench] measures packing and critical waits in simulated time
//     computed from the bits sent; [PackingBound] is
//     paging-protocols.md §7's "packed max".
//
// Errors of Enqueue: [ErrInvalid] (wrapping pocsag's error for a page it
// refuses), [ErrTooLong]. A failed transmission (PTT, audio device) is
// logged, kept in Snapshot.LastError, and the pages not on air stay
// queued in their places; Run tries again after RetryDelay.
//
// # Caveats
//
//   - The queue is in memory: pages queued when the agent stops are the
//     agent's spool's to resend. A page is reported sent when its
//     codewords were written and their air time passed; whether a pager
//     heard it is unknowable (POCSAG has no return path).
//   - Group dedupe joins identical pages only while they are queued: a
//     page to the group sent a moment ago and the same text again are two
//     pages.
//   - A page of higher priority at another rate ends the transmission
//     under way early; routine pages at other rates wait for the next
//     transmission (the oldest page of the highest priority chooses the
//     rate).
//   - WorstCriticalWait assumes the transmitter works, the scheduler's
//     goroutine is not held up, and other critical pages do not use up
//     the reserve; a critical page behind other critical pages waits for
//     them.
package airtime
