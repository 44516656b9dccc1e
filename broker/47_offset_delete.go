package broker

// OffsetDelete, key 47, version 0.
//
//   - Deletes committed offsets of a group, durably. A group that is not
//     Empty may only lose offsets of topics it does not subscribe to
//     (GROUP_SUBSCRIBED_TO_TOPIC per partition); a non-consumer group that
//     is not Empty gets NON_EMPTY_GROUP. Unknown topics get
//     UNKNOWN_TOPIC_OR_PARTITION.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleOffsetDelete(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.OffsetDeleteRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		type slot struct{ t, p int }
		var parts []coordinator.TopicPartition
		var slots []slot
		for i, rt := range r.Topics {
			st := kmsg.NewOffsetDeleteResponseTopic()
			st.Topic = rt.Topic
			t := b.topics.get(rt.Topic)
			for j, rp := range rt.Partitions {
				sp := kmsg.NewOffsetDeleteResponseTopicPartition()
				sp.Partition = rp.Partition
				if t == nil || t.partition(rp.Partition) == nil {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else {
					parts = append(parts, coordinator.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
					slots = append(slots, slot{i, j})
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		errs, err := b.groups.DeleteOffsets(r.Group, parts)
		if err != nil {
			resp.ErrorCode = groupErrorCode(err)
			resp.Topics = nil
			return resp
		}
		for k, s := range slots {
			resp.Topics[s.t].Partitions[s.p].ErrorCode = groupErrorCode(errs[k])
		}
		return resp
	}}
}
