package broker

// OffsetForLeaderEpoch, key 23, versions 0–4.
//
//   - Every version: per partition, the end offset of the requested leader
//     epoch, as Kafka's LeaderEpochFileCache.endOffsetFor answers it. Moldau
//     has one epoch, 0 (leaderEpoch), begun at the log start: for epoch 0 the
//     answer is the log end offset; for a later epoch, or -1, it is undefined
//     (epoch -1, offset -1, no error); for an epoch below -1 (below every
//     known epoch) it is that epoch and the log start offset.
//   - v1+: the response carries the leader epoch of the answer.
//   - v2+: CurrentLeaderEpoch is checked (FENCED_LEADER_EPOCH below ours,
//     UNKNOWN_LEADER_EPOCH above; -1 skips the check).
//   - v3+: ReplicaID (-1 for consumers); the answer is the same for
//     followers. v4: flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// undefinedEpoch is Kafka's UNDEFINED_EPOCH (and UNDEFINED_EPOCH_OFFSET).
const undefinedEpoch = -1

func (b *Broker) handleOffsetForLeaderEpoch(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.get(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			current := rp.CurrentLeaderEpoch
			if r.Version < 2 {
				current = -1 // not in the request
			}
			var p *partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case current >= 0 && current > leaderEpoch:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			case current >= 0 && current < leaderEpoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			default:
				sp.LeaderEpoch, sp.EndOffset = epochEndOffset(rp.LeaderEpoch, p.log.LogStartOffset(), p.log.EndOffset())
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

// epochEndOffset is Kafka's LeaderEpochFileCache.endOffsetFor over Moldau's
// epoch cache, which holds the one entry (leaderEpoch, logStart): a leader
// caches its epoch when elected, and truncating the log from the start moves
// the entry up to the new log start.
func epochEndOffset(requested int32, logStart, logEnd int64) (int32, int64) {
	switch {
	case requested == undefinedEpoch:
		return undefinedEpoch, undefinedEpoch
	case requested == leaderEpoch: // the latest epoch: still being written
		return leaderEpoch, logEnd
	case requested > leaderEpoch: // later than any known epoch
		return undefinedEpoch, undefinedEpoch
	default: // below every known epoch: the start of the first known one
		return requested, logStart
	}
}
