package routing

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

const secretText = "PATIENT JANE DOE RM 412 BP 80/40 Zimmer Müller"

func TestNotice(t *testing.T) {
	const (
		app   = paging.ChannelApp
		pager = paging.ChannelPager
		sms   = paging.ChannelSMS
	)
	none, both := PHIPolicy{}, PHIPolicy{Pager: true, SMS: true}
	cases := []struct {
		name   string
		ch     paging.Channel
		pol    PHIPolicy
		prio   paging.Priority
		source string
		text   string
		max    int
		want   string
	}{
		{"app carries the text", app, none, critical, "4W nurse call", secretText, 10, secretText},
		{"pager, no permission, high", pager, none, high, "4W nurse call", secretText, 80,
			"High priority secure message from 4W nurse call - open Pagebridge"},
		{"sms, no permission, normal", sms, none, normal, "4W nurse call", secretText, 160,
			"Secure message from 4W nurse call - open Pagebridge"},
		{"sms, no permission, critical", sms, PHIPolicy{Pager: true}, critical, "ED", secretText, 0,
			"CRITICAL secure message from ED - open Pagebridge"},
		{"no source", pager, none, high, "", secretText, 80, "High priority secure message - open Pagebridge"},
		{"source cleaned", pager, none, normal, " 4W\r\nnurse\x00 call ", secretText, 0,
			"Secure message from 4W nurse call - open Pagebridge"},
		{"source shortened to fit", pager, none, high, "4W nurse call", secretText, 58,
			"High priority secure message from 4W nur - open Pagebridge"},
		{"source dropped when it cannot fit", pager, none, high, "4W nurse call", secretText, 50,
			"High priority secure message - open Pagebridge"},
		{"head cut when nothing fits", pager, none, critical, "4W", secretText, 12, "CRITICAL sec"},
		{"unknown channel gets the notice", "fax", both, normal, "4W", secretText, 0,
			"Secure message from 4W - open Pagebridge"},
		{"pager with permission", pager, both, normal, "4W", secretText, 0, secretText},
		{"sms with permission, fits", sms, both, normal, "4W", "call 4W", 7, "call 4W"},
		{"sms with permission, truncated", sms, both, normal, "4W", secretText, 20, "PATIENT JANE DOE ..."},
		// "Müller": ü is two bytes; cutting at 44 bytes would split it.
		{"truncated on a rune boundary", pager, both, normal, "4W", secretText, len(secretText) - 2,
			"PATIENT JANE DOE RM 412 BP 80/40 Zimmer M..."},
		{"tiny limit, no room for the marker", sms, both, normal, "4W", "ÄÖÜ", 3, "Ä"},
		{"text unchanged without limit", sms, both, normal, "4W", secretText, -1, secretText},
	}
	for _, c := range cases {
		got := Notice(c.ch, c.pol, c.prio, c.source, paging.NewPHI(c.text), c.max).Reveal()
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestNoticeNeverLeaks: for every limit, priority and source, a channel
// without permission carries no word of the text, and every result fits
// and is valid UTF-8.
func TestNoticeNeverLeaks(t *testing.T) {
	text := paging.NewPHI(secretText)
	words := strings.Fields(secretText)
	for _, ch := range []paging.Channel{paging.ChannelPager, paging.ChannelSMS} {
		for _, prio := range []paging.Priority{normal, high, critical, 9} {
			for _, src := range []string{"", "4W nurse call", "Station Süd — Notruf"} {
				for max := 0; max <= 100; max++ {
					for _, pol := range []PHIPolicy{{}, {Pager: true, SMS: true}} {
						got := Notice(ch, pol, prio, src, text, max).Reveal()
						if max > 0 && len(got) > max {
							t.Fatalf("%s %v %q max %d: %d bytes: %q", ch, prio, src, max, len(got), got)
						}
						if !utf8.ValidString(got) {
							t.Fatalf("%s max %d: invalid UTF-8 %q", ch, max, got)
						}
						if pol.Allows(ch) {
							if !strings.HasPrefix(secretText, strings.TrimSuffix(got, TruncMarker)) {
								t.Fatalf("%s max %d: %q is not a prefix of the text", ch, max, got)
							}
							continue
						}
						for _, w := range words {
							if len(w) > 2 && strings.Contains(got, w) {
								t.Fatalf("%s %v max %d: notice %q carries %q", ch, prio, max, got, w)
							}
						}
					}
				}
			}
		}
	}
}
