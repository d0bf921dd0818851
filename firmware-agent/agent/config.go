package agent

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/agentapi/link"
	"pagebridge/firmware-agent/serialport"
	"pagebridge/firmware-agent/smspdu"
	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
	"pagebridge/internal/conf"
)

// Config is the agent's one configuration file.
type Config struct {
	Agent   AgentConfig    `toml:"agent"`
	Bus     BusConfig      `toml:"bus"`
	Devices []DeviceConfig `toml:"device"`
}

// AgentConfig names the agent and where it keeps its spool.
type AgentConfig struct {
	// ID names the agent on the bus; fixed, so its MQTT session persists.
	// It is also its MQTT user name.
	ID string `toml:"id"`
	// DataDir holds the spool (spool.db).
	DataDir string `toml:"data_dir"`
	// KeyFile is the key-encryption key that seals PHI in the spool. It
	// must be outside DataDir, so that a copied data dir decrypts nothing.
	KeyFile string `toml:"key_file"`
	// CreateKey creates KeyFile if it does not exist (demo, tests; the
	// package's postinst creates it in production).
	CreateKey bool `toml:"create_key"`
	// CommitLinger lets a spool commit wait this long for more writes
	// (other devices', the bus's): a millisecond against a line's own
	// milliseconds per page, for far fewer pages written per job.
	CommitLinger Duration `toml:"commit_linger"`
	// BypassAfter: once the gateway has not taken a page from a TAP line
	// for this long (bus or gateway down), the agent passes pages for
	// pager-stage and both-stage IDs straight to their paging terminal or
	// transmitter, and tells the gateway when it is back. Default 30s.
	BypassAfter Duration `toml:"bypass_after"`
}

// BusConfig says how the agent reaches the broker.
type BusConfig struct {
	// Broker is tcp://host:port on loopback, or tls://host:port (also
	// ssl://, mqtts://) anywhere else.
	Broker string `toml:"broker"`
	// Password is the agent's bus password (the gateway's [[bus.agent]]
	// entry); required off loopback. The user name is the agent's ID.
	Password string `toml:"password"`
	// CAFile verifies a TLS broker's certificate; empty uses the system
	// roots.
	CAFile string `toml:"ca_file"`
	// AckTimeout: how long an item published to the gateway waits for its
	// ack before it is published again.
	AckTimeout Duration `toml:"ack_timeout"`
}

