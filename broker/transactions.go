package broker

// Wiring of the transaction coordinator (package txn): __transaction_state
// as its StateLog (created on first use, compacted, 50 partitions as
// Kafka's transaction.state.log.num.partitions default, replayed at start),
// the partitions as its MarkerWriter, the produce path's verification, the
// error mapping to Kafka codes and the periodic timeout check.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

// txnStateTopic is Kafka's internal topic of transaction states.
const txnStateTopic = "__transaction_state"

// txnStatePartitions is Kafka's transaction.state.log.num.partitions default.
const txnStatePartitions = 50

// confirmTxnCoordinator reports whether this node, which leads id's
// __transaction_state partition by its own view, has proved that
// leadership since the call began (raftCluster.confirmLeads: a ReadIndex
// round). A deposed leader that has not heard of its successor yet fails
// it, so a transactional request (notTxnCoordinator) gets
// NOT_COORDINATOR instead of an answer from stale transaction state. The
// txn coordinator's own Owns (Tick, completions) stays the non-blocking
// view check its contract asks for: what it decides is written through
// Raft, where a deposed leader's proposals cannot commit.
func (b *Broker) confirmTxnCoordinator(id string) bool {
	if b.raft == nil {
		return true
	}
	t := b.topics.get(txnStateTopic)
	if t == nil {
		return false
	}
	return b.raft.confirmLeads(t.partition(txn.PartitionFor(id, b.txns.Partitions())))
}

// txnTickInterval is how often timed-out transactions are looked for
// (Kafka: transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s;
// shorter here, as the check is cheap).
const txnTickInterval = time.Second

var errTxnStateUnavailable = errors.New("broker: __transaction_state unavailable")

// newTxnCoordinator builds the transaction coordinator and replays every
// existing __transaction_state partition, then completes the transactions
// found prepared (their markers may be missing). Called by New after the
// partitions and the group coordinator are loaded.
func (b *Broker) newTxnCoordinator(o options) error {
	parts := int32(txnStatePartitions)
	t := b.topics.get(txnStateTopic)
	if t != nil {
		parts = int32(len(t.partitionList()))
	}
	maxTimeout := time.Duration(b.cfg.TransactionMaxTimeoutMs) * time.Millisecond
	var owns func(int32) bool
	if b.raft != nil {
		// A node coordinates the __transaction_state partitions it leads.
		owns = func(p int32) bool {
			_, local, err := b.leaderOf(txnStateTopic, p)
			return err == nil && local && b.inter.loaded(p)
		}
	}
	b.txns = txn.NewCoordinator(txn.Config{
		Partitions:    parts,
		MaxTimeout:    maxTimeout,
		IDExpiration:  time.Duration(b.cfg.TransactionalIDExpirationMs) * time.Millisecond,
		Metrics:       txn.NewMetrics(o.registerer),
		NewProducerID: b.pids.next,
		Now:           b.now,
		Owns:          owns,
	}, &txnStateLog{b: b}, &markerWriter{b: b}, b.logger.With("component", "txn"))
	if b.raft != nil {
		b.inter = newInterBroker(b)
	}
	if t == nil {
		return nil
	}
	start := time.Now()
	for i := int32(0); i < parts; i++ {
		if err := b.txns.Load(i); err != nil {
			return fmt.Errorf("broker: replay %s-%d: %w", txnStateTopic, i, err)
		}
	}
	b.txns.Tick()
	b.logger.Info("transactions recovered", "partitions", parts, "elapsed", time.Since(start).Round(time.Microsecond))
	return nil
}

// ensureTxnStateTopic creates __transaction_state on first use.
func (b *Broker) ensureTxnStateTopic() error {
	return b.ensureInternalTopic(txnStateTopic, b.txns.Partitions(), "uncompressed", errTxnStateUnavailable)
}

// txnHousekeeping aborts timed-out transactions and retries unfinished
// completions; in cluster mode it prunes the verification records and
// closes the inter-broker client at the stop.
func (b *Broker) txnHousekeeping() {
	t := time.NewTicker(txnTickInterval)
	defer t.Stop()
	if b.inter != nil {
		defer b.inter.close()
	}
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.txns.Tick()
			if b.inter != nil {
				b.inter.guards.prune(time.Now(), max(time.Minute, time.Duration(b.cfg.TransactionMaxTimeoutMs)*time.Millisecond))
			}
		}
	}
}

