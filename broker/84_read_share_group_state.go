package broker

// ReadShareGroupState, key 84, version 0 (inter-broker: a share-partition
// leader loading its state, KIP-932).
//
//   - Answered by the share coordinator of each key; other nodes answer
//     NOT_COORDINATOR, a node that cannot prove its leadership too.
//   - The state epoch, start offset and batches. A key without state gets
//     INVALID_REQUEST (Kafka's "Read operation on uninitialized share
//     partition"); a leader epoch older than the highest seen
//     FENCED_LEADER_EPOCH; a newer one is recorded (a ShareUpdate) before
//     the answer.
//   - An empty group id gets an empty response, as Kafka's.
//   - Authorization: CLUSTER_ACTION on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleReadShareGroupState(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ReadShareGroupStateRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ReadShareGroupStateResponse)
		if r.GroupID == "" {
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				k := share.Key{Group: r.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				if rp.ErrorCode, rp.ErrorMessage = b.shareKeyCheck(k, true); rp.ErrorCode == 0 {
					st, err := b.shareState.read(ctx, k, p.LeaderEpoch)
					if rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err, false); rp.ErrorCode == 0 {
						rp.StateEpoch, rp.StartOffset = st.StateEpoch, st.StartOffset
						rp.StateBatches = make([]kmsg.ReadShareGroupStateResponseTopicPartitionStateBatch, 0, len(st.Batches))
						for _, sb := range st.Batches {
							b := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
							b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount = sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount
							rp.StateBatches = append(rp.StateBatches, b)
						}
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
