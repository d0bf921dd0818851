package wctp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Element names of the operations this package handles.
const (
	opOperation           = "wctp-Operation"
	opSubmitRequest       = "wctp-SubmitRequest"
	opSubmitClientMessage = "wctp-SubmitClientMessage"
)

// otherOperations are the operations WCTP 1.0–1.3 define that Pagebridge
// does not offer: they get CodeOperationNotSupported. Any other element
// inside wctp-Operation is invalid (CodeValidation).
var otherOperations = map[string]bool{
	"wctp-BindDomainAlias":        true,
	"wctp-ClientQuery":            true,
	"wctp-ClientQueryResponse":    true,
	"wctp-Confirmation":           true,
	"wctp-DeviceLocation":         true,
	"wctp-DeviceLocationResponse": true,
	"wctp-LookupResponse":         true,
	"wctp-LookupSubscriber":       true,
	"wctp-MessageReply":           true,
	"wctp-PollForMessages":        true,
	"wctp-PollResponse":           true,
	"wctp-ReturnToSvc":            true,
	"wctp-SendMsgMulti":           true,
	"wctp-SendMsgMultiResponse":   true,
	"wctp-StatusInfo":             true,
	"wctp-SubmitClientResponse":   true,
	"wctp-VersionQuery":           true,
	"wctp-VersionResponse":        true,
}

// Limits on a document's shape. The deepest WCTP operation nests six
// elements; a submit has fewer than twenty.
const (
	maxDepth    = 16
	maxElements = 256
	maxAttrs    = 32
)

// node is one element of a parsed document.
type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	// text is the character data directly inside the element, CDATA
	// sections and references resolved.
	text []byte
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// hasText reports whether n holds character data other than white space.
func (n *node) hasText() bool { return len(bytes.TrimSpace(n.text)) > 0 }

var utf8BOM = []byte("\xef\xbb\xbf")

func syntaxErr(reason string) *Error { return &Error{Code: CodeCannotParse, Reason: reason} }