// txnVerifier returns the check a transactional batch must pass (nil for
// other batches, or when the request carries no transactional id, which
// the append path then rejects).
//
// In cluster mode, when the coordinator is another node, the verification
// was made before (addPartitionOnProduce) and the check is that it still
// holds (interbroker.go, the verification guard).
func (b *Broker) txnVerifier(txnID *string, v *validatedBatch, p *partition) func() error {
	if !v.transactional || txnID == nil {
		return nil
	}
	id, pid, epoch := *txnID, v.producerID, v.producerEpoch
	if b.inter != nil {
		if _, local, err := b.txnCoordinatorOf(id); err != nil || !local {
			return func() error { return b.inter.guards.valid(p, pid, epoch) }
		}
	}
	tp := txn.TopicPartition{Topic: p.topic.name, Partition: p.index}
	return func() error { return b.txns.Verify(id, pid, epoch, tp) }
}

// addPartitionOnProduce adds the batch's partition to its producer's
// transaction (transactions v2: version 12+), mapping a refusal as the
// verification does. It runs on the connection's reader goroutine, so the
// state record is appended without an fsync: awaitTxnAdds makes it
// durable in the produce's reply, before the batch is acknowledged.
//
// In cluster mode, when the transaction coordinator is another node, the
// coordinator is asked instead, for every version (interBroker.
// verifyForProduce: AddPartitionsToTxn v5 to add, v4+ VerifyOnly below
// version 12), before the append; the coordinator's record is durable
// when it answers.
func (b *Broker) addPartitionOnProduce(id string, v *validatedBatch, p *partition, version int16) error {
	if b.inter != nil {
		if node, local, err := b.txnCoordinatorOf(id); err != nil || !local {
			return b.inter.verifyForProduce(id, node, err, v.producerID, v.producerEpoch, p, version >= 12)
		}
	}
	if version < 12 {
		return nil
	}
	tp := txn.TopicPartition{Topic: p.topic.name, Partition: p.index}
	err := b.txns.AddPartitionsNoSync(id, v.producerID, v.producerEpoch, []txn.TopicPartition{tp})
	if err == nil {
		return nil
	}
	return verifyTransactional(func() error { return err })
}

// awaitTxnAdds wraps the reply of a transactions-v2 produce (v12+ with a
// transactional id) so that, before the response is written, the
// transaction's __transaction_state partition is durable through its end as
// it was when the request had been handled. That covers the records of
// this request's implicit AddPartitions, and any a concurrent request of the
// same transaction wrote and not yet synced (it found the partition already
// added), so no batch is acknowledged before its partition is durably part
// of the transaction: a crash then aborts or completes the transaction with
// a marker on that partition. The fsync (group-committed with every other
// waiter) runs in the reply's Wait, on the writer goroutine, before the data
// partitions' own acks=all syncs, as the AddPartitions fsync ran before the
// append when it was on the reader goroutine. A failed sync fails every
// partition the request had appended, with KAFKA_STORAGE_ERROR.
//
// Before the sync completes the addition is visible in memory only; what a
// crash can then leave is a batch that was appended, never acknowledged,
// and whose partition the recovered transaction does not list. A process
// crash (kill -9) cannot do that, since the record was written before the
// batch; a power loss can, if the data partition was fsynced by someone
// else (another producer's acks=all, the flusher) in that window.
func (b *Broker) awaitTxnAdds(reply protocol.Reply, txnID *string, version int16) protocol.Reply {
	if txnID == nil || version < 12 || b.cfg.Memory || reply.NoResponse || b.txns == nil {
		return reply
	}
	t := b.topics.get(txnStateTopic)
	if t == nil {
		return reply
	}
	p := t.partition(txn.PartitionFor(*txnID, b.txns.Partitions()))
	if p == nil || !p.lead.Load().local {
		// Another node's coordinator made its record durable before
		// answering the addition.
		return reply
	}
	end := p.endOffset()
	if end <= p.durableOffset() {
		return reply
	}
	ready, inner := reply.Resp, reply.Wait
	reply.Wait = func(ctx context.Context) kmsg.Response {
		err := p.syncTo(end)
		resp := ready
		if inner != nil {
			resp = inner(ctx)
		}
		if err == nil {
			return resp
		}
		b.logger.Error("fsync of the transaction state failed", "partition", p.dirName(), "err", err)
		if pr, ok := resp.(*kmsg.ProduceResponse); ok {
			for i := range pr.Topics {
				for j := range pr.Topics[i].Partitions {
					sp := &pr.Topics[i].Partitions[j]
					if sp.ErrorCode == 0 {
						sp.ErrorCode = kerr.KafkaStorageError.Code
						sp.BaseOffset = -1
					}
				}
			}
		}
		return resp
	}
	return reply
}

