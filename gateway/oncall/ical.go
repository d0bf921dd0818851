package oncall

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Calendar describes an iCalendar feed of shifts: one per role, or one per
// person (the caller picks the shifts).
type Calendar struct {
	// ScheduleID goes into every event's UID.
	ScheduleID string
	// Name is the calendar's name (X-WR-CALNAME) and the events' summary,
	// "On call: <Name>".
	Name string
	// Stamp is every event's DTSTAMP: when the feed was made.
	Stamp time.Time
	// People, if not nil, gives display names by person ID, and the
	// summaries then say who: "On call: Cardiology (Dr Lee)". A person it
	// lacks is shown by ID. Leave it nil for one person's own calendar.
	People map[string]string
}

// ICal writes cal with one event per shift as an RFC 5545 VCALENDAR: CRLF
// line endings, lines folded at 75 octets (never inside a UTF-8
// sequence), TEXT values escaped, times in UTC.
//
// Each event's UID is a hash of the schedule ID, the person and the
// shift's start, so a client that refreshes the feed updates its events
// instead of adding copies. Shifts that are empty (End not after Start)
// are left out.
func ICal(w io.Writer, cal Calendar, shifts []Shift) error {
	if cal.ScheduleID == "" || cal.Stamp.IsZero() {
		return fmt.Errorf("%w calendar: schedule id and stamp are required", paging.ErrInvalid)
	}
	var b bytes.Buffer
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Pagebridge//On-call//EN")
	line("CALSCALE", "GREGORIAN")
	line("X-WR-CALNAME", escapeText(cal.Name))
	stamp := icalTime(cal.Stamp)
	for _, s := range shifts {
		if !s.End.After(s.Start) {
			continue
		}
		summary := "On call: " + cal.Name
		if cal.People != nil {
			name := cal.People[s.Person]
			if name == "" {
				name = s.Person
			}
			summary += " (" + name + ")"
		}
		line("BEGIN", "VEVENT")
		line("UID", eventUID(cal.ScheduleID, s.Person, s.Start))
		line("DTSTAMP", stamp)
		line("DTSTART", icalTime(s.Start))
		line("DTEND", icalTime(s.End))
		line("SUMMARY", escapeText(summary))
		if s.Reason != "" {
			line("DESCRIPTION", escapeText(s.Reason))
		}
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	_, err := w.Write(b.Bytes())
	return err
}

// icalTime is a UTC DATE-TIME (form #2 of RFC 5545 3.3.5). Fractions of a
// second are dropped.
func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// eventUID is stable for a schedule, person and start. It is a hash so
// that IDs with any characters in them make a plain UID.
func eventUID(scheduleID, person string, start time.Time) string {
	h := sha256.New()
	h.Write([]byte(scheduleID))
	h.Write([]byte{0})
	h.Write([]byte(person))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(start.Unix(), 10)))
	return hex.EncodeToString(h.Sum(nil)[:16]) + "@oncall.pagebridge"
}

// escapeText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon
// and comma get a backslash, a line break becomes \n. Other control
// characters, which TEXT does not allow, are dropped, and invalid UTF-8 is
// replaced.
func escapeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeFolded writes a content line ending in CRLF, folded (RFC 5545
// 3.1) so that no line is longer than 75 octets: each continuation line
// starts with a space, which counts towards its 75. A fold never splits a
// UTF-8 sequence.
func writeFolded(b *bytes.Buffer, s string) {
	const limit = 75
	room := limit
	for len(s) > room {
		cut := room
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		room = limit - 1
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
