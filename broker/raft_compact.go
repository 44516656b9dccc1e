package broker

// The log start of a replicated partition (DeleteRecords through Raft:
// 21_delete_records.go, replication/logstart.go) and what retention does
// with it.

import (
	"fmt"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/replication"
)

// applyLogStartLocked applies data if it is a log start entry (done):
// the replica's log start moves (durably) and fetches waiting on the
// partition are woken. appendMu is held (partSM.Apply).
func (p *partition) applyLogStartLocked(data []byte) (done bool, err error) {
	off, ok := replication.DecodeLogStart(data)
	if !ok {
		return false, nil
	}
	if _, err := p.repl.storage.ApplyLogStart(off); err != nil {
		return true, err
	}
	p.txnMu.Lock()
	p.txns.TrimBefore(p.logStartOffset())
	p.txnMu.Unlock()
	return true, nil
}

// checkLogStart refuses a read below a replicated partition's log start
// (the log itself still holds the batches between its own start and the
// one DeleteRecords set, which Raft may send to followers).
func (p *partition) checkLogStart(offset int64) error {
	if p.repl == nil {
		return nil
	}
	if start := p.repl.storage.LogStartOffset(); offset < start {
		return fmt.Errorf("%w: offset %d below the log start offset %d of %s", plog.ErrOffsetOutOfRange, offset, start, p.dirName())
	}
	return nil
}

// retentionPointReplicated is where retention may move a replicated log's
// start: the retention point, or DeleteRecords' log start if higher (the
// batches wholly below it go; the one it falls in stays).
func retentionPointReplicated(p *partition, nowMs int64) int64 {
	return max(p.log.RetentionPoint(nowMs), p.repl.storage.LogStartOffset())
}
