package tap

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"pagebridge/gateway/paging"
)

// TAP control characters.
const (
	stx = 0x02 // start of a block
	etx = 0x03 // end of the last block of a page
	eot = 0x04 // end of a session (sender), with ESC: disconnect (terminal)
	ack = 0x06
	lf  = 0x0a
	cr  = 0x0d
	nak = 0x15
	etb = 0x17 // end of a block; the page continues in the next one
	esc = 0x1b
	rs  = 0x1e
	us  = 0x1f // end of a block that cuts a field; the field continues
)

// Limits of pages and blocks.
const (
	// MaxInfo is the most characters EncodePage puts between a block's STX
	// and its end character, field CRs included: with STX, the end
	// character, the 3-character checksum and CR a block is at most 256
	// characters, as TAP 1.8 allows.
	MaxInfo = 250
	// MaxReadInfo is the most characters ParseBlock takes between STX and
	// the end character. It is more than MaxInfo because a receiver should
	// be tolerant: some senders do not count the field CRs.
	MaxReadInfo = 1024
	// MaxBlocks is the most blocks of one page, both ways: about 4000
	// characters, far beyond any pager's display.
	MaxBlocks = 16
	// MaxIDLen bounds a pager ID (WaveWare takes 10 digits, a Zetron
	// capcode 12 characters).
	MaxIDLen = 32
)

// Errors of the codec. Each error returned wraps one of them; none of
// them carries message text.
var (
	// ErrMalformed: the bytes are not a TAP block, or the blocks do not
	// make a page (no STX, no end character, a control character in a
	// field, no pager ID, ...).
	ErrMalformed = errors.New("tap: malformed")
	// ErrChecksum: a block's checksum does not match its contents.
	ErrChecksum = errors.New("tap: checksum mismatch")
	// ErrTooLong: a block, reply or page beyond the limits above.
	ErrTooLong = errors.New("tap: too long")
	// ErrIncomplete: ParseReply has no complete reply yet; read more.
	ErrIncomplete = errors.New("tap: incomplete")
	// ErrInvalidPage: EncodePage cannot write the page: an empty or
	// overlong pager ID, or a character TAP cannot carry (anything but
	// printable ASCII, and CR in the text).
	ErrInvalidPage = errors.New("tap: invalid page")
)

// Page is one page: the fields of a TAP transaction.
type Page struct {
	// ID is the pager ID, field 1.
	ID string
	// Text is the message, field 2. A received page with more fields has
	// fields 2…n here, joined with CR; a CR in Text is written as a field
	// separator, so that Text survives the round trip.
	Text paging.PHI
}

// LogValue implements slog.LogValuer: the ID and the length of the text,
// never the text.
func (p Page) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", p.ID), slog.Int("len", p.Text.Len()))
}

// Block is one block as received: the characters between STX and the end
// character, and that end character. Info holds message text: Block
// formats redacted.
type Block struct {
	// Info is the fields, each ended by CR; the last field of a block
	// ending ETB or US may be cut and go on in the next block.
	Info []byte
	// End is ETX (0x03) for the last block of a page, ETB (0x17) or US
	// (0x1f) when the page continues in the next block.
	End byte
}

// Last reports whether b ends a page.
func (b Block) Last() bool { return b.End == etx }

// Format implements fmt.Formatter without the contents.
func (b Block) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "tap.Block{%d chars, end 0x%02x}", len(b.Info), b.End)
}

// LogValue implements slog.LogValuer without the contents.
func (b Block) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("len", len(b.Info)), slog.Int("end", int(b.End)))
}

// Checksum returns the 3-character TAP checksum of b, which runs from STX
// to the end character (ETX, ETB or US) inclusive: the sum of the 7-bit
// values, its low 12 bits as three nibbles, each plus '0'.
func Checksum(b []byte) string {
	var sum int
	for _, c := range b {
		sum += int(c & 0x7f)
	}
	return string([]byte{
		'0' + byte(sum>>8&0xf),
		'0' + byte(sum>>4&0xf),
		'0' + byte(sum&0xf),
	})
}

