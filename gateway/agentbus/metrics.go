package agentbus

import (
	"github.com/prometheus/client_golang/prometheus"

	"pagebridge/firmware-agent/agentapi"
)

var (
	descAgentUp = prometheus.NewDesc("pagebridge_agent_up",
		"1 if the agent's retained status says online, 0 if offline (its last will).", []string{"agent"}, nil)
	descDeviceState = prometheus.NewDesc("pagebridge_device_state",
		"1 for the device's current state, 0 for the others.", []string{"agent", "device", "kind", "state"}, nil)
	descDeviceQueue = prometheus.NewDesc("pagebridge_device_queue_jobs",
		"Jobs waiting for the device on its agent.", []string{"agent", "device"}, nil)
	descDeviceDone = prometheus.NewDesc("pagebridge_device_jobs_done_total",
		"Jobs the device completed since its agent started.", []string{"agent", "device"}, nil)
	descDeviceFailed = prometheus.NewDesc("pagebridge_device_jobs_failed_total",
		"Jobs that failed on the device since its agent started.", []string{"agent", "device"}, nil)
	descBus = prometheus.NewDesc("pagebridge_bus_messages_total",
		"Bus messages by what became of them.", []string{"kind"}, nil)
	descInFlight = prometheus.NewDesc("pagebridge_bus_jobs_in_flight",
		"Jobs published to agents and not yet acknowledged.", nil, nil)
	descConnected = prometheus.NewDesc("pagebridge_bus_connected",
		"1 if the gateway is connected to the broker.", nil, nil)
)

var deviceStates = []string{agentapi.DeviceOpen, agentapi.DeviceInitialising, agentapi.DeviceReady,
	agentapi.DeviceFailing, agentapi.DeviceAbsent}

// Describe implements prometheus.Collector.
func (b *Bridge) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAgentUp, descDeviceState, descDeviceQueue, descDeviceDone,
		descDeviceFailed, descBus, descInFlight, descConnected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from the agents' last status.
func (b *Bridge) Collect(ch chan<- prometheus.Metric) {
	for _, a := range b.Agents() {
		up := 0.0
		if a.State == "online" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descAgentUp, prometheus.GaugeValue, up, a.ID)
		for _, d := range a.Devices {
			for _, s := range deviceStates {
				v := 0.0
				if d.State == s {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descDeviceState, prometheus.GaugeValue, v, a.ID, d.ID, d.Kind, s)
			}
			ch <- prometheus.MustNewConstMetric(descDeviceQueue, prometheus.GaugeValue, float64(d.Queue), a.ID, d.ID)
			ch <- prometheus.MustNewConstMetric(descDeviceDone, prometheus.CounterValue, float64(d.Done), a.ID, d.ID)
			ch <- prometheus.MustNewConstMetric(descDeviceFailed, prometheus.CounterValue, float64(d.Failed), a.ID, d.ID)
		}
	}
	st := b.Stats()
	for kind, v := range map[string]uint64{"job_published": st.Published, "job_acked": st.Acked,
		"result": st.Results, "inbound": st.Inbound, "rejected": st.Rejected, "duplicate_ack": st.Duplicates} {
		ch <- prometheus.MustNewConstMetric(descBus, prometheus.CounterValue, float64(v), kind)
	}
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight))
	c := 0.0
	if b.Connected() {
		c = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, c)
}
