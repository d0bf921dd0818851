package wctp

// This file keeps the parsing code this package used before parseDoc moved
// to xml.Decoder.RawToken and pooled buffers, unchanged but for names, as
// a reference: FuzzParseAgrees checks that Parse, ParseResponse and
// parseDoc answer every input as it did, codes, reasons and trees alike.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// refNode is one element of a parsed document.
type refNode struct {
	name     string
	attrs    []xml.Attr
	children []*refNode
	// text is the character data directly inside the element, CDATA
	// sections and references resolved.
	text []byte
}

func (n *refNode) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// hasText reports whether n holds character data other than white space.
func (n *refNode) hasText() bool { return len(bytes.TrimSpace(n.text)) > 0 }

// refParseDoc parses body into an element tree, enforcing well-formedness and
// the document rules that keep the refParser safe:
//
//   - body is UTF-8 (a leading BOM is allowed) made only of XML characters,
//     and declares no other encoding: otherwise CodeCannotParse;
//   - exactly one root element, with nothing but white space, comments and
//     processing instructions around it: otherwise CodeCannotParse;
//   - at most one directive, a DOCTYPE before the root with an optional
//     external identifier and no internal subset, so no entity can be
//     declared: otherwise CodeValidation. The external identifier is never
//     read: encoding/xml does not fetch anything, and nothing here does.
//   - only the predefined entities and character references: an undeclared
//     entity is not well-formed (CodeCannotParse).
func refParseDoc(body []byte) (*refNode, *Error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, syntaxErr("empty body")
	}
	if off, ok := refXMLChars(body); !ok {
		return nil, syntaxErr(fmt.Sprintf("byte %d is not a UTF-8 encoded XML character", off))
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	// d.CharsetReader stays nil so a declared encoding other than UTF-8 is
	// an error, and d.Entity stays nil so only the predefined entities
	// resolve.
	var (
		root       *refNode
		stack      []*refNode
		count      int
		sawDoctype bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, syntaxErr(fmt.Sprintf("syntax error on line %d", se.Line))
			}
			// Declared encoding other than UTF-8, or an XML version
			// other than 1.0.
			return nil, syntaxErr("unsupported XML declaration")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, syntaxErr("second root element")
			}
			if len(stack) >= maxDepth {
				return nil, &Error{Code: CodeValidation, Reason: "elements nested too deeply"}
			}
			if count++; count > maxElements {
				return nil, &Error{Code: CodeValidation, Reason: "too many elements"}
			}
			if len(t.Attr) > maxAttrs {
				return nil, &Error{Code: CodeValidation, Reason: "too many attributes"}
			}
			if t.Name.Space != "" {
				return nil, &Error{Code: CodeValidation, Reason: "element in a namespace"}
			}
			for i, a := range t.Attr {
				for _, b := range t.Attr[:i] {
					if a.Name == b.Name {
						return nil, syntaxErr("repeated attribute")
					}
				}
			}
			n := &refNode{name: t.Name.Local, attrs: t.Attr}
			if len(stack) == 0 {
				root = n
			} else {
				top := stack[len(stack)-1]
				top.children = append(top.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			// The decoder has checked that it matches.
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, syntaxErr("text outside the root element")
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text = append(top.text, t...)
		case xml.Directive:
			if root != nil || sawDoctype {
				return nil, &Error{Code: CodeValidation, Reason: "directive other than one leading DOCTYPE"}
			}
			if !refValidDoctype(string(t)) {
				return nil, &Error{Code: CodeValidation, Reason: "DOCTYPE with an internal subset or not for wctp-Operation"}
			}
			sawDoctype = true
		case xml.Comment, xml.ProcInst:
			// Ignored. The decoder has checked the XML declaration.
		}
	}
	if root == nil {
		return nil, syntaxErr("no root element")
	}
	return root, nil
}

// refXMLChars reports whether b is valid UTF-8 made only of characters XML 1.0
// allows (Char production), and if not, the offset of the first bad byte.
func refXMLChars(b []byte) (int, bool) {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i, false
		}
		if !isXMLChar(r) {
			return i, false
		}
		i += size
	}
	return 0, true
}

// refValidDoctype accepts `DOCTYPE wctp-Operation`, optionally followed by
// `SYSTEM "uri"` or `PUBLIC "id" "uri"`, and nothing else: no internal
// subset, so no entity or parameter entity declarations.
func refValidDoctype(dir string) bool {
	words, ok := refDirectiveWords(dir)
	if !ok || len(words) < 2 || words[0] != "DOCTYPE" || words[1] != opOperation {
		return false
	}
	ext := words[2:]
	isLit := func(w string) bool { return len(w) >= 2 && (w[0] == '"' || w[0] == '\'') }
	switch {
	case len(ext) == 0:
		return true
	case len(ext) == 2 && ext[0] == "SYSTEM":
		return isLit(ext[1])
	case len(ext) == 3 && ext[0] == "PUBLIC":
		return isLit(ext[1]) && isLit(ext[2])
	}
	return false
}

