package wctp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// agreeInputs are documents on which the RawToken parser could most easily
// part ways with the Token-based one it replaced: namespace declarations
// and prefixes, end tags, text in pieces, DOCTYPEs.
var agreeInputs = []string{
	``,
	` `,
	`<a/>`,
	`<a></a>`,
	`<a>`,
	`</a>`,
	`<a/></a>`,
	`<a></b>`,
	`<a><b></a></b>`,
	`<a/><b/>`,
	`<p:a xmlns:p="urn:x"></p:a>`,
	`<p:a xmlns:p=""></p:a>`,
	`<p:a xmlns:p="" xmlns:q=""></q:a>`,
	`<p:a xmlns:p=""></a>`,
	`<a xmlns:p=""></p:a>`,
	`<p:a></p:a>`,
	`<xml:a/>`,
	`<xmlns:a/>`,
	`<xmlns/>`,
	`<a xmlns="urn:x"/>`,
	`<a xmlns=""/>`,
	`<a xmlns="urn:x"><b xmlns=""/></a>`,
	`<a><b xmlns="urn:x"/></a>`,
	`<a><b xmlns:p=""/><p:c/></a>`,
	`<a xmlns:p=""><b xmlns:p="urn:x"><p:c/></b></a>`,
	`<a xmlns:p="urn:x"><b xmlns:p=""><p:c/></b><p:d/></a>`,
	`<a xmlns:p="" p:x="1" x="2"/>`,
	`<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>`,
	`<a xmlns:p="u" p:x="1" x="2"/>`,
	`<a xml:lang="en" lang="en"/>`,
	`<a xmlns:xml="urn:x" xml:x="1"/>`,
	`<a x="1" x="2"/>`,
	`<a xmlns:p="1" xmlns:p="2"/>`,
	`<a>x<!--c-->y<?pi z?>z<![CDATA[<w>]]></a>`,
	`<a> <b/> </a>`,
	`<a>x<b/>y<!---->z<c/>w</a>`,
	`<a>x<b>1</b>y<b>2</b>z</a>`,
	`<a><![CDATA[]]>x<![CDATA[]]></a>`,
	"<a>\u00a0<b/>\u2003</a>",
	`<a>&lt;&#x41;&#65;</a>`,
	`<a>&bad;</a>`,
	`<!DOCTYPE wctp-Operation><a/>`,
	`<!DOCTYPE wctp-Operation SYSTEM "x" ><a/>`,
	`<!DOCTYPE wctp-Operation PUBLIC "x" 'y'><a/>`,
	`<!DOCTYPE wctp-Operation PUBLIC "x" 'y' z><a/>`,
	`<!DOCTYPE wctp-Operation SYSTEM "x"><!DOCTYPE wctp-Operation><a/>`,
	`<!DOCTYPE wctp-Operation [<!ENTITY a "b">]><a/>`,
	`<!DOCTYPE wctp-Operation SYSTEM "x><a/>`,
	`<a/><!DOCTYPE wctp-Operation>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="latin1"?><a/>`,
	"\ufeff<a/>",
	"<a>\x01</a>",
	"<a>\xff</a>",
	`junk<a/>`,
	`<a/>junk`,
	strings.Repeat("<a>", 17) + strings.Repeat("</a>", 17),
	strings.Repeat("<a>", 16) + strings.Repeat("</a>", 16),
	"<r>" + strings.Repeat("<a/>", 255) + "</r>",
	"<r>" + strings.Repeat("<a/>", 256) + "</r>",
	`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-Confirmation><wctp-Success successCode="200"> Queued <x/> too </wctp-Success></wctp-Confirmation></wctp-Operation>`,
	`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-Confirmation><wctp-Failure errorCode="604"><!-- a -->Busy<?b?> now</wctp-Failure></wctp-Confirmation></wctp-Operation>`,
	`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitRequest><wctp-SubmitHeader><wctp-Originator senderID="a">x</wctp-Originator><wctp-MessageControl>y</wctp-MessageControl><wctp-Recipient recipientID="r"/></wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric/></wctp-Payload></wctp-SubmitRequest></wctp-Operation>`,
	`<wctp-Operation wctpVersion="wctp-dtd-v1r3"><wctp-SubmitClientMessage><wctp-SubmitClientHeader><wctp-ClientOriginator senderID="c"/><wctp-Recipient recipientID="r"/><wctp-ClientMessageControl deliveryPriority="low"/><wctp-ClientMessageControl/></wctp-SubmitClientHeader><wctp-Payload><wctp-Alphanumeric>t</wctp-Alphanumeric></wctp-Payload></wctp-SubmitClientMessage></wctp-Operation>`,
	`<p:wctp-Operation xmlns:p="" wctpVersion="1.0"><wctp-SubmitRequest><wctp-SubmitHeader><wctp-Originator p:senderID="a" xmlns:p=""/><wctp-MessageControl messageID="m"/><wctp-Recipient recipientID="r"/></wctp-SubmitHeader><wctp-Payload><wctp-Alphanumeric>x<!---->y</wctp-Alphanumeric></wctp-Payload></wctp-SubmitRequest></p:wctp-Operation>`,
}

// agreeCorpus is agreeInputs, the testdata documents, and each testdata
// document cut short at every tag.
func agreeCorpus(t testing.TB) [][]byte {
	var in [][]byte
	for _, s := range agreeInputs {
		in = append(in, []byte(s))
	}
	files, err := filepath.Glob("testdata/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b)
		for i := range b {
			if b[i] == '<' || b[i] == '>' {
				in = append(in, b[:i], b[:i+1])
			}
		}
	}
	return in
}

