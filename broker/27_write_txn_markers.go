package broker

// WriteTxnMarkers, key 27, versions 0–2.
//
// The transaction coordinator sends it to partition leaders (cluster mode:
// interbroker.go, for the partitions this node leads; on a single node the
// coordinator writes its markers in-process), and administrators use it:
// Admin abortTransaction (kafka-transactions.sh abort) aborts a hanging
// transaction by writing an abort marker to its partition. Each marker
// carries the coordinator epoch (the leader epoch of the coordinator's
// __transaction_state partition), written into the control record and
// kept per producer in the partition's producer state: a marker from an
// older coordinator epoch than the producer's last one gets
// TRANSACTION_COORDINATOR_FENCED (a former coordinator retrying after a
// failover), as in Kafka; a marker older than the producer's epoch on the
// partition gets INVALID_PRODUCER_EPOCH; a partition this node does not
// lead, NOT_LEADER_OR_FOLLOWER; markers are durable before the answer. A
// marker on a __consumer_offsets partition is written the same way, and
// then completes the producer's pending transactional offsets in the
// group coordinator (committed or dropped); __transaction_state gets
// INVALID_TOPIC_EXCEPTION. v1+: flexible; v2: the transaction version
// (ignored: markers are the same).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleWriteTxnMarkers(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.WriteTxnMarkersRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
		now := b.now().UnixMilli()
		var toSync []*partition
		// written: the markers appended, whose __consumer_offsets ones
		// complete the group offsets once durable.
		type markerWritten struct {
			p      *partition
			pid    int64
			commit bool
		}
		var written []markerWritten
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
					case t.name == txnStateTopic:
						rp.ErrorCode = kerr.InvalidTopicException.Code
					default:
						if b.inter != nil {
							b.inter.guards.markerWriting(p, m.ProducerID)
						}
						_, err := p.writeMarkerChecked(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, now, true)
						switch {
						case errors.Is(err, txn.ErrTransactionCoordinatorFenced):
							rp.ErrorCode = kerr.TransactionCoordinatorFenced.Code
						case err != nil:
							rp.ErrorCode = errorCode(err)
						default:
							toSync = append(toSync, p)
							written = append(written, markerWritten{p, m.ProducerID, m.Committed})
						}
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				rm.Topics = append(rm.Topics, rt)
			}
			resp.Markers = append(resp.Markers, rm)
		}
		var failed map[partKey]error
		if len(toSync) > 0 && !b.cfg.Memory {
			if errs := b.syncPartitions(toSync); errs != nil {
				failed = errs
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
		for _, w := range written {
			if failed[partKey{w.p.topic.name, w.p.topic.id, w.p.index}] == nil {
				b.completeGroupOffsets(w.p, w.pid, w.commit)
			}
		}
		return resp
	}}
}
