package broker

// TxnOffsetCommit, key 28, versions 0–5.
//
// The transaction must be ongoing and include the group's __consumer_offsets
// partition (AddOffsetsToTxn; KIP-890 part 1 style verification), else
// INVALID_TXN_STATE (or PRODUCER_FENCED / INVALID_PRODUCER_EPOCH for a stale
// epoch). The offsets are validated as an OffsetCommit's and held pending in
// the group coordinator until the transaction's marker: visible only on
// commit. v2+: leader epoch; v3+: flexible, generation, member id and
// instance id (checked as OffsetCommit does, KIP-447); v4: the same; v5
// (transactions v2): the group's partition is added to the transaction
// implicitly.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

func (b *Broker) handleTxnOffsetCommit(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.TxnOffsetCommitRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		creq := coordinator.CommitRequest{Group: r.Group, MemberID: r.MemberID, InstanceID: r.InstanceID, Generation: -1}
		if r.Version >= 3 {
			creq.Generation = r.Generation
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				le := int32(-1)
				if r.Version >= 2 {
					le = p.LeaderEpoch
				}
				creq.Offsets = append(creq.Offsets, coordinator.OffsetCommit{Topic: t.Topic, Partition: p.Partition,
					Offset: p.Offset, LeaderEpoch: le, Metadata: nullableString(p.Metadata), ExpireTimestamp: -1})
			}
		}
		var codes []int16
		tp := txn.TopicPartition{Topic: offsetsTopic, Partition: b.groups.PartitionFor(r.Group)}
		var err error
		if r.Version >= 5 {
			// Transactions v2: the group's partition joins the
			// transaction here (there is no AddOffsetsToTxn).
			if err = b.ensureOffsetsTopic(); err == nil {
				err = b.txns.AddPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, []txn.TopicPartition{tp})
			}
		}
		if err == nil {
			err = b.txns.Verify(r.TransactionalID, r.ProducerID, r.ProducerEpoch, tp)
		}
		if err != nil {
			code := txnErrorCode(err, fencedSince(r.Version, 2))
			for range creq.Offsets {
				codes = append(codes, code)
			}
		} else {
			for _, err := range b.groups.TxnCommitOffsets(creq, r.ProducerID) {
				codes = append(codes, groupErrorCode(err))
			}
		}
		i := 0
		for _, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i]
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}}
}
