package routing

import (
	"reflect"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

func TestChannels(t *testing.T) {
	const (
		app   = paging.ChannelApp
		pager = paging.ChannelPager
		sms   = paging.ChannelSMS
	)
	appEP := paging.Endpoint{Channel: app, Address: "dr-lee"}
	pagerEP := paging.Endpoint{Channel: pager, Address: "1002", Via: "term1"}
	smsEP := paging.Endpoint{Channel: sms, Address: "+4915112345678"}
	sms2EP := paging.Endpoint{Channel: sms, Address: "+4915187654321"}
	full := paging.Person{ID: "dr-lee", Endpoints: []paging.Endpoint{appEP, pagerEP, smsEP}}
	noSMS := paging.Person{ID: "dr-kim", Endpoints: []paging.Endpoint{pagerEP, appEP}}
	twoSMS := paging.Person{ID: "dr-ng", Endpoints: []paging.Endpoint{smsEP, appEP, sms2EP}}
	badPager := paging.Person{ID: "dr-ode", Endpoints: []paging.Endpoint{appEP, {Channel: pager, Address: "1003"}}}

	ok := func(e paging.Endpoint) Route { return Route{Channel: e.Channel, Endpoint: e} }
	cases := []struct {
		name  string
		p     paging.Person
		stage paging.Stage
		step  []paging.Channel
		want  []Route
	}{
		{"pager stage default", full, paging.StagePager, nil, []Route{ok(pagerEP)}},
		{"both stage default", full, paging.StageBoth, nil, []Route{ok(appEP), ok(pagerEP)}},
		{"app stage default", full, paging.StageApp, nil, []Route{ok(appEP)}},
		{"app stage, step says sms", full, paging.StageApp, []paging.Channel{sms}, []Route{ok(smsEP)}},
		{"app stage, step says pager then sms", full, paging.StageApp, []paging.Channel{pager, sms}, []Route{ok(pagerEP), ok(smsEP)}},
		{"pager stage, step says app", full, paging.StagePager, []paging.Channel{app}, []Route{ok(appEP)}},
		{"both stage, step says sms", full, paging.StageBoth, []paging.Channel{sms}, []Route{ok(smsEP)}},
		{"unknown stage counts as both", full, "retired", nil, []Route{ok(appEP), ok(pagerEP)}},
		{"empty stage counts as both", full, "", nil, []Route{ok(appEP), ok(pagerEP)}},
		{"missing endpoint is skipped, not dropped", noSMS, paging.StageApp, []paging.Channel{app, sms},
			[]Route{ok(appEP), {Channel: sms, Skipped: "no sms endpoint"}}},
		{"missing app endpoint in app stage", paging.Person{ID: "x"}, paging.StageApp, nil,
			[]Route{{Channel: app, Skipped: "no app endpoint"}}},
		{"missing pager endpoint in both stage", twoSMS, paging.StageBoth, nil,
			[]Route{ok(appEP), {Channel: pager, Skipped: "no pager endpoint"}}},
		{"every endpoint of a channel", twoSMS, paging.StageApp, []paging.Channel{sms}, []Route{ok(smsEP), ok(sms2EP)}},
		{"duplicate step channels", full, paging.StageApp, []paging.Channel{sms, app, sms}, []Route{ok(smsEP), ok(appEP)}},
		{"unknown step channel", full, paging.StageApp, []paging.Channel{"fax", app},
			[]Route{{Channel: "fax", Skipped: `unknown channel "fax"`}, ok(appEP)}},
	}
	for _, c := range cases {
		got := Channels(c.p, c.stage, c.step)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}

	// An invalid endpoint is returned with the validation error.
	got := Channels(badPager, paging.StagePager, nil)
	if len(got) != 1 || got[0].Endpoint.Address != "1003" || !strings.Contains(got[0].Skipped, "pager endpoint needs") {
		t.Errorf("invalid endpoint: %+v", got)
	}
	if Usable(got) || !Usable(Channels(full, paging.StagePager, nil)) || Usable(nil) {
		t.Error("Usable")
	}
}
