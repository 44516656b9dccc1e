package replication

// LogStorage: a Raft group's Storage over a partition's segment log — the
// log IS the Raft log (DESIGN.md §2). Index i is the i-th entry: a batch,
// whose term is its partitionLeaderEpoch, or a phantom (raft's empty entry,
// a conf change: phantoms.go), which takes no Kafka offset and is kept in
// `raft-phantoms` beside the log.
//
// This is the first version, built on the log package's public API only:
//   - The index → offset map is held in memory for the whole log (8 bytes
//     per batch), built at open by a header scan from the log start. The
//     design's persisted per-segment `.raftindex` replaces it once the log
//     grows it.
//   - What cannot be recomputed from the log — the Raft index and term just
//     below the log start, and the configuration there — is in
//     `raft-anchor` in the log's directory (format below). The log leaves
//     the file alone (ResetTo keeps files it does not own).
//   - The log start moves only through it: CompactTo (retention through
//     Raft, whole batches at or below the applied index) and a snapshot
//     install (Save). Retention or DeleteRecords run on the log directly
//     would leave a start that matches no anchor, which Open refuses
//     (ErrNoAnchor); the log-owned `.raftindex` of DESIGN.md §2 removes
//     that restriction. DeleteRecords does not move the log's start: it
//     is a log start entry (logstart.go) whose applied offset, the
//     record start, is kept in the anchor beside it.
//   - The configuration: the anchor's, then each applied conf change's
//     (SaveConfState) in the same file; InitialState gives the one at
//     AppliedIndex. The anchor's configuration is the one after the conf
//     change at its confIndex, which an installed snapshot may put above
//     the log start (Snapshot: the latest applied configuration, so that
//     a replica added after the log start moved is in it); conf changes at
//     or below confIndex are in it already (ConfIndex).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// LogStorageConfig configures OpenLogStorage.
type LogStorageConfig struct {
	// Log is the partition's log, opened with Config.Replicated. The
	// storage owns its writes from now on (appends, truncation, reset).
	Log *plog.Log
	// FS is the file system Log was opened on.
	FS vfs.FS
	// Voters is the group's configuration when the log has no anchor yet
	// (a new partition).
	Voters []uint64
	// UnsafeNoSync: Save does not fsync appended entries, so they may be
	// only in the page cache when acknowledged (Kafka's default flush
	// policy). That survives a process crash but not a power loss, after
	// which a follower may have lost entries it acknowledged — which Raft
	// assumes never happens (DESIGN.md §4). Default (false): entries are
	// fsynced before Save returns whenever raft asks for a durable write.
	// The HardState is always synced.
	UnsafeNoSync bool
	// Now gives the append time in Unix ms (default: the wall clock).
	Now func() int64
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// TailCacheBytes bounds the entries most recently appended that are
	// kept in memory for Raft's reads of the log's tail (tailcache.go):
	// 0 is DefaultTailCacheBytes, negative disables it.
	TailCacheBytes int
	// TailBudget bounds the tail caches of the storages sharing it (one
	// per node); nil is DefaultTailCacheBudget.
	TailBudget *TailCacheBudget
}

// LogStorage implements Storage over a *log.Log. Its methods are safe for
// concurrent use (mu), though a group calls them one at a time.
type LogStorage struct {
	log         *plog.Log
	fs          vfs.FS
	dir         string
	syncEntries bool
	now         func() int64
	logger      *slog.Logger

	mu        sync.Mutex
	hs        raftpb.HardState // as given to Raft; Term and Vote as last written
	first     uint64           // index of the first entry (at the log start)
	prevTerm  uint64           // term of index first-1
	offsets   []int64          // offsets[k]: base offset of index first+k (a phantom's: the next batch's)
	terms     []termStart      // ascending; terms[0].index >= first
	logStart  int64            // log start offset the anchor describes
	anchorSet []anchor         // as in the file; the last valid one describes the log
	base      *anchor          // the anchor describing the log now
	confs     []confAt         // conf changes applied above the log start, as in the file
	phantoms  []phantom        // ascending, all at or above first (phantoms.go)
	// phantomsExist: the phantom file exists; phantomsPending: how many of
	// the last phantoms are not written to it yet (within a Save).
	phantomsExist   bool
	phantomsPending int
	// phantomsV1: the file on disk is version 1 (logstart.go: it is
	// rewritten as 2 before a log start entry goes in).
	phantomsV1 bool
	// recordStart mirrors base.recordStart for lock-free reads
	// (LogStartOffset, on the fetch path: mu is held across Save's
	// fsync). Written under mu.
	recordStart atomic.Int64
	// tail: the entries appended last, as written (tailcache.go).
	tail tailCache
}

type termStart struct{ term, index uint64 }

// ErrNoAnchor: the log's start offset matches no Raft anchor: the log
// start moved without the replication layer (retention, DeleteRecords),
// or the anchor file is gone.
var ErrNoAnchor = errors.New("replication: log start has no raft anchor")

