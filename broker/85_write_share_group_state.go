package broker

// WriteShareGroupState, key 85, versions 0-1 (inter-broker: a
// share-partition leader persisting acknowledgements and its start offset,
// KIP-932).
//
//   - Answered by the share coordinator of each key; other nodes answer
//     NOT_COORDINATOR.
//   - The batches are merged into the state (a ShareUpdate, or a
//     ShareSnapshot every share.coordinator.snapshot.update.records.per.snapshot
//     updates) and the record is durable (replicated, in a cluster) before
//     the answer. A key without state gets INVALID_REQUEST; older leader or
//     state epochs FENCED_LEADER_EPOCH / FENCED_STATE_EPOCH.
//   - v1 (KIP-1226) carries DeliveryCompleteCount; with v0, or -1, the
//     coordinator computes it from the merged batches.
//   - An empty group id gets an empty response, as Kafka's.
//   - Authorization: CLUSTER_ACTION on the cluster (authorize.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleWriteShareGroupState(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.WriteShareGroupStateRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
		if r.GroupID == "" {
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewWriteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				k := share.Key{Group: r.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				if rp.ErrorCode, rp.ErrorMessage = b.shareKeyCheck(k, true); rp.ErrorCode == 0 {
					batches := make([]share.StateBatch, 0, len(p.StateBatches))
					for _, sb := range p.StateBatches {
						batches = append(batches, share.StateBatch{FirstOffset: sb.FirstOffset, LastOffset: sb.LastOffset,
							DeliveryState: sb.DeliveryState, DeliveryCount: sb.DeliveryCount})
					}
					dcc := int32(-1)
					if r.Version >= 1 {
						dcc = p.DeliveryCompleteCount
					}
					err := b.shareState.write(ctx, k, p.StateEpoch, p.LeaderEpoch, p.StartOffset, dcc, batches)
					rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err, true)
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