// Duration is a time.Duration written as "10s" in TOML.
type Duration = conf.Duration

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
	// Password is the TAP logon password: the one we send to a paging
	// terminal, or the one senders must give on a tap-line.
	Password string `toml:"password"`
	// MaxInFlight bounds how many jobs the device is given at once (marked
	// in flight together in the spool). After a crash, those are the jobs
	// re-sent with "outcome unknown". Default 1.
	MaxInFlight int `toml:"max_in_flight"`

	// For tap-line devices (senders page us):

	// Priority is the line's default tier ("normal", "high" or
	// "critical"); a pager ID's own default and PriorityRules raise it.
	Priority paging.Priority `toml:"priority"`
	// PriorityRules raise the tier of pages whose text matches
	// ([[device.priority_rule]] starts_with = "CODE BLUE", priority =
	// "critical").
	PriorityRules []paging.PriorityRule `toml:"priority_rule"`
	// Bypass is "on" (the default) or "off": whether pages from this line
	// go straight to the paging terminal or transmitter while the gateway
	// is unreachable.
	Bypass string `toml:"bypass"`
	// Allow lists the source networks (CIDR) that may connect to a
	// listen:// line; empty allows loopback only.
	Allow []string `toml:"allow"`

	// TAP quirks of the peer, on tap-line and paging-terminal devices.

	// Profile names a known peer whose settings are the defaults of the
	// fields below: "ascom" (Ascom Unite: 128 characters a page),
	// "waveware" (WaveWare SPS-5: 240), "pagegate" (25 pages a session).
	// Go-ahead without ACK (Scope), ID= with CR LF (Zetron) and an
	// optional logon (WaveWare) need no setting.
	Profile string `toml:"profile"`
	// NoChecksum: blocks carry no checksum (senders that leave it out;
	// terminals set to take none).
	NoChecksum bool `toml:"no_checksum"`
	// BareLF: the peer ends lines with LF alone.
	BareLF bool `toml:"bare_lf"`
	// NoLogon: the paging terminal takes blocks without a logon.
	NoLogon bool `toml:"no_logon"`
	// IdleTimeout: on a tap-line, a block or line left unfinished this
	// long is dropped (default 20s).
	IdleTimeout Duration `toml:"idle_timeout"`
	// ReplyWait: how long a paging terminal may take to answer a block
	// (default 10s).
	ReplyWait Duration `toml:"reply_wait"`
	// MaxText is the most characters a paging terminal takes in one page
	// (0: no limit); longer texts are split or truncated (LongText).
	MaxText int `toml:"max_text"`
	// LongText is "split" (the default: pages ending " (1/3)") or
	// "truncate".
	LongText string `toml:"long_text"`
	// MaxPagesPerSession: the paging terminal's limit of pages in one
	// session, after which the agent logs on again (0: none).
	MaxPagesPerSession int `toml:"max_pages_per_session"`

	// For espa-line devices (a nurse call system or PBX is the ESPA 4.4.4
	// control station, we are its paging system; priority, priority_rule
	// and idle_timeout apply too) and espa-system devices (we are the
	// control station of an ESPA paging system, a DECT messaging server,
	// and forward page jobs to it as calls):

	// ESPADialect is "standard" (the default) or "ascom" (the
	// Ascom/Ericsson records 9, A, C and D).
	ESPADialect string `toml:"espa_dialect"`
	// ESPAAddress is the paging system's station address, "0" to "9"
	// (default "2": ours on an espa-line); ESPAControl the control
	// station's (default "1": ours on an espa-system).
	ESPAAddress string `toml:"espa_address"`
	ESPAControl string `toml:"espa_control"`

	// For transmitter devices (the agent encodes POCSAG and keys a paging
	// transmitter itself; port is the serial device whose RTS or DTR keys
	// the PTT, or "none", which keys nothing and is only for audio_file,
	// in tests and the demo):

	// PTTLine is "rts" (the default) or "dtr"; PTTActiveLow keys by
	// dropping it instead.
	PTTLine      string `toml:"ptt_line"`
	PTTActiveLow bool   `toml:"ptt_active_low"`
	// AudioCommand gets the audio (s16le mono) on its standard input:
	// ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r",
	// "22050", "-D", "<device>"]. AudioFile instead appends it to a file
	// or FIFO (tests, the demo; the pages are decodable from it).
	AudioCommand []string `toml:"audio_command"`
	AudioFile    string   `toml:"audio_file"`
	// Modulation is "nrz" (baseband, the default) or "fsk" (tones);
	// SampleRate (default 22050), Amplitude (fraction of full scale,
	// default 0.5) and Invert (1 bits positive) shape the audio.
	Modulation string  `toml:"modulation"`
	SampleRate int     `toml:"sample_rate"`
	Amplitude  float64 `toml:"amplitude"`
	Invert     bool    `toml:"invert"`
	// KeyUp (default 100ms) and Tail (50ms) are the keyed silence before
	// the preamble and after the last bit; OutputLatency the sound
	// device's buffer; MaxTransmission (default 30s) the longest keyed
	// time; DutyLimit (0: none) the share of DutyWindow the transmitter
	// may be keyed, of which CriticalReserve (default one transmission)
	// is kept for critical pages.
	KeyUp           Duration `toml:"key_up"`
	Tail            Duration `toml:"tail"`
	OutputLatency   Duration `toml:"output_latency"`
	MaxTransmission Duration `toml:"max_transmission"`
	DutyLimit       float64  `toml:"duty_limit"`
	DutyWindow      Duration `toml:"duty_window"`
	CriticalReserve Duration `toml:"critical_reserve"`

	// For modem devices:

	// SIMPIN unlocks the SIM when it asks for its PIN.
	SIMPIN string `toml:"sim_pin"`
	// SMSC, if set, is the service centre number (+E.164) written with
	// AT+CSCA; empty keeps the SIM's.
	SMSC string `toml:"smsc"`
	// Pool names the modem pool the modem sends for: jobs for the pool
	// go to whichever of its healthy modems is free first. Empty: the
	// modem takes only jobs addressed to itself.
	Pool string `toml:"pool"`
	// SendInterval is the least time between two SMS this modem sends
	// (the network's and the SIM plan's limits). Default 0.
	SendInterval Duration `toml:"send_interval"`
	// PollInterval is how often signal and registration are read.
	// Default 30s.
	PollInterval Duration `toml:"poll_interval"`
	// SMSLanguages lets GSM 7-bit use national tables ("turkish",
	// "spanish", "portuguese") before it falls back to UCS-2: more
	// characters per SMS where the recipients' phones know the tables.
	SMSLanguages []string `toml:"sms_languages"`
}

