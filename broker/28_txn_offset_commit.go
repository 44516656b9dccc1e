package broker

// TxnOffsetCommit, key 28, versions 0–6.
//
// The transaction must be ongoing and include the group's __consumer_offsets
// partition (AddOffsetsToTxn; KIP-890 part 1 verification). A refusal is
// answered as Kafka 4.x answers it (txnOffsetCommitErrorCode). The offsets
// are validated as an OffsetCommit's, written durably to the group's
// __consumer_offsets partition as a transactional batch of the producer,
// and held pending in the group coordinator until the transaction's marker
// reaches that partition: visible only on commit, and rebuilt from the log
// by a coordinator that loads the partition meanwhile (a restart, a
// failover; coordinator/txn_offsets.go). The transaction check is made
// again when the offsets are appended, under the group partition's append
// lock, so that a marker ending the transaction in between (or fencing the
// producer) refuses them, as for a verified produce. v2+: leader epoch;
// v3+: flexible, generation, member id and instance id (checked as
// OffsetCommit does, KIP-447); v4: the same, but a
// group partition outside the transaction is TRANSACTION_ABORTABLE; v5
// (transactions v2): the group's partition is added to the transaction
// implicitly. In cluster mode, when the transaction coordinator is another
// node, it is asked (AddPartitionsToTxn v5 to add, v4+ VerifyOnly to
// verify; interbroker.go), and a coordinator that cannot be reached is
// COORDINATOR_NOT_AVAILABLE. Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION
// and are not passed on. v6 (KIP-1319, Kafka 4.4): topics are named by id
// (the response echoes the id); an unknown id is UNKNOWN_TOPIC_ID for all
// its partitions, a known id's unknown partition UNKNOWN_TOPIC_OR_PARTITION
// (as a 4.4 broker answers); the offsets are kept under the topic's name. Before v2, COORDINATOR_LOAD_IN_PROGRESS is sent as
// COORDINATOR_NOT_AVAILABLE.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
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
		// Partitions of unknown topics are answered first and go no
		// further, as in KafkaApis.handleTxnOffsetCommitRequest; slot
		// maps each offset passed on back to its response partition.
		type slot struct{ t, p int }
		var slots []slot
		for i, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			known, unknownCode := b.topics.get(t.Topic), kerr.UnknownTopicOrPartition.Code
			if r.Version >= 6 {
				// v6: the topic by id (KIP-1319); an unknown id,
				// the zero id included, is UNKNOWN_TOPIC_ID.
				if known = b.topics.getID(t.TopicID); known == nil {
					unknownCode = kerr.UnknownTopicID.Code
				} else {
					t.Topic = known.name
				}
			}
			for j, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				if known == nil {
					rp.ErrorCode = unknownCode
				} else if known.partition(p.Partition) == nil {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else {
					le := int32(-1)
					if r.Version >= 2 {
						le = p.LeaderEpoch
					}
					creq.Offsets = append(creq.Offsets, coordinator.OffsetCommit{Topic: t.Topic, Partition: p.Partition,
						Offset: p.Offset, LeaderEpoch: le, Metadata: nullableString(p.Metadata), ExpireTimestamp: -1})
					slots = append(slots, slot{i, j})
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if len(slots) == 0 {
			return resp
		}
		codes := make([]int16, len(slots))
		tp := txn.TopicPartition{Topic: offsetsTopic, Partition: b.groups.PartitionFor(r.Group)}
		var err error
		verified := false
		// verify: the check, repeated under the append lock of the
		// group's partition, that the transaction still holds when the
		// offsets are appended (appendInternalTxn).
		var verify func() error
		if r.Group == "" {
			// GroupCoordinatorService.commitTransactionalOffsets checks
			// the group id before the transaction.
			err = errEmptyGroupID
		} else if node, local, lerr := b.txnCoordinatorOf(r.TransactionalID); lerr != nil || !local {
			// Cluster mode, the transaction coordinator is another
			// node: it adds the group's partition (v5) or verifies it
			// is in the transaction, as Kafka's group coordinator has
			// it do (AddPartitionsToTxn v5, v4+ VerifyOnly). What it
			// proved is recorded in the verification guard of the
			// group's partition (interbroker.go), which a marker of the
			// producer there voids.
			var part *partition
			switch {
			case lerr != nil:
				err = lerr
			default:
				part, err = b.internalPartition(offsetsTopic, b.ensureOffsetsTopic, errOffsetsTopicUnavailable, tp.Partition)
			}
			if err == nil {
				gen := b.inter.guards.begin(part, r.ProducerID)
				verifyOnly := r.Version < 5
				err, verified = b.inter.addPartitionsRemote(node, r.TransactionalID, r.ProducerID, r.ProducerEpoch, tp, verifyOnly), verifyOnly
				if err == nil {
					b.inter.guards.verified(part, r.ProducerID, r.ProducerEpoch, gen)
					verify = func() error { return b.inter.guards.valid(part, r.ProducerID, r.ProducerEpoch) }
				}
			}
		} else {
			if r.Version >= 5 {
				// Transactions v2: the group's partition joins the
				// transaction here (there is no AddOffsetsToTxn).
				if err = b.ensureOffsetsTopic(); err == nil {
					err = b.txns.AddPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, []txn.TopicPartition{tp})
				}
			}
			if err == nil {
				err, verified = b.txns.Verify(r.TransactionalID, r.ProducerID, r.ProducerEpoch, tp), true
				verify = func() error { return b.txns.Verify(r.TransactionalID, r.ProducerID, r.ProducerEpoch, tp) }
			}
		}
		if err != nil {
			code := txnOffsetCommitErrorCode(err, r.Version, verified)
			for k := range codes {
				codes[k] = code
			}
		} else {
			for k, err := range b.groups.TxnCommitOffsets(creq, r.ProducerID, r.ProducerEpoch, verify) {
				if errors.Is(err, coordinator.ErrTxnRefused) {
					// The transaction ended (a marker) or the producer
					// was fenced since the check above.
					codes[k] = txnOffsetCommitErrorCode(err, r.Version, true)
					continue
				}
				codes[k] = groupErrorCode(err)
			}
		}
		for k, s := range slots {
			code := codes[k]
			if r.Version < 2 && code == kerr.CoordinatorLoadInProgress.Code {
				// KafkaApis: clients before v2 do not retry it.
				code = kerr.CoordinatorNotAvailable.Code
			}
			resp.Topics[s.t].Partitions[s.p].ErrorCode = code
		}
		return resp
	}}
}

