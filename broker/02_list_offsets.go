package broker

// ListOffsets, key 2, versions 0–11.
//
//   - v0: MaxNumOffsets and OldStyleOffsets (latest/earliest only, or the
//     offset for a timestamp).
//   - v1+: one offset and its timestamp per partition.
//   - v2+: isolation level (read_committed answers the last stable offset
//     for latest).
//   - The partition's leader answers; elsewhere NOT_LEADER_OR_FOLLOWER,
//     except for ReplicaID -2 (Kafka's debugging replica id), which any
//     replica answers.
//   - v4+: CurrentLeaderEpoch checked (FENCED_LEADER_EPOCH below the
//     partition's, UNKNOWN_LEADER_EPOCH above), before leadership, as
//     Kafka's Partition.getLocalLog; leader epoch in the response: the
//     current one for latest, else the epoch of the offset answered.
//   - v6+: flexible. v7+: -3 max timestamp (KIP-734). v8+: -4 earliest
//     local (the log start: there is no tiered storage). v9+: -5 latest
//     tiered (none: -1). v10+: timeout. v11: -6 earliest pending upload
//     (none: -1).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// debuggingReplicaID is Kafka's ListOffsetsRequest.DEBUGGING_REPLICA_ID:
// a request any replica answers, leader or not.
const debuggingReplicaID = -2

const (
	tsLatest              = -1
	tsEarliest            = -2
	tsMaxTimestamp        = -3
	tsEarliestLocal       = -4
	tsLatestTiered        = -5
	tsEarliestPendingUplo = -6
)

func (b *Broker) handleListOffsets(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.get(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			var p *partition
			if t != nil {
				p = t.partition(rp.Partition)
			}
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				current := rp.CurrentLeaderEpoch
				if r.Version < 4 {
					current = -1 // not in the request
				}
				lead, err := b.cluster.checkLeader(p, current)
				if err != nil && !(errors.Is(err, errNotLeader) && r.ReplicaID == debuggingReplicaID) {
					sp.ErrorCode = errorCode(err)
					break
				}
				ts, off, ok := b.offsetFor(p, rp.Timestamp, r.Version >= 2 && r.IsolationLevel == 1)
				if r.Version == 0 {
					if ok && rp.MaxNumOffsets > 0 {
						sp.OldStyleOffsets = []int64{off}
					} else {
						sp.OldStyleOffsets = []int64{}
					}
					break
				}
				sp.Timestamp, sp.Offset = ts, off
				switch {
				case !ok || off < 0:
				case rp.Timestamp == tsLatest:
					sp.LeaderEpoch = lead.epoch
				default:
					// As Kafka: the epoch of the offset answered (its
					// batch's), not the current one.
					sp.LeaderEpoch = p.epochAt(off)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

// offsetFor resolves one ListOffsets timestamp to (timestamp, offset). ok is
// false when nothing matches (then Kafka answers -1, -1).
//
// A record found by timestamp or as the max timestamp (KIP-734) is the
// record itself, not its batch (see log.OffsetForTimestamp and
// log.MaxTimestamp). As in Kafka (Partition.fetchOffsetForTimestamp and
// ReplicaManager.fetchOffset), it is answered only if it lies below the last
// fetchable offset: the high watermark, or the last stable offset for
// read_committed; otherwise the answer is -1, -1 with no error.
func (b *Broker) offsetFor(p *partition, ts int64, readCommitted bool) (int64, int64, bool) {
	fetchable := p.highWatermark
	if readCommitted {
		fetchable = p.lastStableOffset
	}
	switch ts {
	case tsLatest:
		return -1, fetchable(), true
	case tsEarliest, tsEarliestLocal:
		return -1, p.logStartOffset(), true
	case tsMaxTimestamp:
		mts, off := p.maxTimestamp()
		if off < 0 || off >= fetchable() {
			return -1, -1, false
		}
		return mts, off, true
	case tsLatestTiered, tsEarliestPendingUplo:
		return -1, -1, false
	}
	if ts < 0 {
		return -1, -1, false
	}
	off, foundTs, ok := p.offsetForTimestamp(ts)
	if !ok || off >= fetchable() {
		return -1, -1, false
	}
	return foundTs, off, true
}
