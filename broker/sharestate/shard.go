package sharestate

import (
	"fmt"

	"github.com/moldau/moldau/broker/share"
)

// DefaultUpdatesPerSnapshot is Kafka's
// share.coordinator.snapshot.update.records.per.snapshot default: after
// this many ShareUpdate records for a key, its next write is a snapshot.
const DefaultUpdatesPerSnapshot = 500

// Record is a record to append to the key's __share_group_state
// partition. Value nil is a tombstone.
type Record struct {
	Key   []byte
	Value []byte
}

// Shard is the share coordinator state of one __share_group_state
// partition (Kafka's ShareCoordinatorShard): the state of every key that
// hashes to it, rebuilt by Replay.
//
// Writes are two steps so that memory never runs ahead of the log: a
// Prepare* call checks the request against the current state and returns
// the record to append (or an error, or no record); the caller appends
// it, waits until it is durable, and then passes it to Replay, which is
// the only place state changes. A record that could not be made durable
// is dropped (or, if its fate is unknown, the caller rebuilds the Shard
// from the log).
//
// Not safe for concurrent use: the caller serialises Prepare, append and
// Replay per Shard (broker/share_state.go holds one mutex per partition
// across the three, so that a second write prepares against the state the
// first left).
type Shard struct {
	updatesPerSnapshot int
	keys               map[share.Key]*entry
}

// entry is one key's state.
type entry struct {
	snap Snapshot // the latest snapshot with the updates since folded in
	// updates counts the ShareUpdate records since the latest snapshot.
	updates int
	// leaderEpoch and stateEpoch are the highest seen (Kafka's
	// leaderEpochMap and stateEpochMap): what requests are fenced by.
	leaderEpoch, stateEpoch int32
	// snapshotOffset is the log offset of the latest snapshot (-1 when
	// the key's state began with an update).
	snapshotOffset int64
}

// NewShard returns an empty shard; updatesPerSnapshot <= 0 means
// DefaultUpdatesPerSnapshot.
func NewShard(updatesPerSnapshot int) *Shard {
	if updatesPerSnapshot <= 0 {
		updatesPerSnapshot = DefaultUpdatesPerSnapshot
	}
	return &Shard{updatesPerSnapshot: updatesPerSnapshot, keys: map[share.Key]*entry{}}
}

// Len is the number of keys with state.
func (s *Shard) Len() int { return len(s.keys) }

// Replay applies one record read from (or just made durable in) the log at
// offset off. Records of unknown types or versions fail with ErrCorrupt;
// the caller decides whether to skip them.
func (s *Shard) Replay(off int64, key, value []byte) error {
	typ, k, err := DecodeKey(key)
	if err != nil {
		return err
	}
	switch typ {
	case RecordSnapshot:
		if value == nil {
			delete(s.keys, k)
			return nil
		}
		snap, err := DecodeSnapshot(value)
		if err != nil {
			return err
		}
		e := s.keys[k]
		if e == nil {
			e = &entry{leaderEpoch: snap.LeaderEpoch, stateEpoch: snap.StateEpoch}
			s.keys[k] = e
		}
		e.snap, e.updates, e.snapshotOffset = snap, 0, off
		e.leaderEpoch = max(e.leaderEpoch, snap.LeaderEpoch)
		e.stateEpoch = max(e.stateEpoch, snap.StateEpoch)
	case RecordUpdate:
		if value == nil {
			return nil // never written; nothing to undo
		}
		u, err := DecodeUpdate(value)
		if err != nil {
			return err
		}
		e := s.keys[k]
		if e == nil {
			// Kafka takes an update without a snapshot as the state.
			e = &entry{snap: Snapshot{SnapshotEpoch: u.SnapshotEpoch, StateEpoch: 0, LeaderEpoch: u.LeaderEpoch,
				StartOffset: u.StartOffset, DeliveryCompleteCount: u.DeliveryCompleteCount,
				Batches: Combine(nil, u.Batches, u.StartOffset)}, leaderEpoch: u.LeaderEpoch, snapshotOffset: -1}
			s.keys[k] = e
			return nil
		}
		start := u.StartOffset
		if start == -1 {
			start = e.snap.StartOffset
		}
		e.snap.StartOffset = start
		if u.LeaderEpoch != -1 {
			e.snap.LeaderEpoch = u.LeaderEpoch
		}
		e.snap.Batches = Combine(e.snap.Batches, u.Batches, start)
		e.snap.DeliveryCompleteCount = u.DeliveryCompleteCount
		e.leaderEpoch = max(e.leaderEpoch, u.LeaderEpoch)
		e.updates++
	}
	return nil
}

