package wctp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrReply: a reply is not a WCTP answer to a submit.
var ErrReply = errors.New("wctp: unexpected reply")

// replyBody renders the answer to a submit: wctp-Confirmation for a
// wctp-SubmitRequest (and for anything that is not a client message),
// wctp-SubmitClientResponse for a wctp-SubmitClientMessage.
func replyBody(v Version, client bool, code int, tracking string) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 512)) // replies are under 400 bytes
	writeHead(b, v)
	switch {
	case client && code == CodeSuccess:
		b.WriteString("<wctp-SubmitClientResponse>\n<wctp-ClientSuccess")
		writeAttr(b, "successCode", strconv.Itoa(code))
		writeAttr(b, "successText", codeText[code])
		writeAttr(b, "trackingNumber", tracking)
		b.WriteString("/>\n</wctp-SubmitClientResponse>\n")
	case client:
		b.WriteString("<wctp-SubmitClientResponse>\n<wctp-Failure")
		writeAttr(b, "errorCode", strconv.Itoa(code))
		writeAttr(b, "errorText", codeText[code])
		b.WriteString("/>\n</wctp-SubmitClientResponse>\n")
	case code == CodeSuccess:
		b.WriteString("<wctp-Confirmation>\n<wctp-Success")
		writeAttr(b, "successCode", strconv.Itoa(code))
		writeAttr(b, "successText", codeText[code])
		b.WriteString("/>\n</wctp-Confirmation>\n")
	default:
		b.WriteString("<wctp-Confirmation>\n<wctp-Failure")
		writeAttr(b, "errorCode", strconv.Itoa(code))
		writeAttr(b, "errorText", codeText[code])
		b.WriteString("/>\n</wctp-Confirmation>\n")
	}
	b.WriteString("</wctp-Operation>\n")
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
