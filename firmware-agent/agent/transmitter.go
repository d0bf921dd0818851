package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/airtime"
	"pagebridge/firmware-agent/pocsag"
	"pagebridge/firmware-agent/transmitter"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// KindTransmitter is a paging transmitter the agent drives itself: it
// encodes POCSAG, keys the PTT through a serial control line and plays the
// audio, with the air time scheduled by package airtime.
const KindTransmitter = "transmitter"

// ActionPOCSAGPage sends Job.Text to the capcode Job.To as Job.POCSAG
// codes it, on a transmitter.
const ActionPOCSAGPage = "pocsag.page"

// PTTNone is a transmitter's port when nothing is keyed: valid only with
// audio_file, for tests and the demo (a pty has no RTS or DTR to key).
const PTTNone = "none"

// Defaults of a transmitter device.
const (
	// defaultTxInFlight: jobs handed to the scheduler and not yet on air.
	defaultTxInFlight = 64
	// txRetry is the pause before a failed transmitter setup is tried
	// again.
	txRetry = 5 * time.Second
)

// txSetup is a transmitter device's checked configuration.
type txSetup struct {
	ptt       string // serial device path, or PTTNone
	line      transmitter.Line
	activeLow bool
	command   []string // audio to this command's stdin, or
	file      string   // appended to this file or FIFO
	driver    transmitter.Config
}

// transmitterConfig checks the transmitter keys of d; for other kinds it
// is an error to set one. Errors name the key.
func (d DeviceConfig) transmitterConfig() (txSetup, error) {
	if d.Kind != KindTransmitter {
		if d.PTTLine != "" || d.PTTActiveLow || len(d.AudioCommand) > 0 || d.AudioFile != "" || d.Modulation != "" ||
			d.SampleRate != 0 || d.Amplitude != 0 || d.Invert || d.KeyUp.Duration != 0 || d.Tail.Duration != 0 ||
			d.OutputLatency.Duration != 0 || d.MaxTransmission.Duration != 0 || d.DutyLimit != 0 ||
			d.DutyWindow.Duration != 0 || d.CriticalReserve.Duration != 0 {
			return txSetup{}, errors.New("ptt_line, ptt_active_low, audio_command, audio_file, modulation, sample_rate, amplitude, invert, key_up, tail, output_latency, max_transmission, duty_limit, duty_window and critical_reserve are for transmitter devices")
		}
		return txSetup{}, nil
	}
	s := txSetup{ptt: d.Port, activeLow: d.PTTActiveLow, command: d.AudioCommand, file: d.AudioFile, driver: transmitter.DefaultConfig()}
	switch {
	case d.Port == "":
		return s, errors.New("port: required: the serial device whose RTS or DTR keys the transmitter, or \"none\" with audio_file")
	case d.Port != PTTNone && !filepath.IsAbs(d.Port):
		return s, errors.New("port: want an absolute serial device path (/dev/serial/by-id/…) for the PTT, or \"none\"")
	case len(d.AudioCommand) > 0 && d.AudioFile != "":
		return s, errors.New("audio_command and audio_file: set one, not both")
	case len(d.AudioCommand) == 0 && d.AudioFile == "":
		return s, errors.New("audio_command: required (e.g. [\"aplay\", \"-q\", \"-t\", \"raw\", \"-f\", \"S16_LE\", \"-c\", \"1\", \"-r\", \"22050\", \"-D\", \"plughw:1,0\"]), or audio_file")
	case len(d.AudioCommand) > 0 && d.AudioCommand[0] == "":
		return s, errors.New("audio_command: the first word is the program")
	case d.AudioFile != "" && !filepath.IsAbs(d.AudioFile):
		return s, errors.New("audio_file: must be an absolute path")
	case d.Port == PTTNone && d.AudioFile == "":
		return s, errors.New("port: \"none\" (nothing keyed) is only for audio_file outputs (tests, the demo), never for a real transmitter")
	case d.Port == PTTNone && (d.PTTLine != "" || d.PTTActiveLow):
		return s, errors.New("ptt_line and ptt_active_low: nothing is keyed with port \"none\"")
	}
	if d.PTTLine != "" {
		l, err := transmitter.ParseLine(d.PTTLine)
		if err != nil {
			return s, errors.New("ptt_line: rts or dtr")
		}
		s.line = l
	}
	m := &s.driver.Modulator
	switch d.Modulation {
	case "", "nrz":
		m.Modulation = pocsag.NRZ
	case "fsk":
		m.Modulation = pocsag.FSK
	default:
		return s, errors.New("modulation: nrz or fsk")
	}
	m.SampleRate, m.Amplitude, m.Invert = d.SampleRate, d.Amplitude, d.Invert
	switch {
	case d.SampleRate != 0 && (d.SampleRate < 2*int(pocsag.Rate2400) || d.SampleRate > 192000):
		return s, fmt.Errorf("sample_rate: 0 (default %d) or %d to 192000", pocsag.DefaultSampleRate, 2*int(pocsag.Rate2400))
	case d.Amplitude < 0 || d.Amplitude > 1:
		return s, errors.New("amplitude: 0 (default 0.5) to 1, a fraction of full scale")
	case d.KeyUp.Duration < 0 || d.KeyUp.Duration > 5*time.Second:
		return s, errors.New("key_up: 0 to 5s")
	case d.Tail.Duration < 0 || d.Tail.Duration > 5*time.Second:
		return s, errors.New("tail: 0 to 5s")
	case d.OutputLatency.Duration < 0 || d.OutputLatency.Duration > 5*time.Second:
		return s, errors.New("output_latency: 0 to 5s")
	case d.MaxTransmission.Duration != 0 && (d.MaxTransmission.Duration < 5*time.Second || d.MaxTransmission.Duration > 10*time.Minute):
		return s, errors.New("max_transmission: 0 (default 30s) or 5s to 10m")
	case d.DutyLimit < 0 || d.DutyLimit > 1:
		return s, errors.New("duty_limit: 0 (no limit) to 1")
	case d.DutyLimit > 0 && (d.DutyWindow.Duration < time.Minute || d.DutyWindow.Duration > 24*time.Hour):
		return s, errors.New("duty_window: 1m to 24h, required with duty_limit")
	case d.DutyLimit == 0 && (d.DutyWindow.Duration != 0 || d.CriticalReserve.Duration != 0):
		return s, errors.New("duty_window and critical_reserve: only with duty_limit")
	case d.CriticalReserve.Duration < 0:
		return s, errors.New("critical_reserve: not negative")
	}
	if d.KeyUp.Duration != 0 {
		s.driver.KeyUp = d.KeyUp.Duration
	}
	if d.Tail.Duration != 0 {
		s.driver.Tail = d.Tail.Duration
	}
	if d.MaxTransmission.Duration != 0 {
		s.driver.MaxTransmission = d.MaxTransmission.Duration
	}
	s.driver.OutputLatency = d.OutputLatency.Duration
	s.driver.DutyLimit, s.driver.DutyWindow, s.driver.CriticalReserve = d.DutyLimit, d.DutyWindow.Duration, d.CriticalReserve.Duration
	// The driver's own checks (a modulator for every rate, a duty budget
	// that leaves a transmission besides the reserve).
	for _, r := range pocsag.Rates {
		mc := s.driver.Modulator
		mc.Rate = r
		if _, err := pocsag.NewModulator(mc); err != nil {
			return s, fmt.Errorf("modulation, sample_rate, amplitude: %v", err)
		}
	}
	if _, err := transmitter.New(io.Discard, nonePTT{}, transmitter.SystemClock{}, s.driver); err != nil {
		return s, fmt.Errorf("key_up, tail, max_transmission, duty_limit, duty_window, critical_reserve: %v", err)
	}
	return s, nil
}

