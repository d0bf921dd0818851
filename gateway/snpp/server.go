// Package snpp is the gateway's SNPP server (RFC 1861, levels 1 and 2):
// senders that speak the Simple Network Paging Protocol (HylaFAX sendpage,
// switchboard software, monitoring) page legacy pager IDs with it.
//
// A session gathers recipients (PAGE, several allowed), a message (MESS, or
// DATA for several lines), a level (LEVE, mapped to a priority tier), a
// subject (SUBJ) and a caller (CALL), and SEND accepts one page per
// recipient: 250 only once every one of them is durable. An unknown pager
// ID is refused at PAGE with 550, so the sender learns it before SEND.
//
// # Caveats
//
//   - HOLD YYMMDDHHMM[SS] [+/-GMT offset] holds the session's pages until
//     then (at most MaxHold ahead); without an offset the time is GMT, as
//     HylaFAX sendpage -a sends it. The page is stored at once (250 at SEND as
//     always) and its escalation starts at that time. Level 3 (two-way)
//     commands are answered 500.
//   - LOGI is accepted and recorded; when logins are configured, SEND
//     needs a LOGI that matches one.
package snpp

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"pagebridge/gateway/paging"
)

// Limits of a session.
const (
	MaxLine       = 512  // bytes of one command line (RFC 1861 leaves it open)
	MaxRecipients = 100  // PAGE commands before SEND
	MaxDataLines  = 2000 // lines of one DATA block
)

// Login is one sender's credentials.
type Login struct {
	ID, Password string
	// Line names the sender in pages' source ("switchboard").
	Line string
}

// Config configures a Server.
type Config struct {
	// Allow lists the source networks that may connect; empty allows
	// loopback only.
	Allow []netip.Prefix
	// Logins, if any, are required: SEND needs a matching LOGI.
	Logins []Login
	// IdleTimeout closes a silent session (421). Default 5 minutes.
	IdleTimeout time.Duration
	// MaxText bounds a message. Default paging.MaxTextLen.
	MaxText int
	// Line names the listener in pages' source when the sender did not
	// log in. Default "snpp".
	Line string
}

// Server serves SNPP sessions.
type Server struct {
	cfg   Config
	acc   paging.Accepter
	dir   paging.Directory
	clock paging.Clock
	log   *slog.Logger

	jobs atomic.Uint64 // job numbers given at PAGE

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// New returns a server that accepts pages into acc after checking pager
// IDs in dir.
func New(cfg Config, acc paging.Accepter, dir paging.Directory, clock paging.Clock, log *slog.Logger) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.MaxText <= 0 || cfg.MaxText > paging.MaxTextLen {
		cfg.MaxText = paging.MaxTextLen
	}
	if cfg.Line == "" {
		cfg.Line = "snpp"
	}
	if clock == nil {
		clock = paging.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, acc: acc, dir: dir, clock: clock, log: log.With("component", "snpp"), conns: map[net.Conn]bool{}}
}

// Serve accepts sessions on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if !s.allowed(c.RemoteAddr()) {
			s.log.Warn("snpp: connection refused by the source allowlist", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening and ends every session.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) allowed(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if len(s.cfg.Allow) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range s.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// session is one SNPP conversation.
type session struct {
	s      *Server
	w      *bufio.Writer
	conn   net.Conn
	remote string

	login      *Login
	loginID    string
	recipients []string
	ids        []paging.ID // one per recipient, given at PAGE
	jobs       []uint64    // the job number each PAGE reply named
	text       *string
	priority   paging.Priority
	subject    string
	caller     string
	hold       time.Time // HOLD: deliver then, not before
}

func (s *Server) session(c net.Conn) {
	defer c.Close()
	ss := &session{s: s, w: bufio.NewWriter(c), conn: c, remote: c.RemoteAddr().String(), priority: paging.PriorityNormal}
	r := bufio.NewReaderSize(c, MaxLine+2)
	ss.reply(220, "Pagebridge SNPP server ready")
	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				ss.reply(500, "Command line too long")
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				ss.reply(421, "Idle too long, closing")
			}
			return
		}
		if !ss.command(r, line) {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line (CRLF or bare LF), refusing one longer than
// MaxLine after draining it.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	long := false
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		if len(b)+len(part) > MaxLine {
			long = true
		} else {
			b = append(b, part...)
		}
		if !isPrefix {
			break
		}
	}
	if long {
		return "", errLineTooLong
	}
	return string(b), nil
}

func (ss *session) reply(code int, text string) {
	fmt.Fprintf(ss.w, "%d %s\r\n", code, text)
	ss.w.Flush()
}

