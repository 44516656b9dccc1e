package broker

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/replication"
	"github.com/moldau/moldau/txn"
)

// partition is one topic partition on this node.
//
// # The write boundary: propose, then apply
//
// Every write to the partition's log is an entry (entry: the raw batch and
// what kind it is: a produced batch, a transaction marker, or an internal
// topic's batch) that goes through one path:
//
//  1. The caller (appendBatch, writeMarkerChecked, appendInternal) takes
//     appendMu, checks that this node leads the partition, and runs the
//     leader-only checks against the current state: the KIP-890
//     transaction verification, the idempotent-producer sequence and
//     duplicate check, a marker's producer epoch.
//  2. proposeLocked hands the entry to replication. With one node there
//     is none: it applies the entry at once, on the caller's goroutine
//     (no goroutine hop, no allocation beyond the caller's).
//  3. applyLocked is the state machine: the log append, with the leader
//     epoch stamped into the batch there and nowhere else; the
//     producer-state update; the transaction begin (a transactional batch)
//     or end (a marker) and with it the LSO; the producer-state snapshot
//     when the append rolled a segment (encoded under the lock, written
//     in the background: txn_partition.go); waking the fetches waiting on
//     the partition. It depends only on the entry and the epoch it was
//     proposed at, so that once replication exists every replica applies
//     committed entries with it and reaches the same state (a follower
//     rebuilds the entry from the batch alone: entryFromBatch).
//
// What is durable when an append returns: nothing beyond what was before.
// The batch is in the log (the OS page cache) and visible to reads below
// the high watermark; applied.flushDue says that flush.messages asks for an
// fsync, which the caller does off the connection's reader goroutine (the
// produce reply's Wait, or the broker's flusher: flushSoon); acks=all
// producers wait for syncTo in the reply's Wait.
//
// # Locking
//
//   - appendMu serialises entries (steps 1-3 run under it, so the checks
//     of step 1 see every entry before) and guards producers, snapOffset
//     and the order of the log. Leadership changes take it too
//     (clusterView.setLeadership), so an append completes under one
//     leadership.
//   - txnMu guards txns: changed under appendMu and txnMu (write), read
//     under txnMu (read); firstUnstable mirrors txns.FirstUnstable (-1:
//     none) for lock-free LSO reads.
//   - snapMu guards the background snapshot writer (txn_partition.go).
//   - waitMu guards waiters. Lock order: clusterView.mu, appendMu, txnMu,
//     snapMu, waitMu.
//   - lead (leadership) is read lock-free: an immutable snapshot, replaced
//     through setLead. leadMu guards leadMoved (a leaf lock: taken under
//     clusterView.mu and appendMu, nothing taken under it).
//   - Reads (read, readRanges, offsets) go to the log, which is safe for
//     concurrent use, without partition locks.
type partition struct {
	topic *topic
	index int32
	log   *plog.Log // only through the partition's methods

	// lead is the partition's leader, epoch and replica sets, published by
	// the cluster view (cluster.go) through setLead.
	lead atomic.Pointer[leadership]
	// leadMoved is closed when lead is next replaced (leadWatch); nil
	// until someone waits (leadMu).
	leadMu    sync.Mutex
	leadMoved chan struct{}

	// repl is the replica's Raft group in cluster mode (raft_partition.go);
	// nil on a single node. A partition of a cluster that this node does
	// not host has neither repl nor log: only its leadership, and every
	// log accessor below answers as for an empty log.
	repl *raftPart

	appendMu  sync.Mutex
	producers *txn.ProducerStates

	txnMu         sync.RWMutex
	txns          *txn.PartitionTxns
	firstUnstable atomic.Int64
	// snapOffset is the offset of the newest producer-state snapshot
	// written, queued or loaded (txn_partition.go); appendMu guards it.
	snapOffset int64

	// The background producer-state snapshot writer (txn_partition.go):
	// snapPending is the newest snapshot not yet being written; snapIdle
	// is nil when no writer runs, else closed when it ends.
	snapMu      sync.Mutex
	snapPending *pendingSnapshot
	snapIdle    chan struct{}

	// flushQueued: the partition is in the broker's flush queue
	// (flushSoon).
	flushQueued atomic.Bool

	waitMu  sync.Mutex
	waiters map[*fetchWaiter]struct{}
}

