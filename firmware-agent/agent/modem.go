package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/at"
	"pagebridge/firmware-agent/jobqueue"
	"pagebridge/firmware-agent/smspdu"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// ActionSMSSend is the job action modems (and modem pools) carry out.
const ActionSMSSend = "sms.send"

// KindModemPool is the device a pool of modems shows as: jobs addressed
// to it go to whichever of its modems is free first.
const KindModemPool = "modem-pool"

// modemProfile is what one family of modems needs.
type modemProfile struct {
	// Gap is the least time between a reply and the next command.
	Gap time.Duration
	// CPMS selects the message storage; CNMI how new messages and status
	// reports are announced.
	CPMS, CNMI string
}

// modemProfiles by name; "" is the default for 27.005 modems.
var modemProfiles = map[string]modemProfile{
	"":               {CPMS: `"SM","SM","SM"`, CNMI: "2,1,0,1,0"},
	"quectel-ec25":   {CPMS: `"ME","ME","ME"`, CNMI: "2,1,0,1,0"},
	"simcom-sim7600": {Gap: 20 * time.Millisecond, CPMS: `"SM","SM","SM"`, CNMI: "2,1,0,1,0"},
	"simcom-sim800":  {Gap: 100 * time.Millisecond, CPMS: `"SM","SM","SM"`, CNMI: "2,1,0,1,0"},
	"telit":          {Gap: 20 * time.Millisecond, CPMS: `"SM","SM","SM"`, CNMI: "2,1,0,2,0"},
	"ublox":          {Gap: 20 * time.Millisecond, CPMS: `"SM","SM","SM"`, CNMI: "2,1,0,1,0"},
}

