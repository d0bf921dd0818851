package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/BurntSushi/toml"

	"pagebridge/firmware-agent/serialport"
)

// Config is the agent's one configuration file.
type Config struct {
	Agent   AgentConfig    `toml:"agent"`
	Devices []DeviceConfig `toml:"device"`
}

type AgentConfig struct {
	// ID names the agent on the bus; fixed, so its MQTT session persists.
	ID string `toml:"id"`
}

// DeviceConfig is one line the agent owns.
type DeviceConfig struct {
	ID   string `toml:"id"`
	Kind string `toml:"kind"`
	// Port is a serial device path (/dev/serial/by-id/…), tcp://host:port
	// for a serial device server, or listen://addr for senders that
	// connect to us.
	Port     string `toml:"port"`
	Baud     int    `toml:"baud"`
	DataBits int    `toml:"data_bits"`
	Parity   string `toml:"parity"`
	StopBits int    `toml:"stop_bits"`
	Flow     string `toml:"flow"`
}

// Line is the device's serial (or tcp://) line configuration.
func (d DeviceConfig) Line() serialport.Config {
	return serialport.Config{Path: d.Port, Baud: d.Baud, DataBits: d.DataBits, StopBits: d.StopBits, Parity: d.Parity, Flow: d.Flow}
}

// Device kinds the agent knows.
var kinds = map[string]bool{"modem": true, "paging-terminal": true, "tap-line": true, "espa-line": true}

func defaultConfig() Config { return Config{Agent: AgentConfig{ID: "agent-1"}} }

// LoadConfig reads path over the defaults and validates it; errors name the
// key.
func LoadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, fmt.Errorf("config: %s: unknown key", und[0])
	}
	return cfg, cfg.Validate()
}

// Validate checks every device; serial settings are checked as the line
// will open them (defaults 9600 8N1, no flow control).
func (c *Config) Validate() error {
	if c.Agent.ID == "" {
		return errors.New("config: agent.id: required")
	}
	seen := map[string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		key := fmt.Sprintf("config: device[%d]", i)
		switch {
		case d.ID == "":
			return fmt.Errorf("%s.id: required", key)
		case seen[d.ID]:
			return fmt.Errorf("%s.id: duplicate device %q", key, d.ID)
		case !kinds[d.Kind]:
			return fmt.Errorf("%s.kind: unknown kind %q (modem, paging-terminal, tap-line, espa-line)", key, d.Kind)
		case d.Port == "":
			return fmt.Errorf("%s.port: required", key)
		}
		seen[d.ID] = true
		if addr, ok := strings.CutPrefix(d.Port, "listen://"); ok {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("%s.port: %v", key, err)
			}
			continue
		}
		if !strings.HasPrefix(d.Port, "/dev/") && !strings.HasPrefix(d.Port, "tcp://") {
			return fmt.Errorf("%s.port: want a /dev/ path, tcp://host:port or listen://addr", key)
		}
		if err := d.Line().Validate(); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}
