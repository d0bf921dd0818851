package main

import (
	"testing"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/ui"
)

func TestSignalBars(t *testing.T) {
	for rssi, want := range map[int]int{0: 0, 1: 0, 2: 1, 9: 1, 10: 2, 14: 2, 15: 3, 19: 3, 20: 4, 31: 4} {
		if got := signalBars(rssi); got != want {
			t.Errorf("signalBars(%d) = %d, want %d", rssi, got, want)
		}
	}
}

func TestExtraFields(t *testing.T) {
	// The known fields have their places; a status with nothing else has
	// no extra fields.
	d := agentapi.DeviceStatus{ID: "modem-1", Kind: "modem", State: "ready", Since: time.Now(), Queue: 2, Done: 5,
		Signal: 20, Registration: "home", Operator: "Pagebridge", SIM: "ready"}
	if got := extraFields(d); len(got) != 0 {
		t.Errorf("extra fields of a plain modem: %+v", got)
	}
	// Anything else is shown as label and value, nested objects one
	// level down, deeper ones as JSON.
	type airTime struct {
		QueuedCritical int               `json:"queued_critical"`
		Transmitting   bool              `json:"transmitting"`
		Used           float64           `json:"used_s"`
		Deeper         map[string]string `json:"deeper"`
	}
	type future struct {
		agentapi.DeviceStatus
		AirTime *airTime `json:"air_time,omitempty"`
		Note    string   `json:"note"`
	}
	got := extraFields(future{DeviceStatus: agentapi.DeviceStatus{ID: "tx-1", Kind: "transmitter", State: "ready"},
		AirTime: &airTime{QueuedCritical: 1, Transmitting: true, Used: 12.5, Deeper: map[string]string{"a": "b"}}, Note: "site B"})
	f := func(group, label, value string) ui.Field { return ui.Field{Group: group, Label: label, Value: value} }
	want := []ui.Field{f("Air time", "Deeper", `{"a":"b"}`), f("Air time", "Queued critical", "1"), f("Air time", "Transmitting", "yes"),
		f("Air time", "Used (s)", "12.5"), f("", "Note", "site B")}
	if len(got) != len(want) {
		t.Fatalf("extra fields %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFieldLabel(t *testing.T) {
	for in, want := range map[string]string{"air_time": "Air time", "headroom_s": "Headroom (s)", "duty_limit": "Duty limit", "": ""} {
		if got := fieldLabel(in); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
