package smspdu

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"

	"pagebridge/internal/peertest"
)

// python3-gammu is the independent PDU codec these tests hold the package
// to: gammu's own C decoder (DecodePDU) and encoder (EncodeSMS, EncodePDU),
// nothing of warthog618/sms. Debian installs it for Debian's python3 only;
// a pyenv or venv python3 earlier in PATH cannot import it, so
// /usr/bin/python3 is tried first.

// gammuScript reads a JSON list of requests on stdin and writes a JSON
// list of answers: {"decode": HEX} → DecodePDU's fields, {"encode": {...}}
// → the hex PDUs gammu builds. A request that fails answers {"Error": …}.
//
// python-gammu turns Text into a string of Length characters, and Length
// counts septets for GSM 7-bit: with escapes (€, [, …) the string runs on
// past gammu's NUL terminator into whatever the buffer held. Text is cut
// at the NUL here, and TextLen reports the full string's length so that
// the tests can check the septet count too.
const gammuScript = `
import binascii, datetime, json, sys
import gammu

def when(v):
    return v.isoformat() if v else None

def decode(h):
    d = gammu.DecodePDU(binascii.unhexlify(h), SMSC=True)
    t = d['Text']
    if isinstance(t, bytes):
        t = t.hex()
    n = t.find('\x00')
    u = d['UDH']
    return {'Type': d['Type'], 'Number': d['Number'], 'Coding': d['Coding'],
            'Text': t if n < 0 else t[:n], 'TextLen': len(t), 'Length': d['Length'],
            'UDHType': u['Type'], 'ID8bit': u['ID8bit'], 'ID16bit': u['ID16bit'],
            'PartNumber': u['PartNumber'], 'AllParts': u['AllParts'],
            'Validity': d['SMSC']['Validity'], 'SMSC': d['SMSC']['Number'],
            'MessageReference': d['MessageReference'], 'DeliveryStatus': d['DeliveryStatus'],
            'DateTime': when(d['DateTime']), 'SMSCDateTime': when(d['SMSCDateTime'])}

def encode(r):
    if r.get('Concat'):
        msgs = gammu.EncodeSMS({'Class': -1, 'Unicode': r['Unicode'],
            'Entries': [{'ID': r['Concat'], 'Buffer': r['Text']}]})
    else:
        msgs = [{'Text': r['Text'],
                 'Coding': 'Unicode_No_Compression' if r['Unicode'] else 'Default_No_Compression'}]
    out = []
    for m in msgs:
        m.update({'Number': r['Number'], 'Type': r['Type'], 'Folder': 0, 'Location': 0,
                  'MessageReference': r.get('MR', 0),
                  'SMSC': {'Location': 0, 'Number': r.get('SMSC', ''), 'Validity': r.get('Validity', 'NA')}})
        if r.get('DateTime'):
            m['DateTime'] = datetime.datetime.fromisoformat(r['DateTime'])
        out.append(binascii.hexlify(gammu.EncodePDU(m, Layout=r['Layout'])).decode())
    return out

res = []
for req in json.load(sys.stdin):
    try:
        res.append(decode(req['decode']) if 'decode' in req else {'PDUs': encode(req['encode'])})
    except Exception as e:
        res.append({'Error': '%s: %s' % (type(e).__name__, e)})
json.dump(res, sys.stdout)
`

// gammuSMS is what gammu.DecodePDU made of a PDU.
type gammuSMS struct {
	Error            string
	Type             string // Submit, Deliver, Status_Report
	Number           string // "+" and digits for an international number
	Coding           string // Default_No_Compression, Unicode_No_Compression, 8bit
	Text             string
	TextLen          int
	Length           int // septets (GSM 7-bit) or UCS-2 code units of this part
	UDHType          string
	ID8bit, ID16bit  int
	PartNumber       int
	AllParts         int
	Validity         string // SMS-SUBMIT's relative TP-VP: "240M", "1D", "5W", "NA"
	SMSC             string
	MessageReference int
	DeliveryStatus   int
	DateTime         *string
	SMSCDateTime     *string
}

// gammuEncodeReq asks gammu to build PDUs: Layout "Submit" or "Deliver",
// Type "Submit", "Status_Report" (gammu's name for a SUBMIT that requests
// a report) or "Deliver"; Concat "ConcatenatedTextLong" or
// "ConcatenatedTextLong16bit" to split a long text.
type gammuEncodeReq struct {
	Layout   string `json:"Layout"`
	Type     string `json:"Type"`
	Number   string `json:"Number"`
	Text     string `json:"Text"`
	Unicode  bool   `json:"Unicode"`
	Concat   string `json:"Concat,omitempty"`
	Validity string `json:"Validity,omitempty"`
	MR       int    `json:"MR,omitempty"`
	SMSC     string `json:"SMSC,omitempty"`
	DateTime string `json:"DateTime,omitempty"`
}

var gammuPy struct {
	once sync.Once
	path string
	why  string
}

// gammuPython finds a python3 that can import gammu, or skips t (fails it
// under PAGEBRIDGE_REQUIRE_PEERS=1).
func gammuPython(t *testing.T) string {
	t.Helper()
	gammuPy.once.Do(func() {
		cands := []string{"/usr/bin/python3"}
		if p, ok := peertest.Find("python3"); ok {
			cands = append(cands, p)
		}
		for _, c := range cands {
			if err := exec.Command(c, "-c", "import gammu").Run(); err == nil {
				gammuPy.path = c
				return
			}
		}
		gammuPy.why = "python3-gammu is not installed (Debian package python3-gammu, imported by Debian's /usr/bin/python3)"
	})
	if gammuPy.path == "" {
		peertest.Missing(t, gammuPy.why)
	}
	return gammuPy.path
}

func runGammu(t *testing.T, reqs []any) []json.RawMessage {
	t.Helper()
	py := gammuPython(t)
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", gammuScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3-gammu: %v\n%s", err, stderr.Bytes())
	}
	var res []json.RawMessage
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(reqs) {
		t.Fatalf("python3-gammu answered %d of %d (%v): %s", len(res), len(reqs), err, out)
	}
	return res
}

// gammuDecode decodes each hex PDU (service centre address first) with
// gammu.DecodePDU.
func gammuDecode(t *testing.T, pdus []string) []gammuSMS {
	t.Helper()
	reqs := make([]any, len(pdus))
	for i, p := range pdus {
		reqs[i] = map[string]string{"decode": p}
	}
	res := runGammu(t, reqs)
	out := make([]gammuSMS, len(res))
	for i, r := range res {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("gammu answer %d: %v", i, err)
		}
	}
	return out
}

// gammuEncode builds PDUs with gammu's own encoder, one list per request.
func gammuEncode(t *testing.T, reqs []gammuEncodeReq) [][]string {
	t.Helper()
	in := make([]any, len(reqs))
	for i, r := range reqs {
		in[i] = map[string]any{"encode": r}
	}
	res := runGammu(t, in)
	out := make([][]string, len(res))
	for i, r := range res {
		var a struct {
			PDUs  []string
			Error string
		}
		if err := json.Unmarshal(r, &a); err != nil {
			t.Fatalf("gammu answer %d: %v", i, err)
		}
		if a.Error != "" {
			t.Fatalf("gammu could not encode request %d: %s", i, a.Error)
		}
		out[i] = a.PDUs
	}
	return out
}
