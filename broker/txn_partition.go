package broker

// The partition side of transactions: each producer's ongoing transaction
// (its first offset), the last stable offset (LSO), the aborted
// transactions that read_committed fetches list, and the commit/abort
// control batches (markers) the transaction coordinator has written.
//
// Aborted transactions are kept in memory per partition and rebuilt at open
// from the newest producer-state snapshot (see the end of this file) plus
// the batch headers after it (reading only the control batches' one
// record), or from every header with no snapshot. Kafka's per-segment
// .txnindex is not built.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/moldau/moldau/coordinator"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/txn"
)

// verifyTransactional runs the coordinator's check for a transactional
// batch, mapping its verdict to the produce errors Kafka gives.
func verifyTransactional(verify func() error) error {
	if verify == nil {
		return errTransactional
	}
	err := verify()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, txn.ErrProducerFenced):
		return fmt.Errorf("%w: %w", txn.ErrInvalidProducerEpoch, err)
	default:
		return fmt.Errorf("%w: %w", errTransactional, err)
	}
}

// beginTxnLocked notes a transactional batch at offset. appendMu is held.
func (p *partition) beginTxnLocked(pid, offset int64) {
	if _, ok := p.txns.Ongoing(pid); ok {
		return
	}
	p.txnMu.Lock()
	p.txns.Begin(pid, offset)
	p.storeFirstUnstableLocked()
	p.txnMu.Unlock()
}

// storeFirstUnstableLocked publishes txns.FirstUnstable. txnMu is held.
func (p *partition) storeFirstUnstableLocked() {
	if off, ok := p.txns.FirstUnstable(); ok {
		p.firstUnstable.Store(off)
	} else {
		p.firstUnstable.Store(-1)
	}
}

// lastStableOffset is the offset below which every transaction is decided:
// the first offset of the oldest ongoing transaction, else the high
// watermark.
func (p *partition) lastStableOffset() int64 {
	hw := p.highWatermark()
	if fu := p.firstUnstable.Load(); fu >= 0 && fu < hw {
		return fu
	}
	return hw
}

// abortedIn returns the aborted transactions overlapping [from, to).
func (p *partition) abortedIn(from, to int64) []txn.AbortedTxn {
	p.txnMu.RLock()
	defer p.txnMu.RUnlock()
	return p.txns.Aborted(from, to)
}

// cleanerTxnView is what the log cleaner must know of the partition's
// transactions: where the undecided data starts (the first offset of the
// oldest open transaction, else the log end, past which the next one
// starts) and which transactional batches were aborted.
func (p *partition) cleanerTxnView() plog.TxnView {
	p.appendMu.Lock() // no transaction begins meanwhile
	p.txnMu.RLock()
	end := p.log.EndOffset()
	if fu := p.firstUnstable.Load(); fu >= 0 && fu < end {
		end = fu
	}
	aborted := p.txns.Aborted(0, end)
	p.txnMu.RUnlock()
	p.appendMu.Unlock()
	if len(aborted) == 0 {
		return plog.TxnView{StableEnd: end}
	}
	byPID := map[int64][]txn.AbortedTxn{} // each by marker offset, as p.txns keeps them
	for _, a := range aborted {
		byPID[a.ProducerID] = append(byPID[a.ProducerID], a)
	}
	return plog.TxnView{StableEnd: end, Aborted: func(pid, offset int64) bool {
		list := byPID[pid]
		i := sort.Search(len(list), func(i int) bool { return list[i].LastOffset > offset })
		return i < len(list) && list[i].FirstOffset <= offset
	}}
}

// writeMarker appends a commit or abort control batch of pid at epoch (no
// coordinator epoch) and closes the producer's transaction on the
// partition. It does not wait for durability.
func (p *partition) writeMarker(pid int64, epoch int16, commit bool, now int64) (int64, error) {
	return p.writeMarkerChecked(pid, epoch, txn.NoCoordinatorEpoch, commit, now, false)
}