// OpenLogStorage loads the group's state from the log and its directory:
// the HardState (log.LoadHardState), the anchor, and the index of every
// batch from the log start.
func OpenLogStorage(cfg LogStorageConfig) (*LogStorage, error) {
	s := &LogStorage{log: cfg.Log, fs: cfg.FS, dir: cfg.Log.Dir(), syncEntries: !cfg.UnsafeNoSync, now: cfg.Now}
	if s.now == nil {
		s.now = func() int64 { return time.Now().UnixMilli() }
	}
	tailBytes, budget := cfg.TailCacheBytes, cfg.TailBudget
	switch {
	case tailBytes == 0:
		tailBytes = DefaultTailCacheBytes
	case tailBytes < 0:
		tailBytes = 0
	}
	if budget == nil {
		budget = DefaultTailCacheBudget
	}
	s.tail = newTailCache(s, tailBytes, budget)
	s.logger = cfg.Logger
	if s.logger == nil {
		s.logger = slog.Default()
	}
	hs, _, err := plog.LoadHardState(s.fs, s.dir)
	if err != nil {
		return nil, err
	}
	s.hs = raftpb.HardState{Term: new(hs.Term), Vote: new(hs.Vote), Commit: new(hs.Commit)}

	anchors, confs, err := loadAnchors(s.fs, s.dir)
	if err != nil {
		return nil, err
	}
	start, end := s.log.LogStartOffset(), s.log.EndOffset()
	if anchors == nil {
		if start != 0 {
			return nil, fmt.Errorf("%w: log starts at %d", ErrNoAnchor, start)
		}
		anchors = []anchor{{first: 1, logStart: 0, cs: &raftpb.ConfState{Voters: slices.Clone(cfg.Voters)}}}
		if err := saveAnchors(s.fs, s.dir, anchors, nil); err != nil {
			return nil, err
		}
	}
	var a *anchor
	for i := len(anchors) - 1; i >= 0; i-- {
		if anchors[i].logStart == start && (!anchors[i].emptyOnly || end == start) {
			a = &anchors[i]
			break
		}
	}
	if a == nil {
		return nil, fmt.Errorf("%w: log starts at %d", ErrNoAnchor, start)
	}
	s.first, s.prevTerm, s.logStart = a.first, a.prevTerm, a.logStart
	if !a.emptyOnly {
		// An interrupted install's anchor starts with none; an
		// interrupted compaction's keeps only those above it.
		for _, c := range confs {
			if c.index >= s.first {
				s.confs = append(s.confs, c)
			}
		}
	}
	chosen := *a
	chosen.emptyOnly = false
	// A log start entry moves the record start only up to the log end it
	// was applied at; a log that lost its tail (UnsafeNoSync and a power
	// loss) must not report a start beyond its end.
	chosen.recordStart = max(min(chosen.recordStart, end), start)
	s.anchorSet = []anchor{chosen}
	s.base = &s.anchorSet[0]
	s.recordStart.Store(s.base.recordStart)

	ps, exists, torn, err := loadPhantoms(s.fs, s.dir)
	if err != nil {
		return nil, err
	}
	s.phantomsExist = exists
	if exists {
		s.phantomsV1 = phantomFileVersion(s.fs, s.dir) == 1
	}
	if torn {
		s.logger.Warn("raft phantoms: torn or damaged record at the end dropped", "dir", s.dir, "kept", len(ps))
	}
	loaded := len(ps)
	if a.emptyOnly {
		ps = nil // an interrupted install: the log is the new, empty one
	}
	ps = slices.DeleteFunc(ps, func(p phantom) bool { return p.index < s.first })
	kept, err := s.mergePhantoms(ps)
	if err != nil {
		return nil, fmt.Errorf("replication: index log %s: %w", s.dir, err)
	}
	s.phantoms = kept
	if torn || len(kept) != loaded {
		// Before anything is appended after them, and before an
		// interrupted install's anchor is made final (below).
		if err := s.rewritePhantomsLocked(); err != nil {
			return nil, err
		}
	}

	if len(anchors) > 1 || a.emptyOnly || len(s.confs) != len(confs) {
		// Finish an interrupted install or compaction: its anchor alone,
		// and no longer valid only for an empty log (entries may now be
		// appended after it).
		if err := saveAnchors(s.fs, s.dir, s.anchorSet, s.confs); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// noteAppendedLocked records the next index's batch (or phantom, at the
// log end offset).
func (s *LogStorage) noteAppendedLocked(offset int64, term uint64) {
	idx := s.first + uint64(len(s.offsets))
	s.offsets = append(s.offsets, offset)
	if n := len(s.terms); n == 0 || s.terms[n-1].term != term {
		s.terms = append(s.terms, termStart{term, idx})
	}
}

func (s *LogStorage) lastLocked() uint64 { return s.first + uint64(len(s.offsets)) - 1 }

// InitialState implements raft.Storage. The commit index is kept within
// raft's bounds: at least the applied index (the recovered high
// watermark's, at least the index below the log start), at most the last
// index — a log that lost an unsynced tail in a power loss (DESIGN.md §4),
// which is logged.
func (s *LogStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := &raftpb.HardState{Term: new(s.hs.GetTerm()), Vote: new(s.hs.GetVote()), Commit: new(s.hs.GetCommit())}
	// The high watermark was a commit point when it was checkpointed.
	commit := max(hs.GetCommit(), s.appliedLocked())
	if last := s.lastLocked(); commit > last {
		s.logger.Warn("raft commit index beyond the recovered log: entries acknowledged before a crash were not on disk",
			"dir", s.dir, "commit", commit, "last_index", last)
		commit = last
	}
	hs.Commit = new(commit)
	return hs, s.confStateAtLocked(s.appliedLocked()), nil
}

// confStateAtLocked is the configuration once index is applied.
func (s *LogStorage) confStateAtLocked(index uint64) *raftpb.ConfState {
	cs := s.base.cs
	for _, c := range s.confs {
		if c.index >= s.first && c.index <= index {
			cs = c.cs
		}
	}
	return proto.Clone(cs).(*raftpb.ConfState)
}

// appliedLocked is the index of the recovered high watermark (at least the
// index below the log start): what a restarted state machine has applied.
// The phantoms right after the last batch below the high watermark (at its
// offset) count only as far as they are known to be applied: up to the
// latest saved conf change (applied, so everything before it was
// committed), and empty entries up to the HardState's commit (there is
// nothing to apply for them). The high watermark alone does not say
// whether they were committed, and InitialState reports this index as
// committed (see indexBelowLocked).
func (s *LogStorage) appliedLocked() uint64 {
	hw := s.log.HighWatermark()
	i := max(s.indexBelowLocked(hw), s.first-1)
	known := s.base.confIndex
	if n := len(s.confs); n > 0 {
		known = max(known, s.confs[n-1].index)
	}
	for i < s.lastLocked() {
		p := s.phantomAtLocked(i + 1)
		if p == nil || p.offset > hw {
			break
		}
		if i+1 > known && (p.typ != raftpb.EntryNormal || i+1 > s.hs.GetCommit()) {
			break
		}
		if off, ok := p.logStart(); ok && off > s.base.recordStart {
			break // committed perhaps, but not applied (ApplyLogStart) yet
		}
		i++
	}
	return i
}

// AppliedIndex is the GroupConfig.Applied to start the group with: the
// index of the recovered high watermark. The state machine must have
// applied exactly the entries up to it (for a partition: rebuilt its state
// from the log below the high watermark). InitialState's configuration is
// the one at this index; conf changes above it are applied again as Raft
// redelivers them.
func (s *LogStorage) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appliedLocked()
}

// SaveConfState implements ConfStateSaver: the configuration after the
// conf change at index, durable on return (the anchor file is rewritten;
// conf changes are rare).
func (s *LogStorage) SaveConfState(index uint64, cs *raftpb.ConfState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.confs); n > 0 && s.confs[n-1].index >= index {
		return nil // already saved (a redelivery after a restart)
	}
	if index <= s.base.confIndex {
		return nil // in the anchor's configuration already (a snapshot's)
	}
	confs := append(slices.Clone(s.confs), confAt{index, proto.Clone(cs).(*raftpb.ConfState)})
	if err := saveAnchors(s.fs, s.dir, []anchor{*s.base}, confs); err != nil {
		return err
	}
	s.anchorSet = []anchor{*s.base}
	s.base = &s.anchorSet[0]
	s.recordStart.Store(s.base.recordStart)
	s.confs = confs
	return nil
}

