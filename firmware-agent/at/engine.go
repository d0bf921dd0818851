package at

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure an Engine. The zero value of each field means its
// default.
type Options struct {
	// Timeout is a command's default timeout for its final result (and
	// for the "> " prompt of a prompt command). Default 5s.
	Timeout time.Duration
	// Gap is the least time between the last line received and the
	// next command written (SIM800 wants about 100ms, u-blox 20ms).
	// Default 0.
	Gap time.Duration
	// URCs are the unsolicited result codes to take out of the stream.
	// Default DefaultURCs.
	URCs []URCSpec
	// OnURC is called with each URC, in order, from a goroutine the
	// engine owns (never the one that reads the port). It may call the
	// engine's commands. It must return: Close waits for it. nil drops
	// URCs (they still never reach a command's reply).
	OnURC func(URC)
	// URCQueue bounds the URCs received but not yet handed to OnURC; more
	// are dropped and logged. Default 256.
	URCQueue int
	// Probes are the commands that resynchronise after a timeout, tried
	// in order; each must answer an information line with its own prefix
	// (never a URC's) and OK. Default "AT+CMEE?", "AT+CSQ".
	Probes []string
	// Quiet is how long the line must be silent, after ESC, before a
	// probe is sent. Default 100ms.
	Quiet time.Duration
	// ResyncTimeout bounds the wait for quiet and then for each probe's
	// answer. Default 3s.
	ResyncTimeout time.Duration
	// MaxLine is the longest line kept; longer lines are dropped up to
	// their end. Default 4096 bytes.
	MaxLine int
	// Log gets the engine's records (commands redacted, no PDUs, no
	// information lines). nil logs nothing.
	Log *slog.Logger
}

// Defaults applied to zero Options fields.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultSendTimeout   = 60 * time.Second
	DefaultURCQueue      = 256
	DefaultQuiet         = 100 * time.Millisecond
	DefaultResyncTimeout = 3 * time.Second
	DefaultMaxLine       = 4096
)

