package broker

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/txn"
)

// partition is one topic partition on this node (always its leader, epoch 0,
// while Moldau is single-node).
//
// Locking: appendMu serialises appends and guards producers (the
// idempotent-producer state must change atomically with the append it
// describes). waitMu guards waiters. Reads go straight to the log, which is
// safe for concurrent use.
type partition struct {
	topic *topic
	index int32
	log   *plog.Log

	appendMu  sync.Mutex
	producers *txn.ProducerStates

	// Transactions (txn_partition.go): txns is changed under appendMu
	// and txnMu (write), read under txnMu (read); firstUnstable mirrors
	// txns.FirstUnstable (-1: none) for lock-free LSO reads.
	txnMu         sync.RWMutex
	txns          *txn.PartitionTxns
	firstUnstable atomic.Int64
	// snapOffset is the offset of the newest producer-state snapshot
	// written or loaded (txn_partition.go); appendMu guards it.
	snapOffset int64

	waitMu  sync.Mutex
	waiters map[*fetchWaiter]struct{}
}

// leaderEpoch is the partition's leader epoch: 0 until replication brings
// elections.
const leaderEpoch int32 = 0

func newPartition(t *topic, index int32, l *plog.Log) *partition {
	p := &partition{topic: t, index: index, log: l, producers: txn.NewProducerStates(), txns: txn.NewPartitionTxns()}
	p.firstUnstable.Store(-1)
	return p
}

func (p *partition) dirName() string { return partitionDirName(p.topic.name, p.index) }

// highWatermark is the offset below which records are visible to consumers:
// the log's high watermark, which with one replica (nothing calls
// SetHighWatermark) is everything appended. Replication will set it to the
// commit index.
func (p *partition) highWatermark() int64 { return p.log.HighWatermark() }

// syncBeforeAck reports whether acks=all waits for an fsync of the
// partition (see README "Durability"): yes unless the topic (or the broker's
// log.flush.* defaults) sets flush.messages or flush.ms, in which case the
// log flushes on that schedule and acks=all answers once appended.
func (p *partition) syncBeforeAck() bool {
	s := p.topic.settings()
	return s.FlushMessages == math.MaxInt64 && s.FlushMs == math.MaxInt64
}

// appendResult is what a produce gets back for one partition.
type appendResult struct {
	baseOffset int64
	duplicate  bool
}

// appendBatch appends one validated batch, applying the idempotent-producer
// rules for batches that carry a producer id.
//
// A transactional batch is accepted only if verify (the transaction
// coordinator's KIP-890 part 1 check, run under the append lock so that no
// marker can slip in between) allows it; it opens the producer's
// transaction on the partition.
func (p *partition) appendBatch(v *validatedBatch, now int64, verify func() error) (appendResult, error) {
	p.appendMu.Lock()
	if v.transactional {
		if err := verifyTransactional(verify); err != nil {
			p.appendMu.Unlock()
			return appendResult{}, err
		}
	}
	var info txn.BatchInfo
	idempotent := v.producerID >= 0
	if idempotent {
		info = txn.BatchInfo{
			ProducerID:    v.producerID,
			ProducerEpoch: v.producerEpoch,
			FirstSequence: v.baseSequence,
			LastSequence:  lastSequence(v.baseSequence, v.lastOffsetDelta),
			MaxTimestamp:  v.maxTimestamp,
		}
		dup, isDup, err := p.producers.Check(info)
		if err != nil {
			p.appendMu.Unlock()
			return appendResult{}, err
		}
		if isDup {
			p.appendMu.Unlock()
			return appendResult{baseOffset: dup.FirstOffset, duplicate: true}, nil
		}
	}
	base, err := p.log.AppendWithEpoch(v.raw, now, leaderEpoch)
	if err != nil {
		p.appendMu.Unlock()
		return appendResult{}, err
	}
	p.snapshotOnRollLocked(base)
	if idempotent {
		info.FirstOffset = base
		info.LastOffset = base + int64(v.lastOffsetDelta)
		p.producers.Record(info)
	}
	if v.transactional {
		p.beginTxnLocked(v.producerID, base)
	}
	p.appendMu.Unlock()
	p.notify()
	return appendResult{baseOffset: base}, nil
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
// idempotent-producer table (at open, before the partition serves).
func (p *partition) rebuildProducers() error {
	from, err := p.loadSnapshot()
	if err != nil {
		return err
	}
	return p.log.ScanHeaders(from, func(h plog.BatchHeader) error {
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
}

func (p *partition) expireProducers(cutoff int64) {
	p.appendMu.Lock()
	p.producers.Expire(cutoff)
	p.txnMu.Lock()
	p.txns.TrimBefore(p.log.LogStartOffset())
	p.txnMu.Unlock()
	p.appendMu.Unlock()
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
