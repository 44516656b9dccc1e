package broker

// InitProducerId, key 22, versions 0–5.
//
// Idempotent producers (no transactional id) get a fresh producer id at
// epoch 0 on every call, as Kafka's coordinator does; the id and epoch a v3+
// client passes for an epoch bump are not needed for that. A transactional
// id goes to the transaction coordinator (txn.Coordinator.InitProducerID):
// a new id at epoch 0, an epoch bump on re-init that fences the previous
// producer (aborting its ongoing transaction), KIP-360 recovery with the
// id and epoch passed (v3+), and transaction.timeout.ms bounded by
// transaction.max.timeout.ms. v2+: flexible; v3+: producer id/epoch in the
// request; v4+: PRODUCER_FENCED (earlier versions get
// INVALID_PRODUCER_EPOCH). In cluster mode a transactional id whose
// __transaction_state partition another node leads gets NOT_COORDINATOR.

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleInitProducerID(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		return protocol.Reply{Wait: func(context.Context) kmsg.Response {
			cur := txn.ProducerIDAndEpoch{ProducerID: -1, Epoch: -1}
			if r.Version >= 3 {
				cur = txn.ProducerIDAndEpoch{ProducerID: r.ProducerID, Epoch: r.ProducerEpoch}
			}
			timeout := time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
			if err := b.notTxnCoordinator(*r.TransactionalID); err != nil {
				resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 4))
				return resp
			}
			got, err := b.txns.InitProducerID(*r.TransactionalID, timeout, cur)
			if err != nil {
				resp.ErrorCode = txnErrorCode(err, fencedSince(r.Version, 4))
				return resp
			}
			resp.ProducerID, resp.ProducerEpoch = got.ProducerID, got.Epoch
			return resp
		}}
	}
	id, err := b.pids.next()
	if err != nil {
		b.logger.Error("allocating a producer id", "err", err)
		resp.ErrorCode = kerr.UnknownServerError.Code
		return respond(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(resp)
}

// producerIDs hands out producer ids from blocks reserved durably in the
// metadata store, so an id is never reused, even after a crash.
type producerIDs struct {
	store metaStore
	// prefix is ORed into every id: in cluster mode (node id + 1) << 40,
	// so that brokers allocating from their own stores never collide.
	prefix int64

	mu          sync.Mutex
	nextID, end int64
}

const producerIDBlock = 1000

func (p *producerIDs) next() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nextID >= p.end {
		first, err := p.store.reserveProducerIDs(producerIDBlock)
		if err != nil {
			return 0, err
		}
		p.nextID, p.end = first, first+producerIDBlock
	}
	id := p.nextID
	p.nextID++
	return id | p.prefix, nil
}
