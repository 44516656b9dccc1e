package replication

import (
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Storage is what a Raft group persists through: etcd's raft.Storage for
// the reads Raft makes, plus the one write the Ready loop makes. The
// partition-log-backed implementation (DESIGN.md §2) plugs in here;
// MemStorage is the in-memory one for tests.
//
// Concurrency: the group calls every method with its own lock held, so
// calls for one group never overlap and an implementation needs no lock
// for Raft's use. Readers outside the group (metrics, status pages) must be
// synchronised by the implementation itself.
//
// Ownership: Save's arguments belong to Raft and must not be modified or
// retained beyond the call unless copied (entries' Data may be retained:
// Raft never modifies it). One exception: an implementation may write, in
// place, fields of a normal entry's Data that neither raft nor the
// StateMachine depends on — LogStorage stamps a Kafka batch's base offset
// and partition leader epoch (entrycodec.go). Save runs before the Ready's
// messages are sent and its entries applied, so every later reader (the
// transport encoding a message that carries the entry, Apply) sees the
// stamped bytes, and no earlier message carries entries of this Ready.
// Slices returned by Entries belong to the caller (see raft.Storage); the
// entries' Data may be shared and must not be modified.
type Storage interface {
	raft.Storage

	// Save persists one Ready's state, in etcd's order: first the snapshot
	// (if not empty: the log is replaced by it, as a snapshot install),
	// then the entries (an entry at an index already stored replaces it and
	// every later entry: a divergent suffix is truncated first), then the
	// hard state (if not nil).
	//
	// Durability: when sync is true (raft's Ready.MustSync: the term, the
	// vote or the entries changed) everything is durable on return, subject
	// to the implementation's documented flush policy for entries
	// (DESIGN.md §4); when false it may sit in volatile buffers. It blocks
	// for the writes and fsyncs it does. Reads made after Save returns see
	// what it saved.
	//
	// An error means that nothing can be assumed about what was persisted:
	// the group's node stops, and the storage is not called again.
	Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot, sync bool) error
}

// ConfStateSaver is implemented by a Storage that records the group's
// configuration: the group calls SaveConfState after applying the conf
// change at index, before it applies anything later. Durable on return;
// an error stops the node. InitialState must then return the configuration
// as of the Applied index the group is restarted with (conf changes above
// it are applied again as Raft redelivers them).
type ConfStateSaver interface {
	SaveConfState(index uint64, cs *raftpb.ConfState) error
}

// ConfIndexer is implemented by a Storage whose configuration may be ahead
// of its log: after a snapshot whose configuration is the leader's latest
// applied one rather than the one at the snapshot's index (LogStorage,
// DESIGN.md §2). The conf change entries at or below ConfIndex are already
// in the configuration InitialState or the installed snapshot gave Raft:
// the group passes them to the state machine but does not apply them to
// Raft again (applying a joint-consensus change twice panics in raft) nor
// save them. Safe for concurrent use.
type ConfIndexer interface {
	ConfIndex() uint64
}

// MemStorage is a Storage in memory (etcd's raft.MemoryStorage) for tests.
// Everything saved is "durable" for as long as the value lives, so a test
// can restart a node on the same MemStorage to model a process restart. It
// can be made to fail (FailSaves) to test that a storage error stops the
// node.
type MemStorage struct {
	*raft.MemoryStorage

	mu      sync.Mutex
	failErr error // next Saves fail with it
	saves   int   // Save calls that succeeded
	synced  int   // of those, with sync
}

// NewMemStorage returns an empty storage whose initial configuration has
// the given voters (a group bootstrapped with that membership, at index 0).
func NewMemStorage(voters ...uint64) *MemStorage {
	ms := raft.NewMemoryStorage()
	if len(voters) > 0 {
		snap := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
			ConfState: &raftpb.ConfState{Voters: append([]uint64(nil), voters...)},
			Index:     new(uint64(0)),
			Term:      new(uint64(0)),
		}}
		if err := ms.ApplySnapshot(snap); err != nil {
			panic(err) // an empty MemoryStorage accepts an index-0 snapshot
		}
	}
	return &MemStorage{MemoryStorage: ms}
}

// FailSaves makes every later Save fail with err (nil: succeed again).
func (s *MemStorage) FailSaves(err error) {
	s.mu.Lock()
	s.failErr = err
	s.mu.Unlock()
}

// Saves returns how many Saves succeeded, and how many of them synced.
func (s *MemStorage) Saves() (saves, synced int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves, s.synced
}

// Save implements Storage.
func (s *MemStorage) Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot, sync bool) error {
	s.mu.Lock()
	err := s.failErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if snap != nil && !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		// MemoryStorage.Append truncates a conflicting suffix itself.
		if err := s.Append(entries); err != nil {
			return err
		}
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		if err := s.SetHardState(proto.Clone(hs).(*raftpb.HardState)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.saves++
	if sync {
		s.synced++
	}
	s.mu.Unlock()
	return nil
}
