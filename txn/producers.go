// Package txn holds Moldau's exactly-once machinery:
//
//   - ProducerStates (this file), the idempotent-producer sequence tracker:
//     per partition, per producer id, the current epoch and the last five
//     batches appended, which is what Kafka keeps to answer retried batches
//     with their original offsets and to reject gaps and zombies;
//   - PartitionTxns (partition.go), a partition's ongoing transactions (for
//     the last stable offset) and aborted transactions (for read_committed
//     fetches);
//   - Coordinator (coordinator.go), the transaction coordinator, which
//     persists through StateLog (__transaction_state) and writes markers
//     through MarkerWriter, both implemented by the broker.
//
// The package never imports protocol/, coordinator/, replication/ or
// broker/.
package txn

import (
	"errors"
	"math"
	"sort"
)

// The outcomes of checking a batch against a partition's producer state.
var (
	// ErrOutOfOrderSequence: the batch's first sequence does not follow the
	// producer's last one (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("txn: out of order sequence number")
	// ErrInvalidProducerEpoch: the batch's epoch is older than the
	// producer's current one (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("txn: invalid producer epoch")
)

// NoProducerEpoch is the epoch of a producer the partition has not seen.
const NoProducerEpoch int16 = -1

// MaxRetainedBatches is how many recent batches per producer are remembered
// for duplicate detection, as in Kafka (and the clients' max in-flight cap).
const MaxRetainedBatches = 5

// BatchInfo describes one appended (or to-be-appended) idempotent batch.
type BatchInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstSequence int32
	LastSequence  int32
	FirstOffset   int64
	LastOffset    int64
	MaxTimestamp  int64
	// CoordinatorEpoch is a marker's: the leader epoch of the
	// __transaction_state partition at the coordinator that wrote it
	// (unused for data batches).
	CoordinatorEpoch int32
}

// NoCoordinatorEpoch is the coordinator epoch of a producer no marker has
// reached.
const NoCoordinatorEpoch int32 = -1

type producerEntry struct {
	epoch int16
	// batches is a ring of the last MaxRetainedBatches batches, oldest
	// first from head.
	batches [MaxRetainedBatches]BatchInfo
	n, head int
	// lastTimestamp is the largest timestamp written, for expiry.
	lastTimestamp int64
	// coordinatorEpoch is the highest coordinator epoch of the producer's
	// markers (Kafka's ProducerStateEntry.coordinatorEpoch), or
	// NoCoordinatorEpoch.
	coordinatorEpoch int32
}

func (e *producerEntry) last() (BatchInfo, bool) {
	if e.n == 0 {
		return BatchInfo{}, false
	}
	return e.batches[(e.head+e.n-1)%MaxRetainedBatches], true
}

func (e *producerEntry) add(b BatchInfo) {
	if e.n < MaxRetainedBatches {
		e.batches[(e.head+e.n)%MaxRetainedBatches] = b
		e.n++
		return
	}
	e.batches[e.head] = b
	e.head = (e.head + 1) % MaxRetainedBatches
}

// ProducerStates is one partition's idempotent-producer state. It is not safe
// for concurrent use: the partition's append lock guards it.
type ProducerStates struct {
	producers map[int64]*producerEntry
}

// NewProducerStates returns an empty table.
func NewProducerStates() *ProducerStates {
	return &ProducerStates{producers: make(map[int64]*producerEntry)}
}

// Len is the number of producers tracked.
func (s *ProducerStates) Len() int { return len(s.producers) }

// Check decides what to do with a batch before it is appended. It returns
// (dup, true, nil) when the batch repeats one of the producer's last five
// batches (answer with dup's offsets, append nothing), (_, false, nil) when it
// may be appended, or an error wrapping ErrOutOfOrderSequence or
// ErrInvalidProducerEpoch. It follows Kafka's ProducerAppendInfo: a producer
// the partition does not know is accepted at any sequence, a new epoch must
// start at sequence 0.
func (s *ProducerStates) Check(b BatchInfo) (dup BatchInfo, isDup bool, err error) {
	e := s.producers[b.ProducerID]
	if e == nil {
		return BatchInfo{}, false, nil
	}
	if b.ProducerEpoch == e.epoch {
		for i := range e.n {
			old := e.batches[(e.head+i)%MaxRetainedBatches]
			if old.FirstSequence == b.FirstSequence && old.LastSequence == b.LastSequence {
				return old, true, nil
			}
		}
	}
	if b.ProducerEpoch < e.epoch {
		return BatchInfo{}, false, ErrInvalidProducerEpoch
	}
	if b.ProducerEpoch != e.epoch {
		if b.FirstSequence != 0 && e.epoch != NoProducerEpoch {
			return BatchInfo{}, false, ErrOutOfOrderSequence
		}
		return BatchInfo{}, false, nil
	}
	last, ok := e.last()
	if !ok {
		return BatchInfo{}, false, nil
	}
	if !inSequence(last.LastSequence, b.FirstSequence) {
		return BatchInfo{}, false, ErrOutOfOrderSequence
	}
	return BatchInfo{}, false, nil
}

