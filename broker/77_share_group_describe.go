package broker

// ShareGroupDescribe, key 77, version 1 (KIP-932; v0 was Kafka 4.0's early
// access).
//
//   - Groups that do not exist, and groups of another type, get
//     GROUP_ID_NOT_FOUND, an empty group id INVALID_GROUP_ID, as Kafka
//     answers (no state).
//   - Authorized operations (KIP-430) when asked: every group operation
//     without an authorizer, the authorizer's answer otherwise
//     (authorize_apis.go), as ConsumerGroupDescribe.
//   - The assignor is "simple"; states are Empty and Stable.

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleShareGroupDescribe(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ShareGroupDescribeRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
		for _, id := range r.GroupIDs {
			g := kmsg.NewShareGroupDescribeResponseGroup()
			g.GroupID = id
			g.AuthorizedOperations = opsNotAsked
			d, err := b.groups.DescribeShareGroup(id)
			if err != nil {
				g.ErrorCode = shareGroupErrorCode(err)
				switch {
				case errors.Is(err, coordinator.ErrNotShareGroup):
					g.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Group %s is not a share group.", id))
				case errors.Is(err, coordinator.ErrGroupIDNotFound):
					g.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Group %s not found.", id))
				case errors.Is(err, coordinator.ErrInvalidGroupID):
				default:
					g.ErrorMessage = shareGroupErrorMessage(err)
				}
				resp.Groups = append(resp.Groups, g)
				continue
			}
			if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = allGroupOps
			}
			g.GroupState, g.GroupEpoch, g.AssignmentEpoch, g.Assignor = d.State, d.GroupEpoch, d.TargetEpoch, d.Assignor
			g.Members = []kmsg.ShareGroupDescribeResponseGroupMember{}
			for _, m := range d.Members {
				rm := kmsg.NewShareGroupDescribeResponseGroupMember()
				rm.MemberID, rm.RackID, rm.MemberEpoch = m.MemberID, m.RackID, m.MemberEpoch
				rm.ClientID, rm.ClientHost, rm.SubscribedTopicNames = m.ClientID, m.ClientHost, m.SubscribedTopics
				rm.Assignment = b.describeShareAssignment(m.Assignment)
				g.Members = append(g.Members, rm)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}

func (b *Broker) describeShareAssignment(a coordinator.Assignment) kmsg.ShareGroupDescribeResponseGroupMemberAssignment {
	out := kmsg.NewShareGroupDescribeResponseGroupMemberAssignment()
	out.TopicPartitions = []kmsg.ShareGroupDescribeResponseGroupMemberAssignmentTopicPartition{}
	for tid, ps := range a {
		tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
		tp.TopicID, tp.Partitions = tid, ps
		if t := b.topics.getID(tid); t != nil {
			tp.Topic = t.name
		}
		out.TopicPartitions = append(out.TopicPartitions, tp)
	}
	return out
}