// CompactBelow is CompactTo at the last entry that ends at or below offset
// (a retention point: log.RetentionPoint) and is applied; nothing when no
// such entry is past the current start. It returns the log start after.
func (s *LogStorage) CompactBelow(offset int64) (int64, error) {
	s.mu.Lock()
	idx := min(s.indexBelowLocked(offset), s.appliedLocked())
	first := s.first
	s.mu.Unlock()
	if idx < first {
		return s.log.LogStartOffset(), nil
	}
	if err := s.CompactTo(idx); err != nil {
		return s.log.LogStartOffset(), err
	}
	return s.log.LogStartOffset(), nil
}

// CompactTo discards the log up to and including entry index, which must
// be applied (at or below the recovered-or-set high watermark's index):
// the Raft-side form of retention (DESIGN.md §2). The anchor for the new
// start (the index and term below it, the configuration there) is written
// first, beside the old one; then log.DeleteRecordsBefore moves the log
// start to the next batch, durably, and deletes the segments below it;
// then the phantoms at or below index leave raft-phantoms, and the old
// anchor goes. (When only phantoms go, the log start does not move and the
// new anchor matches it as soon as it is written.) A crash at any point leaves a log whose start
// matches one of the anchors in the file. Followers behind the new start
// are sent a snapshot (Snapshot) and reset to it. Compacting at or below
// the current start is a no-op.
func (s *LogStorage) CompactTo(index uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index < s.first {
		return nil
	}
	if applied := s.appliedLocked(); index > applied {
		return fmt.Errorf("replication: compact to %d beyond the applied index %d", index, applied)
	}
	k := index + 1 - s.first // batches going
	start := s.log.EndOffset()
	if k < uint64(len(s.offsets)) {
		start = s.offsets[k]
	}
	termAt := func(i uint64) uint64 {
		j := sort.Search(len(s.terms), func(j int) bool { return s.terms[j].index > i })
		return s.terms[j-1].term
	}
	next := anchor{
		first: index + 1, prevTerm: termAt(index), logStart: start,
		cs: s.confStateAtLocked(index), confIndex: max(index, s.base.confIndex),
		recordStart: max(start, s.base.recordStart),
	}
	if err := saveAnchors(s.fs, s.dir, []anchor{*s.base, next}, s.confs); err != nil {
		return err
	}
	if err := s.log.DeleteRecordsBefore(start); err != nil {
		return fmt.Errorf("replication: compact to index %d (offset %d): %w", index, start, err)
	}
	var confs []confAt
	for _, c := range s.confs {
		if c.index > index {
			confs = append(confs, c)
		}
	}
	s.anchorSet = []anchor{next}
	s.base = &s.anchorSet[0]
	s.recordStart.Store(s.base.recordStart)
	s.confs = confs
	s.first, s.prevTerm, s.logStart = next.first, next.prevTerm, start
	s.tail.dropBelow(s.first)
	s.offsets = slices.Clone(s.offsets[k:])
	terms := s.terms[:0:0]
	for j, t := range s.terms {
		end := uint64(math.MaxUint64) // the run ends before the next one starts
		if j+1 < len(s.terms) {
			end = s.terms[j+1].index
		}
		if end <= s.first {
			continue // wholly compacted
		}
		terms = append(terms, termStart{t.term, max(t.index, s.first)})
	}
	s.terms = terms
	// The log start has moved: the phantoms below it can go (at open they
	// are ignored below the anchor's first index anyway).
	if err := s.compactPhantomsLocked(); err != nil {
		return err
	}
	return saveAnchors(s.fs, s.dir, s.anchorSet, s.confs)
}

