package broker

// DeleteGroups, key 42, versions 0–3.
//
//   - Only Empty groups are deleted (NON_EMPTY_GROUP otherwise); unknown
//     groups get GROUP_ID_NOT_FOUND. The group and offset tombstones are
//     durable before the response. v2+: flexible. v3 (KIP-1331, Kafka
//     4.4) adds a per-group ErrorMessage: null, as a 4.4 broker answers
//     GROUP_ID_NOT_FOUND and NON_EMPTY_GROUP (probed).
//   - A share group's share-partition state is deleted first, through the
//     share coordinator (COORDINATOR_NOT_AVAILABLE if there is none).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDeleteGroups(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteGroupsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, id := range r.Groups {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group = id
			rg.ErrorCode = groupErrorCode(b.groups.DeleteGroup(id))
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}}
}
