package routing

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// PHIPolicy says which insecure channels may carry a page's text. The
// zero value, the default, allows neither; the app always carries it.
type PHIPolicy struct {
	Pager bool `json:"pager"`
	SMS   bool `json:"sms"`
}

// Allows reports whether the text may go on ch.
func (pol PHIPolicy) Allows(ch paging.Channel) bool {
	switch ch {
	case paging.ChannelApp:
		return true
	case paging.ChannelPager:
		return pol.Pager
	case paging.ChannelSMS:
		return pol.SMS
	}
	return false
}

// TruncMarker ends a text that Notice shortened.
const TruncMarker = "..."

// Notice returns what channel ch carries for a page.
//
// The app carries text unchanged (maxLen does not apply). A pager or SMS
// that pol allows carries text cut to at most maxLen bytes on a rune
// boundary, ending in [TruncMarker] when it was cut. Otherwise, and for
// an unknown channel, it carries a notice without patient data built
// only from prio and source (a non-PHI label such as the sender line's:
// "4W nurse call"), e.g. "High priority secure message from 4W nurse
// call - open Pagebridge", shortened to fit maxLen. maxLen ≤ 0: no limit.
//
// The result is a paging.PHI either way, so that the caller handles every
// outgoing text alike and never logs it.
func Notice(ch paging.Channel, pol PHIPolicy, prio paging.Priority, source string, text paging.PHI, maxLen int) paging.PHI {
	if ch == paging.ChannelApp {
		return text
	}
	if ch.Valid() && pol.Allows(ch) {
		return paging.NewPHI(truncate(text.Reveal(), maxLen))
	}
	return paging.NewPHI(notice(prio, source, maxLen))
}

const noticeTail = " - open Pagebridge"

func notice(prio paging.Priority, source string, maxLen int) string {
	var head string
	switch prio {
	case paging.PriorityNormal:
		head = "Secure message"
	case paging.PriorityHigh:
		head = "High priority secure message"
	default: // critical, and anything that is not a tier errs loud
		head = "CRITICAL secure message"
	}
	source = clean(source)
	full := head + noticeTail
	if source != "" {
		full = head + " from " + source + noticeTail
	}
	if maxLen <= 0 || len(full) <= maxLen {
		return full
	}
	// Shorten the source before dropping it, but keep enough of it to be
	// recognisable.
	const minSource = 6
	if room := maxLen - len(head) - len(" from ") - len(noticeTail); source != "" && room >= minSource {
		return head + " from " + cut(source, room) + noticeTail
	}
	if len(head)+len(noticeTail) <= maxLen {
		return head + noticeTail
	}
	return cut(head, maxLen)
}

// clean makes a source label safe for a pager or SMS line: control
// characters become spaces, runs of spaces one, and invalid UTF-8 goes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most max bytes on a rune boundary, ending in
// TruncMarker when it cut. max ≤ 0: no limit.
// Truncate shortens s to at most max bytes (max ≤ 0: no limit) without
// splitting a rune, marking the cut with TruncMarker.
func Truncate(s string, max int) string { return truncate(s, max) }

func truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	if max <= len(TruncMarker) {
		return cut(s, max)
	}
	return cut(s, max-len(TruncMarker)) + TruncMarker
}

// cut returns the longest prefix of s of at most n bytes that does not
// split a rune.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && n-i < utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	if !utf8.RuneStart(s[i]) {
		// Not UTF-8 here: there is no rune boundary to respect.
		return s[:n]
	}
	return s[:i]
}
