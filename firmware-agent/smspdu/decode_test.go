package smspdu

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A well-known SMS-DELIVER, in pieces that the malformed cases change:
// SMSC +31624000000; from +31641600986; SCTS 2002-08-26 19:37:41 +02:00;
// "How are you?" in GSM 7-bit.
const (
	dSMSC = "07911326040000F0"
	dFO   = "04"
	dOA   = "0B911346610089F6"
	dPID  = "00"
	dDCS  = "00"
	dSCTS = "20806291731408"
	dUD   = "0CC8F71D14969741F977FD07"
)

const deliverPDU = dSMSC + dFO + dOA + dPID + dDCS + dSCTS + dUD

// del builds an SMS-DELIVER without SMSC from a first octet, DCS and user
// data (UDL included).
func del(fo, dcs, ud string) string { return "00" + fo + dOA + dPID + dcs + dSCTS + ud }

func TestDecodeDeliverGolden(t *testing.T) {
	for _, pdu := range []string{deliverPDU, strings.ToLower(deliverPDU), "  " + deliverPDU + "\r\n"} {
		d, err := DecodeDeliver(pdu)
		if err != nil {
			t.Fatal(err)
		}
		// Its zone octet 08 is -0 (sign bit, no quarter hours), though
		// it is often read as +2 h.
		want := time.Date(2002, 8, 26, 19, 37, 41, 0, time.UTC)
		if d.From != (Address{TONInternational, "31641600986"}) || d.SMSC != (Address{TONInternational, "31624000000"}) ||
			!d.Sent.Equal(want) || d.Coding != CodingGSM7 || d.Text.Reveal() != "How are you?" || d.Concat != (Concat{}) {
			t.Errorf("%+v (text %q)", d, d.Text.Reveal())
		}
	}
	// A 16-bit reference, UCS-2: ref 0x1234, part 2 of 3, "AB".
	d, err := DecodeDeliver(del("44", "08", "0B"+"0608041234"+"0302"+"00410042"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Concat != (Concat{Ref: 0x1234, Ref16: true, Seq: 2, Total: 3}) || d.Text.Reveal() != "AB" || d.Coding != CodingUCS2 {
		t.Errorf("%+v", d)
	}
	// UDL 0: an empty message.
	if d, err := DecodeDeliver(del(dFO, dDCS, "00")); err != nil || !d.Text.IsZero() {
		t.Errorf("empty message: %v", err)
	}
}

func TestDecodeStatusReportGolden(t *testing.T) {
	sr, err := DecodeStatusReport(statusReports[0].pdu)
	if err != nil {
		t.Fatal(err)
	}
	if sr.MR != 42 || sr.Status != 0 || sr.Outcome != OutcomeDelivered || sr.Recipient.String() != "+4917012345678" {
		t.Errorf("%+v", sr)
	}
	// Some modems give the optional TP-PI octet (here 00: nothing follows).
	if sr, err := DecodeStatusReport(statusReports[4].pdu + "00"); err != nil || sr.Outcome != OutcomeFailedPermanent {
		t.Errorf("with TP-PI: %+v %v", sr, err)
	}
}

func TestClassify(t *testing.T) {
	want := map[Outcome][]byte{
		OutcomeDelivered:       {0x00, 0x01, 0x02},
		OutcomeUnknown:         {0x03, 0x0F, 0x10, 0x1F, 0x80, 0xC6, 0xFF},
		OutcomePending:         {0x20, 0x25, 0x30, 0x3F},
		OutcomeFailedPermanent: {0x40, 0x46, 0x49, 0x5F},
		OutcomeFailedTemporary: {0x60, 0x62, 0x7F},
	}
	for o, sts := range want {
		for _, st := range sts {
			if got := Classify(st); got != o {
				t.Errorf("%#x: %v, want %v", st, got, o)
			}
		}
	}
	if !OutcomeDelivered.Final() || OutcomePending.Final() || OutcomeUnknown.Final() || !OutcomeFailedTemporary.Final() {
		t.Error("Final")
	}
	if s := StatusText(0x46); s != "0x46 validity period expired (failed_perm)" {
		t.Errorf("StatusText %q", s)
	}
	if s := StatusText(0x15); s != "0x15 specific to the SC (unknown)" {
		t.Errorf("StatusText %q", s)
	}
}

// malformed are inbound PDUs that must give a clear error, never a panic
// or a message.
var malformed = []struct {
	name   string
	report bool // DecodeStatusReport instead of DecodeDeliver
	pdu    string
	want   error
	says   string
}{
	{"empty", false, "", ErrMalformed, "empty"},
	{"blank", false, " \r\n", ErrMalformed, "empty"},
	{"not hex", false, "0G" + deliverPDU[2:], ErrMalformed, "not hex at character 2"},
	{"odd hex digits", false, deliverPDU[:len(deliverPDU)-1], ErrMalformed, "odd number"},
	{"longer than any SMS", false, strings.Repeat("00", 200), ErrMalformed, "longer than any"},
	{"SMSC only", false, "00", ErrMalformed, "TPDU of 0 octets"},
	{"SMSC longer than the PDU", false, "0791132604", ErrMalformed, "service centre address"},
	{"SMSC of 30 digits", false, "10911326040000F01326040000F013260400" + dFO + dOA, ErrMalformed, "service centre address of"},
	{"originating address cut", false, "00" + dFO + "0B9113466100", ErrMalformed, "truncated"},
	{"originating address of 64 digits", false, "00" + dFO + "40" + dOA[2:] + dPID + dDCS + dSCTS + dUD, ErrMalformed, "originating address of 64"},
	{"reserved MTI 3", false, "00" + "07" + deliverPDU[len(dSMSC)+2:], ErrMalformed, "reserved message type"},
	{"status report as deliver", false, statusReports[0].pdu, ErrWrongType, "SMS-STATUS-REPORT, want SMS-DELIVER"},
	{"submit report as deliver", false, "00" + "01" + "00" + "00" + dSCTS, ErrWrongType, "SMS-SUBMIT-REPORT"},
	{"deliver as status report", true, deliverPDU, ErrWrongType, "SMS-DELIVER, want SMS-STATUS-REPORT"},
	{"time stamp month 13", false, "00" + dFO + dOA + dPID + dDCS + "20316291731408" + dUD, ErrMalformed, "service centre time stamp"},
	{"time stamp hour 25", false, "00" + dFO + dOA + dPID + dDCS + "20806252731408" + dUD, ErrMalformed, "field 4 out of range"},
	{"time stamp not BCD", false, "00" + dFO + dOA + dPID + dDCS + "2A806291731408" + dUD, ErrMalformed, "scts"},
	{"time stamp zone +19:45", false, "00" + dFO + dOA + dPID + dDCS + "20806291731497" + dUD, ErrMalformed, "time zone"},
	{"no user data length", false, "00" + dFO + dOA + dPID + dDCS + dSCTS, ErrMalformed, "udl"},
	{"user data shorter than its length", false, del(dFO, dDCS, "0D"+dUD[2:]), ErrMalformed, "truncated"},
	{"user data longer than its length", false, del(dFO, dDCS, dUD+"00"), ErrMalformed, "longer than its length"},
	{"UDH longer than the user data", false, del("44", "08", "04"+"0A000301"), ErrMalformed, "udh"},
	{"concatenation part 3 of 2", false, del("44", "08", "0A"+"0500032A0203"+"00410042"), ErrMalformed, "part 3 of 2"},
	{"concatenation part 0", false, del("44", "08", "0A"+"0500032A0200"+"00410042"), ErrMalformed, "part 0 of 2"},
	{"concatenation of 0 parts", false, del("44", "08", "0A"+"0500032A0000"+"00410042"), ErrMalformed, "part 0 of 0"},
	{"concatenation element of 2 octets", false, del("44", "08", "09"+"0400022A02"+"00410042"), ErrMalformed, "element 0x00 of 2 octets"},
	{"16-bit concatenation of 3 octets", false, del("44", "08", "0A"+"050803120203"+"00410042"), ErrMalformed, "element 0x08 of 3 octets"},
	{"odd UCS-2 length", false, del(dFO, "08", "03"+"004100"), ErrMalformed, "odd length"},
	{"half a surrogate pair", false, del(dFO, "08", "04"+"0041D83D"), ErrMalformed, "half a surrogate pair"},
	{"reserved coding group", false, del(dFO, "80", dUD), ErrMalformed, "alphabet"},
	{"compressed text", false, del(dFO, "20", dUD), ErrUnsupported, "compressed"},
	{"status report without TP-ST", true, statusReports[0].pdu[:len(statusReports[0].pdu)-2], ErrMalformed, "st"},
	{"status report discharge month 0", true, "00062A0D91947110325476F8" + "62304050607040" + "62000450607340" + "00", ErrMalformed, "discharge time"},
	{"status report recipient cut", true, "00062A0D91947110", ErrMalformed, "truncated"},
	{"status report recipient of 22 digits", true, "00062A1691" + "947110325476F8", ErrMalformed, "recipient address of 22"},
}

func TestDecodeMalformed(t *testing.T) {
	for _, c := range malformed {
		var err error
		if c.report {
			_, err = DecodeStatusReport(c.pdu)
		} else {
			_, err = DecodeDeliver(c.pdu)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %q does not say %q", c.name, err, c.says)
		}
		// Never the octets of the text: the sms package's own messages for
		// these print them.
		for _, leak := range []string{"0xd8", "0x3d", "0x00, 0x41", "D83D", "d83d"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: %q quotes data", c.name, err)
			}
		}
	}
}

func TestCheckLength(t *testing.T) {
	n := len(deliverPDU)/2 - len(dSMSC)/2
	if err := CheckLength(deliverPDU, n); err != nil {
		t.Error(err)
	}
	if err := CheckLength(deliverPDU, n+1); !errors.Is(err, ErrLength) {
		t.Errorf("wrong length: %v", err)
	}
	if err := CheckLength(deliverPDU[:len(deliverPDU)-2], n); !errors.Is(err, ErrLength) {
		t.Errorf("a lost octet: %v", err)
	}
	if err := CheckLength("0791", 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad SMSC: %v", err)
	}
	if err := CheckLength("xy", 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad hex: %v", err)
	}
}