// writeMarkerChecked is writeMarker from a coordinator at coordinatorEpoch
// (the leader epoch of its __transaction_state partition; Kafka's
// WriteTxnMarkers CoordinatorEpoch, kept in the control record's value and
// in the producer state). As Kafka's ProducerAppendInfo, a marker whose
// coordinator epoch is older than the last one of the producer on the
// partition is refused with txn.ErrTransactionCoordinatorFenced: it comes
// from a coordinator that was replaced (a former leader retrying after a
// failover) and must not end the transaction its successor may have
// started since. With checkEpoch, a marker older than the producer's epoch
// on the partition is refused (txn.ErrInvalidProducerEpoch: an
// administrator's or another node's WriteTxnMarkers). The marker is an
// entry like any other (see partition): proposed under appendMu by the
// leader, applied by applyMarkerLocked.
func (p *partition) writeMarkerChecked(pid int64, epoch int16, coordinatorEpoch int32, commit bool, now int64, checkEpoch bool) (int64, error) {
	e := entry{kind: entryMarker, batch: markerBatch(pid, epoch, coordinatorEpoch, commit, now), now: now, commit: commit}
	e.producer.ProducerID, e.producer.ProducerEpoch, e.producer.CoordinatorEpoch = pid, epoch, coordinatorEpoch
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	lead := p.lead.Load()
	if !lead.local {
		return 0, errNotLeader
	}
	if err := p.producers.CheckMarker(pid, epoch, coordinatorEpoch, checkEpoch); err != nil {
		return 0, err
	}
	res, err := p.proposeLocked(&e, lead)
	return res.base, err
}

// applyMarkerLocked is the state step of a marker at base (applyStateLocked):
// the producer's epoch and coordinator epoch, the end of its transaction.
// appendMu is held.
func (p *partition) applyMarkerLocked(e *entry, base int64) {
	p.producers.MarkEpoch(e.producer.ProducerID, e.producer.ProducerEpoch, e.producer.CoordinatorEpoch, e.now)
	p.txnMu.Lock()
	p.txns.End(e.producer.ProducerID, base, e.commit)
	p.storeFirstUnstableLocked()
	p.txnMu.Unlock()
}

// markerFromBatch fills a marker entry from its control batch
// (entryFromBatch).
func markerFromBatch(e *entry, h plog.BatchHeader) error {
	typ, coordinatorEpoch, err := controlRecord(e.batch)
	if err != nil {
		return err
	}
	e.producer.ProducerID, e.producer.ProducerEpoch, e.commit = h.ProducerID, h.ProducerEpoch, typ == records.ControlCommit
	e.producer.CoordinatorEpoch = coordinatorEpoch
	return nil
}

// appendInternalTxn appends one batch of an internal topic that is
// transactional (a TxnOffsetCommit's offsets in __consumer_offsets, of the
// producer pid at epoch, built by the caller): it opens the producer's
// transaction on the partition, which its marker closes, so that the LSO
// and the log cleaner treat it as Kafka does. It does not fsync.
//
// Under the append lock, before the append, as a produced transactional
// batch: a producer whose epoch on the partition is newer (a marker fenced
// it) is refused (txn.ErrProducerFenced), and verify (nil: none), the
// check that the transaction is still ongoing, must pass; a refusal wraps
// coordinator.ErrTxnRefused. Both checks are
// ordered with the markers, so no batch lands after the marker that ended
// its transaction (it would stay undecided: a hanging transaction, and
// offsets a later commit of the producer would wrongly make the group's).
func (p *partition) appendInternalTxn(batch []byte, pid int64, epoch int16, now int64, verify func() error) (applied, error) {
	e := entry{kind: entryInternal, batch: batch, now: now, transactional: true}
	e.producer.ProducerID, e.producer.ProducerEpoch = pid, epoch
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	lead := p.lead.Load()
	if !lead.local {
		return applied{}, errNotLeader
	}
	if cur, ok := p.producers.Epoch(pid); ok && cur > epoch {
		return applied{}, fmt.Errorf("%w: %w", coordinator.ErrTxnRefused, txn.ErrProducerFenced)
	}
	if verify != nil {
		if err := verify(); err != nil {
			return applied{}, fmt.Errorf("%w: %w", coordinator.ErrTxnRefused, err)
		}
	}
	return p.proposeLocked(&e, lead)
}

