// Package oncall says who is on call for a role at an instant: on-call
// schedules, their shifts and their iCalendar feed. A page to "cardiology
// on-call" is resolved here, at the moment it arrives.
//
// It is pure: no IO, no clock. Every function takes the instant it is
// about, so routing passes the page's arrival time and tests pass any.
//
// Main types and functions:
//
//   - [Schedule]: a role's schedule in one IANA time zone, made of
//     [Layer]s (rotations of participants, each [Layer.Shift] long,
//     optionally limited to weekly [Window]s) and [Override]s (add,
//     replace, remove someone between two instants). [Schedule.Validate]
//     checks one before it is stored.
//   - [OnCall]: the [Assignment]s at an instant, each with a Reason
//     for the log, in O(layers + overrides): the current shift's index
//     comes from arithmetic, never from walking shifts from the start.
//   - [Shifts]: the final on-call intervals in a range (merged per
//     person), for "next hand-off" and calendars.
//   - [ICal]: shifts as an RFC 5545 calendar feed.
//
// # Precedence
//
// A later layer wins wherever it has someone on call; where it has nobody
// (before its start, outside its windows) the layers below show through.
// Overrides win over every layer; those in force at an instant apply in
// list order, each to the result of the ones before it. "add" puts Person
// on call as well; "replace" with Replaces puts Person on call instead of
// Replaces while Replaces would be on call (and does nothing otherwise);
// "replace" without Replaces makes Person the only one on call, even when
// no layer has anyone; "remove" takes Replaces off call, which can leave
// nobody. An override that names someone already on call becomes the
// reason they are on call.
//
// # Local time and daylight saving time
//
// A layer's Start and its windows are wall-clock times in the schedule's
// zone. A wall-clock time is turned into an instant by one rule, used
// everywhere:
//
//   - A time that occurs twice (clocks fall back) means its first
//     occurrence: 02:30 on 2026-10-25 in Europe/Berlin is 02:30 CEST
//     (00:30 UTC), not 02:30 CET.
//   - A time that does not occur (clocks spring forward) means the first
//     instant after the gap: 02:30 on 2026-03-29 in Europe/Berlin is
//     03:00 CEST (01:00 UTC), and so is 02:00.
//
// Day and week shifts hand off at the Start's wall-clock time on every
// boundary date (every N days, or every N weeks on the Start's weekday),
// with that rule applied on the date. So a daily 08:00 shift that spans
// the change lasts 23 hours in spring and 25 in autumn; a daily 02:30
// hand-off happens at 03:00 on the spring night (the shift before it and
// the one after it last 23.5 hours each) and at the first 02:30 on the
// autumn night (the shift after it lasts 25 hours).
//
// Hour shifts are fixed durations from the Start's instant: a 12-hour
// rotation that starts at 08:00 CET hands off at 09:00 and 21:00 CEST
// after the clocks spring forward. For "08:00 and 20:00 whatever the
// clock does", use two daily layers with windows 08:00-20:00 and
// 20:00-08:00.
//
// A window starts and ends at its wall-clock times by the same rule: a
// window Mon-Fri 08:00-17:00 is 9 hours every day; a night window from
// 22:00 to 06:00 lasts 9 hours on the autumn night and 7 on the spring
// night, and one from 22:00 to 02:30 lasts its usual 4.5 hours on the
// autumn night (it ends at the first 02:30) but 4 on the spring night (it
// ends at 03:00 CEST).
//
// Go's time.Date does not promise either choice (and in practice picks
// differently in Berlin and New York), so the package resolves wall times
// itself from the zone's transitions.
//
// # Caveats
//
//   - The zone database is the running program's: the system's zoneinfo,
//     or the copy embedded by importing time/tzdata. A hospital whose
//     government moves its DST dates needs an updated database; the
//     schedule itself does not change.
//   - OnCall assumes a schedule that passed Validate. It checks enough to
//     never panic, and answers nobody for a schedule it cannot evaluate
//     rather than guessing from its valid parts: an empty answer must send
//     a page to its fallback, never drop it. It also answers nobody for
//     instants outside the years 1 to 9999.
//   - Assignment.Since and Until are sound rather than tight: the person
//     is on call for that reason throughout, but may have been on call
//     longer (an earlier shift of theirs, an override that mentions them
//     elsewhere in the schedule). Shifts gives the real hand-offs.
//   - Shifts cuts its intervals at the range's ends, and ICal derives a
//     UID from the start, so the event that straddles the range's start
//     changes UID as a feed's range moves. Start feeds well in the past.
//   - Validate bounds the work: at most MaxLayers layers, MaxWindows
//     windows a layer, MaxOverrides overrides of which at most
//     MaxConcurrentOverrides in force at once, shifts of at most
//     MaxShiftDays, and Shifts ranges of at most MaxRange. At those limits
//     (32 windowed hourly layers, 4,096 overrides) OnCall takes about
//     0.2 ms and Shifts over 400 days about 2 s; a real schedule takes
//     microseconds.
//   - Windows must not cover the whole week (Validate refuses that: drop
//     the windows). This keeps every window run shorter than a week, which
//     bounds the search around an instant.
//   - Rotations do not pause outside their windows: a participant whose
//     shift falls outside the layer's windows simply is not on call then.
package oncall
