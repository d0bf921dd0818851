package airtime

import (
	"time"

	"pagebridge/firmware-agent/pocsag"
	"pagebridge/gateway/paging"
)

// Depth counts queued pages by priority.
type Depth struct {
	Normal, High, Critical int
}

// Snapshot is a transmitter's queue and air-time use, for the admin page
// and the agent's status. It holds no page text.
type Snapshot struct {
	Queued Depth
	// Transmitting: a transmission is under way; Rate is its rate.
	Transmitting bool
	Rate         pocsag.Rate
	// Sent counts pages sent since New, by priority.
	Sent Depth
	// AirTime is the keyed time in the duty window ending now (with no
	// duty limit: in the last hour).
	AirTime    time.Duration
	DutyWindow time.Duration
	DutyLimit  float64 // 0: none
	// Headroom is the keyed time routine traffic may still use in the
	// window, CriticalHeadroom that critical pages may (it includes the
	// reserve). Both are zero with no limit.
	Headroom, CriticalHeadroom time.Duration
	// WorstCriticalWait is the bound on how long a critical page waits
	// from Enqueue until it is fully on air (see WorstCriticalWait), and
	// MaxCriticalWait the longest wait seen.
	WorstCriticalWait time.Duration
	MaxCriticalWait   time.Duration
	// Transmissions and Keyed count the driver's transmissions and keyed
	// time since it started; LastError is the last failed transmission's
	// (empty once one succeeds).
	Transmissions uint64
	Keyed         time.Duration
	LastError     string
}

// Snapshot returns the scheduler's state now.
func (s *Scheduler) Snapshot() Snapshot {
	now := s.opts.Clock.Now()
	cfg := s.drv.Config()
	duty := s.drv.Duty()
	var snap Snapshot
	s.mu.Lock()
	for _, it := range s.queue {
		switch it.prio {
		case paging.PriorityCritical:
			snap.Queued.Critical++
		case paging.PriorityHigh:
			snap.Queued.High++
		default:
			snap.Queued.Normal++
		}
	}
	snap.Sent = Depth{Normal: int(s.sent[paging.PriorityNormal]), High: int(s.sent[paging.PriorityHigh]), Critical: int(s.sent[paging.PriorityCritical])}
	if s.current != nil {
		snap.Transmitting, snap.Rate = true, *s.current
	}
	if s.lastErr != nil {
		snap.LastError = s.lastErr.Error()
	}
	snap.MaxCriticalWait = s.maxWait
	s.mu.Unlock()

	snap.DutyLimit, snap.DutyWindow = cfg.DutyLimit, cfg.DutyWindow
	if !duty.Limited() {
		snap.DutyWindow = time.Hour
	}
	snap.AirTime = duty.Used(now)
	if duty.Limited() {
		snap.Headroom = max(0, duty.Budget(false)-snap.AirTime)
		snap.CriticalHeadroom = max(0, duty.Budget(true)-snap.AirTime)
	}
	snap.WorstCriticalWait = s.WorstCriticalWait()
	st := s.drv.Stats()
	snap.Transmissions, snap.Keyed = st.Transmissions, st.Keyed
	return snap
}

// maxPageWords is the most codewords a page of MaxChars has at any kind
// (alpha: 7 bits a character; numeric: 4).
func (s *Scheduler) maxPageWords() int {
	return 1 + (7*s.opts.MaxChars+19)/20
}

// WorstCriticalWait bounds how long a critical page waits, from Enqueue
// until its last codeword and the one ending it are on air, when the
// transmitter works and the critical reserve of the duty cycle is not
// used up by other critical pages. The worst case is a page that arrives
// just after the driver asked for a batch, behind a page of MaxChars laid
// out in that batch, when it cannot join the transmission (another rate,
// no room left), at the rates that make all of it slowest:
//
//   - until the batch asked for goes on air: one batch, or key-up and
//     preamble when the transmission has just begun;
//   - the batches the page laid out runs over (it may start one batch
//     later, after idle codewords to its frame), the codeword ending it
//     included;
//   - the tail, then a new transmission: output latency, key-up,
//     preamble, and the batches that hold the critical page when its
//     frame is the last (14 idle codewords, its codewords, the one that
//     ends it).
//
// It does not count a critical page that must wait for other critical
// pages, and assumes that the scheduler's goroutine is not held up.
func (s *Scheduler) WorstCriticalWait() time.Duration {
	cfg := s.drv.Config()
	words := s.maxPageWords()
	ceil := func(n int) int { return (n + pocsag.BatchWords - 1) / pocsag.BatchWords }
	var worst time.Duration
	for _, r1 := range s.opts.Rates {
		ask := max(r1.BatchDuration(), cfg.OutputLatency+cfg.KeyUp+r1.PreambleDuration())
		onAir := time.Duration(2+ceil(words+1)) * r1.BatchDuration()
		for _, rc := range s.opts.Rates {
			next := cfg.Tail + cfg.OutputLatency + cfg.KeyUp + rc.PreambleDuration() +
				time.Duration(ceil(14+words+1))*rc.BatchDuration()
			worst = max(worst, ask+onAir+next)
		}
	}
	return worst
}
