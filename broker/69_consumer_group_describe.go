package broker

// ConsumerGroupDescribe, key 69, versions 0–1 (KIP-848).
//
//   - Groups that do not exist get GROUP_ID_NOT_FOUND; classic groups too
//     ("not a consumer group"), as Kafka answers.
//   - v1+: MemberType (1: consumer protocol member; 0: a classic protocol
//     member of a consumer group, after an online upgrade).
//

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleConsumerGroupDescribe(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ConsumerGroupDescribeRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
		for _, id := range r.Groups {
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group = id
			g.AuthorizedOperations = opsNotAsked
			if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = allGroupOps
			}
			d, err := b.groups.DescribeConsumerGroup(id)
			if err != nil {
				g.ErrorCode = groupErrorCode(err)
				if errors.Is(err, coordinator.ErrNotConsumerGroup) {
					g.ErrorCode = kerr.GroupIDNotFound.Code
				}
				msg := err.Error()
				g.ErrorMessage = &msg
				resp.Groups = append(resp.Groups, g)
				continue
			}
			g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.GroupEpoch, d.TargetEpoch, d.Assignor
			for _, m := range d.Members {
				rm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				rm.MemberID, rm.InstanceID, rm.RackID, rm.MemberEpoch = m.MemberID, m.InstanceID, m.RackID, m.MemberEpoch
				rm.ClientID, rm.ClientHost, rm.SubscribedTopics = m.ClientID, m.ClientHost, m.SubscribedTopics
				if rm.SubscribedTopics == nil {
					rm.SubscribedTopics = []string{}
				}
				if m.SubscribedRegex != "" {
					re := m.SubscribedRegex
					rm.SubscribedTopicRegex = &re
				}
				rm.Assignment = b.describeAssignment(m.Assignment)
				rm.TargetAssignment = b.describeAssignment(m.Target)
				rm.MemberType = 1 // consumer protocol
				if m.Classic {
					rm.MemberType = 0 // a classic member of a consumer group (migration)
				}
				g.Members = append(g.Members, rm)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}

func (b *Broker) describeAssignment(a coordinator.Assignment) kmsg.Assignment {
	out := kmsg.NewAssignment()
	out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for tid, ps := range a {
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Partitions = tid, ps
		if t := b.topics.getID(tid); t != nil {
			tp.Topic = t.name
		}
		out.TopicPartitions = append(out.TopicPartitions, tp)
	}
	return out
}
