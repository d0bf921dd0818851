package wctp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pagebridge/gateway/paging"
)

// ErrReply: a reply is not a WCTP answer to a submit.
var ErrReply = errors.New("wctp: unexpected reply")

// replyBody renders the answer to a submit, or a failure: wrapped in the
// response of op when op is a query (wctp-ClientQueryResponse,
// wctp-PollResponse, wctp-VersionResponse), in wctp-SubmitClientResponse
// for a client message, and in wctp-Confirmation otherwise.
func replyBody(v Version, client bool, op string, code int, tracking string) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 512)) // replies are under 400 bytes
	writeHead(b, v)
	wrapper := "wctp-Confirmation"
	switch {
	case op == opClientQuery:
		wrapper = "wctp-ClientQueryResponse"
	case op == opPollForMessages:
		wrapper = "wctp-PollResponse"
	case op == opVersionQuery:
		wrapper = "wctp-VersionResponse"
	case client:
		wrapper = "wctp-SubmitClientResponse"
	}
	b.WriteString("<" + wrapper)
	if op == opVersionQuery {
		writeAttr(b, "responder", DefaultResponder) // #REQUIRED
	}
	b.WriteString(">\n")
	switch {
	case code != CodeSuccess:
		writeResult(b, "wctp-Failure", code)
	case client:
		b.WriteString("<wctp-ClientSuccess")
		writeAttr(b, "successCode", strconv.Itoa(code))
		writeAttr(b, "successText", codeText[code])
		writeAttr(b, "trackingNumber", tracking)
		b.WriteString("/>\n")
	default:
		writeResult(b, "wctp-Success", code)
	}
	b.WriteString("</" + wrapper + ">\n</wctp-Operation>\n")
	return b.Bytes()
}

// writeResult writes an empty wctp-Success or wctp-Failure with code and
// its fixed text.
func writeResult(b *bytes.Buffer, name string, code int) {
	codeAttr, textAttr := "successCode", "successText"
	if name == "wctp-Failure" {
		codeAttr, textAttr = "errorCode", "errorText"
	}
	b.WriteString("<" + name)
	writeAttr(b, codeAttr, strconv.Itoa(code))
	writeAttr(b, textAttr, codeText[code])
	b.WriteString("/>\n")
}

// timestamp is WCTP's date and time form (the DTD's submitTimestamp
// examples), in UTC.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// writeStatus writes what a status says: wctp-Notification QUEUED,
// DELIVERED or READ (the DTD's types), or a wctp-Failure with
// CodeMessageExpired. The DTD has no type for an acknowledgement: it is
// written as READ, which it implies, with the attribute
// pagebridgeStatus="ACKNOWLEDGED" (a vendor addition, which senders that
// do not know it ignore).
func writeStatus(b *bytes.Buffer, s Status) {
	switch s.State {
	case StateExpired:
		writeResult(b, "wctp-Failure", CodeMessageExpired)
		return
	case StateAcknowledged:
		b.WriteString(`<wctp-Notification type="READ" pagebridgeStatus="ACKNOWLEDGED"/>` + "\n")
		return
	}
	b.WriteString(`<wctp-Notification type="` + s.State.String() + `"/>` + "\n")
}

// writePayload writes text as a wctp-Payload. The text is PHI: it goes
// only into a reply body, never into a log line.
func writePayload(b *bytes.Buffer, text paging.PHI) {
	b.WriteString("<wctp-Payload>\n<wctp-Alphanumeric>")
	xmlEscape(b, text.Reveal())
	b.WriteString("</wctp-Alphanumeric>\n</wctp-Payload>\n")
}

// clientQueryBody renders a wctp-ClientQueryResponse: one
// wctp-ClientStatusInfo with the page's status, then a
// wctp-ClientMessageReply per reply, oldest first. Each header names the
// pager ID the page went to as the originator and the client as the
// recipient; respondingToTimestamp is when the page was accepted.
func clientQueryBody(v Version, q ClientQuery, rep Report) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 1024))
	writeHead(b, v)
	b.WriteString("<wctp-ClientQueryResponse>\n")
	header := func(at time.Time) {
		b.WriteString("<wctp-ClientResponseHeader")
		writeAttr(b, "responseTimestamp", timestamp(at))
		writeAttr(b, "respondingToTimestamp", timestamp(rep.Received))
		b.WriteString(">\n<wctp-Originator")
		writeAttr(b, "senderID", q.RecipientID)
		b.WriteString("/>\n<wctp-Recipient")
		writeAttr(b, "recipientID", q.SenderID)
		b.WriteString("/>\n</wctp-ClientResponseHeader>\n")
	}
	b.WriteString("<wctp-ClientMessage>\n<wctp-ClientStatusInfo>\n")
	header(rep.Status.At)
	writeStatus(b, rep.Status)
	b.WriteString("</wctp-ClientStatusInfo>\n</wctp-ClientMessage>\n")
	for _, r := range rep.Replies {
		b.WriteString("<wctp-ClientMessage>\n<wctp-ClientMessageReply>\n")
		header(r.At)
		writePayload(b, r.Text)
		b.WriteString("</wctp-ClientMessageReply>\n</wctp-ClientMessage>\n")
	}
	b.WriteString("</wctp-ClientQueryResponse>\n</wctp-Operation>\n")
	return b.Bytes()
}