// State returns k's current state (a copy); ok false if it has none.
func (s *Shard) State(k share.Key) (st share.State, ok bool) {
	e := s.keys[k]
	if e == nil {
		return share.State{}, false
	}
	return share.State{
		StateEpoch:            e.snap.StateEpoch,
		LeaderEpoch:           e.snap.LeaderEpoch,
		StartOffset:           e.snap.StartOffset,
		DeliveryCompleteCount: e.snap.DeliveryCompleteCount,
		Batches:               append([]share.StateBatch(nil), e.snap.Batches...),
	}, true
}

// PrepareInitialize checks an initialize of k (Kafka's initializeState) and
// returns its record: a snapshot at stateEpoch and startOffset without
// batches, the next snapshot epoch. A stateEpoch (other than -1) older
// than the highest seen fails with share.ErrFencedStateEpoch.
func (s *Shard) PrepareInitialize(k share.Key, stateEpoch int32, startOffset int64, now int64) (Record, error) {
	snapEpoch := int32(0)
	if e := s.keys[k]; e != nil {
		if stateEpoch != -1 && e.stateEpoch > stateEpoch {
			return Record{}, fmt.Errorf("%w: %d < %d", share.ErrFencedStateEpoch, stateEpoch, e.stateEpoch)
		}
		snapEpoch = e.snap.SnapshotEpoch + 1
	}
	dcc := int32(0)
	if startOffset < 0 {
		dcc = -1
	}
	return Record{Key: EncodeKey(RecordSnapshot, k), Value: EncodeSnapshot(Snapshot{
		SnapshotEpoch: snapEpoch, StateEpoch: stateEpoch, LeaderEpoch: -1, StartOffset: startOffset,
		DeliveryCompleteCount: dcc, CreateTimestamp: now, WriteTimestamp: now,
	})}, nil
}

// PrepareWrite checks a write of k (Kafka's writeState) and returns its
// record: a ShareUpdate with the given batches, or, once the key has had
// updatesPerSnapshot updates since its snapshot, a ShareSnapshot of the
// merged state. leaderEpoch and stateEpoch (-1: not checked) older than the
// highest seen fail with share.ErrFencedLeaderEpoch / ErrFencedStateEpoch;
// a key without state with share.ErrUninitialized. startOffset -1 keeps the
// stored start offset. deliveryComplete -1 is computed from the merged
// batches.
func (s *Shard) PrepareWrite(k share.Key, stateEpoch, leaderEpoch int32, startOffset int64, deliveryComplete int32, batches []share.StateBatch, now int64) (Record, error) {
	e := s.keys[k]
	if e == nil {
		return Record{}, share.ErrUninitialized
	}
	if leaderEpoch != -1 && e.leaderEpoch > leaderEpoch {
		return Record{}, fmt.Errorf("%w: %d < %d", share.ErrFencedLeaderEpoch, leaderEpoch, e.leaderEpoch)
	}
	if stateEpoch != -1 && e.stateEpoch > stateEpoch {
		return Record{}, fmt.Errorf("%w: %d < %d", share.ErrFencedStateEpoch, stateEpoch, e.stateEpoch)
	}
	newLeader := e.snap.LeaderEpoch
	if leaderEpoch != -1 {
		newLeader = max(newLeader, leaderEpoch)
	}
	newStart := startOffset
	if newStart == -1 {
		newStart = e.snap.StartOffset
	}
	merged := Combine(e.snap.Batches, batches, newStart)
	if deliveryComplete == -1 {
		deliveryComplete = DeliveryComplete(merged, newStart)
	}
	if e.updates >= s.updatesPerSnapshot {
		return Record{Key: EncodeKey(RecordSnapshot, k), Value: EncodeSnapshot(Snapshot{
			SnapshotEpoch: e.snap.SnapshotEpoch + 1, StateEpoch: e.snap.StateEpoch, LeaderEpoch: newLeader,
			StartOffset: newStart, DeliveryCompleteCount: deliveryComplete,
			CreateTimestamp: now, WriteTimestamp: now, Batches: merged,
		})}, nil
	}
	return Record{Key: EncodeKey(RecordUpdate, k), Value: EncodeUpdate(Update{
		SnapshotEpoch: e.snap.SnapshotEpoch, LeaderEpoch: newLeader, StartOffset: startOffset,
		DeliveryCompleteCount: deliveryComplete, Batches: Combine(nil, batches, startOffset),
	})}, nil
}