func modemProfileNames() string {
	var out []string
	for n := range modemProfiles {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Modem timings.
const (
	defaultPollInterval = 30 * time.Second
	// maxModemFailures in a row (timeouts, unknown outcomes) reset the
	// modem (AT+CFUN=1,1) and reopen its line.
	maxModemFailures = 3
	// reassemblyTimeout: a long SMS whose parts stop coming is passed on
	// with what came.
	reassemblyTimeout = 5 * time.Minute
	// reportWindow: how long a sent SMS waits for its status report.
	reportWindow = 72 * time.Hour
	// maxEarlyReports bounds the status reports kept for sends not yet
	// recorded.
	maxEarlyReports = 64
	// resetHoldoff: after a reset, a modem that is still silent is not
	// reset again for this long unless a session got it ready meanwhile,
	// so that one slow to boot (a SIM7600 takes over 20 s) is not reset
	// over and over.
	resetHoldoff = 2 * time.Minute
	// resetTimeout bounds the wait for the OK of AT+CFUN=1,1.
	resetTimeout = 5 * time.Second
)

// modemState is what a modem keeps across its sessions: one PDU encoder
// (so concatenation references differ from one long SMS to the next), the
// parts of long SMS being received, the SMS sent and waiting for their
// status reports, and its health.
type modemState struct {
	enc   *smspdu.Encoder
	reasm *smspdu.Reassembler

	mu       sync.Mutex
	sent     map[sentKey]*sentSMS
	early    []smspdu.StatusReport // reports that came before their +CMGS was taken
	lastSend time.Time
	failures int
	health   modemHealth
	// pinRefused: the SIM refused sim_pin (or its answer never came), so
	// the PIN is not entered again until the agent restarts: three wrong
	// tries lock the SIM.
	pinRefused bool
	// resetAt is when the modem was last reset; resetPending that no
	// session got it ready since.
	resetAt      time.Time
	resetPending bool
}

type modemHealth struct {
	Signal       int    // +CSQ rssi, 99 unknown
	Registration string // home, roaming, searching, denied, none
	Operator     string
	SIM          string // ready, or what +CPIN said
}

// sentKey matches a status report to what was sent: the reference the
// modem gave in +CMGS and the recipient's digits.
type sentKey struct {
	mr int
	to string
}

// sentSMS is one job's SMS, waiting for the status reports of its parts.
type sentSMS struct {
	job     paging.ID
	prio    paging.Priority
	attempt int
	parts   int // reports still to come
	at      time.Time
}

func newModemState(dc DeviceConfig) (*modemState, error) {
	opts := []smspdu.Option{smspdu.WithStatusReport(true)}
	if len(dc.SMSLanguages) > 0 {
		var langs []smspdu.Language
		for _, l := range dc.SMSLanguages {
			langs = append(langs, smsLanguages[l])
		}
		opts = append(opts, smspdu.WithLanguages(langs...))
	}
	enc, err := smspdu.NewEncoder(opts...)
	if err != nil {
		return nil, err
	}
	return &modemState{enc: enc, reasm: smspdu.NewReassembler(reassemblyTimeout, nil), sent: map[sentKey]*sentSMS{}}, nil
}

// digitsOf is a number's digits, for matching a report's recipient.
func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// modemSession runs one modem on an open line: initialise it, read what
// it stored while nobody listened, then send its jobs (SMS) and take what
// it announces (received SMS, status reports) until the line fails, the
// modem stops answering, or ctx ends.
//
// A modem that stopped answering (the engine's resync failed) is reset
// with AT+CFUN=1,1 before the session returns, if it still takes that.
func (d *device) modemSession(ctx context.Context, rw io.ReadWriter, ready func()) error {
	err := d.modemRun(ctx, rw, ready)
	if errors.Is(err, at.ErrUnresponsive) && ctx.Err() == nil {
		d.resetSilent(ctx, rw)
	}
	return err
}

// modemRun is one session's work; its engine is closed when it returns.
func (d *device) modemRun(ctx context.Context, rw io.ReadWriter, ready func()) error {
	prof := modemProfiles[d.cfg.Profile]
	var eng *at.Engine
	urcs := make(chan at.URC, 256)
	eng = at.New(rw, at.Options{Gap: prof.Gap, Log: d.a.log.With("device", d.cfg.ID),
		OnURC: func(u at.URC) {
			select {
			case urcs <- u:
			default:
				d.a.log.Error("modem: announcements not taken fast enough; the stored ones are read at the next start", "device", d.cfg.ID)
			}
		}})
	defer eng.Close()
	if err := d.modemInit(ctx, eng, prof); err != nil {
		return err
	}
	d.sweepStored(ctx, eng)
	d.modem.mu.Lock()
	d.modem.resetPending = false
	d.modem.mu.Unlock()
	ready()

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.serveModem(sctx, eng, urcs); err != nil {
			cancel(err)
		}
	}()
	err := d.runJobs(sctx, func(ctx context.Context, j *job) outcome { return d.sendSMS(ctx, eng, j) })
	if cause := context.Cause(sctx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	cancel(nil)
	eng.Close()
	wg.Wait()
	return err
}

// modemInit runs the modem's set-up: echo off, numeric errors, the SIM
// unlocked, PDU mode, storage, announcements, service centre.
func (d *device) modemInit(ctx context.Context, eng *at.Engine, prof modemProfile) error {
	var err error
	for try := 0; try < 3; try++ { // the modem may still be booting
		if _, err = eng.Do(ctx, at.Command{Line: "AT", Timeout: 2 * time.Second}); err == nil {
			break
		}
		if errors.Is(err, at.ErrPort) || errors.Is(err, at.ErrUnresponsive) || ctx.Err() != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("modem does not answer AT: %w", err)
	}
	for _, c := range []string{"ATE0", "AT+CMEE=1"} {
		if _, err := eng.Exec(ctx, c); err != nil {
			return fmt.Errorf("modem: %s: %w", c, err)
		}
	}
	if err := d.unlockSIM(ctx, eng); err != nil {
		return err
	}
	cmds := []string{"AT+CMGF=0", "AT+CPMS=" + prof.CPMS, "AT+CNMI=" + prof.CNMI}
	if d.cfg.SMSC != "" {
		cmds = append(cmds, `AT+CSCA="`+d.cfg.SMSC+`",145`)
	}
	for _, c := range cmds {
		if _, err := eng.Exec(ctx, c); err != nil {
			return fmt.Errorf("modem: %s: %w", c, err)
		}
	}
	d.pollHealth(ctx, eng)
	return nil
}

// unlockSIM enters the PIN when the SIM asks for it, once: a wrong PIN
// is not tried again (three wrong tries lock the SIM).
func (d *device) unlockSIM(ctx context.Context, eng *at.Engine) error {
	info, err := eng.Do(ctx, at.Command{Line: "AT+CPIN?", Timeout: 10 * time.Second})
	if err != nil {
		d.setHealth(func(h *modemHealth) { h.SIM = "not readable" })
		return fmt.Errorf("modem: SIM: %w", err)
	}
	state := strings.TrimSpace(strings.TrimPrefix(firstWith(info, "+CPIN:"), "+CPIN:"))
	switch state {
	case "READY":
		d.setHealth(func(h *modemHealth) { h.SIM = "ready" })
		return nil
	case "SIM PIN":
		if d.cfg.SIMPIN == "" {
			d.setHealth(func(h *modemHealth) { h.SIM = "PIN needed, none configured" })
			return errors.New("modem: the SIM wants its PIN and sim_pin is not set")
		}
		d.modem.mu.Lock()
		refused := d.modem.pinRefused
		d.modem.mu.Unlock()
		if refused {
			d.setHealth(func(h *modemHealth) { h.SIM = simPINRefused })
			return errors.New("modem: the SIM refused sim_pin; not tried again until the agent restarts")
		}
		if _, err := eng.Do(ctx, at.Command{Line: `AT+CPIN="` + d.cfg.SIMPIN + `"`, Private: true, Timeout: 10 * time.Second}); err != nil {
			if pinNotTaken(err) {
				d.setHealth(func(h *modemHealth) { h.SIM = "PIN not taken yet" })
				return fmt.Errorf("modem: SIM PIN not taken: %w", err)
			}
			d.modem.mu.Lock()
			d.modem.pinRefused = true
			d.modem.mu.Unlock()
			d.setHealth(func(h *modemHealth) { h.SIM = simPINRefused })
			return fmt.Errorf("modem: SIM PIN refused: %w", err)
		}
		d.setHealth(func(h *modemHealth) { h.SIM = "ready" })
		return nil
	default:
		d.setHealth(func(h *modemHealth) { h.SIM = state })
		return fmt.Errorf("modem: SIM not ready: %q", state)
	}
}

// simPINRefused is the SIM's health once it refused sim_pin.
const simPINRefused = "PIN refused; not tried again until the agent restarts"

// pinNotTaken reports whether AT+CPIN=<pin> failed in a way that cannot
// have cost the SIM a try: the agent stopping, or the modem saying the
// SIM is busy. Any other answer, a timeout (it may have counted) and a
// port that vanished under the command included, counts as a try.
func pinNotTaken(err error) bool {
	var cme *at.CMEError
	return errors.Is(err, context.Canceled) || errors.Is(err, at.ErrClosed) || errors.Is(err, at.ErrInvalid) ||
		(errors.As(err, &cme) && cme.Code == 14) // SIM busy
}

func firstWith(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// serveModem takes the modem's announcements and polls its health until
// ctx ends or the engine does.
func (d *device) serveModem(ctx context.Context, eng *at.Engine, urcs <-chan at.URC) error {
	every := d.cfg.PollInterval.Duration
	if every <= 0 {
		every = defaultPollInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-eng.Done():
			return eng.Err()
		case u := <-urcs:
			d.onURC(ctx, eng, u)
		case <-t.C:
			d.pollHealth(ctx, eng)
			d.passExpired(ctx)
		}
		if err := d.tooManyFailures(ctx, eng); err != nil {
			return err
		}
	}
}

// onURC handles one announcement.
func (d *device) onURC(ctx context.Context, eng *at.Engine, u at.URC) {
	switch u.Prefix {
	case "+CMTI:", "+CDSI:":
		// `+CMTI: "SM",3`: stored; read it, pass it on, delete it.
		_, idx, ok := strings.Cut(u.Line, ",")
		if n, err := strconv.Atoi(strings.TrimSpace(idx)); ok && err == nil {
			d.readStored(ctx, eng, n)
		}
	case "+CMT:":
		d.takePDU(ctx, u.Data)
	case "+CDS:":
		d.takePDU(ctx, u.Data)
	}
}

// sweepStored reads every message the modem holds (received while the
// agent was away) and deletes each once it is passed on.
func (d *device) sweepStored(ctx context.Context, eng *at.Engine) {
	info, err := eng.Do(ctx, at.Command{Line: "AT+CMGL=4", Timeout: 30 * time.Second})
	if err != nil {
		d.a.log.Warn("modem: stored messages not listed", "device", d.cfg.ID, "err", err)
		return
	}
	for i := 0; i+1 < len(info); i++ {
		head, ok := strings.CutPrefix(info[i], "+CMGL:")
		if !ok {
			continue
		}
		idx, _, _ := strings.Cut(head, ",")
		n, err := strconv.Atoi(strings.TrimSpace(idx))
		if err != nil {
			continue
		}
		i++
		if d.takePDU(ctx, info[i]) {
			d.deleteStored(ctx, eng, n)
		}
	}
}

// readStored reads message n from the modem's storage, passes it on and
// deletes it.
func (d *device) readStored(ctx context.Context, eng *at.Engine, n int) {
	info, err := eng.Do(ctx, at.Command{Line: "AT+CMGR=" + strconv.Itoa(n), Prefix: "+CMGR:"})
	if err != nil {
		d.a.log.Warn("modem: stored message not read", "device", d.cfg.ID, "index", n, "err", err)
		return
	}
	for i, l := range info {
		if strings.HasPrefix(l, "+CMGR:") && i+1 < len(info) {
			if d.takePDU(ctx, info[i+1]) {
				d.deleteStored(ctx, eng, n)
			}
			return
		}
	}
	// An empty slot (deleted meanwhile): nothing to do.
}

func (d *device) deleteStored(ctx context.Context, eng *at.Engine, n int) {
	if _, err := eng.Exec(ctx, "AT+CMGD="+strconv.Itoa(n)); err != nil {
		d.a.log.Warn("modem: stored message not deleted; it is read again at the next start", "device", d.cfg.ID, "index", n, "err", err)
	}
}

// takePDU passes on one received PDU: an SMS (or a part of a long one)
// for the gateway, or a status report for a sent job. It reports whether
// the PDU may be deleted from the modem: it is durable in the spool, or
// it can never be read.
func (d *device) takePDU(ctx context.Context, pdu string) bool {
	if sr, err := smspdu.DecodeStatusReport(pdu); err == nil {
		return d.takeReport(ctx, sr)
	}
	dl, err := smspdu.DecodeDeliver(pdu)
	if err != nil {
		d.a.log.Warn("modem: received a PDU that is neither an SMS nor a status report; deleted", "device", d.cfg.ID, "err", err)
		return true
	}
	msg, complete, err := d.modem.reasm.Add(dl)
	if err != nil {
		d.a.log.Warn("modem: SMS part not joined; deleted", "device", d.cfg.ID, "err", err)
		return true
	}
	if !complete {
		// Held in memory until its last part comes (or passExpired gives
		// up on it): a restart before then loses the parts read so far.
		return true
	}
	return d.passSMS(ctx, msg.From.String(), msg.Text, msg.Sent)
}

// passExpired passes on long SMS whose last parts never came, with what
// came.
func (d *device) passExpired(ctx context.Context) {
	for _, p := range d.modem.reasm.Expired() {
		var b strings.Builder
		for i, part := range p.Parts {
			if i > 0 {
				b.WriteString(" … ")
			}
			b.WriteString(part.Text.Reveal())
		}
		sent := time.Time{}
		if len(p.Parts) > 0 {
			sent = p.Parts[0].Sent
		}
		d.passSMS(ctx, p.From.String(), paging.NewPHI(b.String()+" [incomplete]"), sent)
	}
}

// passSMS makes a received SMS durable in the spool for the gateway.
func (d *device) passSMS(ctx context.Context, from string, text paging.PHI, sent time.Time) bool {
	now := d.a.clock.Now()
	key := smsKey(d.cfg.ID, from, text, sent, now)
	m := agentapi.SMS{Device: d.cfg.ID, From: truncate(from, agentapi.MaxSMSFrom), Text: agentapi.TextOf(text), Sent: sent, Received: now}
	if m.From == "" {
		m.From = "unknown"
	}
	payload, err := agentapi.Encode(key, now, &m)
	if err != nil {
		d.a.log.Error("modem: received SMS not encoded; dropped", "device", d.cfg.ID, "err", err)
		return true
	}
	it := storage.SpoolItem{Key: key, Kind: agentapi.KindSMS, Priority: paging.PriorityHigh, Payload: paging.NewPHI(string(payload)), Created: now}
	if _, err := d.a.spool.PutItems(ctx, []storage.SpoolItem{it}); err != nil {
		d.a.log.Error("spool: received SMS not stored; it stays on the modem", "device", d.cfg.ID, "err", err)
		return false
	}
	d.a.out.add([]storage.SpoolItem{it})
	return true
}

// smsKey is a received SMS's idempotency key. With a service centre time
// stamp it is derived from the message (the stamp's time, and a hash of
// device, sender, stamp and text for the rest), so that one read again
// after a crash between spooling it and deleting it from the modem has the
// same key, and the spool and the gateway take it once. Without a stamp
// it is a fresh key.
func smsKey(device, from string, text paging.PHI, sent, now time.Time) paging.ID {
	if sent.IsZero() {
		return paging.NewID(now)
	}
	h := sha256.New()
	for _, s := range []string{device, from, sent.UTC().Format(time.RFC3339Nano), text.Reveal()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var id paging.ID
	if err := id.SetTime(uint64(max(sent.UnixMilli(), 0))); err != nil {
		return paging.NewID(now)
	}
	copy(id[6:], h.Sum(nil))
	return id
}

// takeReport turns a status report into a delivery report for its job.
func (d *device) takeReport(ctx context.Context, sr smspdu.StatusReport) bool {
	k := sentKey{mr: sr.MR, to: digitsOf(sr.Recipient.String())}
	st := d.modem
	st.mu.Lock()
	s := st.sent[k]
	var o agentapi.Outcome
	switch {
	case s == nil:
	case sr.Outcome == smspdu.OutcomeDelivered:
		delete(st.sent, k)
		if s.parts--; s.parts == 0 {
			o = agentapi.OutcomeDelivered
		}
	case sr.Outcome == smspdu.OutcomeFailedPermanent:
		delete(st.sent, k)
		o = agentapi.OutcomeUndelivered
		for k2, s2 := range st.sent { // its other parts no longer matter
			if s2 == s {
				delete(st.sent, k2)
			}
		}
	}
	if s == nil {
		// It may have overtaken its own +CMGS on the way here (a fast
		// network): sendSMS looks again once it has recorded the send.
		// Otherwise it is for a message sent before a restart.
		st.early = append(st.early, sr)
		if len(st.early) > maxEarlyReports {
			st.early = st.early[1:]
		}
	}
	st.mu.Unlock()
	if s == nil {
		d.a.log.Info("modem: status report for no SMS this agent is waiting on (yet)", "device", d.cfg.ID, "mr", sr.MR)
		return true
	}
	if o == "" {
		return true // still trying, or more parts to come
	}
	it, err := d.a.resultItem(s.job, d.cfg.ID, s.prio, agentapi.Result{Outcome: o, Code: fmt.Sprintf("%02X", sr.Status), Attempt: s.attempt})
	if err != nil {
		return true
	}
	if _, err := d.a.spool.PutItems(ctx, []storage.SpoolItem{it}); err != nil {
		d.a.log.Error("spool: delivery report not stored", "device", d.cfg.ID, "err", err)
		return false
	}
	d.a.out.add([]storage.SpoolItem{it})
	return true
}

// sendSMS sends one job's SMS, every part.
func (d *device) sendSMS(ctx context.Context, eng *at.Engine, j *job) outcome {
	to, err := smspdu.ParseAddress(j.body.To)
	if err != nil {
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: "not a number an SMS can go to"}
	}
	sub, err := d.modem.enc.Encode(to, j.body.Text.PHI(), j.prio)
	if err != nil {
		return outcome{Outcome: agentapi.OutcomeFailPerm, Note: truncate(err.Error(), agentapi.MaxNote)}
	}
	var mrs []int
	for i, p := range sub.Parts {
		if err := d.modem.pace(ctx, d.cfg.SendInterval.Duration); err != nil {
			return outcome{Err: err, NotSent: i == 0}
		}
		mr, err := eng.SendPDU(ctx, p.Length, p.PDU, 0)
		if err == nil {
			d.modem.ok()
			mrs = append(mrs, mr)
			continue
		}
		if errors.Is(err, at.ErrTimeout) && !errors.Is(err, at.ErrUnknown) {
			// No prompt: the part was not sent. If the modem is gone
			// (the engine's resync found it silent) the job waits for it
			// to come back, or for another modem of the pool; if it
			// answers, it would not take the SMS now (sendFailed).
			if _, aerr := eng.Do(ctx, at.Command{Line: "AT"}); aerr != nil {
				return outcome{Err: fmt.Errorf("no prompt for the SMS, then: %w", aerr), NotSent: i == 0}
			}
		}
		return d.sendFailed(err, i, len(sub.Parts))
	}
	st := d.modem
	st.mu.Lock()
	now := d.a.clock.Now()
	for k, s := range st.sent { // forget what never got a report
		if now.Sub(s.at) > reportWindow {
			delete(st.sent, k)
		}
	}
	s := &sentSMS{job: j.key, prio: j.prio, attempt: max(j.body.Attempt, 1), parts: len(mrs), at: now}
	for _, mr := range mrs {
		if mr >= 0 {
			st.sent[sentKey{mr: mr, to: digitsOf(to.String())}] = s
		}
	}
	var early []smspdu.StatusReport
	st.early = slices.DeleteFunc(st.early, func(sr smspdu.StatusReport) bool {
		if st.sent[sentKey{mr: sr.MR, to: digitsOf(sr.Recipient.String())}] == s {
			early = append(early, sr)
			return true
		}
		return false
	})
	st.mu.Unlock()
	for _, sr := range early {
		d.takeReport(ctx, sr)
	}
	o := outcome{Outcome: agentapi.OutcomeSent, Code: "+CMGS: " + strconv.Itoa(mrs[0])}
	if len(mrs) > 1 {
		o.Note = fmt.Sprintf("sent as %d parts", len(mrs))
	}
	return o
}

// sendFailed maps a part's failure to the job's outcome. Part i of n
// failed; the ones before it went out.
func (d *device) sendFailed(err error, i, n int) outcome {
	note := func(s string) string {
		if n > 1 {
			s = fmt.Sprintf("part %d of %d: %s", i+1, n, s)
		}
		return truncate(s, agentapi.MaxNote)
	}
	switch {
	case errors.Is(err, at.ErrUnknown):
		// It may have gone out: the job runs again, reported as
		// "outcome unknown, re-sent".
		d.modem.failed()
		return outcome{Err: err}
	case errors.Is(err, at.ErrPort), errors.Is(err, at.ErrUnresponsive), errors.Is(err, at.ErrClosed), errors.Is(err, context.Canceled):
		return outcome{Err: err, NotSent: i == 0}
	case errors.Is(err, at.ErrTimeout):
		d.modem.failed()
		return outcome{Outcome: agentapi.OutcomeFailTemp, Note: note("no prompt from the modem")}
	}
	code := ""
	var cms *at.CMSError
	var cme *at.CMEError
	switch {
	case errors.As(err, &cms):
		code = "+CMS ERROR: " + strconv.Itoa(cms.Code)
	case errors.As(err, &cme):
		code = "+CME ERROR: " + strconv.Itoa(cme.Code)
	}
	if at.ClassOf(err) == at.Permanent && i == 0 {
		return outcome{Outcome: agentapi.OutcomeFailPerm, Code: code, Note: note("the network refused the message")}
	}
	return outcome{Outcome: agentapi.OutcomeFailTemp, Code: code, Note: note("the modem or network could not send it now")}
}

// pace waits until interval has passed since the modem's last send.
func (st *modemState) pace(ctx context.Context, interval time.Duration) error {
	st.mu.Lock()
	wait := time.Until(st.lastSend.Add(interval))
	st.mu.Unlock()
	if interval > 0 && wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	st.mu.Lock()
	st.lastSend = time.Now()
	st.mu.Unlock()
	return nil
}

func (st *modemState) ok() {
	st.mu.Lock()
	st.failures = 0
	st.mu.Unlock()
}

func (st *modemState) failed() {
	st.mu.Lock()
	st.failures++
	st.mu.Unlock()
}

// tooManyFailures resets a modem that failed maxModemFailures times in a
// row: AT+CFUN=1,1, then the session ends and the line reopens it.
func (d *device) tooManyFailures(ctx context.Context, eng *at.Engine) error {
	st := d.modem
	st.mu.Lock()
	n := st.failures
	if n >= maxModemFailures {
		st.failures = 0
	}
	st.mu.Unlock()
	if n < maxModemFailures {
		return nil
	}
	d.a.log.Warn("modem: failing repeatedly; resetting it", "device", d.cfg.ID, "failures", n)
	st.resetting(time.Now())
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	eng.Exec(rctx, "AT+CFUN=1,1")
	cancel()
	return fmt.Errorf("modem reset after %d failures in a row", n)
}

// resetting records a reset made at now.
func (st *modemState) resetting(now time.Time) {
	st.mu.Lock()
	st.resetAt, st.resetPending = now, true
	st.mu.Unlock()
}

// mayReset reports whether a silent modem may be reset at now: not if it
// was reset less than resetHoldoff ago and has not been ready since.
func (st *modemState) mayReset(now time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return !st.resetPending || now.Sub(st.resetAt) >= resetHoldoff
}

// resetSilent resets a modem whose engine gave up on it (no resync probe
// answered): AT+CFUN=1,1 on a fresh engine over the same line, which a
// hung modem may still take. If it does not, the line is reopened as
// usual and the modem comes back when it is power-cycled (unplugged).
func (d *device) resetSilent(ctx context.Context, rw io.ReadWriter) {
	if !d.modem.mayReset(time.Now()) {
		return
	}
	d.modem.resetting(time.Now())
	d.a.log.Warn("modem: not answering; resetting it", "device", d.cfg.ID)
	eng := at.New(rw, at.Options{Gap: modemProfiles[d.cfg.Profile].Gap, Log: d.a.log.With("device", d.cfg.ID)})
	_, err := eng.Do(ctx, at.Command{Line: "AT+CFUN=1,1", Timeout: resetTimeout})
	eng.Close()
	if err != nil {
		d.a.log.Warn("modem: reset not answered; the line is reopened", "device", d.cfg.ID, "err", err)
	}
}

// pollHealth reads signal, registration and operator.
func (d *device) pollHealth(ctx context.Context, eng *at.Engine) {
	if info, err := eng.Exec(ctx, "AT+CSQ"); err == nil {
		f := strings.TrimSpace(strings.TrimPrefix(firstWith(info, "+CSQ:"), "+CSQ:"))
		rssi, _, _ := strings.Cut(f, ",")
		if n, err := strconv.Atoi(rssi); err == nil {
			d.setHealth(func(h *modemHealth) { h.Signal = n })
		}
	} else {
		d.modemErr(err)
	}
	if info, err := eng.Do(ctx, at.Command{Line: "AT+CREG?", Prefix: "+CREG:"}); err == nil {
		f := strings.Split(strings.TrimPrefix(firstWith(info, "+CREG:"), "+CREG:"), ",")
		stat := map[string]string{"0": "none", "1": "home", "2": "searching", "3": "denied", "4": "unknown", "5": "roaming"}
		if len(f) >= 2 {
			reg := stat[strings.TrimSpace(f[1])]
			d.setHealth(func(h *modemHealth) { h.Registration = reg })
		}
	} else {
		d.modemErr(err)
	}
	if info, err := eng.Exec(ctx, "AT+COPS?"); err == nil {
		f := strings.Split(strings.TrimPrefix(firstWith(info, "+COPS:"), "+COPS:"), ",")
		if len(f) >= 3 {
			op := truncate(strings.Trim(strings.TrimSpace(f[2]), `"`), 64)
			d.setHealth(func(h *modemHealth) { h.Operator = op })
		}
	}
}

func (d *device) modemErr(err error) {
	if errors.Is(err, at.ErrTimeout) {
		d.modem.failed()
	}
}

func (d *device) setHealth(f func(*modemHealth)) {
	d.modem.mu.Lock()
	before := d.modem.health
	f(&d.modem.health)
	changed := before != d.modem.health
	d.modem.mu.Unlock()
	if changed {
		d.a.poke()
	}
}

// modemHealthOf fills a modem's health into its status.
func (d *device) modemHealthOf(st *agentapi.DeviceStatus) {
	d.modem.mu.Lock()
	h := d.modem.health
	d.modem.mu.Unlock()
	st.Signal, st.Registration, st.Operator, st.SIM = h.Signal, h.Registration, h.Operator, h.SIM
}

// newPool makes the device a pool of modems shows as; its modems take
// their jobs from its queue.
func newPool(a *Agent, id string) *device {
	return &device{a: a, cfg: DeviceConfig{ID: id, Kind: KindModemPool}, queue: jobqueue.New[*job](), state: agentapi.DeviceAbsent, since: a.clock.Now()}
}

// poolStatus is a pool's status: ready while any of its modems is.
func (d *device) poolStatus() agentapi.DeviceStatus {
	st := agentapi.DeviceStatus{ID: d.cfg.ID, Kind: KindModemPool, State: agentapi.DeviceAbsent, Since: d.since, Queue: d.queue.Len()}
	rank := map[string]int{agentapi.DeviceAbsent: 0, agentapi.DeviceFailing: 1, agentapi.DeviceOpen: 2, agentapi.DeviceInitialising: 3, agentapi.DeviceReady: 4}
	for _, m := range d.members {
		ms := m.status()
		st.Done += ms.Done
		st.Failed += ms.Failed
		if rank[ms.State] > rank[st.State] {
			st.State = ms.State
		}
	}
	if st.State != agentapi.DeviceReady {
		var ids []string
		for _, m := range d.members {
			ids = append(ids, m.cfg.ID)
		}
		slices.Sort(ids)
		st.Error = "no modem of the pool is ready (" + strings.Join(ids, ", ") + ")"
	}
	return st
}
