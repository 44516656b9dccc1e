package broker

// InitProducerId, key 22, versions 0–5.
//
// Idempotent producers (no transactional id) get a fresh producer id at
// epoch 0 on every call, as Kafka's coordinator does; the id and epoch a v3+
// client passes for an epoch bump are not needed for that. Transactional ids
// are not served until the transaction coordinator exists (FindCoordinator is
// not advertised, so clients do not get this far): they are answered
// NOT_COORDINATOR. v2+: flexible; v3+: producer id/epoch in the request.

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleInitProducerID(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return respond(resp)
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
	return id, nil
}
