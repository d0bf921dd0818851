package main

// Migration without touching senders, end to end: the demo daemon, one
// pager ID, the same kind of WCTP page from the same sender; only the
// person's migration stage changes (through the JSON API), and with it
// where the page goes.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/engine"
	"pagebridge/gateway/paging"
)

func TestMigrationWithoutTouchingSenders(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: not in -short")
	}
	root := t.TempDir()
	d := startDemo(t, root)
	defer d.stop()
	hc := httpClient(t, root, 2)
	token := demoToken(t, root)
	sender := demoSender(t, root)
	call := func(method, path string, body any) *http.Response {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, d.url(path), &buf)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ben := paging.Person{ID: "ben.lee", Name: "Ben Lee RN", Department: "4 West", Title: "Charge nurse",
		Endpoints: []paging.Endpoint{{Channel: paging.ChannelApp, Address: "ben.lee"}, {Channel: paging.ChannelPager, Address: "1002", Via: "demo-agent/terminal-1"}}}

	for i, c := range []struct {
		stage paging.Stage
		want  []string
	}{
		{paging.StagePager, []string{"pager sent"}},
		{paging.StageBoth, []string{"app sent", "pager sent"}},
		{paging.StageApp, []string{"app sent"}},
	} {
		ben.Stage = c.stage
		if resp := call(http.MethodPut, "/api/v1/people/ben.lee", ben); resp.StatusCode != http.StatusOK {
			t.Fatalf("put person (%s): %s", c.stage, resp.Status)
		}
		ref := fmt.Sprintf("migration-%d", i)
		body := `<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest><wctp-SubmitHeader>` +
			`<wctp-Originator senderID="` + sender.ID + `" securityCode="` + sender.SecurityCode + `"/>` +
			`<wctp-MessageControl messageID="` + ref + `"/><wctp-Recipient recipientID="1002"/></wctp-SubmitHeader>` +
			`<wctp-Payload><wctp-Alphanumeric>Room 12 call bell, stage ` + string(c.stage) + `</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest></wctp-Operation>`
		resp, err := hc.Post(d.url("/wctp"), "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got []string
		waitUntil(t, time.Minute, fmt.Sprintf("the page at stage %s to go out as %q", c.stage, c.want), func() bool {
			resp := call(http.MethodGet, "/api/v1/pages?limit=20", nil)
			defer resp.Body.Close()
			var list struct {
				Pages []engine.Route `json:"pages"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				t.Fatal(err)
			}
			for _, r := range list.Pages {
				if r.SenderRef != ref {
					continue
				}
				got = got[:0]
				for _, dl := range r.Deliveries {
					for _, a := range dl.Attempts {
						got = append(got, string(a.Channel)+" "+string(a.State))
					}
				}
				return slices.Equal(got, c.want)
			}
			return false
		})
	}
}
