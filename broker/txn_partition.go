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
	"errors"
	"fmt"
	"log/slog"
	"sort"

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

// writeMarker appends a commit or abort control batch of pid at epoch and
// closes the producer's transaction on the partition. It does not wait for
// durability.
func (p *partition) writeMarker(pid int64, epoch int16, commit bool, now int64) (int64, error) {
	return p.writeMarkerChecked(pid, epoch, commit, now, false)
}

// writeMarkerChecked is writeMarker that, with checkEpoch, first refuses a
// marker older than the producer's epoch on the partition (an
// administrator's WriteTxnMarkers; the coordinator's markers never are).
// The marker is an entry like any other (see partition): proposed under
// appendMu by the leader, applied by applyLocked.
func (p *partition) writeMarkerChecked(pid int64, epoch int16, commit bool, now int64, checkEpoch bool) (int64, error) {
	e := entry{kind: entryMarker, batch: markerBatch(pid, epoch, commit, now), now: now, commit: commit}
	e.producer.ProducerID, e.producer.ProducerEpoch = pid, epoch
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	lead := p.lead.Load()
	if !lead.local {
		return 0, errNotLeader
	}
	if cur, ok := p.producers.Epoch(pid); checkEpoch && ok && cur > epoch {
		return 0, txn.ErrInvalidProducerEpoch
	}
	res, err := p.proposeLocked(&e, lead)
	return res.base, err
}

// markerBatch encodes a commit or abort marker (coordinator epoch 0: the
// transaction coordinator does not track one).
func markerBatch(pid int64, epoch int16, commit bool, now int64) []byte {
	typ := records.ControlAbort
	if commit {
		typ = records.ControlCommit
	}
	return records.ControlBatch(pid, epoch, typ, 0, now)
}

var errBadControlBatch = errors.New("broker: malformed control batch")

// controlType reads the marker type of a control batch (uncompressed, as
// Kafka writes them).
func controlType(batch []byte) (int16, error) {
	it, err := records.BatchRecords(batch)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
	}
	r, ok := it.Next()
	if !ok {
		if err := it.Err(); err != nil {
			return 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
		}
		return 0, errBadControlBatch
	}
	typ, err := records.ControlType(r.Key)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBadControlBatch, err)
	}
	return typ, nil
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
	typ, err := controlType(data[:h.Length])
	if err != nil {
		return fmt.Errorf("%w at offset %d", err, h.BaseOffset)
	}
	p.producers.MarkEpoch(h.ProducerID, h.ProducerEpoch, h.MaxTimestamp)
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