func newPartition(t *topic, index int32, l *plog.Log, lead *leadership) *partition {
	p := &partition{topic: t, index: index, log: l, producers: txn.NewProducerStates(), txns: txn.NewPartitionTxns()}
	p.firstUnstable.Store(-1)
	p.lead.Store(lead)
	return p
}

func (p *partition) dirName() string { return partitionDirName(p.topic.name, p.index) }

// highWatermark is the offset below which records are visible to consumers:
// the log's high watermark, which with one replica (nothing calls
// SetHighWatermark) is everything appended. Replication will set it to the
// commit index.
func (p *partition) highWatermark() int64 {
	if p.log == nil {
		return 0
	}
	return p.log.HighWatermark()
}

// syncBeforeAck reports whether acks=all waits for an fsync of the
// partition (see README "Durability"): yes unless the topic (or the broker's
// log.flush.* defaults) sets flush.messages or flush.ms, in which case the
// log flushes on that schedule and acks=all answers once appended.
func (p *partition) syncBeforeAck() bool {
	s := p.topic.settings()
	return s.FlushMessages == math.MaxInt64 && s.FlushMs == math.MaxInt64
}

// entryKind says what an entry is; it is what replication carries besides
// the batch.
type entryKind uint8

const (
	entryData     entryKind = iota + 1 // a produced batch
	entryMarker                        // a transaction marker (control batch)
	entryInternal                      // a batch of an internal topic (__consumer_offsets, __transaction_state)
)

// entry is one write to the partition (see partition). Everything but kind,
// batch and now is read from the batch's header (and, for a marker, its
// control record): the leader fills it from what it validated, a replica
// with entryFromBatch.
type entry struct {
	kind  entryKind
	batch []byte // one RecordBatch v2; the log writes the offset and epoch into it
	now   int64  // append time (Unix ms): time-based rolls, a marker's producer timestamp

	// producer: data with a producer id (ProducerID >= 0 marks an
	// idempotent batch; offsets are filled at apply), or a marker's
	// producer id and epoch.
	producer      txn.BatchInfo
	transactional bool // data: opens the producer's transaction
	commit        bool // marker: commit (else abort)
}

// entryFromBatch rebuilds an entry of kind from its batch alone, as a
// replica applying a committed entry does.
func entryFromBatch(kind entryKind, batch []byte, now int64) (entry, error) {
	h, err := plog.ParseBatchHeader(batch)
	if err != nil {
		return entry{}, err
	}
	e := entry{kind: kind, batch: batch, now: now}
	e.producer.ProducerID = -1
	switch kind {
	case entryData:
		e.transactional = h.IsTransactional()
		if h.ProducerID >= 0 {
			e.producer = txn.BatchInfo{
				ProducerID:    h.ProducerID,
				ProducerEpoch: h.ProducerEpoch,
				FirstSequence: h.BaseSequence,
				LastSequence:  lastSequence(h.BaseSequence, h.LastOffsetDelta),
				MaxTimestamp:  h.MaxTimestamp,
			}
		}
	case entryMarker:
		if err := markerFromBatch(&e, h); err != nil {
			return entry{}, err
		}
	case entryInternal:
		if h.IsTransactional() { // a TxnOffsetCommit's (appendInternalTxn)
			e.transactional, e.producer.ProducerID, e.producer.ProducerEpoch = true, h.ProducerID, h.ProducerEpoch
		}
	}
	return e, nil
}

// applied is what applying an entry gives back.
type applied struct {
	base     int64 // the batch's base offset
	flushDue bool  // flush.messages asks for an fsync now (the caller does it off the append path)
}

// proposeLocked hands a checked entry to replication and returns once it is
// applied on this node. With one node it applies it at once at lead's
// epoch. appendMu is held.
//
// Replication (issue #14) replaces the body: the entry is proposed to the
// partition's Raft group with lead's epoch and applied by applyLocked on
// every replica, this one included, as it commits; the leader's step-1
// checks must then also cover the entries proposed but not yet applied.
func (p *partition) proposeLocked(e *entry, lead *leadership) (applied, error) {
	if p.repl != nil {
		prop, err := p.proposeReplicatedLocked(e)
		if err != nil {
			return applied{}, err
		}
		return p.waitReplicatedLocked(prop)
	}
	return p.applyLocked(e, lead.epoch)
}

