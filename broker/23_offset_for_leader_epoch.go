package broker

// OffsetForLeaderEpoch, key 23, versions 0–4.
//
//   - Every version: per partition, the end offset of the requested leader
//     epoch from the partition log's leader-epoch cache
//     (log.EndOffsetForEpoch, which follows Kafka's
//     LeaderEpochFileCache.endOffsetFor: the latest epoch gives the log end
//     offset; a later epoch, or -1, gives epoch -1 and offset -1 with no
//     error; an epoch below every cached one gives that epoch and the
//     earliest entry's start offset, at least the log start). The leader's
//     epoch is in the cache from the partition's opening (AssignEpoch), so
//     an empty partition answers as Kafka's does.
//   - v1+: the response carries the leader epoch of the answer.
//   - v2+: CurrentLeaderEpoch is checked (FENCED_LEADER_EPOCH below ours,
//     UNKNOWN_LEADER_EPOCH above; -1 skips the check), before leadership,
//     as Kafka's Partition.getLocalLog.
//   - Only the partition's leader answers (Kafka's fetchOnlyFromLeader),
//     for consumers and followers alike: elsewhere NOT_LEADER_OR_FOLLOWER.
//   - v3+: ReplicaID (-1 for consumers); the answer is the same for
//     followers. v4: flexible.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

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
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if _, err := b.cluster.checkLeader(p, current); err != nil {
				sp.ErrorCode = errorCode(err)
			} else {
				sp.LeaderEpoch, sp.EndOffset = p.endOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