func inSequence(last, next int32) bool {
	return next == last+1 || (next == 0 && last == math.MaxInt32)
}

// Record notes an appended batch (after Check allowed it, or while rebuilding
// state from the log on recovery). A newer epoch forgets the older epoch's
// batches.
func (s *ProducerStates) Record(b BatchInfo) {
	e := s.producers[b.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: b.ProducerEpoch, coordinatorEpoch: NoCoordinatorEpoch}
		s.producers[b.ProducerID] = e
	}
	if b.ProducerEpoch != e.epoch {
		e.epoch = b.ProducerEpoch
		e.n, e.head = 0, 0
	}
	e.add(b)
	e.lastTimestamp = max(e.lastTimestamp, b.MaxTimestamp)
}

// Expire forgets producers whose last write is older than cutoff (a
// timestamp in ms), as producer.id.expiration.ms asks. It returns how many
// were removed.
func (s *ProducerStates) Expire(cutoff int64) int {
	n := 0
	for id, e := range s.producers {
		if e.lastTimestamp < cutoff {
			delete(s.producers, id)
			n++
		}
	}
	return n
}

// Forget drops all state (after the log was truncated to empty or deleted).
func (s *ProducerStates) Forget() { clear(s.producers) }

// ErrTransactionCoordinatorFenced: a marker comes from a coordinator older
// than one whose marker the partition already has for the producer
// (TRANSACTION_COORDINATOR_FENCED).
var ErrTransactionCoordinatorFenced = errors.New("txn: transaction coordinator fenced")

// CheckMarker is Kafka's check of a transaction marker before it is
// appended (ProducerAppendInfo.appendEndTxnMarker): a marker whose
// coordinator epoch is older than the producer's last one on the partition
// comes from a coordinator that has since been replaced (a former leader of
// the __transaction_state partition retrying after a failover) and is
// refused with ErrTransactionCoordinatorFenced; with checkEpoch, a marker
// older than the producer's epoch is refused with ErrInvalidProducerEpoch.
func (s *ProducerStates) CheckMarker(pid int64, epoch int16, coordinatorEpoch int32, checkEpoch bool) error {
	e := s.producers[pid]
	if e == nil {
		return nil
	}
	if checkEpoch && epoch < e.epoch {
		return ErrInvalidProducerEpoch
	}
	if coordinatorEpoch < e.coordinatorEpoch {
		return ErrTransactionCoordinatorFenced
	}
	return nil
}

// MarkEpoch notes a transaction marker of pid at epoch, written by a
// coordinator at coordinatorEpoch (NoCoordinatorEpoch: unknown): a newer
// epoch (a fencing abort) becomes the producer's, so the fenced epoch's
// batches are rejected, and the next batch may start at sequence 0; a
// newer coordinator epoch becomes the one later markers must not be
// older than.
func (s *ProducerStates) MarkEpoch(pid int64, epoch int16, coordinatorEpoch int32, ts int64) {
	e := s.producers[pid]
	if e == nil {
		s.producers[pid] = &producerEntry{epoch: epoch, lastTimestamp: ts, coordinatorEpoch: coordinatorEpoch}
		return
	}
	if epoch > e.epoch {
		e.epoch = epoch
		e.n, e.head = 0, 0
	}
	e.coordinatorEpoch = max(e.coordinatorEpoch, coordinatorEpoch)
	e.lastTimestamp = max(e.lastTimestamp, ts)
}

// ProducerSnapshot is one producer's state (DescribeProducers).
type ProducerSnapshot struct {
	ProducerID    int64
	Epoch         int16
	LastSequence  int32 // -1: none
	LastTimestamp int64
	// CoordinatorEpoch: of the producer's last marker (-1: none).
	CoordinatorEpoch int32
}

// Snapshot returns every producer's state, by producer id.
func (s *ProducerStates) Snapshot() []ProducerSnapshot {
	out := make([]ProducerSnapshot, 0, len(s.producers))
	for id, e := range s.producers {
		ps := ProducerSnapshot{ProducerID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp,
			CoordinatorEpoch: e.coordinatorEpoch}
		if b, ok := e.last(); ok {
			ps.LastSequence = b.LastSequence
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// Epoch returns the producer's current epoch on the partition.
func (s *ProducerStates) Epoch(pid int64) (int16, bool) {
	e := s.producers[pid]
	if e == nil {
		return NoProducerEpoch, false
	}
	return e.epoch, true
}
