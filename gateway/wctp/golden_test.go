package wctp

import (
	"flag"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the handler's replies")

// TestGolden compares the handler's replies to the requests in testdata
// with the golden files next to them. Message IDs, and so tracking numbers,
// come from the test clock and fixedID.
func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		golden, input string
		edit          func(t *testing.T, body string) string
	}{
		{golden: "submitrequest-v1r1", input: "submitrequest-v1r1.xml"},
		{golden: "submitrequest-v1r3", input: "submitrequest-v1r3.xml"},
		{golden: "submitclientmessage-v1r3", input: "submitclientmessage-v1r3.xml"},
		{golden: "failure-402", input: "submitrequest-v1r1.xml", edit: func(t *testing.T, s string) string {
			return replace(t, s, "mySecretPassword", "wrong")
		}},
		{golden: "failure-client-403", input: "submitclientmessage-v1r3.xml", edit: func(t *testing.T, s string) string {
			return replace(t, s, `recipientID="8005551212"`, `recipientID="0000"`)
		}},
		{golden: "failure-302", input: "submitrequest-v1r3.xml", edit: func(t *testing.T, s string) string {
			return replace(t, s, `messageID="4W-0001" `, "")
		}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			e := newEnv(t, nil)
			body := readTestdata(t, tt.input)
			if tt.edit != nil {
				body = tt.edit(t, body)
			}
			w := e.post(t, body)
			wctpReply(t, w)
			golden(t, tt.golden, w.Body.Bytes())
			if n, wantN := e.acc.Calls(), map[bool]int{true: 0, false: 1}[tt.edit != nil]; n != wantN {
				t.Errorf("Accept called %d times, want %d", n, wantN)
			}
		})
	}
}
