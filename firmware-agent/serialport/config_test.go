package serialport

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	good := Config{Path: "/dev/ttyUSB0"}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"full serial", func(c *Config) {
			*c = Config{Path: "/dev/serial/by-id/usb-x", Baud: 1200, DataBits: 7, StopBits: 2, Parity: "even", Flow: "rtscts"}
		}, true},
		{"tcp", func(c *Config) { c.Path = "tcp://10.0.0.5:4001" }, true},
		{"tcp ipv6", func(c *Config) { c.Path = "tcp://[::1]:4001" }, true},
		{"empty path", func(c *Config) { c.Path = "" }, false},
		{"tcp without port", func(c *Config) { c.Path = "tcp://10.0.0.5" }, false},
		{"tcp port out of range", func(c *Config) { c.Path = "tcp://10.0.0.5:70000" }, false},
		{"tcp port not a number", func(c *Config) { c.Path = "tcp://10.0.0.5:telnet" }, false},
		{"tcp without host", func(c *Config) { c.Path = "tcp://:4001" }, false},
		{"other scheme", func(c *Config) { c.Path = "udp://10.0.0.5:4001" }, false},
		{"bad parity", func(c *Config) { c.Parity = "EVEN" }, false},
		{"data bits 9", func(c *Config) { c.DataBits = 9 }, false},
		{"data bits 4", func(c *Config) { c.DataBits = 4 }, false},
		{"stop bits 3", func(c *Config) { c.StopBits = 3 }, false},
		{"bad flow", func(c *Config) { c.Flow = "xonxoff" }, false},
		{"negative baud", func(c *Config) { c.Baud = -1 }, false},
		{"negative timeout", func(c *Config) { c.ReadTimeout = -time.Second }, false},
		{"min above max", func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			l, err := New(c, nil, nil)
			if tt.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if l.cfg.ReadTimeout == 0 || l.cfg.MinBackoff == 0 || l.cfg.DataBits == 0 {
					t.Errorf("defaults not applied: %+v", l.cfg)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New: %v, want ErrConfig", err)
			}
			t.Log(err)
		})
	}
}