// ConfIndex is the index up to which the log's conf changes are already in
// the configuration (see ConfIndexer).
func (s *LogStorage) ConfIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base.confIndex
}

// indexBelowLocked returns the index of the last batch that ends at or
// below offset (first-1 if none), with the phantoms before it but not the
// ones after it: a phantom at offset (a new leader's empty entry, a conf
// change appended after the batch that ends there) may not be committed,
// since a high watermark at offset says nothing about it, and InitialState
// takes this index as committed. A restarted node then has them delivered
// and applied again, which changes nothing (the broker skips phantoms;
// conf changes were applied on the configuration returned for this index).
func (s *LogStorage) indexBelowLocked(offset int64) uint64 {
	n := len(s.offsets)
	// end(k) is non-decreasing: the first entry that ends above offset.
	k := sort.Search(n, func(k int) bool { return s.endOffsetLocked(s.first+uint64(k)) > offset })
	for k > 0 && s.phantomAtLocked(s.first+uint64(k)-1) != nil {
		k--
	}
	return s.first + uint64(k) - 1
}

// EndOffset returns the offset just past entry index's batch: the high
// watermark once index is committed and applied (DESIGN.md §3); for a
// phantom (phantoms.go), the offset of the batch after it (the log end
// when it was appended). index must be in [FirstIndex()-1, LastIndex()].
func (s *LogStorage) EndOffset(index uint64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case index+1 < s.first || index > s.lastLocked():
		return 0, fmt.Errorf("replication: index %d not in [%d, %d]", index, s.first-1, s.lastLocked())
	case index+1 == s.first:
		if len(s.offsets) > 0 {
			return s.offsets[0], nil
		}
		return s.log.EndOffset(), nil
	default:
		return s.endOffsetLocked(index), nil
	}
}

// BaseOffset returns the offset of entry index's batch in the log (a
// phantom's: the offset of the batch after it, as EndOffset). The
// state machine takes offsets from here, not from an entry's Data: raft
// hands Apply entries as it holds them, which for entries this node or
// the leader had not yet read back from a log are the batch as proposed
// (offset 0, epoch -1), and otherwise the batch as stamped.
func (s *LogStorage) BaseOffset(index uint64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index < s.first || index > s.lastLocked() {
		return 0, fmt.Errorf("replication: index %d not in [%d, %d]", index, s.first, s.lastLocked())
	}
	return s.offsets[index-s.first], nil
}

// FirstIndex implements raft.Storage.
func (s *LogStorage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex implements raft.Storage.
func (s *LogStorage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastLocked(), nil
}

// Term implements raft.Storage.
func (s *LogStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case i+1 < s.first:
		return 0, raft.ErrCompacted
	case i+1 == s.first:
		return s.prevTerm, nil
	case i > s.lastLocked():
		return 0, raft.ErrUnavailable
	}
	k := sort.Search(len(s.terms), func(k int) bool { return s.terms[k].index > i })
	return s.terms[k-1].term, nil
}