// EncodePage returns the blocks of p, each <STX>info<end>ccc<CR>, ready to
// write one after the other, waiting for the reply to each. The fields
// (ID, then Text split at its CRs), each ended by CR, are cut into blocks of
// at most MaxInfo characters: a block that ends between fields ends ETB, a
// block that cuts a field ends US, the last block ends ETX. It returns an
// error wrapping ErrInvalidPage for a page TAP cannot carry and ErrTooLong
// for one that needs more than MaxBlocks blocks.
func EncodePage(p Page) ([][]byte, error) {
	if err := checkPage(p); err != nil {
		return nil, err
	}
	text := p.Text.Reveal()
	info := make([]byte, 0, len(p.ID)+len(text)+2)
	info = append(info, p.ID...)
	info = append(info, cr)
	info = append(info, text...)
	info = append(info, cr)
	n := (len(info) + MaxInfo - 1) / MaxInfo
	if n > MaxBlocks {
		return nil, fmt.Errorf("%w: page needs %d blocks (at most %d)", ErrTooLong, n, MaxBlocks)
	}
	blocks := make([][]byte, 0, n)
	for len(info) > 0 {
		chunk := info[:min(MaxInfo, len(info))]
		info = info[len(chunk):]
		end := byte(etx)
		switch {
		case len(info) == 0:
		case chunk[len(chunk)-1] == cr:
			end = etb
		default:
			end = us
		}
		blocks = append(blocks, encodeBlock(chunk, end))
	}
	return blocks, nil
}

// encodeBlock frames info: STX info end, checksum, CR.
func encodeBlock(info []byte, end byte) []byte {
	b := make([]byte, 0, len(info)+6)
	b = append(b, stx)
	b = append(b, info...)
	b = append(b, end)
	b = append(b, Checksum(b)...)
	return append(b, cr)
}

// checkPage reports why EncodePage cannot write p, without quoting it.
func checkPage(p Page) error {
	switch {
	case p.ID == "":
		return fmt.Errorf("%w: empty pager ID", ErrInvalidPage)
	case len(p.ID) > MaxIDLen:
		return fmt.Errorf("%w: pager ID of %d characters (at most %d)", ErrInvalidPage, len(p.ID), MaxIDLen)
	}
	for i := 0; i < len(p.ID); i++ {
		if c := p.ID[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: pager ID has character 0x%02x at %d", ErrInvalidPage, c, i)
		}
	}
	text := p.Text.Reveal()
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c < 0x20 && c != cr) || c > 0x7e {
			return fmt.Errorf("%w: text has character 0x%02x at %d", ErrInvalidPage, c, i)
		}
	}
	return nil
}

// ParseBlock parses one block: STX, the info, the end character (ETX, ETB
// or US), the 3-character checksum and an optional CR. The 8th bit of
// every byte is ignored, as on-site encoders do. Errors wrap ErrMalformed
// (framing), ErrChecksum or ErrTooLong (more than MaxReadInfo characters).
// Line noise (LF, NUL) must be dropped before; ParseBlock takes it for a
// control character in a field.
func ParseBlock(b []byte) (Block, error) { return parseBlock(b, false) }

// ParseBlockNoChecksum is ParseBlock for senders that may leave the
// checksum out: a block that ends right after its end character (or with
// CR there) is taken without one, as <STX>id<CR>text<CR><ETX><CR>. A
// block that has a checksum must still have the right one (ErrChecksum),
// and one of 1 or 2 characters is still malformed.
func ParseBlockNoChecksum(b []byte) (Block, error) { return parseBlock(b, true) }

