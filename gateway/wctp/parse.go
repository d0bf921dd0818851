package wctp

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Element names of the operations this package handles.
const (
	opOperation           = "wctp-Operation"
	opSubmitRequest       = "wctp-SubmitRequest"
	opSubmitClientMessage = "wctp-SubmitClientMessage"
	opClientQuery         = "wctp-ClientQuery"
	opPollForMessages     = "wctp-PollForMessages"
	opVersionQuery        = "wctp-VersionQuery"
)

// otherOperations are the operations WCTP 1.0–1.3 define besides the
// submits. Parse answers them all with CodeOperationNotSupported;
// ParseRequest reads wctp-ClientQuery, wctp-PollForMessages and
// wctp-VersionQuery and answers the rest so. Any other element inside
// wctp-Operation is invalid (CodeValidation).
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

// node is one element of a parsed document. Nodes belong to a doc and are
// valid until the doc is released; the strings in them (name, attribute
// names and values) are the decoder's and outlive it.
type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	// text is the character data directly inside the element, CDATA
	// sections and references resolved. It is nil for an element that has
	// child elements and only white space around them: that text means
	// nothing anywhere and is not kept.
	text []byte
	// nonSpace is set when text holds more than white space.
	nonSpace bool

	// Filled in while parsing.
	parent  int // index in doc.nodes; -1 for the root
	nchild  int
	textOff int // where text starts and ends in doc.text, kept while
	textEnd int // the element has no child elements
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
func (n *node) hasText() bool { return n.nonSpace }

// doc is a parsed document and the buffers parsing it needs, kept in a pool
// so that a request does not allocate them afresh. Get one with getDoc and
// release it once nothing read from its nodes' byte slices is in use.
type doc struct {
	r     bytes.Reader
	nodes []node // in document order: the root first
	kids  []*node
	// text holds the character data of every element, piece after piece
	// in document order; pieces lists them.
	text   []byte
	pieces []textPiece
	open   []openElement
	ns     []nsBinding
}

// textPiece is one run of character data inside element node.
type textPiece struct{ node, off, end int }

// openElement is an element whose end tag has not been read yet.
type openElement struct {
	node int
	name xml.Name // as written, prefix in Space
}

// nsBinding is a namespace declaration in scope: an xmlns:prefix attribute,
// or xmlns (prefix "") for the default namespace, on the element at depth.
type nsBinding struct {
	prefix, url string
	depth       int
}

var docPool = sync.Pool{New: func() any { return new(doc) }}

func getDoc() *doc { return docPool.Get().(*doc) }

// release returns d to the pool. Nothing from d's nodes but strings may be
// used afterwards.
func (d *doc) release() {
	d.r.Reset(nil)
	clear(d.nodes)
	clear(d.kids)
	clear(d.open)
	clear(d.ns)
	d.nodes, d.kids, d.text, d.pieces, d.open, d.ns = d.nodes[:0], d.kids[:0], d.text[:0], d.pieces[:0], d.open[:0], d.ns[:0]
	// A doc that grew far beyond what a page needs is left to the garbage
	// collector, so that one odd document does not pin its memory in the
	// pool. Elements, and so nodes, kids and open, are bounded anyway.
	if cap(d.text) > 64<<10 || cap(d.pieces) > 1024 || cap(d.ns) > 64 {
		return
	}
	docPool.Put(d)
}

var utf8BOM = []byte("\xef\xbb\xbf")

// xmlURL is the namespace the xml prefix is bound to.
const xmlURL = "http://www.w3.org/XML/1998/namespace"

func syntaxErr(reason string) *Error { return &Error{Code: CodeCannotParse, Reason: reason} }