// Entries implements raft.Storage: it reads the batches of [lo, hi) from
// the log (at least one entry, then up to maxSize bytes), with the
// phantoms among them restored as the entries they were.
func (s *LogStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	s.mu.Lock()
	if lo < s.first {
		s.mu.Unlock()
		return nil, raft.ErrCompacted
	}
	if hi > s.lastLocked()+1 || lo >= hi {
		s.mu.Unlock()
		return nil, raft.ErrUnavailable
	}
	usable := s.cacheUsableLocked()
	if lo >= usable && s.tail.covers(lo, hi) {
		defer s.mu.Unlock()
		return s.cachedEntriesLocked(nil, 0, lo, hi, maxSize)
	}
	if split := max(s.tail.first, usable); lo < split && s.tail.covers(split, hi) {
		// The head from the log, the rest from the cache.
		s.mu.Unlock()
		return s.entriesSplit(lo, split, hi, maxSize)
	}
	from := s.offsets[lo-s.first]
	to := s.log.EndOffset()
	if hi <= s.lastLocked() {
		to = s.offsets[hi-s.first]
	}
	var phantoms []phantom // those in [lo, hi)
	k := sort.Search(len(s.phantoms), func(k int) bool { return s.phantoms[k].index >= lo })
	for ; k < len(s.phantoms) && s.phantoms[k].index < hi; k++ {
		phantoms = append(phantoms, s.phantoms[k]) // data never changes in place
	}
	s.mu.Unlock()

	limit := int(min(maxSize, math.MaxInt32))
	var buf []byte
	var err error
	if from < to {
		buf, err = s.log.Read(from, to, limit, true, nil)
	}
	if err != nil {
		// A CompactTo (the broker's retention, on its own goroutine) may
		// have moved the start past lo since the check above: that is
		// raft's ErrCompacted (it sends a snapshot), not a storage
		// failure — raft panics on any other error.
		s.mu.Lock()
		compacted := lo < s.first
		s.mu.Unlock()
		if compacted {
			return nil, raft.ErrCompacted
		}
		return nil, fmt.Errorf("replication: read entries [%d, %d): %w", lo, hi, err)
	}
	var out []*raftpb.Entry
	size := uint64(0)
	for idx := lo; idx < hi; idx++ {
		if len(phantoms) > 0 && phantoms[0].index == idx {
			e := phantoms[0].entry()
			if size += uint64(proto.Size(e)); len(out) > 0 && size > maxSize {
				break
			}
			out = append(out, e)
			phantoms = phantoms[1:]
			continue
		}
		if len(buf) == 0 {
			break // maxSize reached
		}
		if len(buf) < 12 {
			return nil, fmt.Errorf("%w: index %d: truncated read", ErrBadEntry, idx)
		}
		n := int(int32(binary.BigEndian.Uint32(buf[8:]))) + 12
		if n < 12 || n > len(buf) {
			return nil, fmt.Errorf("%w: index %d: batch length %d", ErrBadEntry, idx, n)
		}
		if size += uint64(n); len(out) > 0 && size > maxSize {
			break // the phantoms before it took the room
		}
		e, err := batchEntry(buf[:n:n], idx)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		buf = buf[n:]
	}
	if len(out) == 0 {
		return nil, raft.ErrUnavailable
	}
	return out, nil
}

// Snapshot implements raft.Storage. A partition's snapshot carries no
// records: its index and term are those below the log start, and its data
// the log start offset, at which a follower resets its log (Save). Its
// configuration is the latest applied one, not the one at the log start
// (DESIGN.md §2, "Snapshot configuration"): a replica added after the log
// start moved is only in the later one, and etcd raft ignores a snapshot
// whose configuration lacks the receiver. The data says which conf change
// produced it (confIndex), so that the follower does not apply that change
// and the ones before it a second time when the log replays them.
//
// Data, version 3: version uint8 3, log start offset int64, confIndex
// uint64, record start int64 (the Kafka log start offset: DeleteRecords',
// logstart.go; the follower's log starts at the log start offset, and
// consumers see nothing below the record start). Versions 1 (no
// confIndex: the configuration at the snapshot index) and 2 (no record
// start: the log start) are still accepted by Save.
func (s *LogStorage) Snapshot() (*raftpb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, confIndex := s.base.cs, s.base.confIndex
	if n := len(s.confs); n > 0 && s.confs[n-1].index > confIndex {
		cs, confIndex = s.confs[n-1].cs, s.confs[n-1].index
	}
	data := make([]byte, 25)
	data[0] = 3
	binary.BigEndian.PutUint64(data[1:], uint64(s.logStart))
	binary.BigEndian.PutUint64(data[9:], confIndex)
	binary.BigEndian.PutUint64(data[17:], uint64(max(s.base.recordStart, s.logStart)))
	return &raftpb.Snapshot{
		Data: data,
		Metadata: &raftpb.SnapshotMetadata{
			ConfState: proto.Clone(cs).(*raftpb.ConfState),
			Index:     new(s.first - 1),
			Term:      new(s.prevTerm),
		},
	}, nil
}

// Save implements Storage (contract there): snapshot (log.ResetTo), then
// entries (log.TruncateTo a divergent suffix, then appends; fsynced when
// sync, unless UnsafeNoSync), then the HardState (written, always durably, when
// the term or the vote changed; a commit-only change is kept in memory —
// the commit is recovered from the leader and bounded below by the high
// watermark).
func (s *LogStorage) Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot, sync bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap != nil && !raft.IsEmptySnap(snap) {
		if err := s.installLocked(snap); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		if err := s.appendLocked(entries); err != nil {
			s.tail.reset() // the log's state is unknown
			return err
		}
		if sync && s.syncEntries {
			if err := s.log.SyncTo(s.log.EndOffset()); err != nil {
				return fmt.Errorf("replication: sync entries: %w", err)
			}
		}
		// The phantoms after the last batch (those before a batch were
		// flushed, synced, before it was written).
		if err := s.flushPhantomsLocked(sync && s.syncEntries); err != nil {
			return err
		}
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		if hs.GetTerm() != s.hs.GetTerm() || hs.GetVote() != s.hs.GetVote() {
			err := plog.SaveHardState(s.fs, s.dir, plog.HardState{Term: hs.GetTerm(), Vote: hs.GetVote(), Commit: hs.GetCommit()})
			if err != nil {
				return err
			}
		}
		s.hs = raftpb.HardState{Term: new(hs.GetTerm()), Vote: new(hs.GetVote()), Commit: new(hs.GetCommit())}
	}
	return nil
}