// smsLanguages maps sms_languages to smspdu's identifiers.
var smsLanguages = map[string]smspdu.Language{
	"turkish": smspdu.LanguageTurkish, "spanish": smspdu.LanguageSpanish, "portuguese": smspdu.LanguagePortuguese,
}

// tapProfiles are the defaults known peers need.
var tapProfiles = map[string]DeviceConfig{
	"":         {},
	"standard": {},
	"ascom":    {MaxText: 128},
	"waveware": {MaxText: 240},
	"pagegate": {MaxPagesPerSession: 25},
}

// applyProfile fills the quirk fields left zero from the profile.
func (d *DeviceConfig) applyProfile() error {
	p, ok := tapProfiles[d.Profile]
	if !ok {
		return fmt.Errorf("unknown profile %q (ascom, waveware, pagegate, standard)", d.Profile)
	}
	if d.MaxText == 0 {
		d.MaxText = p.MaxText
	}
	if d.MaxPagesPerSession == 0 {
		d.MaxPagesPerSession = p.MaxPagesPerSession
	}
	return nil
}

// bypass reports whether the line passes pages on by itself while the
// gateway is away.
func (d DeviceConfig) bypass() bool { return d.Kind == KindTAPLine && d.Bypass != "off" }

// Line is the device's serial (or tcp://) line configuration.
func (d DeviceConfig) Line() serialport.Config {
	return serialport.Config{Path: d.Port, Baud: d.Baud, DataBits: d.DataBits, StopBits: d.StopBits, Parity: d.Parity, Flow: d.Flow}
}

// allowed parses Allow.
func (d DeviceConfig) allowed() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range d.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Listen returns the address of a listen:// port.
func (d DeviceConfig) Listen() (string, bool) { return strings.CutPrefix(d.Port, "listen://") }

// Device kinds.
const (
	KindModem          = "modem"
	KindPagingTerminal = "paging-terminal"
	KindTAPLine        = "tap-line"
	KindESPALine       = "espa-line"
	// KindLoopback is a device with no line that completes every job at
	// once: for commissioning the bus and the spools without hardware, and
	// for measuring them.
	KindLoopback = "loopback"
)

// DefaultBypassAfter is agent.bypass_after's default.
const DefaultBypassAfter = 30 * time.Second

// DefaultConfig is the configuration before the file is read.
func DefaultConfig() Config {
	return Config{
		Agent: AgentConfig{ID: "agent-1", DataDir: "/var/lib/pagebridge-agent", KeyFile: "/etc/pagebridge/keys/agent-kek",
			CommitLinger: Duration{Duration: time.Millisecond}, BypassAfter: Duration{Duration: DefaultBypassAfter}},
		Bus: BusConfig{Broker: "tcp://127.0.0.1:18830", AckTimeout: Duration{Duration: 10 * time.Second}},
	}
}

// LoadConfig reads path over the defaults and validates it; errors name the
// key.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, fmt.Errorf("config: %s: unknown key", und[0])
	}
	return cfg, cfg.Validate()
}