// applyLocked applies one entry (see partition): the same on every replica.
// appendMu is held.
func (p *partition) applyLocked(e *entry, epoch int32) (applied, error) {
	base, err := p.log.AppendWithEpoch(e.batch, e.now, epoch) // the one place the leader epoch is stamped
	if err != nil {
		return applied{}, err
	}
	p.snapshotOnRollLocked(base)
	p.applyStateLocked(e, base, p.log.EndOffset()) // appendMu: nothing appended since
	p.notify()                                     // new data, or a moved LSO
	return applied{base: base, flushDue: p.log.FlushDue()}, nil
}

// applyStateLocked is the state step of applying e, whose batch is in the
// log at [base, end): producer state, transaction begin or end and the
// LSO. In cluster mode the Raft group's Apply runs it (raft_partition.go),
// the append having happened at persist. appendMu is held.
func (p *partition) applyStateLocked(e *entry, base, end int64) {
	switch e.kind {
	case entryData:
		if e.producer.ProducerID >= 0 {
			info := e.producer
			info.FirstOffset = base
			info.LastOffset = end - 1
			p.producers.Record(info)
		}
		if e.transactional {
			p.beginTxnLocked(e.producer.ProducerID, base)
		}
	case entryMarker:
		p.applyMarkerLocked(e, base)
	case entryInternal:
		if e.transactional {
			p.beginTxnLocked(e.producer.ProducerID, base)
		}
	}
}

// appendResult is what a produce gets back for one partition.
type appendResult struct {
	baseOffset int64
	duplicate  bool
	flushDue   bool // see applied
	// prop: in cluster mode, the proposal to wait on (acks=1: appended,
	// acks=all: committed); baseOffset is then known only after.
	prop *replication.Proposal
}

// appendBatch appends one validated produced batch, applying the
// idempotent-producer rules for batches that carry a producer id.
//
// A transactional batch is accepted only if verify (the transaction
// coordinator's KIP-890 part 1 check, run under the append lock so that no
// marker can slip in between) allows it; it opens the producer's
// transaction on the partition.
func (p *partition) appendBatch(v *validatedBatch, now int64, verify func() error) (appendResult, error) {
	e := entry{kind: entryData, batch: v.raw, now: now, transactional: v.transactional}
	e.producer.ProducerID = -1
	if v.producerID >= 0 {
		e.producer = txn.BatchInfo{
			ProducerID:    v.producerID,
			ProducerEpoch: v.producerEpoch,
			FirstSequence: v.baseSequence,
			LastSequence:  lastSequence(v.baseSequence, v.lastOffsetDelta),
			MaxTimestamp:  v.maxTimestamp,
		}
	}
	p.appendMu.Lock()
	lead := p.lead.Load()
	if !lead.local {
		p.appendMu.Unlock()
		return appendResult{}, errNotLeader
	}
	if v.transactional {
		if err := verifyTransactional(verify); err != nil {
			p.appendMu.Unlock()
			return appendResult{}, err
		}
	}
	pendingOK := false
	if p.repl != nil && e.producer.ProducerID >= 0 {
		var err error
		if pendingOK, err = p.checkPendingLocked(&e); err != nil {
			p.appendMu.Unlock()
			return appendResult{}, err
		}
	}
	if e.producer.ProducerID >= 0 && !pendingOK {
		dup, isDup, err := p.producers.Check(e.producer)
		if err != nil {
			p.appendMu.Unlock()
			return appendResult{}, err
		}
		if isDup {
			// The first attempt's flush.messages fsync ran in its
			// reply's Wait, which a connection that died never called:
			// the retry's answer waits for it if it is still due.
			p.appendMu.Unlock()
			return appendResult{baseOffset: dup.FirstOffset, duplicate: true, flushDue: p.log.FlushDue()}, nil
		}
	}
	if p.repl != nil {
		prop, err := p.proposeReplicatedLocked(&e)
		p.appendMu.Unlock()
		if err != nil {
			return appendResult{}, err
		}
		return appendResult{baseOffset: -1, prop: prop}, nil
	}
	res, err := p.proposeLocked(&e, lead)
	p.appendMu.Unlock()
	if err != nil {
		return appendResult{}, err
	}
	return appendResult{baseOffset: res.base, flushDue: res.flushDue}, nil
}