// parse parses body into an element tree, enforcing well-formedness and
// the document rules that keep the parser safe, and returns the root:
//
//   - body is UTF-8 (a leading BOM is allowed) made only of XML characters,
//     and declares no other encoding: otherwise CodeCannotParse;
//   - exactly one root element, with nothing but white space, comments and
//     processing instructions around it, and every end tag matching its
//     start tag: otherwise CodeCannotParse;
//   - no element in a namespace (xmlns declarations are applied the way
//     xml.Decoder.Token applies them): otherwise CodeValidation;
//   - at most one directive, a DOCTYPE before the root with an optional
//     external identifier and no internal subset, so no entity can be
//     declared: otherwise CodeValidation. The external identifier is never
//     read: encoding/xml does not fetch anything, and nothing here does.
//   - only the predefined entities and character references: an undeclared
//     entity is not well-formed (CodeCannotParse).
//
// It reads tokens with RawToken, which neither matches end tags nor
// translates namespace prefixes, and does both itself: Token does the same
// work with a map and a heap-allocated stack, and boxes every element
// twice.
func (d *doc) parse(body []byte) (*node, *Error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, syntaxErr("empty body")
	}
	if off, ok := xmlChars(body); !ok {
		return nil, syntaxErr(fmt.Sprintf("byte %d is not a UTF-8 encoded XML character", off))
	}
	// A bytes.Reader is an io.ByteReader, so the decoder reads it directly
	// instead of through a bufio.Reader of its own.
	d.r.Reset(body)
	dec := xml.NewDecoder(&d.r)
	dec.Strict = true
	// dec.CharsetReader stays nil so a declared encoding other than UTF-8
	// is an error, and dec.Entity stays nil so only the predefined entities
	// resolve.
	syntaxErrHere := func() *Error {
		line, _ := dec.InputPos()
		return syntaxErr(fmt.Sprintf("syntax error on line %d", line))
	}
	sawDoctype := false
	for {
		tok, err := dec.RawToken()
		if tok == nil && err != nil {
			if errors.Is(err, io.EOF) {
				if len(d.open) > 0 {
					return nil, syntaxErrHere() // unclosed element
				}
				break
			}
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
			if len(d.nodes) > 0 && len(d.open) == 0 {
				return nil, syntaxErr("second root element")
			}
			if len(d.open) >= maxDepth {
				return nil, &Error{Code: CodeValidation, Reason: "elements nested too deeply"}
			}
			if len(d.nodes) >= maxElements {
				return nil, &Error{Code: CodeValidation, Reason: "too many elements"}
			}
			if len(t.Attr) > maxAttrs {
				return nil, &Error{Code: CodeValidation, Reason: "too many attributes"}
			}
			d.declare(t.Attr)
			if d.elementSpace(t.Name) != "" {
				return nil, &Error{Code: CodeValidation, Reason: "element in a namespace"}
			}
			for i := range t.Attr {
				if s := t.Attr[i].Name.Space; s != "" {
					t.Attr[i].Name.Space = d.attrSpace(s)
				}
			}
			for i, a := range t.Attr {
				for _, b := range t.Attr[:i] {
					if a.Name == b.Name {
						return nil, syntaxErr("repeated attribute")
					}
				}
			}
			parent := -1
			if len(d.open) > 0 {
				parent = d.open[len(d.open)-1].node
				d.nodes[parent].nchild++
			}
			d.nodes = append(d.nodes, node{name: t.Name.Local, attrs: t.Attr, parent: parent})
			d.open = append(d.open, openElement{node: len(d.nodes) - 1, name: t.Name})
		case xml.EndElement:
			if len(d.open) == 0 || d.open[len(d.open)-1].name != t.Name {
				return nil, syntaxErrHere()
			}
			d.open = d.open[:len(d.open)-1]
			for len(d.ns) > 0 && d.ns[len(d.ns)-1].depth >= len(d.open) {
				d.ns = d.ns[:len(d.ns)-1]
			}
		case xml.CharData:
			nonSpace := len(bytes.TrimSpace(t)) > 0
			if len(d.open) == 0 {
				if nonSpace {
					return nil, syntaxErr("text outside the root element")
				}
				continue
			}
			i := d.open[len(d.open)-1].node
			n := &d.nodes[i]
			n.nonSpace = n.nonSpace || nonSpace
			off := len(d.text)
			d.text = append(d.text, t...)
			d.pieces = append(d.pieces, textPiece{node: i, off: off, end: len(d.text)})
			if n.nchild == 0 {
				// Until n has a child element, only comments and
				// processing instructions come between its
				// pieces of text: they are contiguous in d.text.
				if n.textOff == n.textEnd {
					n.textOff = off
				}
				n.textEnd = len(d.text)
			}
		case xml.Directive:
			if len(d.nodes) > 0 || sawDoctype {
				return nil, &Error{Code: CodeValidation, Reason: "directive other than one leading DOCTYPE"}
			}
			if !validDoctype(t) {
				return nil, &Error{Code: CodeValidation, Reason: "DOCTYPE with an internal subset or not for wctp-Operation"}
			}
			sawDoctype = true
		case xml.Comment, xml.ProcInst:
			// Ignored. The decoder has checked the XML declaration.
		}
	}
	if len(d.nodes) == 0 {
		return nil, syntaxErr("no root element")
	}
	d.link()
	return &d.nodes[0], nil
}