func (s *LogStorage) appendLocked(entries []*raftpb.Entry) error {
	idx := entries[0].GetIndex()
	last := s.lastLocked()
	switch {
	case idx < s.first:
		return fmt.Errorf("replication: append at %d below the first index %d", idx, s.first)
	case idx > last+1:
		return fmt.Errorf("replication: append at %d leaves a gap after %d", idx, last)
	case idx <= last:
		// Raft replaces a divergent suffix: cut the log at its offset
		// (for a phantom: the batch after it), then the phantoms from idx
		// (phantoms.go: in that order).
		cut := s.offsets[idx-s.first]
		s.tail.truncateFrom(idx)
		if _, err := s.log.TruncateTo(cut); err != nil {
			return fmt.Errorf("replication: truncate to index %d (offset %d): %w", idx, cut, err)
		}
		if err := s.truncatePhantomsLocked(idx); err != nil {
			return err
		}
		s.offsets = s.offsets[:idx-s.first]
		for len(s.terms) > 0 && s.terms[len(s.terms)-1].index >= idx {
			s.terms = s.terms[:len(s.terms)-1]
		}
	}
	now := s.now()
	for _, e := range entries {
		term := e.GetTerm()
		if term < 1 || term > math.MaxInt32 {
			return fmt.Errorf("replication: term %d at index %d does not fit a Kafka leader epoch", term, e.GetIndex())
		}
		if e.GetIndex() != s.lastLocked()+1 {
			return fmt.Errorf("replication: entry %d is not the next index %d", e.GetIndex(), s.lastLocked()+1)
		}
		if isPhantom(e) {
			end := s.log.EndOffset()
			s.phantoms = append(s.phantoms, phantom{
				index: e.GetIndex(), term: term, offset: end, typ: e.GetType(), data: bytes.Clone(e.Data),
			})
			s.phantomsPending++
			s.noteAppendedLocked(end, term)
			s.tail.add(e.GetIndex(), nil)
			continue
		}
		// A phantom is durable before any batch after it is written
		// (phantoms.go).
		if err := s.flushPhantomsLocked(true); err != nil {
			return err
		}
		batch, err := entryBatch(e)
		if err != nil {
			return err
		}
		carried := int64(binary.BigEndian.Uint64(batch)) // the offset a leader's log gave it, or 0
		off, err := s.log.AppendWithEpoch(batch, now, int32(term))
		if err != nil {
			return fmt.Errorf("replication: append index %d: %w", e.GetIndex(), err)
		}
		if carried != 0 && carried != off {
			return fmt.Errorf("replication: index %d appended at offset %d, the leader's log has it at %d", e.GetIndex(), off, carried)
		}
		s.noteAppendedLocked(off, term)
		s.tail.add(e.GetIndex(), batch) // as written: offset and epoch stamped
	}
	return nil
}

// installLocked replaces the log with the snapshot's empty one: the anchor
// for the new start is written first (flagged: valid only for an empty
// log), then log.ResetTo (durable, crash-safe), then the phantom file is
// emptied, then the anchor file is rewritten with the new anchor alone. A crash in between leaves either
// the old log with its anchor, or the new empty log with its own.
func (s *LogStorage) installLocked(snap *raftpb.Snapshot) error {
	d := snap.Data
	md := snap.GetMetadata()
	var confIndex uint64
	recordStart := int64(-1)
	switch {
	case len(d) == 9 && d[0] == 1:
		confIndex = md.GetIndex()
	case len(d) == 17 && d[0] == 2:
		confIndex = max(binary.BigEndian.Uint64(d[9:]), md.GetIndex())
	case len(d) == 25 && d[0] == 3:
		confIndex = max(binary.BigEndian.Uint64(d[9:]), md.GetIndex())
		recordStart = int64(binary.BigEndian.Uint64(d[17:]))
	default:
		return fmt.Errorf("%w: snapshot data of %d bytes", ErrBadEntry, len(d))
	}
	start := int64(binary.BigEndian.Uint64(d[1:]))
	next := anchor{
		first: md.GetIndex() + 1, prevTerm: md.GetTerm(), logStart: start, emptyOnly: true, confIndex: confIndex,
		cs: proto.Clone(raftpb.EnsureConfState(md.GetConfState())).(*raftpb.ConfState),
		// Chosen at open only with the new, empty log (emptyOnly).
		recordStart: max(start, recordStart),
	}
	if err := saveAnchors(s.fs, s.dir, []anchor{*s.base, next}, s.confs); err != nil {
		return err
	}
	s.tail.reset()
	if err := s.log.ResetTo(start); err != nil {
		return fmt.Errorf("replication: reset log to %d for snapshot %d: %w", start, md.GetIndex(), err)
	}
	// The old log's phantoms go with it; a crash before this is finished
	// at open (the anchor valid only for an empty log counts none).
	s.phantoms, s.phantomsPending = nil, 0
	if s.phantomsExist {
		if err := s.rewritePhantomsLocked(); err != nil {
			return err
		}
	}
	next.emptyOnly = false
	s.anchorSet, s.confs = []anchor{next}, nil
	s.base = &s.anchorSet[0]
	s.recordStart.Store(s.base.recordStart)
	if err := saveAnchors(s.fs, s.dir, s.anchorSet, nil); err != nil {
		return err
	}
	s.first, s.prevTerm, s.logStart = next.first, next.prevTerm, start
	s.offsets, s.terms = nil, nil
	return nil
}