// pocsagRequest makes the scheduler's request of a pocsag.page job.
func pocsagRequest(j *job) (airtime.Request, error) {
	b := &j.body
	if b.POCSAG == nil {
		return airtime.Request{}, errors.New("job has no pocsag coding")
	}
	ric, err := strconv.ParseUint(b.To, 10, 32)
	if err != nil || ric > pocsag.MaxRIC {
		return airtime.Request{}, fmt.Errorf("capcode %q: 0 to %d", b.To, pocsag.MaxRIC)
	}
	kind, err := pocsag.ParseKind(b.POCSAG.Kind)
	if err != nil {
		return airtime.Request{}, err
	}
	text := b.Text.PHI()
	switch kind {
	case pocsag.Alpha:
		text = pocsag.ASCII(text)
	case pocsag.Tone:
		text = paging.PHI{}
	}
	return airtime.Request{ID: j.key.String(), Rate: pocsag.Rate(b.POCSAG.Rate), Priority: j.prio, Group: b.POCSAG.Group,
		Page: pocsag.Page{RIC: uint32(ric), Function: pocsag.Function(b.POCSAG.Function), Kind: kind, Text: text}}, nil
}

// txState is a running transmitter's scheduler and the jobs it holds.
type txState struct {
	sched *airtime.Scheduler

	mu      sync.Mutex
	pending map[string]*job // handed to the scheduler, result not committed
	onAir   []string        // IDs reported on air, not yet committed
	signal  chan struct{}   // onAir has IDs, buffered 1
	slots   chan struct{}   // one per job handed over (MaxInFlight)
}

