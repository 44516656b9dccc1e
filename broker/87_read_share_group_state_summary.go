package broker

// ReadShareGroupStateSummary, key 87, versions 0-1 (inter-broker: the
// group coordinator describing share-group offsets, KIP-932).
//
//   - Answered by the share coordinator of each key; other nodes answer
//     NOT_COORDINATOR, a node that cannot prove its leadership too.
//   - State epoch, leader epoch and start offset; a key without state is
//     answered as Kafka does: start offset -1, leader epoch -1, state
//     epoch 0, no error. The request's leader epoch is not checked.
//   - v1 (KIP-1226) adds DeliveryCompleteCount (-1: unknown).
//   - An empty group id gets an empty response, as Kafka's.
//   - Authorization: CLUSTER_ACTION on the cluster (authorize.go).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleReadShareGroupStateSummary(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ReadShareGroupStateSummaryRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ReadShareGroupStateSummaryResponse)
		if r.GroupID == "" {
			return resp
		}
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateSummaryResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateSummaryResponseTopicPartition()
				rp.Partition = p.Partition
				k := share.Key{Group: r.GroupID, TopicID: t.TopicID, Partition: p.Partition}
				if rp.ErrorCode, rp.ErrorMessage = b.shareKeyCheck(k, true); rp.ErrorCode == 0 {
					st, err := b.shareState.readSummary(ctx, k)
					if errors.Is(err, share.ErrUninitialized) {
						st, err = share.State{StateEpoch: 0, LeaderEpoch: -1, StartOffset: -1, DeliveryCompleteCount: -1}, nil
					}
					if rp.ErrorCode, rp.ErrorMessage = shareErrorCode(err, false); rp.ErrorCode == 0 {
						rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset, rp.DeliveryCompleteCount = st.StateEpoch, st.LeaderEpoch, st.StartOffset, st.DeliveryCompleteCount
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