// FuzzParseAgrees checks xmlChars, parseDoc, Parse and ParseResponse
// against the code they replaced (parseref_test.go) on agreeCorpus, and on
// any input under -fuzz.
func FuzzParseAgrees(f *testing.F) {
	for _, in := range agreeCorpus(f) {
		f.Add(in)
	}
	f.Fuzz(checkAgrees)
}

func checkAgrees(t *testing.T, in []byte) {
	t.Helper()
	off, ok := xmlChars(in)
	if refOff, refOK := refXMLChars(in); off != refOff || ok != refOK {
		t.Fatalf("xmlChars(%q) = %d, %t; reference %d, %t", in, off, ok, refOff, refOK)
	}
	d := getDoc()
	defer d.release()
	root, err := d.parse(in)
	refRoot, refErr := refParseDoc(in)
	if !sameError(err, refErr) {
		t.Fatalf("parseDoc(%q) error = %v, reference %v", in, err, refErr)
	}
	if err == nil {
		if diff := diffTree(root, refRoot, "/"); diff != "" {
			t.Fatalf("parseDoc(%q): %s", in, diff)
		}
	}

	r, perr := Parse(in)
	refR, refPErr := refParse(in)
	pe, _ := perr.(*Error)
	refPE, _ := refPErr.(*Error)
	if (perr == nil) != (refPErr == nil) || !sameError(pe, refPE) {
		t.Fatalf("Parse(%q) error = %v, reference %v", in, perr, refPErr)
	}
	if r != refR || r.Text.Reveal() != refR.Text.Reveal() {
		t.Fatalf("Parse(%q) = %#v, reference %#v", in, r, refR)
	}

	resp, rerr := ParseResponse(in)
	refResp, refRErr := refParseResponse(in)
	if (rerr == nil) != (refRErr == nil) || rerr != nil && rerr.Error() != refRErr.Error() {
		t.Fatalf("ParseResponse(%q) error = %v, reference %v", in, rerr, refRErr)
	}
	if resp != refResp {
		t.Fatalf("ParseResponse(%q) = %+v, reference %+v", in, resp, refResp)
	}
}

// sameError compares refusals. The reference checked a header's EMPTY
// elements in map order, so which one a "must be empty" reason names was
// random.
func sameError(e, ref *Error) bool {
	if e == nil || ref == nil {
		return e == nil && ref == nil
	}
	if e.Code != ref.Code || e.Client != ref.Client || e.Version != ref.Version {
		return false
	}
	const random = " must be empty"
	return e.Reason == ref.Reason || strings.HasSuffix(e.Reason, random) && strings.HasSuffix(ref.Reason, random)
}

// diffTree describes the first difference between n and ref, or returns "".
// Text is compared where parseDoc keeps it: see node.text.
func diffTree(n *node, ref *refNode, path string) string {
	path += n.name
	switch {
	case n.name != ref.name:
		return path + ": name differs from " + ref.name
	case len(n.attrs) != len(ref.attrs):
		return path + ": attributes differ"
	case len(n.children) != len(ref.children):
		return path + ": children differ"
	case n.hasText() != ref.hasText():
		return path + ": hasText differs"
	}
	for i := range n.attrs {
		if n.attrs[i] != ref.attrs[i] {
			return path + ": attributes differ"
		}
	}
	if len(n.children) == 0 || n.hasText() {
		if !bytes.Equal(n.text, ref.text) {
			return path + ": text differs"
		}
	} else if n.text != nil {
		return path + ": white space kept"
	}
	for i, c := range n.children {
		if diff := diffTree(c, ref.children[i], path+"/"); diff != "" {
			return diff
		}
	}
	return ""
}

// TestXMLEscapeAgrees checks xmlEscape's shortcut for plain values against
// xml.EscapeText.
func TestXMLEscapeAgrees(t *testing.T) {
	in := []string{"", "200", "Message accepted", "01KXYZ", `a"b`, "a'b", "a&b", "a<b", "a>b", "a\tb", "a\nb", "a\rb", "a\x7fb", "é", "\xff", "\x00"}
	for c := range 256 {
		in = append(in, "x"+string(rune(c))+"y", "x"+string([]byte{byte(c)})+"y")
	}
	for _, s := range in {
		var got, want bytes.Buffer
		xmlEscape(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Errorf("xmlEscape(%q) = %q, want %q", s, got.String(), want.String())
		}
	}
}

// TestXMLContentTypeAgrees checks xmlContentType's shortcut for the usual
// values against the mime.ParseMediaType rule.
func TestXMLContentTypeAgrees(t *testing.T) {
	slow := func(ct string) bool {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
			return false
		}
		return mt == "text/xml" || mt == "application/xml"
	}
	for _, ct := range []string{
		"text/xml", "text/xml; charset=utf-8", "text/xml; charset=UTF-8", "application/xml",
		"TEXT/XML", "text/xml;charset=utf-8", "text/xml; charset=", "text/xml; charset", "text/xml/x",
		"text/plain", "", "application/soap+xml", "text/xml ; charset=iso-8859-1",
	} {
		if got, want := xmlContentType(ct), slow(ct); got != want {
			t.Errorf("xmlContentType(%q) = %t, want %t", ct, got, want)
		}
	}
}
