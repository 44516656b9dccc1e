package broker

// LeaveGroup, key 13, versions 0–5.
//
//   - v0–v2: one member id; its error is the top-level error.
//   - v3+: a batch of members, by member id or by group.instance.id alone
//     (administrative removal of static members, KIP-345), each answered.
//   - v4+: flexible. v5+: a reason per member (logged only).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleLeaveGroup(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		var leaving []coordinator.LeaveMember
		if r.Version < 3 {
			leaving = []coordinator.LeaveMember{{MemberID: r.MemberID}}
		} else {
			for _, m := range r.Members {
				leaving = append(leaving, coordinator.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID})
			}
		}
		errs, err := b.groups.LeaveGroup(r.Group, leaving)
		if err != nil {
			resp.ErrorCode = groupErrorCode(err)
			return resp
		}
		if r.Version < 3 {
			resp.ErrorCode = groupErrorCode(errs[0])
			return resp
		}
		for i, m := range r.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
			rm.ErrorCode = groupErrorCode(errs[i])
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}}
}
