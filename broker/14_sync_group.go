package broker

// SyncGroup, key 14, versions 0–5.
//
//   - v3+: group.instance.id. v4+: flexible. v5+: ProtocolType and
//     ProtocolName in the request, checked against the group's
//     (INCONSISTENT_GROUP_PROTOCOL), and returned in the response.
//
// A follower's response waits for the leader's assignment (Reply.Wait).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleSyncGroup(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.SyncGroupRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.MemberAssignment = []byte{}
		sr := coordinator.SyncRequest{Group: r.Group, MemberID: r.MemberID, Generation: r.Generation,
			Assignments: make(map[string][]byte, len(r.GroupAssignment))}
		if r.Version >= 3 {
			sr.InstanceID = r.InstanceID
		}
		if r.Version >= 5 {
			sr.ProtocolType, sr.ProtocolName = r.ProtocolType, r.Protocol
		}
		for _, a := range r.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
		ch := make(chan coordinator.SyncResult, 1)
		b.groups.SyncGroup(sr, func(res coordinator.SyncResult) { ch <- res })
		var res coordinator.SyncResult
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil
		}
		resp.ErrorCode = groupErrorCode(res.Err)
		if res.Err != nil {
			return resp
		}
		if r.Version >= 5 {
			resp.ProtocolType, resp.Protocol = &res.ProtocolType, &res.ProtocolName
		}
		if res.Assignment != nil {
			resp.MemberAssignment = res.Assignment
		}
		return resp
	}}
}
