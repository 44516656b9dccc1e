package broker

// DeleteShareGroupState, key 86, version 0 (inter-broker: the group
// coordinator deleting a share-partition's state on DeleteShareGroupOffsets
// or group deletion, KIP-932).
//
//   - Answered by the share coordinator of each key; other nodes answer
//     NOT_COORDINATOR.
//   - A tombstone (ShareSnapshotKey, null value), durable before the
//     answer; a key without state is answered without error, nothing
//     written, as Kafka's. The topic need not exist any more.
//   - An empty group id gets an empty response, as Kafka's.
//   - Authorization: CLUSTER_ACTION on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDeleteShareGroupState(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DeleteShareGroupStateRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
		if r.GroupID == "" {
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewDeleteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				k := share.Key{Group: r.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				if rp.ErrorCode, rp.ErrorMessage = b.shareKeyCheck(k, false); rp.ErrorCode == 0 {
					rp.ErrorCode, rp.ErrorMessage = shareErrorCode(b.shareState.remove(ctx, k), true)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
