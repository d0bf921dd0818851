package main

import (
	"testing"

	"pagebridge/firmware-agent/agentapi"
)

func TestDeviceHealth(t *testing.T) {
	for _, c := range []struct {
		d    agentapi.DeviceStatus
		want string
	}{
		{agentapi.DeviceStatus{Signal: 20, Registration: "home", Operator: "Pagebridge", SIM: "ready"}, "signal 20/31 · home · Pagebridge · SIM ready"},
		{agentapi.DeviceStatus{Signal: 99, Registration: "searching", SIM: "PIN refused"}, "signal unknown · searching · SIM PIN refused"},
		{agentapi.DeviceStatus{Kind: "paging-terminal"}, ""},
	} {
		if got := deviceHealth(c.d); got != c.want {
			t.Errorf("%+v: %q, want %q", c.d, got, c.want)
		}
	}
}