// runTransmitter drives a transmitter until ctx ends: pocsag.page jobs
// from the spool go to the air-time scheduler, each marked in flight in
// the spool first, and stay there until the scheduler reports their page
// on air; the result "sent" is committed then. A job whose page was
// handed over when the agent stopped is re-run as "outcome unknown".
func (d *device) runTransmitter(ctx context.Context) {
	setup, _ := d.cfg.transmitterConfig() // checked by Validate
	log := d.a.log.With("device", d.cfg.ID)
	out, err := openAudio(setup, log)
	for err != nil {
		d.setState(agentapi.DeviceFailing, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(txRetry):
		}
		out, err = openAudio(setup, log)
	}
	defer out.Close()
	ptt := pttFor(setup)
	defer ptt.Close()
	drv, err := transmitter.New(out, ptt, transmitter.SystemClock{}, setup.driver)
	if err != nil { // checked by Validate
		d.setState(agentapi.DeviceFailing, err)
		return
	}
	tx := &txState{pending: map[string]*job{}, signal: make(chan struct{}, 1), slots: make(chan struct{}, d.cfg.MaxInFlight)}
	tx.sched = airtime.New(drv, airtime.Options{Log: log, OnSent: tx.sent})
	d.mu.Lock()
	d.tx = tx
	d.mu.Unlock()
	if err := ptt.Key(false); err != nil {
		d.setState(agentapi.DeviceFailing, err) // the scheduler tries again with each transmission
	} else {
		d.setState(agentapi.DeviceReady, nil)
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tx.sched.Run(ctx) }()
	go func() { defer wg.Done(); d.txResults(ctx, tx) }()
	d.txFeed(ctx, tx)
	wg.Wait()
	// Stopping: what the scheduler reported on air last is committed;
	// pages not yet on air go back to the spool as never sent; any other
	// stays in flight, to be re-run as "outcome unknown".
	last, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.txCommitSent(last, tx)
	tx.mu.Lock()
	var back []*job
	for id, j := range tx.pending {
		if tx.sched.Cancel(id) {
			back = append(back, j)
			delete(tx.pending, id)
		}
	}
	tx.mu.Unlock()
	d.unstart(back)
	d.setState(agentapi.DeviceAbsent, nil)
}

// sent is the scheduler's OnSent: it must not block.
func (tx *txState) sent(id string, _ time.Time) {
	tx.mu.Lock()
	tx.onAir = append(tx.onAir, id)
	tx.mu.Unlock()
	select {
	case tx.signal <- struct{}{}:
	default:
	}
}