// cacheUsableLocked is the first index the tail cache may serve. The
// log's cleaner rewrites committed batches in the segment files (same
// offsets, fewer records: log/cleaner.go) without the storage knowing,
// and a follower catching up must get what the log holds now. It cleans
// only below the high watermark and never the active segment, so a batch
// that ends above the high watermark, or lies in the active segment, was
// never cleaned (both only move forward). s.mu is held.
func (s *LogStorage) cacheUsableLocked() uint64 {
	if len(s.tail.ents) == 0 {
		return s.tail.first
	}
	hw, active := s.log.HighWatermark(), s.log.ActiveBase()
	n := int(s.tail.last() - s.tail.first + 1)
	k := sort.Search(n, func(k int) bool {
		i := s.tail.first + uint64(k)
		return s.endOffsetLocked(i) > hw || s.offsets[i-s.first] >= active
	})
	return s.tail.first + uint64(k)
}

// entriesSplit is Entries of [lo, hi) when the tail cache holds [split,
// hi) but not lo: [lo, split) is read from the log, the rest (as far as
// maxSize allows) taken from the cache.
func (s *LogStorage) entriesSplit(lo, split, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	head, err := s.Entries(lo, split, maxSize)
	if err != nil || uint64(len(head)) < split-lo {
		return head, err // or maxSize reached
	}
	size := uint64(0)
	for _, e := range head {
		if e.GetType() == raftpb.EntryNormal && len(e.Data) > 0 {
			size += uint64(len(e.Data))
		} else {
			size += uint64(proto.Size(e))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if split < s.cacheUsableLocked() || !s.tail.covers(split, hi) || hi > s.lastLocked()+1 {
		return head, nil // changed meanwhile (a compaction, a clean): the head alone
	}
	return s.cachedEntriesLocked(head, size, split, hi, maxSize)
}

// cachedEntriesLocked appends to out the entries of [lo, hi) served from
// the tail cache, which covers it: the same entries, sizes and limit as a
// read from the log (size: what out holds already). s.mu is held.
func (s *LogStorage) cachedEntriesLocked(out []*raftpb.Entry, size, lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	k := sort.Search(len(s.phantoms), func(k int) bool { return s.phantoms[k].index >= lo })
	if out == nil {
		out = make([]*raftpb.Entry, 0, min(hi-lo, 64))
	}
	for idx := lo; idx < hi; idx++ {
		var e *raftpb.Entry
		var n uint64
		if batch := s.tail.at(idx); batch != nil {
			var err error
			if e, err = batchEntry(batch, idx); err != nil {
				return nil, err
			}
			n = uint64(len(batch))
		} else {
			if k >= len(s.phantoms) || s.phantoms[k].index != idx {
				return nil, fmt.Errorf("%w: index %d: cached as a phantom, not in the phantom list", ErrBadEntry, idx)
			}
			e = s.phantoms[k].entry()
			k++
			n = uint64(proto.Size(e))
		}
		if size += n; len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// The anchor file (`raft-anchor`, big-endian):
//
//	[0:4] magic "MDRA"
//	[4]   version 3
//	[5]   anchor count n (1 or 2)
//	n times: first index uint64, term before it uint64, log start offset
//	         int64, flags uint8 (bit 0: valid only while the log is
//	         empty), confIndex uint64 (the conf change whose result the
//	         ConfState is: conf changes at or below it are in it; at
//	         least first index - 1), record start int64 (the Kafka log
//	         start offset, DeleteRecords': at least the log start
//	         offset), ConfState length uint32, raftpb.ConfState protobuf
//	conf change count uint16, then each: index uint64, ConfState length
//	         uint32, raftpb.ConfState protobuf (the configuration after
//	         the conf change applied at that index, ascending)
//	CRC-32C of everything before it, uint32
//
// Version 1 (read, never written) has no confIndex: it is first index - 1
// (the configuration at the log start). Versions 1 and 2 (read, never
// written) have no record start: it is the log start offset.
//
// Replaced atomically (tmp, fsync, rename, fsync the directory).
const (
	anchorFile    = "raft-anchor"
	anchorTemp    = "raft-anchor.tmp"
	anchorMagic   = "MDRA"
	anchorVersion = 3
)

// ErrCorruptAnchor: the anchor file is damaged or of an unknown version.
var ErrCorruptAnchor = errors.New("replication: corrupt raft anchor")

// anchor is what the log cannot say about its start: the Raft index of its
// first batch, the term before it, and the configuration: the one after
// the conf change at confIndex (>= first-1; above it when a snapshot
// carried the leader's latest applied configuration).
type anchor struct {
	first     uint64
	prevTerm  uint64
	logStart  int64
	emptyOnly bool
	confIndex uint64
	cs        *raftpb.ConfState
	// recordStart is the Kafka log start offset (>= logStart): moved by
	// applied log start entries (DeleteRecords, logstart.go), carried by
	// CompactTo and snapshots.
	recordStart int64
}

// confAt is the configuration after the conf change applied at index.
type confAt struct {
	index uint64
	cs    *raftpb.ConfState
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendConfState(b []byte, cs *raftpb.ConfState) []byte {
	pb, err := proto.Marshal(cs)
	if err != nil {
		panic(err) // a ConfState always marshals
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(pb)))
	return append(b, pb...)
}

func readConfState(p []byte) (*raftpb.ConfState, []byte, error) {
	if len(p) < 4 {
		return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
	}
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	if uint64(n) > uint64(len(p)) {
		return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
	}
	cs := &raftpb.ConfState{}
	if err := proto.Unmarshal(p[:n], cs); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCorruptAnchor, err)
	}
	return cs, p[n:], nil
}

func encodeAnchors(as []anchor, confs []confAt) []byte {
	b := append([]byte(anchorMagic), anchorVersion, byte(len(as)))
	for _, a := range as {
		b = binary.BigEndian.AppendUint64(b, a.first)
		b = binary.BigEndian.AppendUint64(b, a.prevTerm)
		b = binary.BigEndian.AppendUint64(b, uint64(a.logStart))
		var flags byte
		if a.emptyOnly {
			flags = 1
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint64(b, a.confIndex)
		b = binary.BigEndian.AppendUint64(b, uint64(max(a.recordStart, a.logStart)))
		b = appendConfState(b, a.cs)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(confs)))
	for _, c := range confs {
		b = binary.BigEndian.AppendUint64(b, c.index)
		b = appendConfState(b, c.cs)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeAnchors(b []byte) ([]anchor, []confAt, error) {
	if len(b) < 12 || string(b[:4]) != anchorMagic {
		return nil, nil, fmt.Errorf("%w: bad magic or size", ErrCorruptAnchor)
	}
	body := b[:len(b)-4]
	if binary.BigEndian.Uint32(b[len(b)-4:]) != crc32.Checksum(body, castagnoli) {
		return nil, nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptAnchor)
	}
	version := body[4]
	if version < 1 || version > anchorVersion {
		return nil, nil, fmt.Errorf("%w: version %d", ErrCorruptAnchor, version)
	}
	n, p := int(body[5]), body[6:]
	if n == 0 {
		return nil, nil, fmt.Errorf("%w: no anchor", ErrCorruptAnchor)
	}
	var as []anchor
	for range n {
		if len(p) < 25 {
			return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
		}
		a := anchor{
			first: binary.BigEndian.Uint64(p), prevTerm: binary.BigEndian.Uint64(p[8:]),
			logStart: int64(binary.BigEndian.Uint64(p[16:])), emptyOnly: p[24]&1 != 0,
		}
		p = p[25:]
		if a.confIndex = a.first - 1; version >= 2 {
			if len(p) < 8 {
				return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
			}
			a.confIndex, p = max(binary.BigEndian.Uint64(p), a.confIndex), p[8:]
		}
		if a.recordStart = a.logStart; version >= 3 {
			if len(p) < 8 {
				return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
			}
			a.recordStart, p = max(int64(binary.BigEndian.Uint64(p)), a.logStart), p[8:]
		}
		var err error
		if a.cs, p, err = readConfState(p); err != nil {
			return nil, nil, err
		}
		as = append(as, a)
	}
	if len(p) < 2 {
		return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
	}
	nc := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	var confs []confAt
	for range nc {
		if len(p) < 8 {
			return nil, nil, fmt.Errorf("%w: short", ErrCorruptAnchor)
		}
		c := confAt{index: binary.BigEndian.Uint64(p)}
		var err error
		if c.cs, p, err = readConfState(p[8:]); err != nil {
			return nil, nil, err
		}
		confs = append(confs, c)
	}
	if len(p) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptAnchor, len(p))
	}
	return as, confs, nil
}

// loadAnchors returns no anchors and no error when there is no anchor
// file.
func loadAnchors(fsys vfs.FS, dir string) ([]anchor, []confAt, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, anchorFile), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("replication: open raft anchor: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, nil, err
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("replication: read raft anchor: %w", err)
	}
	return decodeAnchors(b)
}

func saveAnchors(fsys vfs.FS, dir string, as []anchor, confs []confAt) error {
	tmp := filepath.Join(dir, anchorTemp)
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("replication: write raft anchor: %w", err)
	}
	if _, err := f.Write(encodeAnchors(as, confs)); err != nil {
		f.Close()
		return fmt.Errorf("replication: write raft anchor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("replication: sync raft anchor: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, anchorFile)); err != nil {
		return fmt.Errorf("replication: replace raft anchor: %w", err)
	}
	return fsys.SyncDir(dir)
}
