package broker

// InitializeShareGroupState, key 83, version 0 (inter-broker: the group
// coordinator initializing a share-partition's state, KIP-932).
//
//   - Answered by the share coordinator of each key (the leader of its
//     __share_group_state partition); other nodes answer NOT_COORDINATOR.
//   - A new snapshot at the given state epoch and start offset, without
//     batches; an older state epoch than stored gets FENCED_STATE_EPOCH.
//   - An empty group id gets an empty response, as Kafka's.
//   - Authorization: CLUSTER_ACTION on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleInitializeShareGroupState(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.InitializeShareGroupStateRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.InitializeShareGroupStateResponse)
		if r.GroupID == "" {
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewInitializeShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				k := share.Key{Group: r.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				if rp.ErrorCode, rp.ErrorMessage = b.shareKeyCheck(k, true); rp.ErrorCode == 0 {
					err := b.shareState.initialize(ctx, k, p.StateEpoch, p.StartOffset)
					rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err, true)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
