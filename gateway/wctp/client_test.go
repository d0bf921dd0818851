package wctp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

// tlsServer serves e's handler over HTTPS at /wctp.
func tlsServer(t *testing.T, e *env) (*httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/wctp", e.h)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/wctp"
}

func TestSubmitOverHTTPS(t *testing.T) {
	e := newEnv(t, nil)
	srv, url := tlsServer(t, e)
	ctx := t.Context()

	resp, err := Submit(ctx, srv.Client(), url, SubmitRequest{
		SenderID: "nursecall-4w", SecurityCode: "s3cret-4w", MessageID: "e2e-1",
		RecipientID: "4711", DeliveryPriority: "HIGH", Text: paging.NewPHI("Rm 7 " + phiMarker),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Response{Success: true, Code: 200, Text: "Message accepted"}); resp != want {
		t.Errorf("SubmitRequest reply = %+v, want %+v", resp, want)
	}

	resp, err = Submit(ctx, srv.Client(), url, SubmitRequest{
		Client: true, Version: "wctp-dtd-v1r1", SenderID: "answering-svc", SecurityCode: "client-pw",
		RecipientID: "8005551212", Text: paging.NewPHI("call back " + phiMarker),
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := e.acc.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	if !resp.Success || resp.Code != 200 || resp.TrackingNumber != msgs[1].ID.String() {
		t.Errorf("SubmitClientMessage reply = %+v, want tracking number %s", resp, msgs[1].ID)
	}
	m := msgs[0]
	if m.PagerID != "4711" || m.Priority != paging.PriorityHigh || m.SenderRef != "e2e-1" ||
		m.Text.Reveal() != "Rm 7 "+phiMarker || !strings.HasPrefix(m.Source.Address, "127.0.0.1:") {
		t.Errorf("stored %#v", m)
	}

	// A refusal is a Response, not an error.
	resp, err = Submit(ctx, srv.Client(), url, SubmitRequest{
		SenderID: "nursecall-4w", SecurityCode: "guess", MessageID: "e2e-2", RecipientID: "4711",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Response{Code: 402, Text: "Invalid securityCode"}); resp != want {
		t.Errorf("refusal = %+v, want %+v", resp, want)
	}
	if n := e.acc.Calls(); n != 2 {
		t.Errorf("Accept called %d times, want 2", n)
	}
}

func TestSubmitErrors(t *testing.T) {
	ok := SubmitRequest{SenderID: "nursecall-4w", SecurityCode: "s3cret-4w", MessageID: "m", RecipientID: "4711"}

	t.Run("body too large", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
		srv, url := tlsServer(t, e)
		r := ok
		r.Text = paging.NewPHI(strings.Repeat("x", 2048))
		_, err := Submit(t.Context(), srv.Client(), url, r)
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("error = %v, want StatusError 413", err)
		}
	})

	t.Run("not encodable", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("request sent")
		}))
		defer srv.Close()
		r := ok
		r.Text = paging.NewPHI("\x00")
		if _, err := Submit(t.Context(), srv.Client(), srv.URL, r); !errors.Is(err, ErrEncode) {
			t.Errorf("error = %v, want ErrEncode", err)
		}
	})

	t.Run("not WCTP", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>hello</html>")
		}))
		defer srv.Close()
		if _, err := Submit(t.Context(), srv.Client(), srv.URL, ok); !errors.Is(err, ErrReply) {
			t.Errorf("error = %v, want ErrReply", err)
		}
	})

	t.Run("reply too long", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat(" ", maxReplyBytes+1))
		}))
		defer srv.Close()
		if _, err := Submit(t.Context(), srv.Client(), srv.URL, ok); !errors.Is(err, ErrReply) {
			t.Errorf("error = %v, want ErrReply", err)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		e := newEnv(t, nil)
		srv, url := tlsServer(t, e)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Submit(ctx, srv.Client(), url, ok); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestParseResponse(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?><wctp-Operation wctpVersion="wctp-dtd-v1r3">`
	const tail = `</wctp-Operation>`
	for _, tt := range []struct {
		name, body string
		want       Response
		wantErr    bool
	}{
		{name: "text in content", body: head + `<wctp-Confirmation><wctp-Success successCode="200"> Queued </wctp-Success></wctp-Confirmation>` + tail,
			want: Response{Success: true, Code: 200, Text: "Queued"}},
		{name: "failure in client response", body: head + `<wctp-SubmitClientResponse><wctp-Failure errorCode="604" errorText="x"/></wctp-SubmitClientResponse>` + tail,
			want: Response{Code: 604, Text: "x"}},
		{name: "client success", body: head + `<wctp-SubmitClientResponse><wctp-ClientSuccess successCode="200" trackingNumber="T1"/></wctp-SubmitClientResponse>` + tail,
			want: Response{Success: true, Code: 200, TrackingNumber: "T1"}},
		{name: "client success without tracking number", body: head + `<wctp-SubmitClientResponse><wctp-ClientSuccess successCode="200"/></wctp-SubmitClientResponse>` + tail, wantErr: true},
		{name: "success in client response", body: head + `<wctp-SubmitClientResponse><wctp-Success successCode="200"/></wctp-SubmitClientResponse>` + tail, wantErr: true},
		{name: "no code", body: head + `<wctp-Confirmation><wctp-Failure errorText="x"/></wctp-Confirmation>` + tail, wantErr: true},
		{name: "code not a number", body: head + `<wctp-Confirmation><wctp-Failure errorCode="4o1"/></wctp-Confirmation>` + tail, wantErr: true},
		{name: "other operation", body: head + `<wctp-PollResponse><wctp-NoMessages/></wctp-PollResponse>` + tail, wantErr: true},
		{name: "entity declaration", body: `<!DOCTYPE wctp-Operation [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + head + `<wctp-Confirmation><wctp-Failure errorCode="1" errorText="&x;"/></wctp-Confirmation>` + tail, wantErr: true},
		{name: "empty", body: "", wantErr: true},
	} {
		got, err := ParseResponse([]byte(tt.body))
		if tt.wantErr {
			if !errors.Is(err, ErrReply) {
				t.Errorf("%s: error = %v, want ErrReply", tt.name, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}
