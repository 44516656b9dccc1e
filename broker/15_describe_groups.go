package broker

// DescribeGroups, key 15, versions 0–6.
//
//   - v3+: authorized operations when asked (every group operation: no
//     ACLs yet). v4+: group.instance.id of members. v5+: flexible.
//   - A group that does not exist is described as Dead with no error, and
//     from v6 with GROUP_ID_NOT_FOUND (KIP-1043), as Kafka 4 does.
//   - Protocol, member metadata and assignments only for Stable groups.
//   - Consumer and share groups are not classic groups: Dead, and
//     GROUP_ID_NOT_FOUND from v6, as Kafka describes them.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

// READ(3) DELETE(6) DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11): every
// operation on a GROUP (Kafka 4.4 answers 3400 without an authorizer, group
// configs being KIP-848's).
const allGroupOps int32 = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11

func (b *Broker) handleDescribeGroups(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, id := range r.Groups {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group = id
			rg.AuthorizedOperations = opsNotAsked
			if r.IncludeAuthorizedOperations {
				rg.AuthorizedOperations = allGroupOps
			}
			d, err := b.groups.DescribeGroup(id)
			switch {
			case errors.Is(err, coordinator.ErrGroupIDNotFound):
				rg.State = coordinator.StateDead.String()
				if r.Version >= 6 {
					rg.ErrorCode = groupErrorCode(err)
				}
			case err != nil:
				rg.ErrorCode = groupErrorCode(err)
			default:
				rg.State = d.State.String()
				rg.ProtocolType = d.ProtocolType
				rg.Protocol = d.Protocol
				for _, m := range d.Members {
					rm := kmsg.NewDescribeGroupsResponseGroupMember()
					rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
					rm.ProtocolMetadata, rm.MemberAssignment = orEmpty(m.Metadata), orEmpty(m.Assignment)
					rg.Members = append(rg.Members, rm)
				}
			}
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	}}
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
