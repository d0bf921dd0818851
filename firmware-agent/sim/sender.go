package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"pagebridge/firmware-agent/tap"
	"pagebridge/gateway/paging"
)

// SenderOptions configure a simulated sender.
type SenderOptions struct {
	Name string // symlink name in the device dir; default "nursecall0"
	// Client is how the sender speaks TAP: its password, NoLogon for
	// senders that skip the logon, NoChecksum for senders that send
	// blocks without one, its timeouts.
	Client tap.ClientConfig
}

// Sender is a simulated TAP sender (a nurse call system, a switchboard)
// on a pty pair: the agent's terminal role opens Path() as it opens the
// serial line a real sender is wired to, and the Sender pages through it.
// Received() is what the agent answered, Sent() what the Sender wrote.
type Sender struct {
	*Device
	opts SenderOptions

	pageMu sync.Mutex  // one exchange at a time; guards client and clientGen
	client *tap.Client // nil until the first Page, and after each plug or SendRaw
	// clientGen is the plug the client was made for.
	clientGen int

	mu    sync.Mutex    // guards the fields below
	gen   int           // counts plugs
	inbox []byte        // what the agent answered on this plug, not yet read
	wake  chan struct{} // closed and replaced when inbox grows
}

// NewSender starts a simulated sender whose symlink is dir/opts.Name.
func NewSender(dir string, opts SenderOptions) (*Sender, error) {
	if opts.Name == "" {
		opts.Name = "nursecall0"
	}
	s := &Sender{opts: opts, wake: make(chan struct{})}
	d, err := NewDevice(dir, opts.Name, s.plug)
	if err != nil {
		return nil, err
	}
	s.Device = d
	return s, nil
}

// plug is the Device's responder factory: a new pty, a new session, and
// nothing left from the last one.
func (s *Sender) plug() Responder {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.inbox = nil
	return senderInbox{s}
}

// senderInbox is the Responder of a Sender: it keeps what the agent
// sends for the sender's client to read, and answers nothing itself.
type senderInbox struct{ s *Sender }

func (r senderInbox) Respond(in []byte) []byte {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.inbox = append(r.s.inbox, in...)
	close(r.s.wake)
	r.s.wake = make(chan struct{})
	return nil
}

// Page sends one page the way the sender is configured to (logging on
// first unless Client.NoLogon, and again after the session ended or was
// left in doubt) and returns the agent's reply. Its errors are those of
// tap.Client's Logon and Send: a 211 with a nil error means the agent
// accepted the page.
func (s *Sender) Page(ctx context.Context, id, text string) (tap.Reply, error) {
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	c := s.session()
	if !c.LoggedOn() {
		if err := c.Logon(ctx); err != nil {
			return tap.Reply{}, err
		}
	}
	return c.Send(ctx, tap.Page{ID: id, Text: paging.NewPHI(text)})
}

// Logoff ends the sender's session (EOT), if it has one.
func (s *Sender) Logoff(ctx context.Context) error {
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	if s.client == nil || !s.client.LoggedOn() {
		return nil
	}
	return s.client.Logoff(ctx)
}

// SendRaw writes p to the line as it is: noise, half a block before a
// hang-up. The next Page starts a new session (it logs on again, unless
// Client.NoLogon), so that an answer to p is not taken for the page's.
func (s *Sender) SendRaw(p []byte) error {
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	s.client = nil
	_, err := s.write(p)
	return err
}

// HangUpMidBlock writes the first half of the page's first block, as
// tap.EncodePage writes it, and unplugs the sender: a sender that hangs
// up in the middle of a block. Plug brings it back.
func (s *Sender) HangUpMidBlock(id, text string) error {
	blocks, err := tap.EncodePage(tap.Page{ID: id, Text: paging.NewPHI(text)})
	if err != nil {
		return err
	}
	if err := s.SendRaw(blocks[0][:len(blocks[0])/2]); err != nil {
		return err
	}
	return s.Unplug()
}

// Exchange writes raw to the line as it is (a block with a bad checksum
// from CorruptChecksum, one without a checksum, a logon by hand) and
// returns the agent's next reply, parsed by tap.ParseReply; what follows
// the reply stays for the next read. It waits until a whole reply came or
// ctx ends, so use it only for bytes that are answered. Unlike SendRaw it
// leaves the sender's session as it was.
func (s *Sender) Exchange(ctx context.Context, raw []byte) (tap.Reply, error) {
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	if _, err := (senderConn{s: s, gen: gen}).Write(raw); err != nil {
		return tap.Reply{}, err
	}
	for {
		s.mu.Lock()
		r, n, err := tap.ParseReply(s.inbox)
		if err == nil {
			s.inbox = s.inbox[n:]
		}
		wake, now := s.wake, s.gen
		s.mu.Unlock()
		switch {
		case err == nil:
			return r, nil
		case !errors.Is(err, tap.ErrIncomplete):
			return tap.Reply{}, err
		case now != gen || !s.plugged():
			return tap.Reply{}, ErrUnplugged
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return tap.Reply{}, fmt.Errorf("sim: wait for the answer on %s: %w", s.Path(), ctx.Err())
		}
	}
}

// CorruptChecksum returns a copy of block (STX … end character, checksum,
// CR, as tap.EncodePage writes it) whose checksum is wrong but well
// formed, so that a terminal answers it "514" NAK.
func CorruptChecksum(block []byte) []byte {
	b := bytes.Clone(block)
	end := bytes.IndexAny(b, "\x03\x17\x1f")
	if end < 0 || len(b) < end+4 {
		return b
	}
	last := &b[end+3]
	*last = '0' + (*last-'0'+1)%16 // still in 0…?
	return b
}

// session returns the client for the current plug.
func (s *Sender) session() *tap.Client {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	if s.client == nil || s.clientGen != gen {
		s.client = tap.NewClient(senderConn{s: s, gen: gen}, s.opts.Client)
		s.clientGen = gen
	}
	return s.client
}

// senderConn is the line as the sender's tap.Client sees it: reads that
// time out return (0, nil), like a serial port's.
type senderConn struct {
	s   *Sender
	gen int // the plug it belongs to
}

// senderReadTimeout is the read timeout of a sender's line.
const senderReadTimeout = 50 * time.Millisecond

func (c senderConn) Read(p []byte) (int, error) {
	t := time.NewTimer(senderReadTimeout)
	defer t.Stop()
	for {
		c.s.mu.Lock()
		n := copy(p, c.s.inbox)
		c.s.inbox = c.s.inbox[n:]
		gen, wake := c.s.gen, c.s.wake
		c.s.mu.Unlock()
		switch {
		case n > 0:
			return n, nil
		case gen != c.gen || !c.s.plugged():
			return 0, ErrUnplugged
		}
		select {
		case <-wake:
		case <-t.C:
			return 0, nil
		}
	}
}

func (c senderConn) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	gen := c.s.gen
	c.s.mu.Unlock()
	if gen != c.gen {
		return 0, ErrUnplugged
	}
	return c.s.write(p)
}
