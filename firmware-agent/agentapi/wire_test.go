package agentapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
)

var at = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func key() paging.ID { return paging.NewID(at) }

func TestRoundTrip(t *testing.T) {
	bodies := []struct {
		in  Body
		out Body
	}{
		{&Job{Device: "term-1", Priority: paging.PriorityCritical, Action: "tap.page", To: "1002", Text: "CODE BLUE 4W", Attempt: 1}, &Job{}},
		{&Result{Job: key().String(), Device: "term-1", Outcome: OutcomeUnknown, Code: "211", Note: "re-sent", At: at, Attempt: 2, Resent: true}, &Result{}},
		{&Inbound{Line: "tap-2", Protocol: paging.ProtocolTAP, PagerID: "1002", Priority: paging.PriorityHigh, Text: "bed 4", Received: at}, &Inbound{}},
		{&Ack{Keys: []string{key().String(), key().String()}}, &Ack{}},
		{&AgentStatus{Agent: "agent-1", State: "online", Version: "dev", Devices: []DeviceStatus{{ID: "modem-1", Kind: "modem", State: DeviceReady, Since: at, Queue: 3}}}, &AgentStatus{}},
	}
	for _, b := range bodies {
		k := key()
		raw, err := Encode(k, at, b.in)
		if err != nil {
			t.Fatalf("%T: %v", b.in, err)
		}
		e, err := Open(raw, b.out)
		if err != nil {
			t.Fatalf("%T: %v", b.in, err)
		}
		if e.Key != k.String() || !e.Sent.Equal(at) {
			t.Errorf("%T: envelope %+v", b.in, e)
		}
		if fmt.Sprintf("%#v", b.in) != fmt.Sprintf("%#v", b.out) {
			t.Errorf("%T round trip:\n%#v\n%#v", b.in, b.in, b.out)
		}
	}
}

// TestMalformed is the table of bad bus payloads: each is refused with a
// clear error wrapping one of the package's sentinels, never a panic.
func TestMalformed(t *testing.T) {
	job := func(mut func(*Job)) []byte {
		j := Job{Device: "term-1", Action: "tap.page", To: "1002", Text: "x", Attempt: 1}
		mut(&j)
		b, _ := jsonMarshal(j)
		return envelope(KindJob, key().String(), string(b))
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"binary garbage", []byte("\x00\x01\xfe\xff"), ErrMalformed},
		{"json array", []byte(`[1,2,3]`), ErrMalformed},
		{"wrong version", []byte(strings.Replace(string(envelope(KindJob, key().String(), `{}`)), `"v":1`, `"v":7`, 1)), ErrVersion},
		{"oversize", []byte(`{"v":1,"body":"` + strings.Repeat("A", MaxPayload) + `"}`), ErrTooLarge},
		{"key not a ULID", envelope(KindJob, "!!!!!!!!!!!!!!!!!!!!!!!!!!", `{}`), ErrMalformed},
		{"kind mismatch", envelope(KindAck, key().String(), `{"keys":[]}`), ErrMalformed},
		{"body not an object", envelope(KindJob, key().String(), `"job"`), ErrMalformed},
		{"unknown field", envelope(KindJob, key().String(), `{"device":"t","action":"a","to":"1","attempt":1,"rm":"-rf"}`), ErrMalformed},
		{"bad device id", job(func(j *Job) { j.Device = "../etc/passwd" }), ErrMalformed},
		{"device id with topic wildcard", job(func(j *Job) { j.Device = "term/#" }), ErrMalformed},
		{"bad priority", job(func(j *Job) { j.Priority = 9 }), ErrMalformed},
		{"no recipient", job(func(j *Job) { j.To = "" }), ErrMalformed},
		{"attempt zero", job(func(j *Job) { j.Attempt = 0 }), ErrMalformed},
		{"text not UTF-8", envelope(KindJob, key().String(), "{\"device\":\"t\",\"action\":\"a\",\"to\":\"1\",\"attempt\":1,\"text\":\"\xff\xfe\"}"), ErrMalformed},
		{"trailing data", append(envelope(KindJob, key().String(), `{}`), []byte(`{}`)...), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.in, &Job{})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// Acks, results and statuses have their own checks.
	for name, raw := range map[string][]byte{
		"ack without keys":       envelope(KindAck, key().String(), `{"keys":[]}`),
		"ack with a short key":   envelope(KindAck, key().String(), `{"keys":["x"]}`),
		"result unknown outcome": envelope(KindResult, key().String(), `{"job":"`+key().String()+`","device":"d","outcome":"maybe","at":"2026-11-26T12:00:00Z"}`),
		"status bad state":       envelope(KindStatus, key().String(), `{"agent":"a","state":"sleepy"}`),
	} {
		var dst Body
		switch {
		case strings.HasPrefix(name, "ack"):
			dst = &Ack{}
		case strings.HasPrefix(name, "result"):
			dst = &Result{}
		default:
			dst = &AgentStatus{}
		}
		if _, err := Open(raw, dst); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestTextRedacts(t *testing.T) {
	j := Job{Device: "t", Action: "a", To: "1", Text: "Jane Doe bed 12", Attempt: 1}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("job", "job", j, "text", j.Text)
	out := b.String() + fmt.Sprintf("%v %+v %#v %s %q", j, j, j, j.Text, j.Text)
	if strings.Contains(out, "Jane") {
		t.Fatalf("text leaked: %s", out)
	}
	raw, err := Encode(key(), at, &j)
	if err != nil || !strings.Contains(string(raw), "Jane Doe bed 12") {
		t.Fatalf("the wire must carry the text: %s %v", raw, err)
	}
}

func FuzzOpen(f *testing.F) {
	for _, b := range []Body{
		&Job{Device: "term-1", Action: "tap.page", To: "1002", Text: "x", Attempt: 1},
		&Ack{Keys: []string{paging.NewID(at).String()}},
	} {
		raw, _ := Encode(paging.NewID(at), at, b)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The one-pass decoding and the long way agree on what opens, and
		// to what (on an error dst holds whatever was decoded so far).
		var fast, slow Job
		_, errFast := Open(b, &fast)
		_, errSlow := openSlow(b, &slow, KindJob)
		if (errFast == nil) != (errSlow == nil) || errFast == nil && fast != slow {
			t.Fatalf("Open and openSlow disagree: %v / %v\n%#v\n%#v", errFast, errSlow, fast, slow)
		}
		var j Job
		if _, err := Open(b, &j); err == nil {
			// Whatever opens re-encodes and opens to the same job.
			raw, err := Encode(paging.NewID(at), at, &j)
			if err != nil {
				t.Fatalf("valid job does not encode: %v", err)
			}
			var j2 Job
			if _, err := Open(raw, &j2); err != nil || j2 != j {
				t.Fatalf("round trip: %v %#v %#v", err, j, j2)
			}
		}
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func envelope(kind, key, body string) []byte {
	return []byte(`{"v":1,"key":"` + key + `","sent":"2026-11-26T12:00:00Z","kind":"` + kind + `","body":` + body + `}`)
}
