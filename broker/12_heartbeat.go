package broker

// Heartbeat, key 12, versions 0–4.
//
//   - v3+: group.instance.id. v4+: flexible.
//   - REBALANCE_IN_PROGRESS while the group prepares a rebalance.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleHeartbeat(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.HeartbeatRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		instance := r.InstanceID
		if r.Version < 3 {
			instance = nil
		}
		resp.ErrorCode = groupErrorCode(b.groups.Heartbeat(r.Group, r.MemberID, instance, r.Generation))
		return resp
	}}
}