// pollResponseBody renders a wctp-PollResponse: wctp-NoMessages, or a
// wctp-Message per item holding a wctp-StatusInfo or a wctp-MessageReply.
// The header's responseToMessageID is the sender's messageID of the page;
// the originator is the pager ID it went to and the recipient the
// poller. A status's messageID is our ID of the page (a client's
// trackingNumber), a reply's its own ID; onBehalfOfRecipientID names the
// person who wrote a reply.
func pollResponseBody(v Version, poller string, items []Item) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 512+len(items)*512))
	writeHead(b, v)
	b.WriteString("<wctp-PollResponse>\n")
	if len(items) == 0 {
		b.WriteString("<wctp-NoMessages/>\n")
	}
	for _, it := range items {
		b.WriteString("<wctp-Message")
		writeAttr(b, "sequenceNo", it.Seq)
		elem, at, id := "wctp-StatusInfo", it.Status.At, it.Message.String()
		if it.Reply != nil {
			elem, at, id = "wctp-MessageReply", it.Reply.At, it.Reply.ID
		}
		b.WriteString(">\n<" + elem + ">\n<wctp-ResponseHeader")
		writeAttr(b, "responseToMessageID", it.Ref)
		writeAttr(b, "responseTimestamp", timestamp(at))
		writeAttr(b, "respondingToTimestamp", timestamp(it.Received))
		if it.Reply != nil && it.Reply.From != "" {
			writeAttr(b, "onBehalfOfRecipientID", it.Reply.From)
		}
		b.WriteString(">\n<wctp-Originator")
		writeAttr(b, "senderID", it.Recipient)
		b.WriteString("/>\n<wctp-MessageControl")
		writeAttr(b, "messageID", id)
		b.WriteString("/>\n<wctp-Recipient")
		writeAttr(b, "recipientID", poller)
		b.WriteString("/>\n</wctp-ResponseHeader>\n")
		if it.Reply != nil {
			writePayload(b, it.Reply.Text)
		} else {
			writeStatus(b, it.Status)
		}
		b.WriteString("</" + elem + ">\n</wctp-Message>\n")
	}
	b.WriteString("</wctp-PollResponse>\n</wctp-Operation>\n")
	return b.Bytes()
}

// versionResponseBody renders a wctp-VersionResponse: the responder,
// when it answers, the contact information configured, and a
// wctp-DTDSupport per version accepted. exceptions="yes" on each: not
// every operation of the DTDs is offered (see the package doc).
func versionResponseBody(v Version, responder string, contact Contact, now time.Time) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 1024))
	writeHead(b, v)
	b.WriteString("<wctp-VersionResponse")
	writeAttr(b, "responder", responder)
	writeAttr(b, "dateTimeOfRsp", timestamp(now))
	b.WriteString(">\n")
	if contact != (Contact{}) {
		b.WriteString("<wctp-ContactInfo")
		for _, a := range []struct{ name, val string }{
			{"email", contact.Email}, {"phone", contact.Phone}, {"www", contact.WWW}, {"info", contact.Info},
		} {
			if a.val != "" {
				writeAttr(b, a.name, a.val)
			}
		}
		b.WriteString("/>\n")
	}
	for _, ver := range Versions {
		if !strings.HasPrefix(ver.Token, "wctp-dtd-") {
			continue // an alias of a version listed under its own token
		}
		b.WriteString("<wctp-DTDSupport")
		writeAttr(b, "dtdName", strings.TrimSuffix(ver.DTD[strings.LastIndexByte(ver.DTD, '/')+1:], ".dtd"))
		writeAttr(b, "verToken", ver.Token)
		b.WriteString(` supportType="Supported" exceptions="yes"/>` + "\n")
	}
	b.WriteString("</wctp-VersionResponse>\n</wctp-Operation>\n")
	return b.Bytes()
}

// ParseResponse reads a reply to a submit: a wctp-Confirmation holding
// wctp-Success or wctp-Failure, or a wctp-SubmitClientResponse holding
// wctp-ClientSuccess or wctp-Failure. It parses with the same hardening as
// Parse (no DTD internal subset, nothing fetched). A success or failure
// text missing from its attribute is taken from the element's content, as
// some servers write it there.
func ParseResponse(body []byte) (Response, error) {
	d := getDoc()
	defer d.release()
	root, perr := d.parse(body)
	if perr != nil {
		return Response{}, fmt.Errorf("%w: %s", ErrReply, perr.Reason)
	}
	if root.name != opOperation || len(root.children) != 1 {
		return Response{}, fmt.Errorf("%w: not a wctp-Operation with one operation", ErrReply)
	}
	op := root.children[0]
	if op.name != "wctp-Confirmation" && op.name != "wctp-SubmitClientResponse" || len(op.children) != 1 {
		return Response{}, fmt.Errorf("%w: not a confirmation", ErrReply)
	}
	res := op.children[0]
	var resp Response
	codeAttr, textAttr := "successCode", "successText"
	switch {
	case res.name == "wctp-Failure":
		codeAttr, textAttr = "errorCode", "errorText"
	case res.name == "wctp-Success" && op.name == "wctp-Confirmation":
		resp.Success = true
	case res.name == "wctp-ClientSuccess" && op.name == "wctp-SubmitClientResponse":
		resp.Success = true
		var ok bool
		if resp.TrackingNumber, ok = res.attr("trackingNumber"); !ok {
			return Response{}, fmt.Errorf("%w: wctp-ClientSuccess without trackingNumber", ErrReply)
		}
	default:
		return Response{}, fmt.Errorf("%w: unexpected %s in %s", ErrReply, res.name, op.name)
	}
	code, ok := res.attr(codeAttr)
	if !ok {
		return Response{}, fmt.Errorf("%w: %s without %s", ErrReply, res.name, codeAttr)
	}
	n, err := strconv.Atoi(strings.TrimSpace(code))
	if err != nil || n < 0 || n > 999 {
		return Response{}, fmt.Errorf("%w: %s is not a number", ErrReply, codeAttr)
	}
	resp.Code = n
	if resp.Text, ok = res.attr(textAttr); !ok {
		resp.Text = strings.TrimSpace(string(res.text))
	}
	return resp, nil
}