// errEmptyGroupID refuses a TxnOffsetCommit without a group id.
var errEmptyGroupID = errors.New("broker: empty group id") // INVALID_GROUP_ID

// txnOffsetCommitErrorCode maps the transaction check's refusal as Kafka
// 4.x does. Its group coordinator has the transaction coordinator verify
// (or, from v5, add) the group's partition (CoordinatorPartitionWriter,
// ReplicaManager.maybeStartTransactionVerificationForPartition), and
// AddPartitionsToTxnManager passes the coordinator's error on except that
// PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH in every version ("Producers
// expect to handle INVALID_PRODUCER_EPOCH") and TRANSACTION_ABORTABLE (the
// partition is not in an ongoing transaction; verified: Verify's refusal,
// not AddPartitions') becomes INVALID_TXN_STATE below v4 (the requests that
// predate it). An unknown transactional id or another producer id is
// INVALID_PRODUCER_ID_MAPPING
// (TransactionCoordinator.handleVerifyPartitionsInTransaction).
func txnOffsetCommitErrorCode(err error, version int16, verified bool) int16 {
	switch {
	case errors.Is(err, errEmptyGroupID):
		return kerr.InvalidGroupID.Code
	case errors.Is(err, txn.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, txn.ErrInvalidTxnState) && verified && version >= 4:
		return kerr.TransactionAbortable.Code
	}
	return txnErrorCode(err, 2)
}
