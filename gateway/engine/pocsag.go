package engine

import (
	"pagebridge/firmware-agent/agentapi"
	"pagebridge/gateway/paging"
	"pagebridge/gateway/routing"
)

// ActionPOCSAGPage is the job that puts a page on air through a
// transmitter the agent drives, for pagers with a POCSAG coding.
const ActionPOCSAGPage = "pocsag.page"

// pocsagMaxLen is the longest text a transmitter's scheduler takes.
const pocsagMaxLen = 240

// POCSAGCoding is the job's coding of a pager's directory entry.
func POCSAGCoding(c paging.POCSAG) agentapi.POCSAG {
	return agentapi.POCSAG{Rate: c.Rate, Function: c.Function, Kind: string(c.Kind), Group: c.Group}
}

// pocsagJob makes the job for a pager on one of our transmitters: its
// coding from the directory, To its capcode, and the text as its kind
// shows it (agentapi.POCSAG.Shape): none for a tone pager, the digits,
// spaces and dashes of the notice for a numeric one, the notice for
// alpha.
func pocsagJob(device string, prio paging.Priority, e paging.Endpoint, text string, maxLen int) *agentapi.Job {
	c, text := POCSAGCoding(e.POCSAG).Shape(text)
	return &agentapi.Job{Device: device, Priority: prio, Action: ActionPOCSAGPage, To: e.Address,
		Text: agentapi.Text(routing.Truncate(text, min(maxLen, pocsagMaxLen))), POCSAG: &c}
}