// transactionVersion is the finalized transaction.version feature level
// ApiVersions advertises: 2 (KIP-890 part 2) when the versions it needs
// (Produce v12, EndTxn v5, TxnOffsetCommit v5) are all advertised, which
// --kafka-version below 4.0 prevents; else 0, not advertised.
func (b *Broker) transactionVersion() int16 {
	if b.caps[0] >= 12 && b.caps[26] >= 5 && b.caps[28] >= 5 {
		return 2
	}
	return 0
}

// txnErrorCode maps a transaction coordinator error to its Kafka code.
// Requests before v2 of the transactional APIs knew only
// INVALID_PRODUCER_EPOCH for a fenced producer, as Kafka maps it.
func txnErrorCode(err error, version int16) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, txn.ErrProducerFenced):
		if version < 2 {
			return kerr.InvalidProducerEpoch.Code
		}
		return kerr.ProducerFenced.Code
	case errors.Is(err, txn.ErrInvalidProducerIDMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, txn.ErrConcurrentTransactions):
		return kerr.ConcurrentTransactions.Code
	case errors.Is(err, txn.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, txn.ErrInvalidTransactionTimeout):
		return kerr.InvalidTransactionTimeout.Code
	case errors.Is(err, txn.ErrInvalidTransactionalID):
		return kerr.InvalidRequest.Code
	case errors.Is(err, txn.ErrLoadInProgress):
		return kerr.CoordinatorLoadInProgress.Code
	case errors.Is(err, txn.ErrStorage), errors.Is(err, errTxnStateUnavailable), errors.Is(err, errTxnCoordinatorUnavailable):
		return kerr.CoordinatorNotAvailable.Code
	case errors.Is(err, errNotCoordinator), errors.Is(err, txn.ErrNotCoordinator):
		return kerr.NotCoordinator.Code
	}
	return errorCode(err)
}

// txnStateLog implements txn.StateLog over __transaction_state.
type txnStateLog struct{ b *Broker }

func (l *txnStateLog) partition(p int32) (*partition, error) {
	return l.b.internalPartition(txnStateTopic, l.b.ensureTxnStateTopic, errTxnStateUnavailable, p)
}

// Append implements txn.StateLog: one uncompressed batch, fsynced if sync.
func (l *txnStateLog) Append(p int32, key, value []byte, sync bool) error {
	part, err := l.partition(p)
	if err != nil {
		return err
	}
	base, err := l.b.appendInternal(part, []coordinator.Record{{Key: key, Value: value}})
	if err != nil {
		return err
	}
	if l.b.cfg.Memory || !sync {
		return nil
	}
	return part.syncTo(base + 1)
}

// Replay implements txn.StateLog.
//
// In cluster mode a replay on the leader (the coordinator's Load when this
// node becomes the partition's leader) marks the partition loaded at that
// leader epoch: until then its transactions are not served
// (txnCoordinatorOf).
//
// A partition the coordinator loads as soon as its group elects this node,
// before the reconciler has published the topic, is waited for.
func (l *txnStateLog) Replay(p int32, fn func(key, value []byte) error) error {
	part := l.b.txnStatePartition(p)
	if part == nil && l.b.inter != nil {
		deadline := time.Now().Add(30 * time.Second)
		for part == nil && time.Now().Before(deadline) {
			select {
			case <-l.b.stop:
				return errClosing
			case <-time.After(5 * time.Millisecond):
			}
			part = l.b.txnStatePartition(p)
		}
	}
	if part == nil {
		return nil
	}
	lead := part.lead.Load()
	if err := replayRecords(part.log, nil, func(_ int64, key, value []byte) error { return fn(key, value) }); err != nil {
		return err
	}
	if l.b.inter != nil && lead.local {
		l.b.inter.markLoaded(p, lead.epoch)
	}
	return nil
}

// txnStatePartition is partition p of __transaction_state, or nil.
func (b *Broker) txnStatePartition(p int32) *partition {
	t := b.topics.get(txnStateTopic)
	if t == nil {
		return nil
	}
	return t.partition(p)
}

// replayRecords calls fn with every record of the uncompressed, non-control
// batches of l, in offset order (the internal topics' replay at start-up).
// Compressed batches, which Moldau never writes there, are passed to skipped
// (if not nil) and not read.
func replayRecords(l *plog.Log, skipped func(plog.BatchHeader), fn func(off int64, key, value []byte) error) error {
	return replayBatches(l, skipped, func(h plog.BatchHeader, off int64, key, value []byte) error {
		if h.IsControl() {
			return nil
		}
		return fn(off, key, value)
	})
}

