package broker

// DescribeProducers, key 61, version 0: each partition's active producers
// (id, epoch, last sequence and timestamp, and the first offset of the
// producer's ongoing transaction, -1 if none). The coordinator epoch is
// always 0 (one node). A partition this node does not lead answers
// NOT_LEADER_OR_FOLLOWER (Kafka's ReplicaManager.activeProducerState asks the
// local leader's log).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleDescribeProducers(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.get(rt.Topic)
		for _, part := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = part
			var p *partition
			if t != nil {
				p = t.partition(part)
			}
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if _, err := b.cluster.checkLeader(p, -1); err != nil {
				sp.ErrorCode = errorCode(err)
				sp.ErrorMessage = errMessage(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p.appendMu.Lock()
			for _, ps := range p.producers.Snapshot() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp = ps.ProducerID, int32(ps.Epoch), ps.LastSequence, ps.LastTimestamp
				ap.CurrentTxnStartOffset, ap.CoordinatorEpoch = -1, ps.CoordinatorEpoch
				if off, ok := p.txns.Ongoing(ps.ProducerID); ok {
					ap.CurrentTxnStartOffset = off
				}
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			p.appendMu.Unlock()
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