// parseDoc parses body into an element tree, enforcing well-formedness and
// the document rules that keep the parser safe:
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
func parseDoc(body []byte) (*node, *Error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, syntaxErr("empty body")
	}
	if off, ok := xmlChars(body); !ok {
		return nil, syntaxErr(fmt.Sprintf("byte %d is not a UTF-8 encoded XML character", off))
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	// d.CharsetReader stays nil so a declared encoding other than UTF-8 is
	// an error, and d.Entity stays nil so only the predefined entities
	// resolve.
	var (
		root       *node
		stack      []*node
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
			n := &node{name: t.Name.Local, attrs: t.Attr}
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
			if !validDoctype(string(t)) {
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

// xmlChars reports whether b is valid UTF-8 made only of characters XML 1.0
// allows (Char production), and if not, the offset of the first bad byte.
func xmlChars(b []byte) (int, bool) {
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

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7F && r <= 0x9F }

// validDoctype accepts `DOCTYPE wctp-Operation`, optionally followed by
// `SYSTEM "uri"` or `PUBLIC "id" "uri"`, and nothing else: no internal
// subset, so no entity or parameter entity declarations.
func validDoctype(dir string) bool {
	words, ok := directiveWords(dir)
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

// directiveWords splits a directive into bare words and quoted literals
// (kept with their quotes). It fails on an unterminated literal or on any
// markup character outside a literal.
func directiveWords(s string) ([]string, bool) {
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

// Parse parses a WCTP document holding a wctp-SubmitRequest or a
// wctp-SubmitClientMessage. A refusal is an *Error with the WCTP code to
// answer:
//
//   - CodeCannotParse: not well-formed XML, not UTF-8, empty;
//   - CodeValidation: an entity declaration or other DTD internal subset, a
//     root other than wctp-Operation, a required element or attribute
//     missing, repeated, unknown or invalid, control characters in text or
//     attributes, an unknown operation;
//   - CodeVersion: a wctpVersion not in Versions;
//   - CodeOperationNotSupported: another WCTP operation (wctp-ClientQuery,
//     wctp-PollForMessages…);
//   - CodeMCRNotSupported, CodeBinaryNotSupported: a wctp-MCR or
//     wctp-TransparentData payload.
//
// Parse does not check credentials, recipients or text length: the Handler
// does, with its configuration. An empty recipientID parses (it is unknown:
// CodeInvalidRecipientID).
func Parse(body []byte) (SubmitRequest, error) {
	root, err := parseDoc(body)
	if err != nil {
		return SubmitRequest{}, err
	}
	r, err := fromTree(root)
	if err != nil {
		return SubmitRequest{}, err
	}
	return r, nil
}

// fromTree reads a submit operation out of a parsed document.
func fromTree(root *node) (SubmitRequest, *Error) {
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
	p := parser{v: v}
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

// parser carries what is known about the request so that a refusal is
// wrapped the way the sender expects.
type parser struct {
	v      Version
	client bool
}

func (p parser) fail(code int, reason string) *Error {
	return &Error{Code: code, Reason: reason, Client: p.client, Version: p.v}
}

func (p parser) invalid(reason string) *Error { return p.fail(CodeValidation, reason) }

// elements returns n's child elements by name. n must hold no text, every
// name in required exactly once, names in optional at most once, and
// nothing else. Order is not checked.
func (p parser) elements(n *node, required []string, optional ...string) (map[string]*node, *Error) {
	if n.hasText() {
		return nil, p.invalid(n.name + " holds text")
	}
	m := make(map[string]*node, len(n.children))
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
func (p parser) empty(n *node) *Error {
	if len(n.children) > 0 || n.hasText() {
		return p.invalid(n.name + " must be empty")
	}
	return nil
}

// attr returns an attribute's value, which must hold no control
// characters. Missing and required is CodeValidation.
func (p parser) attr(n *node, name string, required bool) (string, *Error) {
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
func (p parser) priority(n *node) (string, *Error) {
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

// asciiEqualFold is strings.EqualFold without Unicode folding, so that
// look-alikes such as U+212A KELVIN SIGN do not match.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (p parser) submitRequest(op *node) (SubmitRequest, *Error) {
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
	if r.RecipientID, err = p.attr(hdr["wctp-Recipient"], "recipientID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.Text, err = p.payload(parts["wctp-Payload"]); err != nil {
		return SubmitRequest{}, err
	}
	return r, nil
}

func (p parser) submitClientMessage(op *node) (SubmitRequest, *Error) {
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
func (p parser) payload(n *node) (paging.PHI, *Error) {
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

// ErrEncode is wrapped by Encode's errors: the request cannot be written as
// a valid WCTP document.
var ErrEncode = errors.New("wctp: cannot encode")

// Encode writes r as a WCTP document that Parse reads back as r: the XML
// declaration, a DOCTYPE naming the version's DTD, and the operation.
func Encode(r SubmitRequest) ([]byte, error) {
	v, ok := lookupVersion(DefaultVersion)
	if r.Version != "" {
		if v, ok = lookupVersion(r.Version); !ok {
			return nil, fmt.Errorf("%w: unknown version %q", ErrEncode, r.Version)
		}
	}
	switch r.DeliveryPriority {
	case "", "HIGH", "NORMAL", "LOW":
	default:
		return nil, fmt.Errorf("%w: deliveryPriority %q", ErrEncode, r.DeliveryPriority)
	}
	if r.Client && r.MessageID != "" {
		return nil, fmt.Errorf("%w: a client message has no messageID", ErrEncode)
	}
	if !r.Client && (r.MessageID == "" || len(r.MessageID) > paging.MaxSenderRefLen) {
		return nil, fmt.Errorf("%w: messageID must be 1 to %d bytes", ErrEncode, paging.MaxSenderRefLen)
	}
	for _, f := range []struct{ name, v string }{
		{"senderID", r.SenderID}, {"securityCode", r.SecurityCode},
		{"messageID", r.MessageID}, {"recipientID", r.RecipientID},
	} {
		if _, ok := xmlChars([]byte(f.v)); !ok || strings.IndexFunc(f.v, isControl) >= 0 {
			return nil, fmt.Errorf("%w: %s holds characters XML or WCTP cannot carry", ErrEncode, f.name)
		}
	}
	text := r.Text.Reveal()
	if _, ok := xmlChars([]byte(text)); !ok || strings.IndexFunc(text, func(r rune) bool {
		return isControl(r) && r != '\t' && r != '\n' && r != '\r'
	}) >= 0 {
		return nil, fmt.Errorf("%w: text holds characters XML or WCTP cannot carry", ErrEncode)
	}

	var b bytes.Buffer
	writeHead(&b, v)
	attr := func(name, val string) {
		b.WriteString(" " + name + `="`)
		xmlEscape(&b, val)
		b.WriteString(`"`)
	}
	if r.Client {
		b.WriteString("<wctp-SubmitClientMessage>\n<wctp-SubmitClientHeader>\n<wctp-ClientOriginator")
		attr("senderID", r.SenderID)
		if r.SecurityCode != "" {
			attr("miscInfo", r.SecurityCode)
		}
		b.WriteString("/>\n")
		if r.DeliveryPriority != "" {
			b.WriteString("<wctp-ClientMessageControl")
			attr("deliveryPriority", r.DeliveryPriority)
			b.WriteString("/>\n")
		}
	} else {
		b.WriteString("<wctp-SubmitRequest>\n<wctp-SubmitHeader>\n<wctp-Originator")
		attr("senderID", r.SenderID)
		if r.SecurityCode != "" {
			attr("securityCode", r.SecurityCode)
		}
		b.WriteString("/>\n<wctp-MessageControl")
		attr("messageID", r.MessageID)
		if r.DeliveryPriority != "" {
			attr("deliveryPriority", r.DeliveryPriority)
		}
		b.WriteString("/>\n")
	}
	b.WriteString("<wctp-Recipient")
	attr("recipientID", r.RecipientID)
	b.WriteString("/>\n")
	if r.Client {
		b.WriteString("</wctp-SubmitClientHeader>\n")
	} else {
		b.WriteString("</wctp-SubmitHeader>\n")
	}
	b.WriteString("<wctp-Payload>\n<wctp-Alphanumeric>")
	xmlEscape(&b, text)
	b.WriteString("</wctp-Alphanumeric>\n</wctp-Payload>\n")
	b.WriteString("</" + r.Operation() + ">\n</wctp-Operation>\n")
	return b.Bytes(), nil
}

// writeHead writes the XML declaration, the DOCTYPE and the opening
// wctp-Operation tag for version v.
func writeHead(b *bytes.Buffer, v Version) {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	// Tokens and DTD identifiers are constants without markup characters.
	b.WriteString(`<!DOCTYPE wctp-Operation SYSTEM "` + v.DTD + `">` + "\n")
	b.WriteString(`<wctp-Operation wctpVersion="` + v.Token + `">` + "\n")
}

// xmlEscape writes s escaped for character data and attribute values alike
// (quotes, tab, line feed and carriage return included).
func xmlEscape(b *bytes.Buffer, s string) {
	xml.EscapeText(b, []byte(s)) // cannot fail: a bytes.Buffer does not
}