// txFeed hands jobs to the scheduler, most urgent first, at most
// MaxInFlight not yet on air, until ctx ends.
func (d *device) txFeed(ctx context.Context, tx *txState) {
	for {
		select {
		case tx.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		first, err := d.queue.Pop(ctx)
		if err != nil {
			<-tx.slots
			return
		}
		batch := []*job{first}
		for more := true; more; {
			select {
			case tx.slots <- struct{}{}:
				j, ok := d.queue.TryPop()
				if !ok {
					<-tx.slots
					more = false
					break
				}
				batch = append(batch, j)
			default:
				more = false
			}
		}
		d.txHand(ctx, tx, batch)
	}
}

// txHand marks a batch in flight and queues it with the scheduler; a job
// the transmitter cannot send fails for good at once.
func (d *device) txHand(ctx context.Context, tx *txState, batch []*job) {
	var refused []storage.FinishedJob
	var ok []*job
	var reqs []airtime.Request
	refuse := func(j *job, note string) {
		<-tx.slots
		if f, err := d.finished(j, outcome{Outcome: agentapi.OutcomeFailPerm, Note: truncate(note, agentapi.MaxNote)}); err == nil {
			refused = append(refused, f)
		}
	}
	for _, j := range batch {
		if note := refusal(d, &j.body); note != "" {
			refuse(j, note)
			continue
		}
		r, err := pocsagRequest(j)
		if err != nil {
			refuse(j, err.Error())
			continue
		}
		ok, reqs = append(ok, j), append(reqs, r)
	}
	if len(ok) == 0 {
		d.commit(ctx, refused)
		return
	}
	if err := d.a.spool.StartJobs(ctx, keysOf(ok)); err != nil {
		if !errors.Is(err, paging.ErrNotFound) {
			for range ok {
				<-tx.slots
			}
			d.pushBack(ok)
			d.commit(ctx, refused)
			return
		}
		started := d.startEach(ctx, ok) // drops what the spool no longer holds
		var keep []airtime.Request
		for i, j := range ok {
			if slices.Contains(started, j) {
				keep = append(keep, reqs[i])
			} else {
				<-tx.slots
			}
		}
		ok, reqs = started, keep
	}
	for i, j := range ok {
		tx.mu.Lock()
		tx.pending[reqs[i].ID] = j
		tx.mu.Unlock()
		if err := tx.sched.Enqueue(reqs[i]); err != nil {
			tx.mu.Lock()
			delete(tx.pending, reqs[i].ID)
			tx.mu.Unlock()
			refuse(j, err.Error())
		}
	}
	d.commit(ctx, refused)
	d.a.poke() // the status shows the scheduler's queue
}

// txResults commits "sent" for the jobs the scheduler put on air, until
// ctx ends and the scheduler has stopped reporting.
func (d *device) txResults(ctx context.Context, tx *txState) {
	for {
		select {
		case <-tx.signal:
		case <-ctx.Done():
			return // runTransmitter commits the last ones
		}
		d.txCommitSent(ctx, tx)
	}
}

func (d *device) txCommitSent(ctx context.Context, tx *txState) {
	tx.mu.Lock()
	ids := tx.onAir
	tx.onAir = nil
	var js []*job
	for _, id := range ids {
		if j := tx.pending[id]; j != nil {
			js = append(js, j)
			delete(tx.pending, id)
		}
	}
	tx.mu.Unlock()
	var done []storage.FinishedJob
	for _, j := range js {
		<-tx.slots
		f, err := d.finished(j, outcome{Outcome: agentapi.OutcomeSent, Code: "on-air"})
		if err != nil {
			d.a.log.Error("result not encoded", "job", j.key, "err", err)
			continue
		}
		done = append(done, f)
	}
	d.commit(ctx, done)
	d.a.poke()
}

// airTime is the device status's view of the scheduler.
func (tx *txState) airTime() *agentapi.AirTime {
	s := tx.sched.Snapshot()
	return &agentapi.AirTime{QueuedNormal: s.Queued.Normal, QueuedHigh: s.Queued.High, QueuedCritical: s.Queued.Critical,
		Transmitting: s.Transmitting, Used: s.AirTime.Seconds(), Window: s.DutyWindow.Seconds(), DutyLimit: s.DutyLimit,
		Headroom: s.Headroom.Seconds(), CriticalHeadroom: s.CriticalHeadroom.Seconds(),
		WorstCriticalWait: s.WorstCriticalWait.Seconds(), MaxCriticalWait: s.MaxCriticalWait.Seconds(),
		Transmissions: s.Transmissions, LastError: truncate(s.LastError, agentapi.MaxNote)}
}

// nonePTT keys nothing (port "none").
type nonePTT struct{}

func (nonePTT) Key(bool) error { return nil }
func (nonePTT) Close() error   { return nil }

// serialPTT opens the PTT's serial port when it keys, and again after a
// failure (an adapter unplugged and back).
type serialPTT struct {
	path      string
	line      transmitter.Line
	activeLow bool

	mu sync.Mutex
	p  *transmitter.SerialPTT
}

func (s *serialPTT) Key(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		p, err := transmitter.OpenSerialPTT(s.path, s.line, s.activeLow)
		if err != nil {
			return err
		}
		s.p = p
	}
	err := s.p.Key(on)
	if err != nil {
		s.p.Close()
		s.p = nil
	}
	return err
}

func (s *serialPTT) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	err := s.p.Close()
	s.p = nil
	return err
}

type pttCloser interface {
	transmitter.PTT
	Close() error
}

func pttFor(s txSetup) pttCloser {
	if s.ptt == PTTNone {
		return nonePTT{}
	}
	return &serialPTT{path: s.ptt, line: s.line, activeLow: s.activeLow}
}

// openAudio opens the audio output: the file (appended; a FIFO blocks
// until its reader opens it), or the command, started on the first write
// and again after it exits.
func openAudio(s txSetup, log *slog.Logger) (io.WriteCloser, error) {
	if s.file != "" {
		f, err := os.OpenFile(s.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audio_file: %w", err)
		}
		return f, nil
	}
	return &audioCommand{argv: s.command, log: log}, nil
}

// audioCommand writes audio to a player's standard input (aplay).
type audioCommand struct {
	argv []string
	log  *slog.Logger

	mu   sync.Mutex
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan struct{}
}

func (a *audioCommand) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		select {
		case <-a.done:
			a.cmd, a.in = nil, nil
		default:
		}
	}
	if a.cmd == nil {
		cmd := exec.Command(a.argv[0], a.argv[1:]...)
		in, err := cmd.StdinPipe()
		if err != nil {
			return 0, fmt.Errorf("audio_command: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("audio_command: %w", err)
		}
		done := make(chan struct{})
		go func() {
			err := cmd.Wait()
			a.log.Warn("audio command exited", "err", err)
			close(done)
		}()
		a.cmd, a.in, a.done = cmd, in, done
	}
	n, err := a.in.Write(p)
	if err != nil {
		a.in.Close()
		return n, fmt.Errorf("audio_command: %w", err)
	}
	return n, nil
}

// Close ends the player's input and waits for it to finish playing.
func (a *audioCommand) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return nil
	}
	a.in.Close()
	<-a.done
	a.cmd = nil
	return nil
}
