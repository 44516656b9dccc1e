package broker

// AddOffsetsToTxn, key 25, versions 0–4.
//
// Adds the group's __consumer_offsets partition to the transaction, so its
// TxnOffsetCommits are committed or dropped by the transaction's marker.
// v2+: PRODUCER_FENCED (v0–v1: INVALID_PRODUCER_EPOCH); v3+: flexible; v4:
// the same as v3 (its KIP-890 changes concern transactions v2, not served).
// In cluster mode a transactional id another node coordinates gets
// NOT_COORDINATOR.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleAddOffsetsToTxn(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AddOffsetsToTxnRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		if err := b.notTxnCoordinator(r.TransactionalID); err != nil {
			resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 2))
			return resp
		}
		if err := b.ensureOffsetsTopic(); err != nil {
			resp.ErrorCode = groupErrorCode(err)
			return resp
		}
		tp := txn.TopicPartition{Topic: offsetsTopic, Partition: b.groups.PartitionFor(r.Group)}
		err := b.txns.AddPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, []txn.TopicPartition{tp})
		resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 2))
		return resp
	}}
}