// link fills in children and text once d.nodes is complete, so that the
// pointers stay valid. Children come from one slice, d.kids.
func (d *doc) link() {
	nkids := len(d.nodes) - 1 // every element but the root is a child
	d.kids = slices.Grow(d.kids[:0], nkids)[:nkids]
	off := 0
	for i := range d.nodes {
		n := &d.nodes[i]
		n.children = d.kids[off : off : off+n.nchild]
		off += n.nchild
		if n.parent >= 0 {
			p := &d.nodes[n.parent]
			p.children = append(p.children, n)
		}
		if n.nchild == 0 {
			n.text = d.text[n.textOff:n.textEnd:n.textEnd]
		}
	}
	// An element with children holds text in pieces between them. Only
	// text other than white space is worth gathering; that is rare (and
	// refused everywhere but in a reply's wctp-Success or wctp-Failure).
	for _, p := range d.pieces {
		if n := &d.nodes[p.node]; n.nchild > 0 && n.nonSpace {
			n.text = append(n.text, d.text[p.off:p.end]...)
		}
	}
}

// declare puts the namespace declarations among attrs, those of the element
// about to be opened, in scope. They go out of scope at its end tag.
func (d *doc) declare(attrs []xml.Attr) {
	for _, a := range attrs {
		switch {
		case a.Name.Space == "xmlns":
			d.ns = append(d.ns, nsBinding{prefix: a.Name.Local, url: a.Value, depth: len(d.open)})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			d.ns = append(d.ns, nsBinding{prefix: "", url: a.Value, depth: len(d.open)})
		}
	}
}

// lookup returns the namespace bound to prefix, the innermost declaration
// winning.
func (d *doc) lookup(prefix string) (string, bool) {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == prefix {
			return d.ns[i].url, true
		}
	}
	return "", false
}

// elementSpace returns the namespace of an element named n as written,
// resolved as xml.Decoder.Token resolves it (its DefaultSpace unset): ""
// for none.
func (d *doc) elementSpace(n xml.Name) string {
	switch {
	case n.Space == "xmlns":
		return n.Space
	case n.Space == "xml":
		return xmlURL
	case n.Space == "" && n.Local == "xmlns":
		return ""
	}
	if url, ok := d.lookup(n.Space); ok {
		return url
	}
	return n.Space
}

// attrSpace returns the namespace of an attribute written with prefix,
// resolved as xml.Decoder.Token resolves it. Unprefixed attributes are in
// no namespace.
func (d *doc) attrSpace(prefix string) string {
	switch prefix {
	case "xmlns":
		return prefix
	case "xml":
		return xmlURL
	}
	if url, ok := d.lookup(prefix); ok {
		return url
	}
	return prefix
}

// xmlChars reports whether b is valid UTF-8 made only of characters XML 1.0
// allows (Char production), and if not, the offset of the first bad byte.
//
// Most of a WCTP document is printable ASCII, which it skips eight bytes at
// a time: in a word w, (w | (w - 0x2020…20)) & 0x8080…80 is zero exactly
// when every byte is in 0x20–0x7F (a byte below 0x20 borrows and sets its
// top bit; a byte from 0x80 has it already). Any other word, which may hold
// tab, line feed and carriage return or a multi-byte character, is checked
// a character at a time.
func xmlChars(b []byte) (int, bool) {
	const (
		top  = 0x8080808080808080
		x20s = 0x2020202020202020
	)
	for i := 0; i < len(b); {
		if i+8 <= len(b) {
			if w := binary.LittleEndian.Uint64(b[i:]); (w|(w-x20s))&top == 0 {
				i += 8
				continue
			}
		}
		if c := b[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D {
				return i, false
			}
			i++
			continue
		}
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
func validDoctype(dir []byte) bool {
	var w [5][]byte // more words than that is not a valid DOCTYPE
	n, ok := directiveWords(dir, w[:])
	if !ok || n < 2 || string(w[0]) != "DOCTYPE" || string(w[1]) != opOperation {
		return false
	}
	ext := w[2:n]
	isLit := func(w []byte) bool { return len(w) >= 2 && (w[0] == '"' || w[0] == '\'') }
	switch {
	case len(ext) == 0:
		return true
	case len(ext) == 2 && string(ext[0]) == "SYSTEM":
		return isLit(ext[1])
	case len(ext) == 3 && string(ext[0]) == "PUBLIC":
		return isLit(ext[1]) && isLit(ext[2])
	}
	return false
}

// directiveWords splits a directive into bare words and quoted literals
// (kept with their quotes), stores them in words and returns how many there
// are. It fails on an unterminated literal, on any markup character outside
// a literal, and on more words than words holds.
func directiveWords(s []byte, words [][]byte) (int, bool) {
	n := 0
	add := func(w []byte) bool {
		if n == len(words) {
			return false
		}
		words[n] = w
		n++
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			j := bytes.IndexByte(s[i+1:], c)
			if j < 0 || !add(s[i:i+j+2]) {
				return 0, false
			}
			i += j + 2
		case strings.IndexByte("[]<>%&", c) >= 0:
			return 0, false
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\n\r\"'[]<>%&", s[j]) < 0 {
				j++
			}
			if !add(s[i:j]) {
				return 0, false
			}
			i = j
		}
	}
	return n, true
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
	d := getDoc()
	defer d.release()
	root, err := d.parse(body)
	if err != nil {
		return SubmitRequest{}, err
	}
	p, op, perr := operation(root)
	if perr != nil {
		return SubmitRequest{}, perr
	}
	var r SubmitRequest
	switch op.name {
	case opSubmitRequest:
		r, perr = p.submitRequest(op)
	case opSubmitClientMessage:
		p.client = true
		r, perr = p.submitClientMessage(op)
	default:
		perr = p.otherOperation(op)
	}
	if perr != nil { // a nil *Error is not a nil error
		return SubmitRequest{}, perr
	}
	return r, nil
}