// replayBatches is replayRecords with the batch header of each record,
// control batches' records included.
func replayBatches(l *plog.Log, skipped func(plog.BatchHeader), fn func(h plog.BatchHeader, off int64, key, value []byte) error) error {
	pos, end := l.LogStartOffset(), l.EndOffset()
	var buf []byte
	for pos < end {
		data, err := l.Read(pos, end, 1<<20, true, buf[:0])
		if err != nil {
			if errors.Is(err, plog.ErrOffsetOutOfRange) {
				return nil
			}
			return err
		}
		if len(data) == 0 {
			return nil
		}
		buf = data
		for len(data) >= records.HeaderSize {
			h, err := plog.ParseBatchHeader(data)
			if err != nil {
				return err
			}
			if int(h.Length) > len(data) {
				break
			}
			batch := data[:h.Length]
			data = data[h.Length:]
			next := h.NextOffset()
			if h.Compression() != records.CodecNone {
				if !h.IsControl() && skipped != nil {
					skipped(h)
				}
				pos = next
				continue
			}
			it, err := records.BatchRecords(batch)
			if err != nil {
				return fmt.Errorf("broker: replay at offset %d: %w", h.BaseOffset, err)
			}
			for {
				r, ok := it.Next()
				if !ok {
					break
				}
				if off := h.BaseOffset + int64(r.OffsetDelta); off >= pos {
					if err := fn(h, off, r.Key, r.Value); err != nil {
						return err
					}
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("broker: replay at offset %d: %w", h.BaseOffset, err)
			}
			pos = next
		}
	}
	return nil
}

// markerWriter implements txn.MarkerWriter: control batches on the
// transaction's partitions, __consumer_offsets ones included, where the
// group coordinator then commits or drops the producer's pending
// transactional offsets (completeGroupOffsets). In cluster mode each
// partition's leader writes its marker (writeMarkersCluster).
type markerWriter struct{ b *Broker }

// WriteMarkers implements txn.MarkerWriter.
func (m *markerWriter) WriteMarkers(statePartition int32, pid int64, epoch int16, commit bool, parts []txn.TopicPartition) error {
	if m.b.inter != nil {
		return m.writeMarkersCluster(statePartition, pid, epoch, commit, parts)
	}
	_, err := m.writeLocalMarkers(singleNodeCoordinatorEpoch, pid, epoch, commit, parts)
	return err
}

// singleNodeCoordinatorEpoch is the coordinator epoch of a single node's
// markers: there is no other coordinator to fence.
const singleNodeCoordinatorEpoch = 0

// writeLocalMarkers writes the markers of partitions this node holds (all
// of them on a single node), from a coordinator at coordinatorEpoch, and
// returns those it found it does not lead (cluster mode: their leader
// moved; the caller retries them). A marker a partition refuses as coming
// from an older coordinator is given up on, as Kafka's coordinator does:
// the newer one completes the transaction.
func (m *markerWriter) writeLocalMarkers(coordinatorEpoch int32, pid int64, epoch int16, commit bool, parts []txn.TopicPartition) (moved []txn.TopicPartition, _ error) {
	b := m.b
	now := b.now().UnixMilli()
	var toSync []*partition
	var errs []error
	for _, tp := range parts {
		t := b.topics.get(tp.Topic)
		if t == nil {
			continue
		}
		p := t.partition(tp.Partition)
		if p == nil {
			continue
		}
		if b.inter != nil {
			b.inter.guards.markerWriting(p, pid)
		}
		if _, err := p.writeMarkerChecked(pid, epoch, coordinatorEpoch, commit, now, false); err != nil {
			switch {
			case b.inter != nil && errors.Is(err, errNotLeader):
				moved = append(moved, tp)
			case errors.Is(err, txn.ErrTransactionCoordinatorFenced):
				b.logger.Warn("transaction marker refused: a newer coordinator wrote one; not retried",
					"partition", tp.String(), "producer_id", pid, "coordinator_epoch", coordinatorEpoch)
			default:
				errs = append(errs, fmt.Errorf("%s: %w", tp, err))
			}
			continue
		}
		toSync = append(toSync, p)
	}
	var failed map[partKey]error
	if len(toSync) > 0 && !b.cfg.Memory {
		failed = b.syncPartitions(toSync)
		for k, err := range failed {
			errs = append(errs, fmt.Errorf("%s-%d: %w", k.topic, k.part, err))
		}
	}
	for _, p := range toSync {
		if failed[partKey{p.topic.name, p.topic.id, p.index}] == nil {
			b.completeGroupOffsets(p, pid, commit)
		}
	}
	return moved, errors.Join(errs...)
}

// completeGroupOffsets tells the group coordinator that a marker of pid is
// durable in p, if p is a __consumer_offsets partition: the producer's
// pending transactional offsets there are committed or dropped.
func (b *Broker) completeGroupOffsets(p *partition, pid int64, commit bool) {
	if p.topic.name == offsetsTopic {
		b.groups.CompleteTxnOffsets(p.index, pid, commit)
	}
}
