package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		name, toml, wantErr string
	}{
		{"ok", "[agent]\nid='a'\n[[device]]\nid='m1'\nkind='modem'\nport='/dev/ttyUSB2'\n", ""},
		{"tcp", "[[device]]\nid='t'\nkind='tap-line'\nport='tcp://127.0.0.1:4001'\n", ""},
		{"unknown key", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nbaudrate=9600\n", "device.baudrate: unknown key"},
		{"kind", "[[device]]\nid='m1'\nkind='fax'\nport='/dev/x'\n", "device[0].kind"},
		{"dup", "[[device]]\nid='m'\nkind='modem'\nport='/dev/x'\n[[device]]\nid='m'\nkind='modem'\nport='/dev/y'\n", "duplicate"},
		{"bad tcp", "[[device]]\nid='m'\nkind='modem'\nport='tcp://nohost'\n", "device[0]: serialport: bad config: tcp address"},
		{"parity", "[[device]]\nid='m'\nkind='modem'\nport='/dev/x'\nparity='weird'\n", "parity"},
		{"syntax", "[[device]\n", "config"},
		{"espa line", "[[device]]\nid='e'\nkind='espa-line'\nport='/dev/x'\nespa_dialect='ascom'\nespa_address='3'\nespa_control='1'\nidle_timeout='30s'\npriority='high'\n", ""},
		{"espa dialect", "[[device]]\nid='e'\nkind='espa-line'\nport='/dev/x'\nespa_dialect='multitone'\n", "espa_dialect"},
		{"espa address", "[[device]]\nid='e'\nkind='espa-line'\nport='/dev/x'\nespa_address='12'\n", "espa_address: one digit"},
		{"espa same addresses", "[[device]]\nid='e'\nkind='espa-line'\nport='/dev/x'\nespa_address='1'\n", "espa_address: the same"},
		{"espa key on a tap line", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\nespa_dialect='ascom'\n", "for espa-line"},
		{"espa system", "[[device]]\nid='dect'\nkind='espa-system'\nport='tcp://192.0.2.7:4001'\nespa_address='2'\nespa_control='1'\n", ""},
		{"espa system same addresses", "[[device]]\nid='dect'\nkind='espa-system'\nport='/dev/x'\nespa_control='2'\n", "espa_address: the same"},
		{"espa system listen", "[[device]]\nid='dect'\nkind='espa-system'\nport='listen://127.0.0.1:4000'\n", "listen://"},
		{"espa bypass", "[[device]]\nid='e'\nkind='espa-line'\nport='/dev/x'\nbypass='on'\n", "bypass is for tap-line"},
		{"espa listen", "[[device]]\nid='e'\nkind='espa-line'\nport='listen://127.0.0.1:4000'\n", "listen://"},
		{"key in data dir", "[agent]\nid='a'\ndata_dir='/var/lib/pa'\nkey_file='/var/lib/pa/k'\n", "agent.key_file: must be outside"},
		{"plain off loopback", "[bus]\nbroker='tcp://10.0.0.5:1883'\n", "must use TLS"},
		{"tls needs password", "[bus]\nbroker='tls://10.0.0.5:8883'\n", "bus.password"},
		{"tls ok", "[bus]\nbroker='tls://10.0.0.5:8883'\npassword='0123456789abc'\n", ""},
		{"bad broker", "[bus]\nbroker='http://x'\n", "bus.broker"},
		{"listen for modem", "[[device]]\nid='m'\nkind='modem'\nport='listen://127.0.0.1:4000'\n", "listen://"},
		{"listen tap", "[[device]]\nid='t'\nkind='tap-line'\nport='listen://127.0.0.1:4000'\n", ""},
		{"relative port", "[[device]]\nid='t'\nkind='tap-line'\nport='ttyUSB0'\n", "absolute device path"},
		{"bad id", "[[device]]\nid='a/b'\nkind='tap-line'\nport='/dev/x'\n", "device[0].id"},
		{"loopback", "[[device]]\nid='l'\nkind='loopback'\nmax_in_flight=32\n", ""},
		{"loopback with a port", "[[device]]\nid='l'\nkind='loopback'\nport='/dev/x'\n", "no port"},
		{"in flight", "[[device]]\nid='l'\nkind='loopback'\nmax_in_flight=1000\n", "max_in_flight"},
		{"tap line quirks", "[agent]\nbypass_after='10s'\n[[device]]\nid='t'\nkind='tap-line'\nport='listen://127.0.0.1:4000'\nallow=['10.1.0.0/16']\nno_checksum=true\nbare_lf=true\nidle_timeout='8s'\npriority='high'\nbypass='off'\n[[device.priority_rule]]\nstarts_with='CODE BLUE'\npriority='critical'\n", ""},
		{"terminal quirks", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nprofile='ascom'\nlong_text='truncate'\nno_logon=true\nreply_wait='30s'\nmax_pages_per_session=25\n", ""},
		{"unknown profile", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nprofile='motorola'\n", "device[0].profile"},
		{"long_text", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nlong_text='wrap'\n", "long_text"},
		{"max_text", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nmax_text=5\n", "max_text"},
		{"terminal field on a line", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\nmax_text=100\n", "for paging-terminal"},
		{"idle on a terminal", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nidle_timeout='5s'\n", "idle_timeout"},
		{"quirk on a modem", "[[device]]\nid='m'\nkind='modem'\nport='/dev/x'\nno_checksum=true\n", "for tap-line and paging-terminal"},
		{"priority on a terminal", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\npriority='high'\n", "for tap-line"},
		{"bad priority", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\npriority='urgent'\n", "priority"},
		{"bad rule", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\n[[device.priority_rule]]\nstarts_with='X'\ncontains='Y'\npriority='high'\n", "priority_rule[0]"},
		{"bypass word", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\nbypass='maybe'\n", "bypass"},
		{"allow", "[[device]]\nid='t'\nkind='tap-line'\nport='listen://127.0.0.1:4000'\nallow=['10.1.0.0/33']\n", "allow"},
		{"allow on serial", "[[device]]\nid='t'\nkind='tap-line'\nport='/dev/x'\nallow=['10.1.0.0/16']\n", "only for listen"},
		{"bypass_after", "[agent]\nbypass_after='10ms'\n", "bypass_after"},
		{"modem pool", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nprofile='simcom-sim800'\npool='sms'\nsim_pin='1234'\nsmsc='+491710760000'\nsend_interval='2s'\npoll_interval='15s'\n", ""},
		{"sms languages", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nsms_languages=['turkish','spanish']\n", ""},
		{"sms language", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nsms_languages=['klingon']\n", "sms_languages"},
		{"modem profile", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nprofile='ascom'\n", "unknown modem profile"},
		{"pool is a device", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\npool='m2'\n[[device]]\nid='m2'\nkind='modem'\nport='/dev/y'\n", "also a device"},
		{"smsc", "[[device]]\nid='m1'\nkind='modem'\nport='/dev/x'\nsmsc='0171'\n", "smsc"},
		{"sim_pin on a terminal", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\nsim_pin='1234'\n", "for modem devices"},
		{"long password", "[[device]]\nid='t'\nkind='paging-terminal'\nport='/dev/x'\npassword='1234567'\n", "at most 6"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "agent.toml")
		os.WriteFile(p, []byte(c.toml), 0o600)
		cfg, err := LoadConfig(p)
		if c.name == "terminal quirks" && err == nil && cfg.Devices[0].MaxText != 128 {
			t.Errorf("profile ascom: max_text %d, want 128", cfg.Devices[0].MaxText)
		}
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.wantErr)
		}
	}
}