// command handles one command line; false ends the session.
func (ss *session) command(r *bufio.Reader, line string) bool {
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	if len(verb) > 4 {
		verb = verb[:4] // only the first four characters count
	}
	switch strings.ToUpper(verb) {
	case "PAGE":
		ss.page(arg)
	case "MESS":
		ss.mess(arg)
	case "DATA":
		return ss.data(r)
	case "LEVE":
		ss.level(arg)
	case "LOGI":
		ss.logi(arg)
	case "SUBJ":
		ss.subject = clip(arg, 128)
		ss.reply(250, "Subject accepted")
	case "CALL":
		ss.caller = clip(arg, 64)
		ss.reply(250, "Caller ID accepted")
	case "ALER", "COVE":
		ss.reply(250, "Accepted")
	case "HOLD":
		ss.holdUntil(arg)
	case "RESE":
		ss.reset()
		ss.reply(250, "Reset")
	case "SEND":
		ss.send()
	case "HELP":
		for _, l := range []string{"PAGE <pager ID> [PIN]", "MESS <text>", "DATA (then lines, ending with a lone .)",
			"LEVE <0-11>", "HOLD YYMMDDHHMMSS [+/-GMT offset]", "LOGI <id> [password]", "SUBJ <subject>", "CALL <caller ID>", "RESE", "SEND", "QUIT"} {
			fmt.Fprintf(ss.w, "214 %s\r\n", l)
		}
		ss.reply(250, "End of help")
	case "QUIT":
		ss.reply(221, "Goodbye")
		return false
	case "":
		ss.reply(500, "Empty command")
	case "2WAY", "PING", "EXPT", "NOQU", "ACKR", "RTYP", "MCRE", "MSTA", "KTAG":
		ss.reply(500, "Two-way (level 3) commands are not supported")
	default:
		ss.reply(500, "Unknown command")
	}
	return true
}

// MaxHold is how far ahead HOLD may put a page.
const MaxHold = 7 * 24 * time.Hour

// holdUntil takes HOLD YYMMDDHHMMSS [+/-GMTdifference] (RFC 1861): the
// time is GMT unless an offset (+HH, +HHMM, -0600 …) says otherwise, as
// HylaFAX's sendpage -a sends it (GMT, without seconds, whatever its
// time zone). A time already past sends at once.
func (ss *session) holdUntil(arg string) {
	at, err := ParseHold(arg, time.UTC)
	now := ss.s.clock.Now()
	switch {
	case err != nil:
		ss.reply(550, "Invalid delivery date/time (HOLD YYMMDDHHMMSS [+/-GMT offset])")
		return
	case at.Sub(now) > MaxHold:
		ss.reply(550, "Delivery time more than 7 days ahead")
		return
	}
	ss.hold = at
	ss.reply(250, "Delayed messaging selected")
}

