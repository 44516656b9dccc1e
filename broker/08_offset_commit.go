package broker

// OffsetCommit, key 8, versions 0–10.
//
//   - v0: no generation or member (a simple commit). v1: member and
//     generation; a per-partition timestamp (ignored: the commit time is
//     the broker's). v2–v4: RetentionTimeMillis, stored as Kafka does as an
//     expire timestamp (OffsetCommitValue v1). v5+: no retention.
//   - v6+: leader epoch. v7+: group.instance.id. v8+: flexible.
//   - v9+: a commit with a generation to a group that does not exist gets
//     GROUP_ID_NOT_FOUND; before v9, ILLEGAL_GENERATION (as Kafka).
//   - v10: topics by id; unknown ids get UNKNOWN_TOPIC_ID.
//   - Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION; the
//     response is sent once the offsets are durable.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleOffsetCommit(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.OffsetCommitRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		cr := coordinator.CommitRequest{Group: r.Group, Generation: -1}
		if r.Version >= 1 {
			cr.Generation, cr.MemberID = r.Generation, r.MemberID
		}
		if r.Version >= 7 {
			cr.InstanceID = r.InstanceID
		}
		expire := int64(-1)
		if r.Version >= 2 && r.Version <= 4 && r.RetentionTimeMillis >= 0 {
			expire = b.now().UnixMilli() + r.RetentionTimeMillis
		}
		// Resolve topics, collecting the partitions to commit; slot
		// maps each committed offset back to its response partition.
		type slot struct{ t, p int }
		var slots []slot
		resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(r.Topics))
		for i, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			var t *topic
			if r.Version >= 10 {
				if t = b.topics.getID(rt.TopicID); t != nil {
					st.Topic = t.name
				}
			} else {
				t = b.topics.get(rt.Topic)
			}
			for j, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				switch {
				case t == nil && r.Version >= 10:
					sp.ErrorCode = kerr.UnknownTopicID.Code
				case t == nil || t.partition(rp.Partition) == nil:
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				default:
					epoch := int32(-1)
					if r.Version >= 6 {
						epoch = rp.LeaderEpoch
					}
					cr.Offsets = append(cr.Offsets, coordinator.OffsetCommit{Topic: t.name, Partition: rp.Partition,
						Offset: rp.Offset, LeaderEpoch: epoch, Metadata: nullableString(rp.Metadata), ExpireTimestamp: expire})
					slots = append(slots, slot{i, j})
				}
				st.Partitions = append(st.Partitions, sp)
			}
			if r.Version >= 10 {
				st.Topic = ""
			}
			resp.Topics[i] = st
		}
		if len(cr.Offsets) == 0 {
			return resp
		}
		if err := b.ensureOffsetsTopic(); err != nil {
			for _, s := range slots {
				resp.Topics[s.t].Partitions[s.p].ErrorCode = groupErrorCode(err)
			}
			return resp
		}
		errs := b.groups.CommitOffsets(cr)
		for k, s := range slots {
			err := errs[k]
			code := groupErrorCode(err)
			if errors.Is(err, coordinator.ErrGroupIDNotFound) && r.Version < 9 {
				code = kerr.IllegalGeneration.Code
			}
			if errors.Is(err, coordinator.ErrStaleMemberEpoch) && r.Version < 9 {
				code = kerr.IllegalGeneration.Code // before KIP-848's errors
			}
			resp.Topics[s.t].Partitions[s.p].ErrorCode = code
		}
		return resp
	}}
}