// DefaultProbes are the resynchronisation probes: both are in every GSM
// modem's AT set (27.007 §9.1, §8.5) and neither prefix is a URC.
var DefaultProbes = []string{"AT+CMEE?", "AT+CSQ"}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.URCs == nil {
		o.URCs = DefaultURCs
	}
	if o.URCQueue <= 0 {
		o.URCQueue = DefaultURCQueue
	}
	if len(o.Probes) == 0 {
		o.Probes = DefaultProbes
	}
	if o.Quiet <= 0 {
		o.Quiet = DefaultQuiet
	}
	if o.ResyncTimeout <= 0 {
		o.ResyncTimeout = DefaultResyncTimeout
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Command is one AT command line and how to run it.
type Command struct {
	// Line is the command line without its CR, e.g. "AT+CSQ".
	Line string
	// Timeout for the final result; 0 means Options.Timeout. For a
	// prompt command it runs from the moment Data was written.
	Timeout time.Duration
	// Prefix of the information lines that answer it ("+CREG:"); ""
	// means derived from Line. A line with this prefix is the command's
	// even if it is also a URC's.
	Prefix string
	// Data, if not empty, makes this a prompt command (AT+CMGS, AT+CMGW):
	// the engine waits for "> ", then writes Data and Ctrl-Z.
	Data string
	// PromptTimeout bounds the wait for "> "; 0 means Options.Timeout.
	PromptTimeout time.Duration
	// Private keeps Line's arguments out of logs and errors (commands
	// with PINs, numbers or SMS already are).
	Private bool
}

// Control characters of the prompt dialogue.
const (
	ctrlZ = 0x1A // ends the data after "> "
	esc   = 0x1B // aborts it
)

// maxInfo bounds the information lines kept for one command.
const maxInfo = 4096

// Log keys.
const (
	keyCmd     = "cmd"
	keyErr     = "err"
	keyURC     = "urc"
	keyBytes   = "bytes"
	keyDropped = "dropped"
	keyProbe   = "probe"
)

// Engine runs AT commands on one modem. One goroutine (the owner) owns the
// port: it writes every byte and takes every byte a reader goroutine reads;
// callers submit commands and wait for their results.
type Engine struct {
	rw   io.ReadWriter
	opts Options
	urcs []URCSpec
	log  *slog.Logger

	reqs chan *request // callers → owner
	in   chan input    // reader → owner
	quit chan struct{} // closed by Close
	stop chan struct{} // closed when the owner ends: the reader stops
	done chan struct{} // closed when the owner has ended and err is set
	err  error         // why the engine ended; written before done closes

	closeOnce sync.Once
	wg        sync.WaitGroup // owner, reader, dispatcher

	urcMu      sync.Mutex
	urcQ       []URC         // guarded by urcMu
	urcSignal  chan struct{} // one token: urcQ grew
	urcDropped int           // guarded by urcMu; since the last log

	// Only accessed from the owner goroutine.
	cur       *request  // the command (or probe) waiting for its answer
	partial   []byte    // the line being received
	overlong  bool      // dropping an overlong line up to its end
	urcWait   *URC      // a two-line URC waiting for its data line
	lastRx    time.Time // when the last line ended
	desync    bool      // a command went unanswered: resync first
	unsettled []string  // reply prefixes of unanswered commands since the last sync
	prompt    bool      // "> " seen for cur
	probing   bool      // cur is a resync probe
	probeInfo bool      // the probe's own information line was seen
	staleLine bool      // partial began before cur was written: not cur's
}

// input is what the reader hands the owner: bytes, or the error that ended
// the reads.
type input struct {
	b   []byte
	err error
}

// request is one submitted command.
type request struct {
	ctx    context.Context
	cmd    Command
	prefix string
	name   string      // Line as logs and errors show it
	res    chan result // buffered 1; written once by the owner

	// Only accessed from the owner goroutine.
	info      []string
	echoSeen  bool
	dataEcho  bool
	committed bool // data and Ctrl-Z written: the outcome may be a sent SMS
	finished  bool
	final     error
	answered  bool // res written
}

type result struct {
	info []string
	err  error
}

// New starts an engine on rw and returns it. rw's Read must return (0,
// nil) on a read timeout or block until data comes; any error it returns
// ends the engine (ErrPort). The engine owns rw until Close returns.
func New(rw io.ReadWriter, opts Options) *Engine {
	opts = opts.withDefaults()
	e := &Engine{
		rw:        rw,
		opts:      opts,
		urcs:      opts.URCs,
		log:       opts.Log.With("component", "at"),
		reqs:      make(chan *request),
		in:        make(chan input),
		quit:      make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		urcSignal: make(chan struct{}, 1),
	}
	e.wg.Add(3)
	go e.read()
	go e.dispatch()
	go e.run()
	return e
}

// Close ends the engine: a command in progress gets ErrClosed (wrapped in
// ErrUnknown if its data was written), queued URCs are still handed to
// OnURC. Close returns once the engine's goroutines have: the reader ends
// when its Read returns, at the port's read timeout, so over an rw whose
// Read blocks until data comes (a bare pipe) close rw too. Close always
// returns nil; Err says why the engine ended.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { close(e.quit) })
	e.wg.Wait()
	return nil
}

// Done is closed when the engine has ended: port failure, unresponsive
// modem, or Close.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err returns why the engine ended (wrapping ErrPort, ErrUnresponsive or
// ErrClosed), or nil while it runs.
func (e *Engine) Err() error {
	select {
	case <-e.done:
		return e.err
	default:
		return nil
	}
}

// Exec runs the command line cmd (without CR) with the default timeout
// and returns its information lines.
func (e *Engine) Exec(ctx context.Context, cmd string) ([]string, error) {
	return e.Do(ctx, Command{Line: cmd})
}

// Do runs c and returns its information lines (never echo, URCs or the
// final result code). The error is a *CMEError, *CMSError or *ResultError
// for a final result other than OK, or wraps ErrTimeout, ErrUnknown,
// ErrPort, ErrUnresponsive, ErrClosed, ErrInvalid or ctx's error. If ctx
// ends before the command is written, nothing is written; after, the
// command counts as timed out (the engine resynchronises).
func (e *Engine) Do(ctx context.Context, c Command) ([]string, error) {
	name := redact(c.Line, c.Private)
	if strings.ContainsAny(c.Line, "\r\n\x00\x1a\x1b") || !isBasic(c.Line) {
		return nil, fmt.Errorf("at: %s: %w", name, ErrInvalid)
	}
	if strings.ContainsAny(c.Data, "\x1a\x1b") {
		return nil, fmt.Errorf("at: %s: control character in data: %w", name, ErrInvalid)
	}
	res := make(chan result, 1)
	r := &request{ctx: ctx, cmd: c, prefix: c.Prefix, name: name, res: res}
	if r.prefix == "" {
		r.prefix = replyPrefix(c.Line)
	}
	select {
	case e.reqs <- r:
	case <-ctx.Done():
		return nil, fmt.Errorf("at: %s: not sent: %w", name, ctx.Err())
	case <-e.done:
		return nil, fmt.Errorf("at: %s: not sent: %w", name, e.err)
	}
	out := <-res // the owner answers every request it took, ctx or not
	return out.info, out.err
}

