package engine

import (
	"strings"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// ActionPOCSAGPage is the job that puts a page on air through a
// transmitter the agent drives, for pagers with a POCSAG coding.
const ActionPOCSAGPage = "pocsag.page"

// pocsagMaxLen is the longest text a transmitter's scheduler takes.
const pocsagMaxLen = 240

// pocsagJob makes the job for a pager on one of our transmitters: its
// coding from the directory, To its capcode, and the text as its kind
// shows it: none for a tone pager, the digits, spaces and dashes of the
// notice for a numeric one (none left: a tone), the notice for alpha.
func pocsagJob(device string, prio paging.Priority, e paging.Endpoint, text string, maxLen int) *agentapi.Job {
	c := e.POCSAG
	kind := c.Kind
	switch kind {
	case paging.POCSAGTone:
		text = ""
	case paging.POCSAGNumeric:
		text = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == ' ' || r == '-' {
				return r
			}
			return -1
		}, text))
		if text == "" {
			kind = paging.POCSAGTone
		}
	}
	return &agentapi.Job{Device: device, Priority: prio, Action: ActionPOCSAGPage, To: e.Address,
		Text:   agentapi.Text(routing.Truncate(text, min(maxLen, pocsagMaxLen))),
		POCSAG: &agentapi.POCSAG{Rate: c.Rate, Function: c.Function, Kind: string(kind), Group: c.Group}}
}
