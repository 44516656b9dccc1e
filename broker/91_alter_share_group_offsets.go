package broker

// AlterShareGroupOffsets, key 91, version 0 (KIP-932).
//
//   - Only an empty share group: a group of another type gets
//     GROUP_ID_NOT_FOUND, a non-empty one NON_EMPTY_GROUP, as top-level
//     errors (Kafka's getErrorResponse: no topics). A group that does not
//     exist is created (Empty, epoch 1), as Kafka 4.4 does, if at least one
//     partition is valid.
//   - Per partition: UNKNOWN_TOPIC_OR_PARTITION for a topic or partition
//     that does not exist; otherwise the share-partition state is
//     initialized at the requested start offset (the group epoch as state
//     epoch) through the share coordinator, and recorded as initialized in
//     ShareGroupStatePartitionMetadata.
//   - No share coordinator: COORDINATOR_NOT_AVAILABLE (retriable).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterShareGroupOffsets(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterShareGroupOffsetsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
		fail := func(err error) kmsg.Response {
			resp.ErrorCode, resp.ErrorMessage = shareGroupErrorCode(err), shareGroupErrorMessage(err)
			resp.Topics = nil
			return resp
		}
		if b.persister() == nil {
			return fail(errNoSharePersister)
		}
		offsets := map[string]map[int32]int64{}
		for _, t := range r.Topics {
			if offsets[t.Topic] == nil {
				offsets[t.Topic] = map[int32]int64{}
			}
			for _, p := range t.Partitions {
				offsets[t.Topic][p.Partition] = p.StartOffset
			}
		}
		res, err := b.groups.AlterShareGroupOffsets(r.GroupID, offsets)
		if err != nil {
			return fail(err)
		}
		byTopic := map[string]int{}
		for _, o := range res {
			i, ok := byTopic[o.Topic]
			if !ok {
				t := kmsg.NewAlterShareGroupOffsetsResponseTopic()
				t.Topic, t.TopicID = o.Topic, o.TopicID
				resp.Topics = append(resp.Topics, t)
				i = len(resp.Topics) - 1
				byTopic[o.Topic] = i
			}
			p := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			p.Partition = o.Partition
			if o.Err != nil {
				p.ErrorCode, p.ErrorMessage = shareGroupErrorCode(o.Err), shareGroupErrorMessage(o.Err)
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
		}
		return resp
	}}
}
