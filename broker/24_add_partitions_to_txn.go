package broker

// AddPartitionsToTxn, key 24, versions 0–5.
//
//   - v0–v3: one transaction (TransactionalID, ProducerID, ProducerEpoch,
//     Topics), answered per partition. A partition that does not exist gets
//     UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED; a
//     coordinator error is given to every partition. v2+: PRODUCER_FENCED
//     (v0–v1: INVALID_PRODUCER_EPOCH). v3+: flexible.
//   - v4+: batched (Transactions), the form brokers use (interbroker.go:
//     a partition leader or group coordinator asking this node, the
//     transaction coordinator); VerifyOnly asks only whether the
//     partitions are in the ongoing transaction (KIP-890 part 1),
//     answering INVALID_TXN_STATE for those that are not; without it the
//     partitions are added (durably before the answer).
//   - v5: the same; it is the form Kafka 4 brokers add a partition with
//     for transactions v2 (a produce v12+ or TxnOffsetCommit v5 on
//     another node).
//   - Cluster mode: a transactional id this node does not coordinate gets
//     NOT_COORDINATOR for every partition.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

// fencedSince is the version to pass txnErrorCode for an API whose
// PRODUCER_FENCED code arrived at version since.
func fencedSince(version, since int16) int16 {
	if version >= since {
		return 2
	}
	return 0
}

func (b *Broker) handleAddPartitionsToTxn(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AddPartitionsToTxnRequest)
	return protocol.Reply{Wait: func(context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		if r.Version <= 3 {
			codes := b.addPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, false,
				topicsOf(r.Topics, func(t kmsg.AddPartitionsToTxnRequestTopic) (string, []int32) { return t.Topic, t.Partitions }),
				fencedSince(r.Version, 2))
			for _, tc := range codes {
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = tc.topic
				for i, part := range tc.partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					rp.Partition, rp.ErrorCode = part, tc.codes[i]
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		for _, tr := range r.Transactions {
			codes := b.addPartitions(tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly,
				topicsOf(tr.Topics, func(t kmsg.AddPartitionsToTxnRequestTransactionTopic) (string, []int32) { return t.Topic, t.Partitions }),
				2)
			rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rtx.TransactionalID = tr.TransactionalID
			for _, tc := range codes {
				rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rt.Topic = tc.topic
				for i, part := range tc.partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = part, tc.codes[i]
					rt.Partitions = append(rt.Partitions, rp)
				}
				rtx.Topics = append(rtx.Topics, rt)
			}
			resp.Transactions = append(resp.Transactions, rtx)
		}
		return resp
	}}
}

type topicCodes struct {
	topic      string
	partitions []int32
	codes      []int16
}

func topicsOf[T any](ts []T, get func(T) (string, []int32)) []topicCodes {
	out := make([]topicCodes, 0, len(ts))
	for _, t := range ts {
		name, parts := get(t)
		out = append(out, topicCodes{topic: name, partitions: parts, codes: make([]int16, len(parts))})
	}
	return out
}

// addPartitions adds (or, verifyOnly, checks) the partitions of one
// transaction, filling each partition's code.
//
// In cluster mode the transactional id's coordinator must be this node
// (else NOT_COORDINATOR for every partition: the client, or the broker
// verifying for a partition it leads, looks the coordinator up again).
func (b *Broker) addPartitions(id string, pid int64, epoch int16, verifyOnly bool, topics []topicCodes, fencedVersion int16) []topicCodes {
	if err := b.notTxnCoordinator(id); err != nil {
		for _, tc := range topics {
			for i := range tc.codes {
				tc.codes[i] = txnErrorCode(err, fencedVersion)
			}
		}
		return topics
	}
	var tps []txn.TopicPartition
	unknown := false
	for _, tc := range topics {
		t := b.topics.get(tc.topic)
		for i, part := range tc.partitions {
			if t == nil || t.partition(part) == nil {
				tc.codes[i] = kerr.UnknownTopicOrPartition.Code
				unknown = true
				continue
			}
			tps = append(tps, txn.TopicPartition{Topic: tc.topic, Partition: part})
		}
	}
	setAll := func(code int16) {
		for _, tc := range topics {
			for i := range tc.codes {
				if tc.codes[i] == 0 {
					tc.codes[i] = code
				}
			}
		}
	}
	if verifyOnly {
		for _, tc := range topics {
			for i, part := range tc.partitions {
				if tc.codes[i] != 0 {
					continue
				}
				err := b.txns.Verify(id, pid, epoch, txn.TopicPartition{Topic: tc.topic, Partition: part})
				tc.codes[i] = txnErrorCode(err, fencedVersion)
			}
		}
		return topics
	}
	if unknown {
		setAll(kerr.OperationNotAttempted.Code)
		return topics
	}
	err := b.txns.AddPartitions(id, pid, epoch, tps)
	setAll(txnErrorCode(err, fencedVersion))
	return topics
}
