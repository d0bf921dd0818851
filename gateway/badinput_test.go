package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"pagebridge/gateway/paging"
	"pagebridge/gateway/wctp"
)

// startMain runs a demo gateway in this process on a free loopback port.
func startMain(t *testing.T, tweak func(*Config)) (*Main, string) {
	t.Helper()
	root := t.TempDir()
	cfg, err := demoConfig(root, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log.Level = "error"
	if tweak != nil {
		tweak(&cfg)
	}
	m := NewMain(cfg, discardLogger(), io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := seedDemo(ctx, m.store, root); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m, root
}

func countMessages(t *testing.T, m *Main) int {
	t.Helper()
	n := 0
	err := m.store.Messages(context.Background(), paging.AuditEvent{Actor: "test", Action: "message.read"}, func(msg *paging.Message) error {
		if !strings.HasPrefix(msg.SenderRef, demoSampleRef) { // the demo's own sample pages
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBadInputOverHTTPS sends malformed WCTP to the real server: each gets
// its listed answer, the server stays up, and nothing is stored.
func TestBadInputOverHTTPS(t *testing.T) {
	m, root := startMain(t, func(c *Config) {
		c.WCTP.MaxText = 200
		c.WCTP.MaxBodyBytes = 8 << 10
		c.Server.ReadHeaderTimeout.Duration = time.Second
	})
	hc := httpClient(t, root, 2)
	url := "https://" + m.httpLn.Addr().String() + "/wctp"
	s := m.cfg.WCTP.Senders[0]
	submit := func(sender, code, ref, pager, text string) string {
		return `<?xml version="1.0"?><!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">` +
			`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest><wctp-SubmitHeader>` +
			`<wctp-Originator senderID="` + sender + `" securityCode="` + code + `"/>` +
			`<wctp-MessageControl messageID="` + ref + `"/><wctp-Recipient recipientID="` + pager + `"/>` +
			`</wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric>` + text + `</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest></wctp-Operation>`
	}
	good := submit(s.ID, s.SecurityCode, "r1", "1002", "hello")
	cases := []struct {
		name, method, ctype, body string
		status, code              int
	}{
		{"not xml", "POST", "text/xml", "this is not xml", 200, 301},
		{"truncated", "POST", "text/xml", good[:len(good)/2], 200, 301},
		{"invalid utf-8", "POST", "text/xml", submit(s.ID, s.SecurityCode, "r1", "1002", "bad \xff\xfe bytes"), 200, 301},
		{"no recipient", "POST", "text/xml", strings.Replace(good, `<wctp-Recipient recipientID="1002"/>`, "", 1), 200, 302},
		{"empty messageID", "POST", "text/xml", strings.Replace(good, `messageID="r1"`, `messageID=""`, 1), 200, 302},
		{"wrong root", "POST", "application/xml", `<?xml version="1.0"?><html><body/></html>`, 200, 302},
		{"version", "POST", "text/xml", strings.Replace(good, "wctp-dtd-v1r3\">", "wctp-dtd-v9r9\">", 1), 200, 303},
		{"unknown sender", "POST", "text/xml", submit("mallory", s.SecurityCode, "r1", "1002", "x"), 200, 401},
		{"wrong code", "POST", "text/xml", submit(s.ID, "wrong-code-123", "r1", "1002", "x"), 200, 402},
		{"unknown recipient", "POST", "text/xml", submit(s.ID, s.SecurityCode, "r1", "5550000", "x"), 200, 403},
		{"too long", "POST", "text/xml", submit(s.ID, s.SecurityCode, "r1", "1002", strings.Repeat("x", 201)), 200, 411},
		{"internal entity", "POST", "text/xml", `<?xml version="1.0"?><!DOCTYPE wctp-Operation [<!ENTITY x "PHI">]>` + good[strings.Index(good, "<wctp-Operation"):], 200, 302},
		{"billion laughs", "POST", "text/xml", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`, 200, 302},
		{"external entity", "POST", "text/xml", `<?xml version="1.0"?><!DOCTYPE wctp-Operation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><wctp-Operation wctpVersion="wctp-dtd-v1r3">&xxe;</wctp-Operation>`, 200, 302},
		{"oversize body", "POST", "text/xml", "<a>" + strings.Repeat("x", 9<<10) + "</a>", 413, 0},
		{"content type", "POST", "application/json", `{"page":"x"}`, 415, 0},
		{"method", "GET", "", "", 405, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, url, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.code != 0 {
				r, err := wctp.ParseResponse(body)
				if err != nil {
					t.Fatalf("reply: %v\n%s", err, body)
				}
				if r.Success || r.Code != c.code {
					t.Fatalf("WCTP %d (success %v), want failure %d", r.Code, r.Success, c.code)
				}
				if strings.Contains(string(body), "PHI") || strings.Contains(string(body), "passwd") {
					t.Fatalf("reply echoes input: %s", body)
				}
			}
		})
	}

	// A slow-loris client that never finishes its headers is cut off by
	// the server's header timeout without holding anything up.
	t.Run("slow loris", func(t *testing.T) {
		raw, err := net.Dial("tcp", m.httpLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		conn := tls.Client(raw, hc.Transport.(*http.Transport).TLSClientConfig)
		if err := conn.Handshake(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "POST /wctp HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n")
		// Meanwhile a well-behaved sender is served.
		r, err := wctp.Submit(context.Background(), hc, url, page(WCTPSender(s), "during-loris", "1002", "ok"))
		if err != nil || !r.Success {
			t.Fatalf("a good page during the slow client: %v %+v", err, r)
		}
		conn.SetReadDeadline(time.Now().Add(m.cfg.Server.ReadHeaderTimeout.Duration + 30*time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept the slow connection open past its header timeout")
			}
		}
	})

	for _, probe := range []string{"/healthz", "/readyz"} {
		resp, err := hc.Get("https://" + m.httpLn.Addr().String() + probe)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s after bad input: %v", probe, err)
		}
		resp.Body.Close()
	}
	if n := countMessages(t, m); n != 1 {
		t.Fatalf("%d messages stored; want only the one good page", n)
	}
}