// isBasic reports whether cmd is a command line that starts with AT.
func isBasic(cmd string) bool {
	return len(cmd) >= 2 && strings.EqualFold(cmd[:2], "AT")
}

// SendPDU sends an SMS in PDU mode: AT+CMGS=<tpduLen>, then pdu (hex,
// with the SMSC part, as AT+CMGF=0 wants) and Ctrl-Z after the prompt. It
// returns the message reference from "+CMGS: <mr>", or -1 if the modem
// said OK without one. timeout bounds the wait for the result after the
// PDU was written (0: DefaultSendTimeout); the prompt gets
// Options.Timeout.
//
// An error wrapping ErrUnknown means the PDU and Ctrl-Z were written and
// no final result came: the SMS may have gone out. Any other error means
// it was not sent: a device error (its Class says whether to retry), or
// an engine error before the PDU was written.
func (e *Engine) SendPDU(ctx context.Context, tpduLen int, pdu string, timeout time.Duration) (int, error) {
	// The SMSC part before the TPDU is 1 to 12 octets (a length octet,
	// then at most a type octet and 10 address octets).
	if tpduLen <= 0 || len(pdu)%2 != 0 || !isHex(pdu) || len(pdu) < 2*tpduLen+2 || len(pdu) > 2*tpduLen+24 {
		return 0, fmt.Errorf("at: AT+CMGS=%d: malformed PDU (%d hex digits): %w", tpduLen, len(pdu), ErrInvalid)
	}
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	info, err := e.Do(ctx, Command{Line: "AT+CMGS=" + strconv.Itoa(tpduLen), Data: pdu, Timeout: timeout})
	if err != nil {
		return 0, err
	}
	for _, l := range info {
		if rest, ok := strings.CutPrefix(l, "+CMGS:"); ok {
			f, _, _ := strings.Cut(rest, ",")
			if mr, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
				return mr, nil
			}
		}
	}
	return -1, nil
}

// read is the reader goroutine: it reads the port and hands the bytes to
// the owner until a read fails or the owner has ended.
func (e *Engine) read() {
	defer e.wg.Done()
	buf := make([]byte, 1024)
	for {
		n, err := e.rw.Read(buf)
		if n > 0 {
			select {
			case e.in <- input{b: append([]byte(nil), buf[:n]...)}:
			case <-e.stop:
				return
			}
		}
		if err != nil {
			select {
			case e.in <- input{err: err}:
			case <-e.stop:
			}
			return
		}
		select {
		case <-e.stop:
			return
		default:
		}
	}
}

// dispatch hands queued URCs to OnURC until the owner has ended and the
// queue is empty.
func (e *Engine) dispatch() {
	defer e.wg.Done()
	for {
		e.urcMu.Lock()
		q := e.urcQ
		e.urcQ = nil
		dropped := e.urcDropped
		e.urcDropped = 0
		e.urcMu.Unlock()
		if dropped > 0 {
			e.log.Warn("URC queue full, URCs dropped", keyDropped, dropped)
		}
		for _, u := range q {
			if e.opts.OnURC != nil {
				e.opts.OnURC(u)
			}
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-e.urcSignal:
		case <-e.done:
			e.urcMu.Lock()
			empty := len(e.urcQ) == 0
			e.urcMu.Unlock()
			if empty {
				return
			}
		}
	}
}

// emit queues a URC for OnURC.
func (e *Engine) emit(u URC) {
	e.log.Debug("URC", keyURC, u)
	e.urcMu.Lock()
	if len(e.urcQ) >= e.opts.URCQueue {
		e.urcDropped++
	} else {
		e.urcQ = append(e.urcQ, u)
	}
	e.urcMu.Unlock()
	select {
	case e.urcSignal <- struct{}{}:
	default:
	}
}

