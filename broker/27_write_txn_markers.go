package broker

// WriteTxnMarkers, key 27, versions 0–2.
//
// The transaction coordinator sends it to partition leaders (cluster mode:
// interbroker.go, for the partitions this node leads; on a single node the
// coordinator writes its markers in-process), and administrators use it:
// Admin abortTransaction (kafka-transactions.sh abort) aborts a hanging
// transaction by writing an abort marker to its partition. A marker older
// than the producer's epoch on the partition gets INVALID_PRODUCER_EPOCH;
// a partition this node does not lead, NOT_LEADER_OR_FOLLOWER; markers are
// durable before the answer. In cluster mode a marker for a
// __consumer_offsets partition this node leads completes the producer's
// pending transactional offsets of the group coordinator (committed or
// dropped), as the coordinator does in-process for its own node; other
// internal topics get INVALID_TOPIC_EXCEPTION. v1+: flexible; v2: the
// transaction version (ignored: markers are the same).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleWriteTxnMarkers(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.WriteTxnMarkersRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		now := b.now().UnixMilli()
		var toSync []*partition
		for _, m := range r.Markers {
			rm := kmsg.NewWriteTxnMarkersResponseMarker()
			rm.ProducerID = m.ProducerID
			for _, mt := range m.Topics {
				rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
				rt.Topic = mt.Topic
				t := b.topics.get(mt.Topic)
				for _, part := range mt.Partitions {
					rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
					rp.Partition = part
					var p *partition
					if t != nil {
						p = t.partition(part)
					}
					switch {
					case p == nil:
						rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					case t.name == offsetsTopic && b.raft != nil:
						if !p.lead.Load().local {
							rp.ErrorCode = kerr.NotLeaderForPartition.Code
						} else if err := b.groups.CompleteTxnOffsets(part, m.ProducerID, m.Committed); err != nil {
							rp.ErrorCode = groupErrorCode(err)
						}
					case isInternalTopic(t.name) || t.name == txnStateTopic:
						rp.ErrorCode = kerr.InvalidTopicException.Code
					default:
						if b.inter != nil {
							b.inter.guards.markerWriting(p, m.ProducerID)
						}
						if _, err := p.writeMarkerChecked(m.ProducerID, m.ProducerEpoch, m.Committed, now, true); err != nil {
							rp.ErrorCode = errorCode(err)
						} else {
							toSync = append(toSync, p)
						}
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			resp.Markers = append(resp.Markers, rm)
		}
		if len(toSync) > 0 && !b.cfg.Memory {
			if errs := b.syncPartitions(toSync); errs != nil {
				for i := range resp.Markers {
					for j := range resp.Markers[i].Topics {
						rt := &resp.Markers[i].Topics[j]
						for k := range rt.Partitions {
							rp := &rt.Partitions[k]
							t := b.topics.get(rt.Topic)
							if t != nil && rp.ErrorCode == 0 && errs[partKey{t.name, t.id, rp.Partition}] != nil {
								rp.ErrorCode = kerr.KafkaStorageError.Code
							}
						}
					}
				}
			}
		}
		return resp
	}}
}
