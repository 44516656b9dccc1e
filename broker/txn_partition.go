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
func (p *partition) writeMarkerChecked(pid int64, epoch int16, commit bool, now int64, checkEpoch bool) (int64, error) {
	batch := markerBatch(pid, epoch, commit, now)
	p.appendMu.Lock()
	if cur, ok := p.producers.Epoch(pid); checkEpoch && ok && cur > epoch {
		p.appendMu.Unlock()
		return 0, txn.ErrInvalidProducerEpoch
	}
	base, err := p.log.AppendWithEpoch(batch, now, leaderEpoch)
	if err != nil {
		p.appendMu.Unlock()
		return 0, err
	}
	p.snapshotOnRollLocked(base)
	p.producers.MarkEpoch(pid, epoch, now)
	p.txnMu.Lock()
	p.txns.End(pid, base, commit)
	p.storeFirstUnstableLocked()
	p.txnMu.Unlock()
	p.appendMu.Unlock()
	p.notify() // the LSO may have moved
	return base, nil
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

// snapshotOnRollLocked writes a snapshot at base if the batch just appended
// there (not yet applied to the producer state) rolled a new segment: the
// state then covers exactly the batches below base. appendMu is held.
func (p *partition) snapshotOnRollLocked(base int64) {
	if base > p.snapOffset && p.log.ActiveBase() == base {
		p.writeSnapshotLocked(base)
	}
}

// writeSnapshotLocked writes the state as of offset (every batch below it
// applied). A failure only costs a longer scan at the next open. appendMu
// is held.
func (p *partition) writeSnapshotLocked(offset int64) {
	p.txnMu.RLock()
	data := txn.EncodeSnapshot(nil, p.producers, p.txns)
	p.txnMu.RUnlock()
	if err := p.log.WriteSnapshot(offset, data); errors.Is(err, plog.ErrClosed) {
		return
	} else if err != nil {
		slog.Warn("could not write producer state snapshot", "partition", p.dirName(), "offset", offset, "err", err)
		return
	}
	p.snapOffset = offset
}

// snapshotMinLogBytes: a log smaller than this is not worth a snapshot at
// close (its header scan takes well under a millisecond, about what
// reading a snapshot file costs; 10,000 small partitions would pay two
// fsyncs each at every stop). A variable for tests.
var snapshotMinLogBytes int64 = 1 << 20

// snapshotAtClose writes a snapshot at the log end unless the newest one is
// there already (an idle partition writes nothing) or the log is small.
// Call it before closing the log.
func (p *partition) snapshotAtClose() {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if end := p.log.EndOffset(); end != p.snapOffset && p.log.Size() >= snapshotMinLogBytes {
		p.writeSnapshotLocked(end)
	}
}

// loadSnapshot installs the newest usable snapshot's state and returns the
// offset to replay the log from: the snapshot's, or the log start with
// none. It runs at open, before the partition serves.
func (p *partition) loadSnapshot() (int64, error) {
	off, ok, err := p.log.LoadSnapshot(func(_ int64, data []byte) error {
		ps, pt, err := txn.DecodeSnapshot(data)
		if err != nil {
			return err
		}
		p.producers, p.txns = ps, pt
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
