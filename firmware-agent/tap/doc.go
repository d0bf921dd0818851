// Package tap speaks TAP 1.8 (IXO), the paging protocol of nurse call
// systems, switchboards and paging terminals, in both roles, over any
// io.ReadWriter: a serialport session's line, a pty, a pipe.
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
// [Client] is the sender's role, towards a paging terminal: [Client.Logon],
// [Client.Send] per page, [Client.Logoff]. Send's error says which of three
// things happened to a page that was not accepted ([ErrPermanent],
// [ErrTemporary], [ErrUnknown], in a [*SendError] with the terminal's
// reply).
//
// [ServeTerminal] is the terminal's role, towards senders: it answers the
// logon, checks and reassembles blocks, and hands each whole page to an
// accept function whose [Reply] ([Accepted], [Rejected], [Resend]) goes
// back to the sender.
//
// Message text is PHI: [Page.Text] is a paging.PHI, [Block] formats
// redacted, and no error of this package quotes text.
//
// # Caveats
//
//   - A Read that returns (0, nil) is taken as a read timeout, and timers
//     are checked between reads. Over an rw whose Read blocks until data
//     comes (a bare pipe), Client timeouts and ServeTerminal's ctx take
//     effect only when bytes or an error arrive.
//   - TAP has no message IDs. An answer lost on the line (the page taken,
//     its 211 garbled or cut off) makes the sender send the page again, and
//     the terminal cannot tell; ServeTerminal accepts it twice. Likewise a
//     Client reports such a page as ErrUnknown, not as sent.
//   - The 8th bit is ignored both ways, and LF and NUL are dropped as line
//     noise, as on-site encoders do. EncodePage refuses text outside
//     printable ASCII (ErrInvalidPage) rather than change it.
//   - The answer to a block ending ETB or US is not the page's: a page cut
//     off before its ETX block cannot have gone out, and Send counts it as
//     ErrTemporary; only a last block without a decisive answer is
//     ErrUnknown.
//   - ServeTerminal takes any service type after ESC PG (PG1, PG3, PG8) as
//     alphanumeric paging, and needs the checksum of every block. Of the
//     peers' quirks only the missing logon is handled (ClientConfig.NoLogon;
//     ServeTerminal without a Password); no checksum, splitting long text
//     into pages, character sets and the like are for profiles built on
//     this package.
package tap
