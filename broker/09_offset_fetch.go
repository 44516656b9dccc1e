package broker

// OffsetFetch, key 9, versions 0–10.
//
//   - v0–v7: one group; v2+: null topics means every committed offset, and
//     a top-level error code. v5+: leader epochs. v6+: flexible.
//   - v7+: RequireStable: a partition with transactional offsets pending
//     (TxnOffsetCommit of an open transaction) gets UNSTABLE_OFFSET_COMMIT
//     and offset -1, and the client retries (KIP-447).
//   - v8+: several groups per request. v9+: member id and epoch (checked
//     only for KIP-848 groups, which are not served: ignored).
//   - v10: topics by id; offsets of topics that no longer exist are left
//     out of "all topics" answers.
//   - A partition without a committed offset gets offset -1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleOffsetFetch(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if r.Version < 8 {
			var parts []coordinator.TopicPartition
			if r.Topics != nil || r.Version < 2 {
				parts = []coordinator.TopicPartition{}
				for _, t := range r.Topics {
					for _, p := range t.Partitions {
						parts = append(parts, coordinator.TopicPartition{Topic: t.Topic, Partition: p})
					}
				}
			}
			offs, err := b.groups.FetchOffsets(r.Group, parts)
			code := groupErrorCode(err)
			if r.Version >= 2 {
				resp.ErrorCode = code
			}
			if err != nil {
				// Per partition too: v0–v1 have no top-level error.
				offs = unknownOffsets(parts)
			}
			for _, o := range offs {
				if len(resp.Topics) == 0 || resp.Topics[len(resp.Topics)-1].Topic != o.Topic {
					rt := kmsg.NewOffsetFetchResponseTopic()
					rt.Topic = o.Topic
					resp.Topics = append(resp.Topics, rt)
				}
				rt := &resp.Topics[len(resp.Topics)-1]
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, o.LeaderEpoch
				meta := o.Metadata
				rp.Metadata = &meta
				rp.ErrorCode = code
				if code == 0 && r.Version >= 7 && r.RequireStable && b.groups.HasPendingTxnOffsets(r.Group, coordinator.TopicPartition{Topic: o.Topic, Partition: o.Partition}) {
					rp.ErrorCode, rp.Offset, rp.LeaderEpoch = kerr.UnstableOffsetCommit.Code, -1, -1
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			return resp
		}
		for _, rg := range r.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			var parts []coordinator.TopicPartition
			var missing []int // topics (v10) whose id is unknown
			if rg.Topics != nil {
				parts = []coordinator.TopicPartition{}
				for i, t := range rg.Topics {
					name := t.Topic
					if r.Version >= 10 {
						tt := b.topics.getID(t.TopicID)
						if tt == nil {
							missing = append(missing, i)
							continue
						}
						name = tt.name
					}
					for _, p := range t.Partitions {
						parts = append(parts, coordinator.TopicPartition{Topic: name, Partition: p})
					}
				}
			}
			var member *string
			if r.Version >= 9 && rg.MemberID != nil {
				member = rg.MemberID
			}
			offs, err := b.groups.FetchOffsetsAsMember(rg.Group, member, rg.MemberEpoch, parts)
			g.ErrorCode = groupErrorCode(err)
			if err == nil {
				for _, o := range offs {
					var id [16]byte
					if r.Version >= 10 {
						t := b.topics.get(o.Topic)
						if t == nil {
							continue
						}
						id = t.id
					}
					if len(g.Topics) == 0 || g.Topics[len(g.Topics)-1].Topic != o.Topic {
						rt := kmsg.NewOffsetFetchResponseGroupTopic()
						rt.Topic, rt.TopicID = o.Topic, id
						g.Topics = append(g.Topics, rt)
					}
					rt := &g.Topics[len(g.Topics)-1]
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, o.LeaderEpoch
					meta := o.Metadata
					rp.Metadata = &meta
					if r.RequireStable && b.groups.HasPendingTxnOffsets(rg.Group, coordinator.TopicPartition{Topic: o.Topic, Partition: o.Partition}) {
						rp.ErrorCode, rp.Offset, rp.LeaderEpoch = kerr.UnstableOffsetCommit.Code, -1, -1
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				for _, i := range missing {
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.TopicID = rg.Topics[i].TopicID
					for _, p := range rg.Topics[i].Partitions {
						rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
						rp.ErrorCode = kerr.UnknownTopicID.Code
						rt.Partitions = append(rt.Partitions, rp)
					}
					g.Topics = append(g.Topics, rt)
				}
			}
			if r.Version >= 10 {
				for i := range g.Topics {
					g.Topics[i].Topic = ""
				}
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}

func unknownOffsets(parts []coordinator.TopicPartition) []coordinator.CommittedOffset {
	out := make([]coordinator.CommittedOffset, 0, len(parts))
	for _, tp := range parts {
		out = append(out, coordinator.CommittedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1})
	}
	return out
}