// PrepareRead checks a read of k (Kafka's readStateAndMaybeUpdateLeaderEpoch):
// share.ErrUninitialized for a key without state, share.ErrFencedLeaderEpoch
// for a leaderEpoch older than the highest seen. A newer leaderEpoch is
// recorded: rec is then the update that records it (nil when there is
// nothing to write); the state to answer is State after it is replayed.
func (s *Shard) PrepareRead(k share.Key, leaderEpoch int32, now int64) (*Record, error) {
	e := s.keys[k]
	if e == nil {
		return nil, share.ErrUninitialized
	}
	if leaderEpoch == -1 || leaderEpoch == e.leaderEpoch {
		return nil, nil
	}
	if e.leaderEpoch > leaderEpoch {
		return nil, fmt.Errorf("%w: %d < %d", share.ErrFencedLeaderEpoch, leaderEpoch, e.leaderEpoch)
	}
	rec, err := s.PrepareWrite(k, -1, leaderEpoch, e.snap.StartOffset, e.snap.DeliveryCompleteCount, nil, now)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// PrepareDelete returns the tombstone of k, or nil if k has no state
// (Kafka writes nothing then).
func (s *Shard) PrepareDelete(k share.Key) *Record {
	if s.keys[k] == nil {
		return nil
	}
	return &Record{Key: EncodeKey(RecordSnapshot, k)}
}

// RedundantBefore is the offset below which no record of the shard is
// needed any more (Kafka's ShareCoordinatorOffsetsManager): the oldest
// latest-snapshot offset of the keys with state, or upTo when none has
// state. A key whose state began with an update pins everything (-1).
func (s *Shard) RedundantBefore(upTo int64) int64 {
	low := upTo
	for _, e := range s.keys {
		if e.snapshotOffset < 0 {
			return -1
		}
		low = min(low, e.snapshotOffset)
	}
	return low
}

// PrepareColdSnapshots returns fresh snapshots (the next snapshot epoch,
// the same state, WriteTimestamp now) of the keys last snapshotted
// interval or more ago, as Kafka's snapshotColdPartitions, so that an idle
// key's old snapshot does not pin the log's redundant prefix
// (RedundantBefore) forever. When every key's latest snapshot is already
// such a cold snapshot (CreateTimestamp != WriteTimestamp: nothing was
// written since), there is nothing to gain and nothing is returned.
func (s *Shard) PrepareColdSnapshots(now, interval int64) []Record {
	allCold := true
	for _, e := range s.keys {
		if e.snap.CreateTimestamp == e.snap.WriteTimestamp || e.updates > 0 {
			allCold = false
			break
		}
	}
	if allCold {
		return nil
	}
	var out []Record
	for k, e := range s.keys {
		if now-e.snap.WriteTimestamp < interval {
			continue
		}
		snap := e.snap
		snap.SnapshotEpoch++
		snap.WriteTimestamp = now
		out = append(out, Record{Key: EncodeKey(RecordSnapshot, k), Value: EncodeSnapshot(snap)})
	}
	return out
}
