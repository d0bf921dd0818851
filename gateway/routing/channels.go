package routing

import "pagebridge/gateway/paging"

// Route is one channel to try for one person: an endpoint, or why there
// is none.
type Route struct {
	Channel  paging.Channel  `json:"channel"`
	Endpoint paging.Endpoint `json:"endpoint,omitzero"`
	// Skipped, when set, says why this channel cannot be tried ("no sms
	// endpoint"); Endpoint is then the bad endpoint, or zero. The engine
	// records it; it is never dropped silently.
	Skipped string `json:"skipped,omitempty"`
}

// Channels returns the routes for person p in migration stage stage
// (normally p.Stage; passed apart so the engine can apply an override)
// for an escalation step naming channels step.
//
// A step's channels, when it names any, replace the stage's defaults:
// an app-stage person still gets an SMS when a step says sms. With none
// named the defaults are: pager → pager; both → app, pager; app → app.
// A stage that is not one of the three counts as both, so that a bad
// record pages on more channels, not fewer.
//
// There is one route per endpoint, in the person's endpoint order, for
// each channel in order (duplicates in step are ignored). A channel the
// person has no endpoint for, an invalid endpoint and an unknown channel
// each give a route with Skipped set.
func Channels(p paging.Person, stage paging.Stage, step []paging.Channel) []Route {
	chans := step
	if len(chans) == 0 {
		switch stage {
		case paging.StagePager:
			chans = []paging.Channel{paging.ChannelPager}
		case paging.StageApp:
			chans = []paging.Channel{paging.ChannelApp}
		default:
			chans = []paging.Channel{paging.ChannelApp, paging.ChannelPager}
		}
	}
	var out []Route
	for i, ch := range chans {
		if seen(chans[:i], ch) {
			continue
		}
		if !ch.Valid() {
			out = append(out, Route{Channel: ch, Skipped: "unknown channel " + quote(string(ch))})
			continue
		}
		found := false
		for _, e := range p.Endpoints {
			if e.Channel != ch {
				continue
			}
			found = true
			r := Route{Channel: ch, Endpoint: e}
			if err := e.Validate(); err != nil {
				r.Skipped = err.Error()
			}
			out = append(out, r)
		}
		if !found {
			out = append(out, Route{Channel: ch, Skipped: "no " + string(ch) + " endpoint"})
		}
	}
	return out
}

// Usable reports whether any route can be tried. A step whose routes are
// all skipped reaches nobody: the engine should escalate at once rather
// than wait out the next delay.
func Usable(routes []Route) bool {
	for _, r := range routes {
		if r.Skipped == "" {
			return true
		}
	}
	return false
}

func seen(chans []paging.Channel, ch paging.Channel) bool {
	for _, c := range chans {
		if c == ch {
			return true
		}
	}
	return false
}