// ParseHold reads HOLD's argument: YYMMDDHHMM[SS] (years 2000–2099) in
// loc, or with a GMT offset +HH, +HHMM or -HHMM.
func ParseHold(arg string, loc *time.Location) (time.Time, error) {
	f := strings.Fields(arg)
	if len(f) > 0 && len(f[0]) == 10 {
		f[0] += "00" // HylaFAX sends no seconds
	}
	if len(f) == 0 || len(f) > 2 || len(f[0]) != 12 {
		return time.Time{}, errors.New("want YYMMDDHHMMSS [+/-GMT offset]")
	}
	if len(f) == 2 {
		off := f[1]
		if len(off) != 3 && len(off) != 5 || (off[0] != '+' && off[0] != '-') {
			return time.Time{}, errors.New("GMT offset: want +HH or +HHMM")
		}
		h, err1 := strconv.Atoi(off[1:3])
		m := 0
		var err2 error
		if len(off) == 5 {
			m, err2 = strconv.Atoi(off[3:5])
		}
		if err1 != nil || err2 != nil || h > 14 || m > 59 {
			return time.Time{}, errors.New("GMT offset out of range")
		}
		secs := (h*60 + m) * 60
		if off[0] == '-' {
			secs = -secs
		}
		loc = time.FixedZone("GMT"+off, secs)
	}
	t, err := time.ParseInLocation("20060102150405", "20"+f[0], loc)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func (ss *session) page(arg string) {
	id, _, _ := strings.Cut(arg, " ") // the PIN after it, if any, is not ours to check
	switch {
	case id == "" || len(id) > paging.MaxPagerIDLen || !utf8.ValidString(id):
		ss.reply(550, "Invalid pager ID")
		return
	case len(ss.recipients) >= MaxRecipients:
		ss.reply(552, fmt.Sprintf("Maximum of %d recipients reached", MaxRecipients))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ss.s.dir.PagerID(ctx, id); err != nil {
		if errors.Is(err, paging.ErrNotFound) {
			ss.reply(550, "Unknown pager ID")
		} else {
			ss.reply(554, "Pager ID not checked, try again later")
		}
		return
	}
	// HylaFAX's sendpage reads a numeric job ID from this reply; the log
	// line of SEND ties it to the page's ID.
	job := ss.s.jobs.Add(1)
	ss.recipients = append(ss.recipients, id)
	ss.ids = append(ss.ids, paging.NewID(ss.s.clock.Now()))
	ss.jobs = append(ss.jobs, job)
	ss.reply(250, fmt.Sprintf("Pager ID accepted; jobid: %d", job))
}

func (ss *session) mess(arg string) {
	switch {
	case ss.text != nil:
		ss.reply(503, "Message already entered")
	case arg == "":
		ss.reply(550, "Empty message")
	case len(arg) > ss.s.cfg.MaxText || !utf8.ValidString(arg):
		ss.reply(550, "Message too long or not UTF-8")
	default:
		ss.text = &arg
		ss.reply(250, "Message accepted")
	}
}

// data reads a DATA block: lines up to a lone ".", dot-stuffing undone.
func (ss *session) data(r *bufio.Reader) bool {
	if ss.text != nil {
		ss.reply(503, "Message already entered")
		return true
	}
	ss.reply(354, "Begin input; end with <CRLF>'.'<CRLF>")
	var b strings.Builder
	tooLong := false
	for n := 0; ; n++ {
		ss.conn.SetReadDeadline(time.Now().Add(ss.s.cfg.IdleTimeout))
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			tooLong = true
			continue
		}
		if err != nil {
			return false
		}
		if line == "." {
			break
		}
		line = strings.TrimPrefix(line, ".")
		if n >= MaxDataLines || b.Len()+len(line)+1 > ss.s.cfg.MaxText {
			tooLong = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	text := b.String()
	switch {
	case tooLong:
		ss.reply(550, "Message too long")
	case text == "":
		ss.reply(550, "Empty message")
	case !utf8.ValidString(text):
		ss.reply(550, "Message is not UTF-8")
	default:
		ss.text = &text
		ss.reply(250, "Message text accepted")
	}
	return true
}

// level maps LEVE 0–11 to a tier (DESIGN.md): 0 high, 1–11 normal.
func (ss *session) level(arg string) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 || n > 11 {
		ss.reply(550, "Invalid level: 0 to 11")
		return
	}
	ss.priority = paging.PriorityNormal
	if n == 0 {
		ss.priority = paging.PriorityHigh
	}
	ss.reply(250, "Level accepted")
}

func (ss *session) logi(arg string) {
	id, pw, _ := strings.Cut(arg, " ")
	if id == "" {
		ss.reply(550, "LOGI needs an ID")
		return
	}
	ss.loginID = clip(id, 64)
	if len(ss.s.cfg.Logins) == 0 {
		ss.reply(250, "Login accepted")
		return
	}
	for i := range ss.s.cfg.Logins {
		l := &ss.s.cfg.Logins[i]
		if subtle.ConstantTimeCompare([]byte(l.ID), []byte(id)) == 1 && subtle.ConstantTimeCompare([]byte(l.Password), []byte(pw)) == 1 {
			ss.login = l
			ss.reply(250, "Login accepted")
			return
		}
	}
	ss.login = nil
	ss.s.log.Warn("snpp: login refused", "remote", ss.remote, "id", ss.loginID)
	ss.reply(550, "Login refused")
}

func (ss *session) reset() {
	ss.recipients, ss.ids, ss.jobs, ss.text, ss.priority, ss.subject, ss.caller = nil, nil, nil, nil, paging.PriorityNormal, "", ""
	ss.hold = time.Time{}
}

// send accepts one page per recipient; 250 only once all are durable.
func (ss *session) send() {
	switch {
	case len(ss.s.cfg.Logins) > 0 && ss.login == nil:
		ss.reply(550, "Log in first (LOGI)")
		return
	case len(ss.recipients) == 0 || ss.text == nil:
		ss.reply(503, "Incomplete transaction: PAGE and MESS (or DATA) first")
		return
	}
	line, sender := ss.s.cfg.Line, ss.loginID
	if ss.login != nil && ss.login.Line != "" {
		line = ss.login.Line
	}
	now := ss.s.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range ss.recipients {
		m := &paging.Message{ID: ss.ids[i], Source: paging.Source{Protocol: paging.ProtocolSNPP, Line: line, Sender: sender, Address: ss.remote},
			PagerID: id, Priority: ss.priority, Text: paging.NewPHI(*ss.text), SenderRef: clip(ss.caller, paging.MaxSenderRefLen), Received: now, DeliverAt: ss.hold}
		err := ss.s.acc.Accept(ctx, m, paging.AuditEvent{Actor: "snpp:" + orAnonymous(sender), Source: ss.remote, Detail: "SNPP SEND"})
		switch {
		case errors.Is(err, paging.ErrInvalid):
			ss.reply(550, "Page refused: "+firstLine(err.Error()))
			return
		case err != nil:
			ss.s.log.Error("snpp: page not stored", "remote", ss.remote, "err", err)
			ss.reply(554, "Page not stored, try again later")
			return
		}
		ss.s.log.Info("snpp: page accepted", "jobid", ss.jobs[i], "message", m.ID, "pager_id", id, "remote", ss.remote)
	}
	n := len(ss.recipients)
	ss.reset()
	ss.reply(250, fmt.Sprintf("Message sent successfully (%d %s)", n, plural(n)))
}

func plural(n int) string {
	if n == 1 {
		return "page"
	}
	return "pages"
}

func orAnonymous(s string) string {
	if s == "" {
		return "anonymous"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
