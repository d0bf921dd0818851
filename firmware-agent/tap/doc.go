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
// Peers bend the spec, so both roles take per-line quirks as plain config
// fields. [TerminalConfig]: Password (logon required when set, optional
// otherwise), NoChecksum (blocks without the 3 checksum characters),
// BareLF (lines and fields ended by LF alone), IdleTimeout, MaxBadBlocks
// (then "503" RS). [ClientConfig]: NoLogon, NoChecksum, BareLF,
// MaxPagesPerSession (log off and on again after that many pages, as
// PageGate wants after 25), the timers and tries. A go-ahead with no ACK
// (Scope) and ID= CR LF (Zetron) need no setting. [Fit] cuts or truncates
// a text for a terminal's maximum length, in printable ASCII
// ([Printable]).
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
//   - The 8th bit is ignored both ways, and NUL is dropped as line noise,
//     as on-site encoders do; so is LF, unless BareLF makes an LF that
//     does not follow a CR a line end. CR LF peers need no setting.
//     EncodePage refuses text outside printable ASCII (ErrInvalidPage)
//     rather than change it; Fit and Printable change it, one character
//     for one where they can.
//   - The answer to a block ending ETB or US is not the page's: a page cut
//     off before its ETX block cannot have gone out, and Send counts it as
//     ErrTemporary; only a last block without a decisive answer is
//     ErrUnknown.
//   - ServeTerminal takes any service type after ESC PG (PG1, PG3, PG8) as
//     alphanumeric paging. With NoChecksum a block with no checksum ends at
//     the CR after its end character; a sender that sends neither checksum
//     nor CR gets its answer only when its next byte comes.
//   - A terminal's session limits: MaxPagesPerSession counts the pages
//     begun in a session. A reply that carries 112 or 113 with ACK took
//     the page and makes the next Send start a new session; with NAK or
//     RS the page goes again in a new session, once (a second 112/113 is
//     ErrTemporary, not the page's fault); with ESC EOT it is
//     ErrDisconnected as any ESC EOT.
//   - Splitting a long text into pages is the caller's choice (Fit): Send
//     sends one page as it is, in as many blocks as it takes.
package tap