// appendInternal appends one batch of an internal topic (built by the
// caller, no producer id). It does not fsync.
func (p *partition) appendInternal(batch []byte, now int64) (applied, error) {
	e := entry{kind: entryInternal, batch: batch, now: now}
	e.producer.ProducerID = -1
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	lead := p.lead.Load()
	if !lead.local {
		return applied{}, errNotLeader
	}
	return p.proposeLocked(&e, lead)
}

func lastSequence(base, delta int32) int32 {
	s := int64(base) + int64(delta)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// rebuildProducers loads the newest producer-state snapshot and replays the
// batch headers after it (all of them with none) into the
// idempotent-producer table: at open, before the partition serves, or
// under appendMu after a truncation (truncateTo), into fresh state.
func (p *partition) rebuildProducers() error { return p.rebuildProducersTo(math.MaxInt64) }

// errScanDone stops a header scan early.
var errScanDone = errors.New("broker: scan done")

// rebuildProducersTo is rebuildProducers over the batches below limit only
// (a replica: its high watermark, the part it has applied).
func (p *partition) rebuildProducersTo(limit int64) error {
	from, err := p.loadSnapshot()
	if err != nil {
		return err
	}
	err = p.log.ScanHeaders(from, func(h plog.BatchHeader) error {
		if h.BaseOffset >= limit {
			return errScanDone
		}
		if h.NextOffset() <= from || h.ProducerID < 0 {
			return nil
		}
		if h.IsTransactional() {
			if err := p.rebuildTxn(h); err != nil {
				return err
			}
		}
		if h.IsControl() {
			return nil
		}
		p.producers.Record(txn.BatchInfo{
			ProducerID:    h.ProducerID,
			ProducerEpoch: h.ProducerEpoch,
			FirstSequence: h.BaseSequence,
			LastSequence:  lastSequence(h.BaseSequence, h.LastOffsetDelta),
			FirstOffset:   h.BaseOffset,
			LastOffset:    h.BaseOffset + int64(h.LastOffsetDelta),
			MaxTimestamp:  h.MaxTimestamp,
		})
		return nil
	})
	if errors.Is(err, errScanDone) {
		return nil
	}
	return err
}

func (p *partition) expireProducers(cutoff int64) {
	if p.log == nil {
		return
	}
	p.appendMu.Lock()
	p.producers.Expire(cutoff)
	p.txnMu.Lock()
	p.txns.TrimBefore(p.log.LogStartOffset())
	p.txnMu.Unlock()
	p.appendMu.Unlock()
}

// The partition's log, for the handlers and the broker's background loops
// (nothing outside this file and txn_partition.go touches p.log). Each is
// the plog.Log method of the same name; see there for what it does.

func (p *partition) logStartOffset() int64 {
	if p.log == nil {
		return 0
	}
	if p.repl != nil {
		return p.repl.storage.LogStartOffset() // DeleteRecords' start: raft_compact.go
	}
	return p.log.LogStartOffset()
}

// endOffset is the log end offset (the next offset to be written).
func (p *partition) endOffset() int64 {
	if p.log == nil {
		return 0
	}
	return p.log.EndOffset()
}

// durableOffset is the offset below which the log is fsynced.
func (p *partition) durableOffset() int64 {
	if p.log == nil {
		return 0
	}
	return p.log.DurableOffset()
}

func (p *partition) read(offset, maxOffset int64, maxBytes int, minOneBatch bool, buf []byte) ([]byte, error) {
	if err := p.checkLogStart(offset); err != nil {
		return nil, err
	}
	return p.log.Read(offset, maxOffset, maxBytes, minOneBatch, buf)
}

func (p *partition) readRanges(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]plog.FileRange, func(), error) {
	if err := p.checkLogStart(offset); err != nil {
		return nil, nil, err
	}
	return p.log.ReadRanges(offset, maxOffset, maxBytes, minOneBatch)
}