// Validate checks the whole configuration; serial settings are checked as
// the line will open them (defaults 9600 8N1, no flow control).
func (c *Config) Validate() error {
	a := c.Agent
	switch {
	case !agentapi.ValidID(a.ID):
		return errors.New("config: agent.id: required: letters, digits, '.', '_' or '-', at most 63")
	case !filepath.IsAbs(a.DataDir):
		return errors.New("config: agent.data_dir: must be an absolute path")
	case !filepath.IsAbs(a.KeyFile):
		return errors.New("config: agent.key_file: must be an absolute path")
	case conf.Within(a.DataDir, a.KeyFile):
		return errors.New("config: agent.key_file: must be outside agent.data_dir, so that a copy of the data dir decrypts nothing")
	case a.CommitLinger.Duration < 0 || a.CommitLinger.Duration > 100*time.Millisecond:
		return errors.New("config: agent.commit_linger: 0 to 100ms")
	case a.BypassAfter.Duration != 0 && (a.BypassAfter.Duration < time.Second || a.BypassAfter.Duration > time.Hour):
		return errors.New("config: agent.bypass_after: 1s to 1h")
	}
	if a.BypassAfter.Duration == 0 {
		c.Agent.BypassAfter.Duration = DefaultBypassAfter
	}
	if err := link.CheckBroker(c.Bus.Broker); err != nil {
		return fmt.Errorf("config: bus.broker: %v", err)
	}
	if !link.Secure(c.Bus.Broker) && !link.Loopback(c.Bus.Broker) {
		return errors.New("config: bus.broker: off loopback the bus must use TLS (tls://host:port)")
	}
	if !link.Loopback(c.Bus.Broker) && len(c.Bus.Password) < 12 {
		return errors.New("config: bus.password: required (at least 12 characters) off loopback")
	}
	if c.Bus.CAFile != "" {
		if _, err := os.Stat(c.Bus.CAFile); err != nil {
			return fmt.Errorf("config: bus.ca_file: %v", err)
		}
	}
	if c.Bus.AckTimeout.Duration < 100*time.Millisecond {
		return errors.New("config: bus.ack_timeout: at least 100ms")
	}
	seen := map[string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		key := fmt.Sprintf("config: device[%d]", i)
		switch {
		case d.ID == "":
			return fmt.Errorf("%s.id: required", key)
		case !agentapi.ValidID(d.ID):
			return fmt.Errorf("%s.id: %q: letters, digits, '.', '_' or '-', at most 63", key, d.ID)
		case seen[d.ID]:
			return fmt.Errorf("%s.id: duplicate device %q", key, d.ID)
		case d.Port == "" && d.Kind != KindLoopback && d.Kind != KindTransmitter:
			return fmt.Errorf("%s.port: required", key)
		case d.Port != "" && d.Kind == KindLoopback:
			return fmt.Errorf("%s.port: a loopback device has no port", key)
		case d.MaxInFlight < 0 || d.MaxInFlight > 256:
			return fmt.Errorf("%s.max_in_flight: 1 to 256", key)
		case len(d.Password) > 6:
			return fmt.Errorf("%s.password: TAP passwords are at most 6 characters", key)
		case !d.Priority.Valid():
			return fmt.Errorf("%s.priority: normal, high or critical", key)
		case d.Bypass != "" && d.Bypass != "on" && d.Bypass != "off":
			return fmt.Errorf("%s.bypass: on or off", key)
		case (len(d.PriorityRules) > 0 || d.Priority != paging.PriorityNormal) && d.Kind != KindTAPLine && d.Kind != KindESPALine:
			return fmt.Errorf("%s: priority and priority_rule are for tap-line and espa-line devices", key)
		case d.Bypass != "" && d.Kind != KindTAPLine:
			return fmt.Errorf("%s: bypass is for tap-line devices", key)
		}
		if _, err := d.espaConfig(); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		if _, err := d.transmitterConfig(); err != nil {
			return fmt.Errorf("%s.%v", key, err)
		}
		if d.Kind == KindModem {
			if _, ok := modemProfiles[d.Profile]; !ok {
				return fmt.Errorf("%s.profile: unknown modem profile %q (%s)", key, d.Profile, modemProfileNames())
			}
		} else if err := d.applyProfile(); err != nil {
			return fmt.Errorf("%s.profile: %v", key, err)
		}
		tapKinds := d.Kind == KindTAPLine || d.Kind == KindPagingTerminal
		switch {
		case d.Kind != KindModem && (d.SIMPIN != "" || d.SMSC != "" || d.Pool != "" || d.SendInterval.Duration != 0 || d.PollInterval.Duration != 0 || len(d.SMSLanguages) > 0):
			return fmt.Errorf("%s: sim_pin, smsc, pool, send_interval, poll_interval and sms_languages are for modem devices", key)
		case d.Pool != "" && !agentapi.ValidID(d.Pool):
			return fmt.Errorf("%s.pool: letters, digits, '.', '_' or '-', at most 63", key)
		case d.SMSC != "" && !validE164(d.SMSC):
			return fmt.Errorf("%s.smsc: +E.164", key)
		case d.SendInterval.Duration < 0 || d.SendInterval.Duration > time.Minute:
			return fmt.Errorf("%s.send_interval: 0 to 1m", key)
		case d.PollInterval.Duration != 0 && (d.PollInterval.Duration < time.Second || d.PollInterval.Duration > time.Hour):
			return fmt.Errorf("%s.poll_interval: 1s to 1h", key)
		case !tapKinds && d.Kind != KindModem && (d.Profile != "" || d.NoChecksum || d.BareLF),
			d.Kind == KindModem && (d.NoChecksum || d.BareLF):
			return fmt.Errorf("%s: profile, no_checksum and bare_lf are for tap-line and paging-terminal devices", key)
		case d.Kind != KindPagingTerminal && (d.NoLogon || d.ReplyWait.Duration != 0 || d.MaxText != 0 || d.LongText != "" || d.MaxPagesPerSession != 0):
			return fmt.Errorf("%s: no_logon, reply_wait, max_text, long_text and max_pages_per_session are for paging-terminal devices", key)
		case d.Kind != KindTAPLine && d.Kind != KindESPALine && d.IdleTimeout.Duration != 0:
			return fmt.Errorf("%s.idle_timeout: for tap-line and espa-line devices", key)
		case d.IdleTimeout.Duration < 0 || d.IdleTimeout.Duration > time.Hour:
			return fmt.Errorf("%s.idle_timeout: 0 (default 20s) to 1h", key)
		case d.ReplyWait.Duration < 0 || d.ReplyWait.Duration > 5*time.Minute:
			return fmt.Errorf("%s.reply_wait: 0 (default 10s) to 5m", key)
		case d.MaxText < 0 || (d.MaxText > 0 && d.MaxText < 20) || d.MaxText > 4096:
			return fmt.Errorf("%s.max_text: 0 (no limit) or 20 to 4096", key)
		case d.MaxPagesPerSession < 0 || d.MaxPagesPerSession > 10000:
			return fmt.Errorf("%s.max_pages_per_session: 0 (no limit) to 10000", key)
		}
		for _, l := range d.SMSLanguages {
			if _, ok := smsLanguages[l]; !ok {
				return fmt.Errorf("%s.sms_languages: %q: turkish, spanish or portuguese", key, l)
			}
		}
		if d.LongText != "" {
			if _, err := tap.ParseFitMode(d.LongText); err != nil {
				return fmt.Errorf("%s.long_text: split or truncate", key)
			}
		}
		for j, r := range d.PriorityRules {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("%s.priority_rule[%d]: %v", key, j, err)
			}
		}
		if _, err := d.allowed(); err != nil {
			return fmt.Errorf("%s.allow: %v", key, err)
		}
		if _, listen := d.Listen(); len(d.Allow) > 0 && !listen {
			return fmt.Errorf("%s.allow: only for listen:// lines", key)
		}
		switch d.Kind {
		case KindModem, KindPagingTerminal, KindTAPLine, KindESPALine, KindESPASystem, KindTransmitter, KindLoopback:
		default:
			return fmt.Errorf("%s.kind: unknown kind %q (modem, paging-terminal, tap-line, espa-line, espa-system, transmitter, loopback)", key, d.Kind)
		}
		seen[d.ID] = true
		if d.MaxInFlight == 0 && d.Kind == KindTransmitter {
			d.MaxInFlight = defaultTxInFlight
		}
		if d.MaxInFlight == 0 {
			d.MaxInFlight = 1
		}
		if d.Kind == KindLoopback || d.Kind == KindTransmitter {
			continue
		}
		if addr, ok := d.Listen(); ok {
			if d.Kind != KindTAPLine {
				return fmt.Errorf("%s.port: listen:// is for lines senders connect to (tap-line)", key)
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("%s.port: %v", key, err)
			}
			continue
		}
		if !filepath.IsAbs(d.Port) && !strings.HasPrefix(d.Port, "tcp://") {
			return fmt.Errorf("%s.port: want an absolute device path (/dev/serial/by-id/…), tcp://host:port or listen://addr", key)
		}
		if err := d.Line().Validate(); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	for i, d := range c.Devices {
		if d.Pool != "" && seen[d.Pool] {
			return fmt.Errorf("config: device[%d].pool: %q is also a device's id", i, d.Pool)
		}
	}
	return nil
}

// validE164 reports whether s is + and 7 to 15 digits.
func validE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