// operation checks the root of a parsed document and returns its one
// operation, with a parser that knows the version.
func operation(root *node) (parser, *node, *Error) {
	if root.name != opOperation {
		return parser{}, nil, &Error{Code: CodeValidation, Reason: "root element is not wctp-Operation"}
	}
	vs, ok := root.attr("wctpVersion")
	if !ok {
		return parser{}, nil, &Error{Code: CodeValidation, Reason: "wctp-Operation without wctpVersion"}
	}
	v, ok := lookupVersion(vs)
	if !ok {
		return parser{}, nil, &Error{Code: CodeVersion, Reason: "unsupported wctpVersion"}
	}
	p := parser{v: v}
	if root.hasText() || len(root.children) != 1 {
		return p, nil, p.invalid("wctp-Operation must hold exactly one operation")
	}
	return p, root.children[0], nil
}

// otherOperation refuses an operation the caller does not read.
func (p parser) otherOperation(op *node) *Error {
	if otherOperations[op.name] {
		return p.fail(CodeOperationNotSupported, "operation not supported")
	}
	return p.invalid("unknown operation")
}

// parser carries what is known about the request so that a refusal is
// wrapped the way the sender expects.
type parser struct {
	v      Version
	client bool
	// op is the operation being read when it is not a submit: its
	// response wraps a refusal.
	op string
}

func (p parser) fail(code int, reason string) *Error {
	return &Error{Code: code, Reason: reason, Client: p.client, Version: p.v, Op: p.op}
}

func (p parser) invalid(reason string) *Error { return p.fail(CodeValidation, reason) }

// maxParts is the most child elements elements looks for.
const maxParts = 3