// run is the owner goroutine.
func (e *Engine) run() {
	defer e.wg.Done()
	err := e.loop()
	if e.urcWait != nil {
		e.emit(*e.urcWait)
		e.urcWait = nil
	}
	e.err = err
	close(e.stop)
	close(e.done)
	e.log.Debug("engine ended", keyErr, err)
}

func (e *Engine) loop() error {
	for {
		select {
		case r := <-e.reqs:
			if err := e.do(r); err != nil {
				return err
			}
			if e.desync {
				if err := e.resync(); err != nil {
					return err
				}
			}
		case in := <-e.in:
			if in.err != nil {
				return portError(in.err)
			}
			e.feed(in.b)
		case <-e.quit:
			return ErrClosed
		}
	}
}

func portError(err error) error { return fmt.Errorf("%w: %w", ErrPort, err) }

// event is what wait saw.
type event int

const (
	evData  event = iota // bytes arrived and were handled
	evTimer              // the timer fired
	evCtx                // the command's ctx ended
	evQuit               // Close
	evPort               // the read failed; the error is returned with it
)

// wait takes the next input, or reports the timer, ctx or Close.
func (e *Engine) wait(t *time.Timer, ctxDone <-chan struct{}) (event, error) {
	select {
	case in := <-e.in:
		if in.err != nil {
			return evPort, portError(in.err)
		}
		e.feed(in.b)
		return evData, nil
	case <-t.C:
		return evTimer, nil
	case <-ctxDone:
		return evCtx, nil
	case <-e.quit:
		return evQuit, ErrClosed
	}
}

// write writes b; a failure is a port failure.
func (e *Engine) write(b []byte) (int, error) {
	n, err := e.rw.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return n, portError(err)
	}
	return n, nil
}

// finish answers r once.
func (e *Engine) finish(r *request, err error) {
	if r.answered || r.res == nil {
		return
	}
	r.answered = true
	e.log.Debug("command", keyCmd, r.name, keyErr, err)
	r.res <- result{info: r.info, err: err}
}

// notSent, unknown and failed build a command's engine errors.
func (r *request) notSent(cause error) error {
	return fmt.Errorf("at: %s: not sent: %w", r.name, cause)
}

func (r *request) failed(cause error) error {
	if r.committed {
		return fmt.Errorf("at: %s: %w: %w", r.name, ErrUnknown, cause)
	}
	return fmt.Errorf("at: %s: %w", r.name, cause)
}

// do runs one command. It returns an error only when the engine must end.
func (e *Engine) do(r *request) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	// The gap after the last line, taking input meanwhile. Lines that
	// come during the gap do not extend it, so that a chatty modem cannot
	// hold commands up.
	if d := time.Until(e.lastRx.Add(e.opts.Gap)); e.opts.Gap > 0 && d > 0 {
		t.Reset(d)
		for ev := evData; ev == evData; {
			var err error
			switch ev, err = e.wait(t, r.ctx.Done()); ev {
			case evQuit, evPort:
				e.finish(r, r.notSent(err))
				return err
			}
		}
	}
	if err := r.ctx.Err(); err != nil {
		e.finish(r, r.notSent(err))
		return nil
	}
	if err := e.takePending(); err != nil {
		e.finish(r, r.notSent(err))
		return err
	}

	e.cur, e.prompt, e.staleLine = r, false, len(e.partial) > 0
	defer func() { e.cur = nil }()
	if _, err := e.write([]byte(r.cmd.Line + "\r")); err != nil {
		e.finish(r, r.notSent(err))
		return err
	}
	awaitPrompt := r.cmd.Data != ""
	timeout := r.cmd.Timeout
	if awaitPrompt {
		timeout = r.cmd.PromptTimeout
	}
	if timeout <= 0 {
		timeout = e.opts.Timeout
	}
	t.Reset(timeout)
	for {
		if r.finished {
			switch {
			case r.final == nil:
				e.finish(r, nil)
			case awaitPrompt:
				e.finish(r, fmt.Errorf("at: %s: not sent: %w", r.name, r.final))
			default:
				e.finish(r, fmt.Errorf("at: %s: %w", r.name, r.final))
			}
			return nil
		}
		if awaitPrompt && e.prompt {
			awaitPrompt = false
			n, err := e.write(append([]byte(r.cmd.Data), ctrlZ))
			r.committed = n == len(r.cmd.Data)+1 // Ctrl-Z accepted: the modem may send
			if err != nil {
				e.finish(r, r.failed(err))
				return err
			}
			to := r.cmd.Timeout
			if to <= 0 {
				to = e.opts.Timeout
			}
			t.Reset(to)
			continue
		}
		ev, err := e.wait(t, r.ctx.Done())
		switch ev {
		case evData:
			continue
		case evQuit, evPort:
			if awaitPrompt {
				e.finish(r, r.notSent(err))
			} else {
				e.finish(r, r.failed(err))
			}
			return err
		}
		cause := ErrTimeout
		if ev == evCtx {
			cause = r.ctx.Err()
		}
		e.log.Warn("command unanswered", keyCmd, r.name, keyErr, cause)
		e.desync = true
		e.unsettled = append(e.unsettled, r.prefix)
		if awaitPrompt {
			// Close a prompt that may open late: the PDU was never
			// written, so the SMS cannot go out.
			if _, err := e.write([]byte{esc}); err != nil {
				e.finish(r, r.notSent(err))
				return err
			}
			e.finish(r, fmt.Errorf("at: %s: no prompt: not sent: %w", r.name, cause))
			return nil
		}
		e.finish(r, r.failed(cause))
		return nil
	}
}