func parseBlock(b []byte, optionalSum bool) (Block, error) {
	if len(b) == 0 || b[0]&0x7f != stx {
		return Block{}, fmt.Errorf("%w: block does not start with STX", ErrMalformed)
	}
	end := -1
	for i := 1; i < len(b); i++ {
		c := b[i] & 0x7f
		if c == etx || c == etb || c == us {
			end = i
			break
		}
		switch {
		case i > MaxReadInfo:
			return Block{}, fmt.Errorf("%w: block longer than %d characters", ErrTooLong, MaxReadInfo)
		case c == stx:
			return Block{}, fmt.Errorf("%w: STX inside a block at %d", ErrMalformed, i)
		case c < 0x20 && c != cr:
			return Block{}, fmt.Errorf("%w: control character 0x%02x in a field at %d", ErrMalformed, c, i)
		}
	}
	if end < 0 {
		return Block{}, fmt.Errorf("%w: no end character (ETX, ETB or US)", ErrMalformed)
	}
	rest := b[end+1:]
	if optionalSum && (len(rest) == 0 || len(rest) == 1 && rest[0]&0x7f == cr) {
		return newBlock(b, end), nil
	}
	if len(rest) < 3 {
		return Block{}, fmt.Errorf("%w: checksum cut short (%d of 3 characters)", ErrMalformed, len(rest))
	}
	got := make([]byte, 3)
	for i := range got {
		got[i] = rest[i] & 0x7f
		if got[i] < '0' || got[i] > '?' {
			return Block{}, fmt.Errorf("%w: checksum character 0x%02x is not in 0-?", ErrMalformed, got[i])
		}
	}
	switch tail := rest[3:]; {
	case len(tail) == 0, len(tail) == 1 && tail[0]&0x7f == cr:
	default:
		return Block{}, fmt.Errorf("%w: %d bytes after the checksum", ErrMalformed, len(tail))
	}
	if want := Checksum(b[:end+1]); string(got) != want {
		return Block{}, fmt.Errorf("%w: block says %q, contents sum to %q", ErrChecksum, got, want)
	}
	return newBlock(b, end), nil
}

// newBlock copies the block b whose end character is at end, 8th bit
// cleared.
func newBlock(b []byte, end int) Block {
	info := make([]byte, end-1)
	for i, c := range b[1:end] {
		info[i] = c & 0x7f
	}
	return Block{Info: info, End: b[end] & 0x7f}
}

// AssemblePage joins the blocks of one page: all but the last end ETB or
// US, the last ETX. Their infos are concatenated (a field cut by US or ETB
// goes on in the next block; some senders use US where ETB is meant, and
// either way the text is the same) and split into fields at CR: field 1 is
// the pager ID, fields 2…n are joined with CR into the text. A CR at the
// very end ends the last field; senders that leave it out are taken too.
// Errors wrap ErrMalformed or ErrTooLong.
func AssemblePage(blocks []Block) (Page, error) {
	switch {
	case len(blocks) == 0:
		return Page{}, fmt.Errorf("%w: no blocks", ErrMalformed)
	case len(blocks) > MaxBlocks:
		return Page{}, fmt.Errorf("%w: page of %d blocks (at most %d)", ErrTooLong, len(blocks), MaxBlocks)
	}
	var info []byte
	for i, b := range blocks {
		switch last := i == len(blocks)-1; {
		case last && b.End != etx:
			return Page{}, fmt.Errorf("%w: last block ends 0x%02x, not ETX", ErrMalformed, b.End)
		case !last && b.End != etb && b.End != us:
			return Page{}, fmt.Errorf("%w: block %d of %d ends 0x%02x, not ETB or US", ErrMalformed, i+1, len(blocks), b.End)
		}
		info = append(info, b.Info...)
	}
	for i, c := range info {
		if c < 0x20 && c != cr || c > 0x7e {
			return Page{}, fmt.Errorf("%w: character 0x%02x in a field at %d", ErrMalformed, c, i)
		}
	}
	info = bytes.TrimSuffix(info, []byte{cr})
	id, text, _ := strings.Cut(string(info), "\r")
	switch {
	case id == "":
		return Page{}, fmt.Errorf("%w: no pager ID", ErrMalformed)
	case len(id) > MaxIDLen:
		return Page{}, fmt.Errorf("%w: pager ID of %d characters (at most %d)", ErrMalformed, len(id), MaxIDLen)
	}
	return Page{ID: id, Text: paging.NewPHI(text)}, nil
}
