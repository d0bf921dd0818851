// Package tap speaks TAP 1.8 (IXO), the paging protocol of nurse call
// systems, switchboards and paging terminals.
//
// The codec has no IO. [EncodePage] turns a [Page] (pager ID and text)
// into blocks, <STX>id<CR>text<CR><ETX>ccc<CR>, cut at 250 characters into
// blocks ending ETB (between fields) or US (inside a field); [Checksum] is
// the 3-character sum. [ParseBlock] checks one received block and
// [AssemblePage] joins the blocks of a page. [ParseReply] reads a
// terminal's reply: message lines with their 3-digit codes, then the
// [Action] (ACK, NAK, RS, ESC EOT, ESC [p) that decides what happens;
// [EncodeReply] writes one.
//
// Message text is PHI: [Page.Text] is a paging.PHI, [Block] formats
// redacted, and no error of this package quotes text.
//
// # Caveats
//
//   - The 8th bit is ignored, as on-site encoders do. EncodePage refuses
//     text outside printable ASCII (ErrInvalidPage) rather than change it.
package tap
