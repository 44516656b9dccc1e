package broker

// WriteTxnMarkers, key 27, versions 0–2.
//
// Kafka's coordinator sends it to partition leaders; Moldau's coordinator
// writes its markers in-process, so this serves administrators: Admin
// abortTransaction (kafka-transactions.sh abort) aborts a hanging
// transaction by writing an abort marker to its partition. A marker older
// than the producer's epoch on the partition gets INVALID_PRODUCER_EPOCH;
// markers are durable before the answer. v1+: flexible; v2: the
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
					case isInternalTopic(t.name) || t.name == txnStateTopic:
						rp.ErrorCode = kerr.InvalidTopicException.Code
					default:
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
