package share

import (
	"context"
	"sort"
	"sync"
)

// MemPersister is a Persister in memory: nothing survives the process. It
// honours the Persister contract (epoch fencing, Write's merge) and serves
// a single node until a durable Persister is wired, and tests.
type MemPersister struct {
	mu     sync.Mutex // guards states
	states map[Key]State
}

// NewMemPersister returns an empty in-memory persister.
func NewMemPersister() *MemPersister { return &MemPersister{states: map[Key]State{}} }

var _ Persister = (*MemPersister)(nil)

// Initialize implements Persister.
func (m *MemPersister) Initialize(_ context.Context, k Key, stateEpoch int32, startOffset int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.states[k]
	if ok && stateEpoch < old.StateEpoch {
		return ErrFencedStateEpoch
	}
	st := State{StateEpoch: stateEpoch, LeaderEpoch: -1, StartOffset: startOffset, DeliveryCompleteCount: 0}
	if ok {
		st.LeaderEpoch = old.LeaderEpoch
	}
	m.states[k] = st
	return nil
}

func (m *MemPersister) checkLocked(k Key, leaderEpoch int32) (State, error) {
	st, ok := m.states[k]
	if !ok {
		return State{}, ErrUninitialized
	}
	if leaderEpoch >= 0 {
		if leaderEpoch < st.LeaderEpoch {
			return State{}, ErrFencedLeaderEpoch
		}
		st.LeaderEpoch = leaderEpoch
		m.states[k] = st
	}
	return st, nil
}

// Read implements Persister.
func (m *MemPersister) Read(_ context.Context, k Key, leaderEpoch int32) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.checkLocked(k, leaderEpoch)
	if err != nil {
		return State{}, err
	}
	st.Batches = append([]StateBatch(nil), st.Batches...)
	return st, nil
}

// Write implements Persister.
func (m *MemPersister) Write(_ context.Context, k Key, stateEpoch, leaderEpoch int32, startOffset int64, batches []StateBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[k]
	if ok && stateEpoch < st.StateEpoch {
		return ErrFencedStateEpoch
	}
	if ok && leaderEpoch >= 0 && leaderEpoch < st.LeaderEpoch {
		return ErrFencedLeaderEpoch
	}
	if !ok {
		st = State{StartOffset: -1, LeaderEpoch: -1}
	}
	st.StateEpoch = max(st.StateEpoch, stateEpoch)
	if leaderEpoch >= 0 {
		st.LeaderEpoch = leaderEpoch
	}
	if startOffset >= 0 {
		st.StartOffset = startOffset
	}
	st.Batches = MergeBatches(st.Batches, batches, st.StartOffset)
	var done int64
	for _, b := range st.Batches {
		if b.DeliveryState == StateAcked || b.DeliveryState == StateArchived {
			done += b.LastOffset - b.FirstOffset + 1
		}
	}
	st.DeliveryCompleteCount = int32(min(done, 1<<31-1))
	m.states[k] = st
	return nil
}

// Delete implements Persister.
func (m *MemPersister) Delete(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.states, k)
	return nil
}

// ReadSummary implements Persister.
func (m *MemPersister) ReadSummary(_ context.Context, k Key) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[k]
	if !ok {
		return State{}, ErrUninitialized
	}
	st.Batches = nil
	return st, nil
}

// MergeBatches is Write's merge (Kafka's ShareUpdate fold): the updates
// overwrite the offsets they cover, and what lies before startOffset is
// dropped. Neither input is modified; the result is sorted and not
// overlapping.
func MergeBatches(old, updates []StateBatch, startOffset int64) []StateBatch {
	ups := append([]StateBatch(nil), updates...)
	sort.Slice(ups, func(i, j int) bool { return ups[i].FirstOffset < ups[j].FirstOffset })
	var out []StateBatch
	add := func(b StateBatch) {
		if b.LastOffset < startOffset || b.LastOffset < b.FirstOffset {
			return
		}
		b.FirstOffset = max(b.FirstOffset, startOffset)
		out = append(out, b)
	}
	// Cut every old batch around the updates.
	for _, b := range old {
		cur := b
		for _, u := range ups {
			if u.LastOffset < cur.FirstOffset || u.FirstOffset > cur.LastOffset {
				continue
			}
			if u.FirstOffset > cur.FirstOffset {
				left := cur
				left.LastOffset = u.FirstOffset - 1
				add(left)
			}
			cur.FirstOffset = u.LastOffset + 1
			if cur.FirstOffset > cur.LastOffset {
				break
			}
		}
		if cur.FirstOffset <= cur.LastOffset {
			add(cur)
		}
	}
	for _, u := range ups {
		add(u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstOffset < out[j].FirstOffset })
	return out
}