// refDirectiveWords splits a directive into bare words and quoted literals
// (kept with their quotes). It fails on an unterminated literal or on any
// markup character outside a literal.
func refDirectiveWords(s string) ([]string, bool) {
	var words []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, false
			}
			words = append(words, s[i:i+j+2])
			i += j + 2
		case strings.IndexByte("[]<>%&", c) >= 0:
			return nil, false
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r\"'[]<>%&", s[j]) < 0 {
				j++
			}
			words = append(words, s[i:j])
			i = j
		}
	}
	return words, true
}

// refParse is Parse as it was.
func refParse(body []byte) (SubmitRequest, error) {
	root, err := refParseDoc(body)
	if err != nil {
		return SubmitRequest{}, err
	}
	r, err := refFromTree(root)
	if err != nil {
		return SubmitRequest{}, err
	}
	return r, nil
}

// refFromTree reads a submit operation out of a parsed document.
func refFromTree(root *refNode) (SubmitRequest, *Error) {
	if root.name != opOperation {
		return SubmitRequest{}, &Error{Code: CodeValidation, Reason: "root element is not wctp-Operation"}
	}
	vs, ok := root.attr("wctpVersion")
	if !ok {
		return SubmitRequest{}, &Error{Code: CodeValidation, Reason: "wctp-Operation without wctpVersion"}
	}
	v, ok := lookupVersion(vs)
	if !ok {
		return SubmitRequest{}, &Error{Code: CodeVersion, Reason: "unsupported wctpVersion"}
	}
	p := refParser{v: v}
	if root.hasText() || len(root.children) != 1 {
		return SubmitRequest{}, p.invalid("wctp-Operation must hold exactly one operation")
	}
	op := root.children[0]
	switch op.name {
	case opSubmitRequest:
		return p.submitRequest(op)
	case opSubmitClientMessage:
		p.client = true
		return p.submitClientMessage(op)
	}
	if otherOperations[op.name] {
		return SubmitRequest{}, p.fail(CodeOperationNotSupported, "operation not supported")
	}
	return SubmitRequest{}, p.invalid("unknown operation")
}

// refParser carries what is known about the request so that a refusal is
// wrapped the way the sender expects.
type refParser struct {
	v      Version
	client bool
}

func (p refParser) fail(code int, reason string) *Error {
	return &Error{Code: code, Reason: reason, Client: p.client, Version: p.v}
}

func (p refParser) invalid(reason string) *Error { return p.fail(CodeValidation, reason) }

// elements returns n's child elements by name. n must hold no text, every
// name in required exactly once, names in optional at most once, and
// nothing else. Order is not checked.
func (p refParser) elements(n *refNode, required []string, optional ...string) (map[string]*refNode, *Error) {
	if n.hasText() {
		return nil, p.invalid(n.name + " holds text")
	}
	m := make(map[string]*refNode, len(n.children))
	for _, c := range n.children {
		known := false
		for _, name := range append(required[:len(required):len(required)], optional...) {
			if c.name == name {
				known = true
			}
		}
		if !known {
			return nil, p.invalid("unexpected element in " + n.name)
		}
		if m[c.name] != nil {
			return nil, p.invalid("repeated element in " + n.name)
		}
		m[c.name] = c
	}
	for _, name := range required {
		if m[name] == nil {
			return nil, p.invalid(n.name + " without " + name)
		}
	}
	return m, nil
}

// empty checks that an EMPTY element holds nothing but white space.
func (p refParser) empty(n *refNode) *Error {
	if len(n.children) > 0 || n.hasText() {
		return p.invalid(n.name + " must be empty")
	}
	return nil
}

// attr returns an attribute's value, which must hold no control
// characters. Missing and required is CodeValidation.
func (p refParser) attr(n *refNode, name string, required bool) (string, *Error) {
	v, ok := n.attr(name)
	if !ok {
		if required {
			return "", p.invalid(n.name + " without " + name)
		}
		return "", nil
	}
	if strings.IndexFunc(v, isControl) >= 0 {
		return "", p.invalid(n.name + " " + name + " holds control characters")
	}
	return v, nil
}

// priority reads deliveryPriority: HIGH, NORMAL or LOW, in any ASCII case.
func (p refParser) priority(n *refNode) (string, *Error) {
	v, ok := n.attr("deliveryPriority")
	if !ok {
		return "", nil
	}
	v = strings.TrimSpace(v)
	for _, want := range []string{"HIGH", "NORMAL", "LOW"} {
		if asciiEqualFold(v, want) {
			return want, nil
		}
	}
	return "", p.invalid("deliveryPriority is not HIGH, NORMAL or LOW")
}

// flags reads the DTD's boolean message control attributes, in the
// DTD's order; allowResponse is stored inverted (NoResponse).
func (p refParser) flags(n *refNode, r *SubmitRequest) *Error {
	for _, name := range []string{"allowResponse", "notifyWhenQueued", "notifyWhenDelivered", "notifyWhenRead"} {
		v, ok := n.attr(name)
		if !ok {
			continue
		}
		var b bool
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			b = true
		case "false":
		default:
			return p.invalid(name + " is not true or false")
		}
		switch name {
		case "allowResponse":
			r.NoResponse = !b
		case "notifyWhenQueued":
			r.NotifyQueued = b
		case "notifyWhenDelivered":
			r.NotifyDelivered = b
		case "notifyWhenRead":
			r.NotifyRead = b
		}
	}
	return nil
}