// elements returns n's child elements named in required, then those named
// in optional (nil when absent), in that order. n must hold no text, every
// name in required exactly once, names in optional at most once, and
// nothing else. Order is not checked.
func (p parser) elements(n *node, required []string, optional ...string) ([maxParts]*node, *Error) {
	var found [maxParts]*node
	if n.hasText() {
		return found, p.invalid(n.name + " holds text")
	}
	for _, c := range n.children {
		i := slices.Index(required, c.name)
		if i < 0 {
			if i = slices.Index(optional, c.name); i >= 0 {
				i += len(required)
			}
		}
		if i < 0 {
			return found, p.invalid("unexpected element in " + n.name)
		}
		if found[i] != nil {
			return found, p.invalid("repeated element in " + n.name)
		}
		found[i] = c
	}
	for i, name := range required {
		if found[i] == nil {
			return found, p.invalid(n.name + " without " + name)
		}
	}
	return found, nil
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

// flags reads allowResponse and notifyWhenQueued, notifyWhenDelivered and
// notifyWhenRead: true or false in any ASCII case, absent meaning the
// DTD's default (allowResponse true, the others false).
func (p parser) flags(n *node, r *SubmitRequest) *Error {
	for _, f := range []struct {
		name string
		dst  *bool
		when bool // the value that sets *dst
	}{
		{"allowResponse", &r.NoResponse, false},
		{"notifyWhenQueued", &r.NotifyQueued, true},
		{"notifyWhenDelivered", &r.NotifyDelivered, true},
		{"notifyWhenRead", &r.NotifyRead, true},
	} {
		v, ok := n.attr(f.name)
		if !ok {
			continue
		}
		switch v = strings.TrimSpace(v); {
		case asciiEqualFold(v, "true"):
			*f.dst = f.when
		case asciiEqualFold(v, "false"):
			*f.dst = !f.when
		default:
			return p.invalid(f.name + " is not true or false")
		}
	}
	return nil
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
	header, payload := parts[0], parts[1]
	hdr, err := p.elements(header, []string{"wctp-Originator", "wctp-MessageControl", "wctp-Recipient"})
	if err != nil {
		return SubmitRequest{}, err
	}
	orig, ctl, rcpt := hdr[0], hdr[1], hdr[2]
	for _, n := range []*node{orig, ctl, rcpt} {
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
	if r.RecipientID, err = p.attr(rcpt, "recipientID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.Text, err = p.payload(payload); err != nil {
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
	header, payload := parts[0], parts[1]
	hdr, err := p.elements(header,
		[]string{"wctp-ClientOriginator", "wctp-Recipient"}, "wctp-ClientMessageControl")
	if err != nil {
		return SubmitRequest{}, err
	}
	orig, rcpt, ctl := hdr[0], hdr[1], hdr[2] // ctl is optional
	for _, n := range []*node{orig, rcpt, ctl} {
		if n == nil {
			continue
		}
		if err := p.empty(n); err != nil {
			return SubmitRequest{}, err
		}
	}
	if r.SenderID, err = p.attr(orig, "senderID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.SecurityCode, err = p.attr(orig, "miscInfo", false); err != nil {
		return SubmitRequest{}, err
	}
	if ctl != nil {
		if r.DeliveryPriority, err = p.priority(ctl); err != nil {
			return SubmitRequest{}, err
		}
		if err = p.flags(ctl, &r); err != nil {
			return SubmitRequest{}, err
		}
	}
	if r.RecipientID, err = p.attr(rcpt, "recipientID", true); err != nil {
		return SubmitRequest{}, err
	}
	if r.Text, err = p.payload(payload); err != nil {
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
	attr := func(name, val string) { writeAttr(&b, name, val) }
	if r.Client {
		b.WriteString("<wctp-SubmitClientMessage>\n<wctp-SubmitClientHeader>\n<wctp-ClientOriginator")
		attr("senderID", r.SenderID)
		if r.SecurityCode != "" {
			attr("miscInfo", r.SecurityCode)
		}
		b.WriteString("/>\n")
		if r.DeliveryPriority != "" || r.hasFlags() {
			b.WriteString("<wctp-ClientMessageControl")
			writeFlags(&b, r)
			if r.DeliveryPriority != "" {
				attr("deliveryPriority", r.DeliveryPriority)
			}
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
		writeFlags(&b, r)
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

// writeFlags writes the flags of r that differ from the DTD's defaults.
func writeFlags(b *bytes.Buffer, r SubmitRequest) {
	if r.NoResponse {
		b.WriteString(` allowResponse="false"`)
	}
	if r.NotifyQueued {
		b.WriteString(` notifyWhenQueued="true"`)
	}
	if r.NotifyDelivered {
		b.WriteString(` notifyWhenDelivered="true"`)
	}
	if r.NotifyRead {
		b.WriteString(` notifyWhenRead="true"`)
	}
}

// writeHead writes the XML declaration, the DOCTYPE and the opening
// wctp-Operation tag for version v.
func writeHead(b *bytes.Buffer, v Version) {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	// Tokens and DTD identifiers are constants without markup characters.
	b.WriteString(`<!DOCTYPE wctp-Operation SYSTEM "`)
	b.WriteString(v.DTD)
	b.WriteString(`">` + "\n" + `<wctp-Operation wctpVersion="`)
	b.WriteString(v.Token)
	b.WriteString(`">` + "\n")
}

// writeAttr writes ` name="val"`, val escaped.
func writeAttr(b *bytes.Buffer, name, val string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	xmlEscape(b, val)
	b.WriteByte('"')
}

// xmlEscape writes s escaped for character data and attribute values alike
// (quotes, tab, line feed and carriage return included).
func xmlEscape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F || strings.IndexByte(`"&'<>`, c) >= 0 {
			xml.EscapeText(b, []byte(s)) // cannot fail: a bytes.Buffer does not
			return
		}
	}
	b.WriteString(s) // printable ASCII that needs no escaping, as most values are
}