func (p *partition) offsetForTimestamp(ts int64) (offset, timestamp int64, found bool) {
	if p.repl != nil {
		return p.log.OffsetForTimestampFrom(ts, p.repl.storage.LogStartOffset())
	}
	return p.log.OffsetForTimestamp(ts)
}

func (p *partition) maxTimestamp() (timestamp, offset int64) { return p.log.MaxTimestamp() }

// endOffsetForEpoch is the log's leader-epoch cache lookup
// (OffsetForLeaderEpoch).
func (p *partition) endOffsetForEpoch(epoch int32) (int32, int64) {
	if p.repl != nil {
		return p.log.EndOffsetForEpochFrom(epoch, p.repl.storage.LogStartOffset())
	}
	return p.log.EndOffsetForEpoch(epoch)
}

// epochAt is the leader epoch of offset in the log's leader-epoch cache
// (Kafka's LeaderEpochFileCache.epochForOffset): that of the last entry
// starting at or below offset, -1 with none.
func (p *partition) epochAt(offset int64) int32 {
	epoch := int32(-1)
	for _, e := range p.log.Epochs() {
		if e.StartOffset > offset {
			break
		}
		epoch = e.Epoch
	}
	return epoch
}

// assignEpochLocked starts leader epoch epoch at the log end in the log's
// epoch cache (a new local leader). appendMu is held.
func (p *partition) assignEpochLocked(epoch int32) error { return p.log.AssignEpoch(epoch) }

// syncTo makes every offset below offset durable (group commit).
func (p *partition) syncTo(offset int64) error { return p.log.SyncTo(offset) }

// syncAll makes everything appended so far durable.
func (p *partition) syncAll() error {
	if p.log == nil {
		return nil
	}
	return p.log.SyncTo(p.log.EndOffset())
}

func (p *partition) flushIfDue(nowMs int64) (bool, error) {
	if p.log == nil {
		return false, nil
	}
	return p.log.FlushIfDue(nowMs)
}

// flushDue reports whether flush.messages asks for an fsync now.
func (p *partition) flushDue() bool { return p.log.FlushDue() }

func (p *partition) size() int64 {
	if p.log == nil {
		return 0
	}
	return p.log.Size()
}

func (p *partition) segments() int {
	if p.log == nil {
		return 0
	}
	return p.log.Segments()
}

func (p *partition) setLogConfig(c plog.Config) {
	if p.log == nil {
		return
	}
	if p.repl != nil {
		c.Replicated = true
	}
	p.log.SetConfig(c)
}

// compact runs a cleaning round. Every replica of a replicated partition
// cleans its own log (a replicated log's cleaner keeps every batch and
// stops at the high watermark: log/cleaner.go, replication/DESIGN.md §2).
func (p *partition) compact(now int64, c *plog.Cleaner) (plog.CompactStats, error) {
	if p.log == nil {
		return plog.CompactStats{}, nil
	}
	return p.log.CompactTxn(now, c, p.cleanerTxnView())
}

// enforceRetention applies retention.ms/bytes. A replicated log's start
// moves only through Raft (DESIGN.md §2): to the retention point, bounded
// by what is applied here, through the storage's CompactTo; each replica
// applies retention on its own, as Kafka's do. It returns the segments
// deleted (on a replicated log: 1 when the start moved).
func (p *partition) enforceRetention(nowMs int64) (int, error) {
	if p.log == nil {
		return 0, nil
	}
	if p.repl != nil {
		before := p.log.LogStartOffset()
		point := min(retentionPointReplicated(p, nowMs), p.log.HighWatermark())
		if point <= before {
			return 0, nil
		}
		after, err := p.repl.storage.CompactBelow(point)
		if err != nil || after == before {
			return 0, err
		}
		return 1, nil
	}
	return p.log.EnforceRetention(nowMs)
}