func (p refParser) submitRequest(op *refNode) (SubmitRequest, *Error) {
	r := SubmitRequest{Version: p.v.Token}
	parts, err := p.elements(op, []string{"wctp-SubmitHeader", "wctp-Payload"})
	if err != nil {
		return SubmitRequest{}, err
	}
	hdr, err := p.elements(parts["wctp-SubmitHeader"], []string{"wctp-Originator", "wctp-MessageControl", "wctp-Recipient"})
	if err != nil {
		return SubmitRequest{}, err
	}
	orig, ctl := hdr["wctp-Originator"], hdr["wctp-MessageControl"]
	for _, n := range hdr {
		if err := p.empty(n); err != nil {
			return SubmitRequest{}, err
		}
	}
	if r.SenderID, err = p.attr(orig, "senderID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.SecurityCode, err = p.attr(orig, "securityCode", false); err != nil {
		return SubmitRequest{}, err
	}
	if r.MessageID, err = p.attr(ctl, "messageID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.MessageID == "" || len(r.MessageID) > paging.MaxSenderRefLen {
		return SubmitRequest{}, p.invalid(fmt.Sprintf("messageID must be 1 to %d bytes", paging.MaxSenderRefLen))
	}
	if r.DeliveryPriority, err = p.priority(ctl); err != nil {
		return SubmitRequest{}, err
	}
	if err = p.flags(ctl, &r); err != nil {
		return SubmitRequest{}, err
	}
	if r.RecipientID, err = p.attr(hdr["wctp-Recipient"], "recipientID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.Text, err = p.payload(parts["wctp-Payload"]); err != nil {
		return SubmitRequest{}, err
	}
	return r, nil
}

func (p refParser) submitClientMessage(op *refNode) (SubmitRequest, *Error) {
	r := SubmitRequest{Client: true, Version: p.v.Token}
	parts, err := p.elements(op, []string{"wctp-SubmitClientHeader", "wctp-Payload"})
	if err != nil {
		return SubmitRequest{}, err
	}
	hdr, err := p.elements(parts["wctp-SubmitClientHeader"],
		[]string{"wctp-ClientOriginator", "wctp-Recipient"}, "wctp-ClientMessageControl")
	if err != nil {
		return SubmitRequest{}, err
	}
	for _, n := range hdr {
		if err := p.empty(n); err != nil {
			return SubmitRequest{}, err
		}
	}
	orig := hdr["wctp-ClientOriginator"]
	if r.SenderID, err = p.attr(orig, "senderID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.SecurityCode, err = p.attr(orig, "miscInfo", false); err != nil {
		return SubmitRequest{}, err
	}
	if ctl := hdr["wctp-ClientMessageControl"]; ctl != nil {
		if r.DeliveryPriority, err = p.priority(ctl); err != nil {
			return SubmitRequest{}, err
		}
		if err = p.flags(ctl, &r); err != nil {
			return SubmitRequest{}, err
		}
	}
	if r.RecipientID, err = p.attr(hdr["wctp-Recipient"], "recipientID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.Text, err = p.payload(parts["wctp-Payload"]); err != nil {
		return SubmitRequest{}, err
	}
	return r, nil
}

// payload reads the wctp-Alphanumeric text. Its characters are kept as
// sent (white space included); control characters other than tab, line
// feed and carriage return are refused.
func (p refParser) payload(n *refNode) (paging.PHI, *Error) {
	if n.hasText() || len(n.children) != 1 {
		return paging.PHI{}, p.invalid("wctp-Payload must hold exactly one payload")
	}
	c := n.children[0]
	switch c.name {
	case "wctp-Alphanumeric":
	case "wctp-MCR":
		return paging.PHI{}, p.fail(CodeMCRNotSupported, "MCR payload")
	case "wctp-TransparentData":
		return paging.PHI{}, p.fail(CodeBinaryNotSupported, "transparent data payload")
	default:
		return paging.PHI{}, p.invalid("unknown payload")
	}
	if len(c.children) > 0 {
		return paging.PHI{}, p.invalid("wctp-Alphanumeric holds elements")
	}
	text := string(c.text)
	if strings.IndexFunc(text, func(r rune) bool {
		return isControl(r) && r != '\t' && r != '\n' && r != '\r'
	}) >= 0 {
		return paging.PHI{}, p.invalid("text holds control characters")
	}
	return paging.NewPHI(text), nil
}

// refParseResponse reads a reply to a submit: a wctp-Confirmation holding
// wctp-Success or wctp-Failure, or a wctp-SubmitClientResponse holding
// wctp-ClientSuccess or wctp-Failure. It parses with the same hardening as
// Parse (no DTD internal subset, nothing fetched). A success or failure
// text missing from its attribute is taken from the element's content, as
// some servers write it there.
func refParseResponse(body []byte) (Response, error) {
	root, perr := refParseDoc(body)
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
