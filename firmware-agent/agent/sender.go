package agent

import (
	"context"
	"sync"
	"time"

	"pagebridge/firmware-agent/agentapi"
	"pagebridge/firmware-agent/jobqueue"
	"pagebridge/gateway/paging"
	"pagebridge/storage"
)

// sender publishes the spool's items for the gateway (results, inbound
// pages), critical first, and publishes each again until the gateway
// acknowledges it: after AckTimeout, and at once after a reconnect. The
// spool is the record; the sender's map is its schedule.
type sender struct {
	a     *Agent
	queue *jobqueue.Queue[paging.ID]

	mu        sync.Mutex
	items     map[paging.ID]*outItem
	removable []paging.ID // acknowledged, still in the spool
}

type outItem struct {
	topic   string
	prio    paging.Priority
	payload []byte
	inbound time.Time // when a page from a line came; zero for results
	sent    time.Time // zero: not yet published
	queued  bool
}

func newSender(a *Agent) *sender {
	return &sender{a: a, queue: jobqueue.New[paging.ID](), items: map[paging.ID]*outItem{}}
}

// add schedules items already committed to the spool.
func (s *sender) add(items []storage.SpoolItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range items {
		if _, ok := s.items[it.Key]; ok {
			continue
		}
		topic := agentapi.ResultTopic(s.a.cfg.Agent.ID)
		switch it.Kind {
		case agentapi.KindInbound:
			topic = agentapi.InboundTopic(s.a.cfg.Agent.ID)
		case agentapi.KindSMS:
			topic = agentapi.SMSTopic(s.a.cfg.Agent.ID)
		}
		oi := &outItem{topic: topic, prio: it.Priority, payload: []byte(it.Payload.Reveal()), queued: true}
		if it.Kind == agentapi.KindInbound {
			oi.inbound = it.Created
		}
		s.items[it.Key] = oi
		s.queue.Push(it.Priority, it.Key)
	}
}

// replace takes the new payload of an item still pending (a page marked
// bypassed); it goes out again.
func (s *sender) replace(it storage.SpoolItem) {
	s.mu.Lock()
	oi, ok := s.items[it.Key]
	if ok {
		oi.payload = []byte(it.Payload.Reveal())
	}
	s.mu.Unlock()
	if !ok {
		s.add([]storage.SpoolItem{it})
		return
	}
	s.requeue(func(x *outItem) bool { return x == oi })
}

// oldestInbound is when the oldest page the gateway has not acknowledged
// came in; zero if none waits.
func (s *sender) oldestInbound() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, it := range s.items {
		if !it.inbound.IsZero() && (oldest.IsZero() || it.inbound.Before(oldest)) {
			oldest = it.inbound
		}
	}
	return oldest
}

// acked forgets items the gateway committed; they are deleted from the
// spool later (takeRemovable).
func (s *sender) acked(ids []paging.ID) {
	s.mu.Lock()
	for _, id := range ids {
		if _, ok := s.items[id]; ok {
			delete(s.items, id)
			s.removable = append(s.removable, id)
		}
	}
	empty, removable := len(s.items) == 0, len(s.removable) > 0
	s.mu.Unlock()
	s.a.settled(ids)
	if removable {
		select {
		case s.a.removeC <- struct{}{}:
		default:
		}
	}
	if empty {
		s.a.poke() // the gateway has everything: say so
	}
}

// takeRemovable returns the acknowledged items to delete from the spool.
func (s *sender) takeRemovable() []paging.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.removable
	s.removable = nil
	return ids
}

// requeueRemovable keeps ids for the next deletion, which it asks for.
func (s *sender) requeueRemovable(ids []paging.ID) {
	s.mu.Lock()
	s.removable = append(s.removable, ids...)
	s.mu.Unlock()
	select {
	case s.a.removeC <- struct{}{}:
	default:
	}
}

func (s *sender) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// resendAll queues every item not already queued: after a reconnect
// nothing in flight can be relied on.
func (s *sender) resendAll() {
	s.requeue(func(*outItem) bool { return true })
}

func (s *sender) requeue(pred func(*outItem) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, it := range s.items {
		if !it.queued && pred(it) {
			it.queued = true
			s.queue.Push(it.prio, id)
		}
	}
}

func (s *sender) run(ctx context.Context) {
	timeout := s.a.cfg.Bus.AckTimeout.Duration
	go func() {
		t := time.NewTicker(timeout / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				now := time.Now()
				s.requeue(func(it *outItem) bool { return now.Sub(it.sent) >= timeout })
			}
		}
	}()
	ids := make([]paging.ID, 0, agentapi.MaxBatch)
	for {
		id, err := s.queue.Pop(ctx)
		if err != nil {
			return
		}
		for !s.a.link.Connected() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		// Whatever else is queued goes with it, in batches per topic:
		// critical first, as the queue gives them.
		ids = append(ids[:0], id)
		for len(ids) < agentapi.MaxBatch {
			id, ok := s.queue.TryPop()
			if !ok {
				break
			}
			ids = append(ids, id)
		}
		s.publish(ids)
	}
}

// publish sends the items ids name that are still unacknowledged.
func (s *sender) publish(ids []paging.ID) {
	byTopic := map[string][][]byte{}
	var topics []string
	now := time.Now()
	s.mu.Lock()
	for _, id := range ids {
		it := s.items[id]
		if it == nil { // acknowledged while queued
			continue
		}
		it.queued, it.sent = false, now
		if byTopic[it.topic] == nil {
			topics = append(topics, it.topic)
		}
		byTopic[it.topic] = append(byTopic[it.topic], it.payload)
	}
	s.mu.Unlock()
	for _, topic := range topics {
		msgs, err := agentapi.Pack(now, byTopic[topic])
		if err != nil {
			// Only an item too large for any payload gets here; it was
			// checked when encoded, so this is a bug to hear about.
			s.a.log.Error("results not packed", "err", err)
		}
		for _, p := range msgs {
			s.a.link.Publish(topic, false, p)
		}
	}
}