// advanceLogStart moves the log start offset up to offset (DeleteRecords:
// deleteRecordsBefore) and returns the new log start. Only the leader does
// (a follower's start follows its leader's).
func (p *partition) advanceLogStart(offset int64) (int64, error) {
	if !p.lead.Load().local {
		return 0, errNotLeader
	}
	if err := p.log.DeleteRecordsBefore(offset); err != nil {
		return 0, err
	}
	return p.log.LogStartOffset(), nil
}

// closeLog closes the log once the background snapshot writer is done
// (a clean close; see snapshotAtClose for the close snapshot). appendMu is
// held from the wait to the close, so that no append (one that found the
// partition before it was removed) queues a snapshot in between whose
// writer would outlive the log.
func (p *partition) closeLog() error {
	if p.log == nil {
		return nil
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.waitSnapshots()
	return p.log.Close()
}

// deleteLog removes the partition's log and directory (topic deletion)
// once the background snapshot writer is done. appendMu is held as in
// closeLog: a writer started after the wait would otherwise write the
// deleted partition's state into the directory of a topic re-created
// under the same name (TestReviewSnapshotWriterStopsAtDelete).
func (p *partition) deleteLog() error {
	if p.log == nil {
		return nil
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.waitSnapshots()
	return p.log.Delete()
}

// truncateTo cuts the log back to offset (replication: a follower whose
// log diverges from its leader's) and rebuilds the producer and
// transaction state from what is left. The background snapshot writer is
// waited for first, under appendMu, so that no snapshot of the cut batches
// lands after the log removed the snapshots past offset.
func (p *partition) truncateTo(offset int64) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.waitSnapshots()
	end, err := p.log.TruncateTo(offset)
	if err != nil {
		return end, err
	}
	p.resetStateLocked()
	if err := p.rebuildProducers(); err != nil {
		return end, fmt.Errorf("broker: rebuild producer state of %s after truncation: %w", p.dirName(), err)
	}
	p.notify()
	return end, nil
}

// resetStateLocked forgets the producer and transaction state (before a
// rebuild). appendMu is held.
func (p *partition) resetStateLocked() {
	p.txnMu.Lock()
	p.producers, p.txns, p.snapOffset = txn.NewProducerStates(), txn.NewPartitionTxns(), 0
	p.storeFirstUnstableLocked()
	p.txnMu.Unlock()
}

// fetchWaiter is a long-polling fetch waiting for any of its partitions to
// grow. ch has room for one wake-up.
type fetchWaiter struct{ ch chan struct{} }

func newFetchWaiter() *fetchWaiter { return &fetchWaiter{ch: make(chan struct{}, 1)} }

func (p *partition) watch(w *fetchWaiter) {
	p.waitMu.Lock()
	if p.waiters == nil {
		p.waiters = make(map[*fetchWaiter]struct{})
	}
	p.waiters[w] = struct{}{}
	p.waitMu.Unlock()
}

func (p *partition) unwatch(w *fetchWaiter) {
	p.waitMu.Lock()
	delete(p.waiters, w)
	p.waitMu.Unlock()
}

// setLead publishes l as p's leadership and wakes whoever waits for it to
// change (leadWatch): a produce waiting for replication, ElectLeaders.
func (p *partition) setLead(l *leadership) {
	p.leadMu.Lock()
	p.lead.Store(l)
	if p.leadMoved != nil {
		close(p.leadMoved)
		p.leadMoved = nil
	}
	p.leadMu.Unlock()
}

// leadWatch returns p's leadership and a channel closed when it is next
// replaced (by a new leader or epoch, or a new ISR or offline set of the
// same one). Waiting on it instead of a fetchWaiter keeps a waiter from
// being woken by every entry applied.
func (p *partition) leadWatch() (*leadership, <-chan struct{}) {
	p.leadMu.Lock()
	defer p.leadMu.Unlock()
	if p.leadMoved == nil {
		p.leadMoved = make(chan struct{})
	}
	return p.lead.Load(), p.leadMoved
}

// notify wakes every fetch waiting on this partition.
func (p *partition) notify() {
	p.waitMu.Lock()
	for w := range p.waiters {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

var errPartitionClosed = errors.New("broker: partition closed")
