package broker

// EndTxn, key 26, versions 0–5.
//
// Commits or aborts the producer's transaction: the answer comes once every
// marker is durable and the completion recorded (see txn.Coordinator). A
// retried EndTxn of a completed transaction succeeds. v2+: PRODUCER_FENCED
// (v0–v1: INVALID_PRODUCER_EPOCH); v3+: flexible. v5 (transactions v2,
// KIP-890 part 2): the epoch is bumped at every EndTxn and the new producer
// id and epoch are returned; an abort with nothing open succeeds. In
// cluster mode a transactional id another node coordinates gets
// NOT_COORDINATOR, and the markers go to each partition's leader
// (interbroker.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleEndTxn(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.EndTxnRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if err := b.notTxnCoordinator(r.TransactionalID); err != nil {
			resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 2))
			return resp
		}
		got, err := b.txns.EndTxn(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, r.Version >= 5)
		resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 2))
		if err == nil && r.Version >= 5 {
			resp.ProducerID, resp.ProducerEpoch = got.ProducerID, got.Epoch
		}
		return resp
	}}
}