// markerBatch encodes a commit or abort marker with the coordinator epoch
// in its control record's value, as Kafka's EndTransactionMarker.
func markerBatch(pid int64, epoch int16, coordinatorEpoch int32, commit bool, now int64) []byte {
	typ := records.ControlAbort
	if commit {
		typ = records.ControlCommit
	}
	return records.ControlBatch(pid, epoch, typ, coordinatorEpoch, now)
}

var errBadControlBatch = errors.New("broker: malformed control batch")

// controlType reads the marker type of a control batch (uncompressed, as
// Kafka writes them).
func controlType(batch []byte) (int16, error) {
	typ, _, err := controlRecord(batch)
	return typ, err
}

// controlRecord reads a control batch's marker type and, for a COMMIT or
// ABORT marker, the coordinator epoch of its value ([version int16,
// coordinator epoch int32]; NoCoordinatorEpoch when the value is shorter,
// as Kafka's EndTransactionMarker reads none there).
func controlRecord(batch []byte) (typ int16, coordinatorEpoch int32, err error) {
	it, err := records.BatchRecords(batch)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
	}
	r, ok := it.Next()
	if !ok {
		if err := it.Err(); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
		}
		return 0, 0, errBadControlBatch
	}
	typ, err = records.ControlType(r.Key)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
	}
	coordinatorEpoch = txn.NoCoordinatorEpoch
	if len(r.Value) >= 6 && int16(binary.BigEndian.Uint16(r.Value)) >= 0 {
		coordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
	}
	return typ, coordinatorEpoch, nil
}

// rebuildTxn replays one transactional batch header at open.
func (p *partition) rebuildTxn(h plog.BatchHeader) error {
	p.txnMu.Lock()
	defer p.txnMu.Unlock()
	defer p.storeFirstUnstableLocked()
	if !h.IsControl() {
		p.txns.Begin(h.ProducerID, h.BaseOffset)
		return nil
	}
	data, err := p.log.Read(h.BaseOffset, h.NextOffset(), 1<<20, true, nil)
	if err != nil {
		return err
	}
	if int(h.Length) > len(data) {
		return fmt.Errorf("%w at offset %d", errBadControlBatch, h.BaseOffset)
	}
	typ, coordinatorEpoch, err := controlRecord(data[:h.Length])
	if err != nil {
		return fmt.Errorf("%w at offset %d", err, h.BaseOffset)
	}
	p.producers.MarkEpoch(h.ProducerID, h.ProducerEpoch, coordinatorEpoch, h.MaxTimestamp)
	p.txns.End(h.ProducerID, h.BaseOffset, typ == records.ControlCommit)
	return nil
}

// Producer-state snapshots (Kafka's <offset>.snapshot; bytes: txn/FORMAT.md,
// file: log/FORMAT.md): written when an append rolls a segment and at
// close, so that open replays only the batches after the newest one
// instead of every batch header of the partition.

// Writing a snapshot costs two fsyncs (file, directory). A roll snapshot
// is therefore encoded under appendMu (an in-memory copy of the state, cheap)
// and written by a background goroutine, so that no produce waits for those
// fsyncs on the connection's reader goroutine. At most one writer runs per
// partition; snapshots queued while it writes collapse into the newest
// (an older one would only be superseded).
//
// The crash guarantee is unchanged: a snapshot file exists whole or not at
// all (WriteSnapshot: temp file, fsync, rename, directory fsync) and
// covers the batches below its offset; a crash before the background write
// finishes only leaves an older snapshot (a longer replay at open), and
// one that outlived the unsynced data below it is past the recovered end
// and removed at load (LoadSnapshot). Whatever removes snapshots past an
// offset (truncateTo) or the log (closeLog, deleteLog) waits for the
// writer first (waitSnapshots), so that no snapshot of removed batches
// lands afterwards.

// pendingSnapshot is an encoded snapshot waiting for the writer.
type pendingSnapshot struct {
	offset int64
	data   []byte
}

