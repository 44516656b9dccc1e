package broker

// DescribeShareGroupOffsets, key 90, versions 0–1 (KIP-932).
//
//   - Per group and partition: the share-partition start offset (SPSO) and
//     the leader epoch of its state, read from the share coordinator
//     (share.Persister.ReadSummary). A partition with no state, or of a
//     topic that does not exist, has start offset -1, leader epoch 0 and no
//     error, as Kafka answers (OffsetFetch's "no offset").
//   - Topics null: every partition the group initialized; none (no error)
//     for a group that does not exist or is of another type.
//   - v1: Lag (KIP-1226): the partition's high watermark − SPSO − the
//     records at or after the SPSO already acknowledged; -1 when unknown
//     (no state, or the share coordinator does not know the count).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeShareGroupOffsets(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeShareGroupOffsetsRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
		for _, rg := range r.Groups {
			g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
			g.GroupID = rg.GroupID
			g.Topics = []kmsg.DescribeShareGroupOffsetsResponseGroupTopic{}
			if b.persister() == nil {
				g.ErrorCode, g.ErrorMessage = shareGroupErrorCode(errNoSharePersister), shareGroupErrorMessage(errNoSharePersister)
				resp.Groups = append(resp.Groups, g)
				continue
			}
			if rg.Topics != nil && len(rg.Topics) == 0 {
				resp.Groups = append(resp.Groups, g)
				continue
			}
			var topics []coordinator.ShareOffsetsTopic
			if rg.Topics != nil {
				topics = []coordinator.ShareOffsetsTopic{}
				for _, t := range rg.Topics {
					ps := t.Partitions
					if ps == nil {
						ps = []int32{}
					}
					topics = append(topics, coordinator.ShareOffsetsTopic{Topic: t.Topic, Partitions: ps})
				}
			}
			offs, err := b.groups.DescribeShareGroupOffsets(rg.GroupID, topics)
			if err != nil {
				g.ErrorCode = shareGroupErrorCode(err)
				g.ErrorMessage = shareGroupErrorMessage(err)
				resp.Groups = append(resp.Groups, g)
				continue
			}
			byTopic := map[string]int{}
			for _, o := range offs {
				i, ok := byTopic[o.Topic]
				if !ok {
					t := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
					t.Topic, t.TopicID = o.Topic, o.TopicID
					t.Partitions = []kmsg.DescribeShareGroupOffsetsResponseGroupTopicPartition{}
					g.Topics = append(g.Topics, t)
					i = len(g.Topics) - 1
					byTopic[o.Topic] = i
				}
				p := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				p.Partition, p.StartOffset, p.LeaderEpoch, p.Lag = o.Partition, o.StartOffset, o.LeaderEpoch, -1
				if o.Err != nil {
					p.ErrorCode = shareGroupErrorCode(o.Err)
					p.ErrorMessage = shareGroupErrorMessage(o.Err)
				} else if r.Version >= 1 {
					p.Lag = b.shareLag(o)
				}
				g.Topics[i].Partitions = append(g.Topics[i].Partitions, p)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}

// shareLag is KIP-1226's lag of a share-partition: the records between the
// start offset and the high watermark not yet acknowledged; -1 if unknown.
func (b *Broker) shareLag(o coordinator.ShareOffset) int64 {
	if o.StartOffset < 0 || o.DeliveryCompleteCount < 0 {
		return -1
	}
	t := b.topics.get(o.Topic)
	if t == nil {
		return -1
	}
	p := t.partition(o.Partition)
	if p == nil {
		return -1
	}
	// Not clamped: Kafka 4.4 answers a start offset past the high
	// watermark (set by AlterShareGroupOffsets) with a negative lag.
	return p.highWatermark() - o.StartOffset - int64(o.DeliveryCompleteCount)
}
