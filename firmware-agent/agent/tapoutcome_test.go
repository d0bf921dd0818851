package agent

import (
	"errors"
	"fmt"
	"testing"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/tap"
)

// What each answer of a paging terminal, or failure of its line, makes of
// a job: a result, or the end of the session with the job in flight (run
// again as "outcome unknown, re-sent") or not yet written.
func TestTapOutcome(t *testing.T) {
	replyCode := func(code int, a tap.Action) tap.Reply {
		return tap.Reply{Lines: []tap.ReplyLine{{Code: code, Text: "x"}}, Action: a}
	}
	sendErr := func(outcome error, r tap.Reply, cause error) error {
		return &tap.SendError{Outcome: outcome, Reply: r, Sends: 1, Err: cause}
	}
	lineErr := fmt.Errorf("%w: write: input/output error", tap.ErrLine)
	cases := []struct {
		name  string
		reply tap.Reply
		err   error
		want  outcome
		// wantErr: the session ends; the job was in flight unless notSent.
		wantErr bool
	}{
		{"211", tap.Accepted(), nil, outcome{Outcome: agentapi.OutcomeSent, Code: "211"}, false},
		{"212 truncated", replyCode(tap.CodeTruncated, tap.ACK), nil,
			outcome{Outcome: agentapi.OutcomeSent, Code: "212", Note: "terminal truncated the message"}, false},
		{"214 truncated", replyCode(tap.CodeCharMaxCut, tap.ACK), nil,
			outcome{Outcome: agentapi.OutcomeSent, Code: "214", Note: "terminal truncated the message"}, false},
		{"213 deferred", replyCode(tap.CodeDeferred, tap.ACK), nil,
			outcome{Outcome: agentapi.OutcomeSent, Code: "213", Note: "terminal holds the page for deferred delivery"}, false},
		{"RS", tap.Reply{}, sendErr(tap.ErrPermanent, tap.Rejected(tap.CodeUnknownID, "Invalid Pager ID"), tap.ErrRS),
			outcome{Outcome: agentapi.OutcomeFailPerm, Code: "511", Note: tap.ErrRS.Error()}, false},
		{"page TAP cannot carry", tap.Reply{}, sendErr(tap.ErrPermanent, tap.Reply{}, tap.ErrInvalidPage),
			outcome{Outcome: agentapi.OutcomeFailPerm, Note: tap.ErrInvalidPage.Error()}, false},
		{"NAK to every send", tap.Reply{}, sendErr(tap.ErrTemporary, tap.Resend(tap.CodeTryLater, "Try later"), tap.ErrNAK),
			outcome{Outcome: agentapi.OutcomeFailTemp, Code: "512", Note: "terminal answered NAK to every send"}, false},
		{"no answer to the last block", tap.Reply{}, sendErr(tap.ErrUnknown, tap.Reply{}, tap.ErrTimeout),
			outcome{NotSent: false}, true},
		{"line failed after the last block", tap.Reply{}, sendErr(tap.ErrUnknown, tap.Reply{}, lineErr),
			outcome{NotSent: false}, true},
		{"terminal disconnected", tap.Reply{}, sendErr(tap.ErrTemporary, tap.Reply{Action: tap.Disconnect}, tap.ErrDisconnected),
			outcome{NotSent: true}, true},
		{"line failed before the last block", tap.Reply{}, sendErr(tap.ErrTemporary, tap.Reply{}, lineErr),
			outcome{NotSent: true}, true},
		{"not logged on", tap.Reply{}, sendErr(tap.ErrTemporary, tap.Reply{}, tap.ErrNotLoggedOn),
			outcome{NotSent: true}, true},
		{"not a SendError", tap.Reply{}, errors.New("something else"), outcome{NotSent: true}, true},
	}
	for _, c := range cases {
		got := tapOutcome(c.reply, c.err)
		if (got.Err != nil) != c.wantErr {
			t.Errorf("%s: Err %v, want an error %v", c.name, got.Err, c.wantErr)
			continue
		}
		if c.wantErr {
			if got.NotSent != c.want.NotSent || got.Outcome != "" {
				t.Errorf("%s: %+v, want the session to end with NotSent %v", c.name, got, c.want.NotSent)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
