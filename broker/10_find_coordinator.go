package broker

// FindCoordinator, key 10, versions 0–6.
//
//   - v0: one group key; v1+: a key type (0 group, 1 transaction); v3+:
//     flexible; v4+: batched keys (CoordinatorKeys) answered per key in
//     Coordinators instead of the top-level fields.
//   - Group keys are answered with this node, after creating
//     __consumer_offsets on first use, as Kafka does.
//   - Transaction keys (type 1) are answered with this node, after
//     creating __transaction_state on first use. Share-group keys (type 2,
//     v6) get COORDINATOR_NOT_AVAILABLE; unknown key types get
//     INVALID_REQUEST.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleFindCoordinator(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		keys := r.CoordinatorKeys
		if r.Version < 4 {
			keys = []string{r.CoordinatorKey}
		}
		for _, key := range keys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			code := int16(0)
			switch r.CoordinatorType {
			case 0:
				if err := b.ensureOffsetsTopic(); err != nil {
					code = kerr.CoordinatorNotAvailable.Code
				}
			case 1:
				if err := b.ensureTxnStateTopic(); err != nil {
					code = kerr.CoordinatorNotAvailable.Code
				}
			case 2:
				code = kerr.CoordinatorNotAvailable.Code
			default:
				code = kerr.InvalidRequest.Code
			}
			if code != 0 {
				c.ErrorCode, c.NodeID, c.Host, c.Port = code, -1, "", -1
				msg := kerr.ErrorForCode(code).Error()
				c.ErrorMessage = &msg
			} else {
				c.NodeID, c.Host, c.Port = b.cfg.NodeID, b.host, b.port
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		if r.Version < 4 {
			c := resp.Coordinators[0]
			resp.Coordinators = nil
			resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		}
		return resp
	}}
}