// takePending handles input the reader already holds, so that bytes the
// modem sent before the command are not taken for its answer.
func (e *Engine) takePending() error {
	for {
		select {
		case in := <-e.in:
			if in.err != nil {
				return portError(in.err)
			}
			e.feed(in.b)
		default:
			return nil
		}
	}
}

// resync brings the modem back in step after an unanswered command: ESC
// (closes a prompt still open), wait for the line to go quiet, then a
// probe whose answer is an information line with the probe's own prefix
// and OK. A final result without that line before it is a late answer
// to an earlier command and is dropped. A probe whose prefix is that of a
// command still unanswered is skipped (its late answer could pass for the
// probe's), and so is a probe that timed out. If no probe is answered the
// engine ends with ErrUnresponsive.
func (e *Engine) resync() error {
	e.log.Info("resynchronising")
	if _, err := e.write([]byte{esc}); err != nil {
		return err
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for _, p := range e.opts.Probes {
		prefix := replyPrefix(p)
		if prefix == "" || e.isUnsettled(prefix) {
			continue
		}
		if err := e.drainQuiet(t); err != nil {
			return err
		}
		ok, err := e.probe(t, p, prefix)
		if err != nil {
			return err
		}
		if ok {
			e.desync, e.unsettled = false, nil
			e.log.Info("resynchronised", keyProbe, p)
			return nil
		}
		e.unsettled = append(e.unsettled, prefix)
	}
	e.log.Error("modem does not answer after a timeout", keyErr, ErrUnresponsive)
	return ErrUnresponsive
}

func (e *Engine) isUnsettled(prefix string) bool {
	for _, p := range e.unsettled {
		if p == prefix {
			return true
		}
	}
	return false
}

// drainQuiet takes input until none came for Quiet, or ResyncTimeout
// passed (a probe is safe on a noisy line too; quiet only saves it
// from stale lines).
func (e *Engine) drainQuiet(t *time.Timer) error {
	limit := time.Now().Add(e.opts.ResyncTimeout)
	for {
		d := min(e.opts.Quiet, time.Until(limit))
		if d <= 0 {
			return nil
		}
		t.Reset(d)
		switch ev, err := e.wait(t, nil); ev {
		case evTimer:
			return nil
		case evQuit, evPort:
			return err
		}
	}
}

// probe sends one probe and reports whether its own answer came.
func (e *Engine) probe(t *time.Timer, line, prefix string) (bool, error) {
	r := &request{ctx: context.Background(), cmd: Command{Line: line}, prefix: prefix, name: line}
	if err := e.takePending(); err != nil {
		return false, err
	}
	e.cur, e.probing, e.probeInfo, e.prompt, e.staleLine = r, true, false, false, len(e.partial) > 0
	defer func() { e.cur, e.probing = nil, false }()
	if _, err := e.write([]byte(line + "\r")); err != nil {
		return false, err
	}
	t.Reset(e.opts.ResyncTimeout)
	for {
		if r.finished {
			return true, nil
		}
		switch ev, err := e.wait(t, nil); ev {
		case evTimer:
			e.log.Warn("resync probe unanswered", keyProbe, line)
			return false, nil
		case evQuit, evPort:
			return false, err
		}
	}
}

// feed splits received bytes into lines and handles them. NUL, Ctrl-Z and
// ESC are dropped as noise (a modem may echo the last two); CR and LF end
// lines.
func (e *Engine) feed(b []byte) {
	for _, c := range b {
		switch c {
		case 0, ctrlZ, esc:
			continue
		case '\r', '\n':
			if e.overlong {
				e.overlong, e.staleLine = false, false
				e.partial = e.partial[:0]
				continue
			}
			if len(e.partial) > 0 {
				line := cleanLine(e.partial)
				e.partial = e.partial[:0]
				stale := e.staleLine
				e.staleLine = false
				if line != "" {
					e.lastRx = time.Now()
					e.line(line, stale)
				}
			}
			continue
		}
		if e.overlong {
			continue
		}
		if len(e.partial) >= e.opts.MaxLine {
			e.log.Warn("overlong line dropped", keyBytes, len(e.partial))
			e.overlong = true
			e.partial = e.partial[:0]
			continue
		}
		e.partial = append(e.partial, c)
	}
	// "> " has no line end: it is a prompt when it is all there is.
	if r := e.cur; r != nil && r.cmd.Data != "" && !r.committed && len(e.partial) > 0 {
		if cleanLine(e.partial) == ">" {
			e.partial = e.partial[:0]
			e.prompt = true
			e.lastRx = time.Now()
		}
	}
}

// line handles one received line (trimmed, not empty). The order decides
// who a line belongs to:
//  1. the data line of a two-line URC whose header came last;
//  2. the echo of the current command (or of its data);
//  3. a final result code: the current command's, or dropped as late;
//  4. a line with the current command's reply prefix: its information,
//     even if a URC has the same prefix;
//  5. a URC;
//  6. any other line: the current command's information (lines without
//     a prefix, such as a PDU after +CMGR:, or the answer to AT+CGMI),
//     or dropped as late when no command (or a probe) is waiting.
//
// A stale line (begun before the current command was written) is handled
// as if no command were waiting.
//
// A probe's answer is its prefixed line and then OK; a final result
// without that line before it is a late one, and resets the wait.
func (e *Engine) line(l string, stale bool) {
	if u := e.urcWait; u != nil {
		e.urcWait = nil
		if final, _ := parseFinal(l); !final && e.matchURC(l) == nil && l != ">" {
			u.Data = l
			e.emit(*u)
			return
		}
		e.emit(*u) // its data line never came
	}
	r := e.cur
	if stale {
		r = nil
	}
	if r != nil {
		switch {
		case !r.echoSeen && strings.EqualFold(l, r.cmd.Line):
			r.echoSeen = true
			return
		case r.cmd.Data != "" && !r.dataEcho && r.committed && l == r.cmd.Data:
			r.dataEcho = true
			return
		case l == ">":
			if r.cmd.Data != "" && !r.committed {
				e.prompt = true
			}
			return
		}
	} else if l == ">" {
		return // a prompt nobody waits for
	}
	if final, err := parseFinal(l); final {
		switch {
		case r == nil || r.finished:
			e.log.Debug("late final result dropped", keyBytes, len(l))
		case e.probing && (err != nil || !e.probeInfo):
			e.probeInfo = false // a late answer, or the probe failed: wait for ours
		default:
			r.finished, r.final = true, err
		}
		return
	}
	if r != nil && r.prefix != "" && strings.HasPrefix(l, r.prefix) {
		if e.probing {
			e.probeInfo = !r.finished
			return
		}
		e.addInfo(r, l)
		return
	}
	if spec := e.matchURC(l); spec != nil {
		u := URC{Prefix: spec.Prefix, Line: l}
		if spec.Lines >= 2 {
			e.urcWait = &u
			return
		}
		e.emit(u)
		return
	}
	if r == nil || e.probing || r.finished {
		e.log.Debug("late line dropped", keyBytes, len(l))
		return
	}
	e.addInfo(r, l)
}

func (e *Engine) addInfo(r *request, l string) {
	if r.finished || len(r.info) >= maxInfo {
		return
	}
	r.info = append(r.info, l)
}

func (e *Engine) matchURC(l string) *URCSpec {
	for i := range e.urcs {
		if e.urcs[i].match(l) {
			return &e.urcs[i]
		}
	}
	return nil
}
