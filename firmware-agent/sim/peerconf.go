package sim

import (
	"fmt"
	"strings"
)

// The configurations of the SMS peers that drive a simulated modem (the
// reference's, sms-modem-mqtt.md §3), for the sim tests and the SMS
// bench alike.

// SMSToolsConfig is smstools3's smsd.conf for one modem at device, its
// queues in the directories outgoing, checked, incoming, sent, failed and
// report under spool (the caller makes them), its log, pid and info files
// there too: status reports requested, incoming messages read, the
// outgoing queue looked at every second. extra lines go into the global
// section ("loglevel = 7").
func SMSToolsConfig(spool, device string, extra ...string) string {
	return fmt.Sprintf(`devices = GSM1
outgoing = %[1]s/outgoing
checked = %[1]s/checked
incoming = %[1]s/incoming
sent = %[1]s/sent
failed = %[1]s/failed
report = %[1]s/report
logfile = %[1]s/smsd.log
pidfile = %[1]s/smsd.pid
infofile = %[1]s/smsd.working
delaytime = 1
%[3]s[GSM1]
device = %[2]s
baudrate = 115200
incoming = yes
report = yes
init = AT+CPMS="SM","SM","SM";+CNMI=2,1,0,2,0
send_retries = 2
`, spool, device, lines(extra))
}

// GammuSMSDConfig is gammu-smsd's configuration (files service) for one
// modem at device, its directories in, err and sent under dir and its
// outbox dir/outbox (the caller makes them), its log there too: delivery
// reports requested, no security or battery checks. extra lines go into
// the [smsd] section ("commtimeout = 1", "debuglevel = 1").
func GammuSMSDConfig(dir, device, outbox string, extra ...string) string {
	return fmt.Sprintf(`[gammu]
device = %[2]s
connection = at
[smsd]
service = files
inboxpath = %[1]s/in/
outboxpath = %[1]s/%[3]s/
sentsmspath = %[1]s/sent/
errorsmspath = %[1]s/err/
logfile = %[1]s/smsd.log
deliveryreport = sms
checksecurity = 0
checkbattery = 0
%[4]s`, dir, device, outbox, lines(extra))
}

func lines(ls []string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}