// snapshotOnRollLocked queues a snapshot at base if the batch just appended
// there (not yet applied to the producer state) rolled a new segment: the
// state then covers exactly the batches below base. appendMu is held.
func (p *partition) snapshotOnRollLocked(base int64) {
	if base > p.snapOffset && p.log.ActiveBase() == base {
		p.queueSnapshot(base, p.encodeSnapshotLocked())
		p.snapOffset = base
	}
}

// encodeSnapshotLocked encodes the producer and transaction state.
// appendMu is held.
func (p *partition) encodeSnapshotLocked() []byte {
	p.txnMu.RLock()
	defer p.txnMu.RUnlock()
	return txn.EncodeSnapshot(nil, p.producers, p.txns)
}

// queueSnapshot hands a snapshot to the partition's background writer,
// starting it if none runs.
func (p *partition) queueSnapshot(offset int64, data []byte) {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	p.snapPending = &pendingSnapshot{offset: offset, data: data}
	if p.snapIdle == nil {
		done := make(chan struct{})
		p.snapIdle = done
		go p.writeSnapshots(done)
	}
}

// writeSnapshots writes queued snapshots until none is left, then closes
// done.
func (p *partition) writeSnapshots(done chan struct{}) {
	for {
		p.snapMu.Lock()
		s := p.snapPending
		p.snapPending = nil
		if s == nil {
			p.snapIdle = nil
			p.snapMu.Unlock()
			close(done)
			return
		}
		p.snapMu.Unlock()
		p.writeSnapshot(s.offset, s.data)
	}
}

// waitSnapshots returns once no snapshot is queued or being written (one
// queued meanwhile by an append is waited for too).
func (p *partition) waitSnapshots() {
	for {
		p.snapMu.Lock()
		done := p.snapIdle
		p.snapMu.Unlock()
		if done == nil {
			return
		}
		<-done
	}
}

// writeSnapshot writes the state as of offset (every batch below it
// applied). A failure only costs a longer scan at the next open.
func (p *partition) writeSnapshot(offset int64, data []byte) {
	if err := p.log.WriteSnapshot(offset, data); errors.Is(err, plog.ErrClosed) {
		return
	} else if err != nil {
		slog.Warn("could not write producer state snapshot", "partition", p.dirName(), "offset", offset, "err", err)
	}
}

// snapshotMinLogBytes: a log smaller than this is not worth a snapshot at
// close (its header scan takes well under a millisecond, about what
// reading a snapshot file costs; 10,000 small partitions would pay two
// fsyncs each at every stop). A variable for tests.
var snapshotMinLogBytes int64 = 1 << 20

// snapshotAtClose writes a snapshot at the log end unless the newest one is
// there already (an idle partition writes nothing) or the log is small.
// Call it before closing the log. It runs on the closing goroutine,
// never on a produce path.
func (p *partition) snapshotAtClose() {
	if p.log == nil || p.repl != nil {
		// A replica's state covers its high watermark, not its log end:
		// it rebuilds from the log at open (no snapshots yet).
		return
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.waitSnapshots()
	if end := p.log.EndOffset(); end != p.snapOffset && p.log.Size() >= snapshotMinLogBytes {
		p.writeSnapshot(end, p.encodeSnapshotLocked())
		p.snapOffset = end
	}
}

// loadSnapshot installs the newest usable snapshot's state and returns the
// offset to replay the log from: the snapshot's, or the log start with
// none. It runs at open, before the partition serves, or under appendMu
// (truncateTo).
func (p *partition) loadSnapshot() (int64, error) {
	off, ok, err := p.log.LoadSnapshot(func(_ int64, data []byte) error {
		ps, pt, err := txn.DecodeSnapshot(data)
		if err != nil {
			return err
		}
		p.txnMu.Lock()
		p.producers, p.txns = ps, pt
		p.txnMu.Unlock()
		return nil
	})
	if err != nil || !ok {
		return p.log.LogStartOffset(), err
	}
	p.snapOffset = off
	p.txnMu.Lock()
	p.txns.TrimBefore(p.log.LogStartOffset())
	p.storeFirstUnstableLocked()
	p.txnMu.Unlock()
	return max(off, p.log.LogStartOffset()), nil
}
