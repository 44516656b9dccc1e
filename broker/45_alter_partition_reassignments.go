package broker

// AlterPartitionReassignments, key 45 (kmsg AlterPartitionAssignments),
// versions 0–1.
//
//   - Per partition: Replicas the target replica list, or null to cancel
//     the partition's reassignment. Validation as Kafka's controller:
//     unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION; an empty
//     list, a broker twice or an unregistered broker (and a partition
//     listed twice) INVALID_REPLICA_ASSIGNMENT; a cancel with none in
//     progress NO_REASSIGNMENT_IN_PROGRESS. A new target replaces one in
//     progress.
//   - v1 AllowReplicationFactorChange (KIP-860; v0: allowed): false and a
//     target whose length differs from the replicas before the
//     reassignment is INVALID_REPLICATION_FACTOR; echoed in the response.
//   - Served by any broker (Kafka forwards to its controller): the
//     accepted targets of a topic are committed in one metadata record,
//     and the answer waits, up to TimeoutMillis, until this broker's view
//     shows them (REQUEST_TIMED_OUT after). The move itself runs after the
//     answer (raft_reassign.go): ListPartitionReassignments follows it.
//   - Flexible from v0.
//
// A single node (no --peers) answers as a one-broker KRaft Kafka 4.4 does
// (probed): the only replica list a partition can have is [this node], it
// already has it, so the reassignment completes at once and nothing is ever
// in progress. Per partition, in Kafka's order and wording: unknown topic
// "Unable to find a topic named T." and unknown partition "Unable to find
// partition T:N." (UNKNOWN_TOPIC_OR_PARTITION); a cancel (null Replicas)
// NO_REASSIGNMENT_IN_PROGRESS without a message; an empty list, or (the ids
// sorted) a broker that is not this node or one listed twice,
// INVALID_REPLICA_ASSIGNMENT; else NONE. A partition listed twice is
// answered twice (NONE both times, as Kafka). The replication factor
// cannot change (every single-node partition has one replica), so v1's
// AllowReplicationFactorChange is only echoed.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	allowRF := r.Version < 1 || r.AllowReplicationFactorChange
	resp.AllowReplicationFactorChange = allowRF
	if b.raft == nil {
		for _, rt := range r.Topics {
			st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				sp.Partition = rp.Partition
				err := b.reassignSingleNode(rt.Topic, rp.Partition, rp.Replicas)
				sp.ErrorCode = reassignErrorCode(err)
				if err != nil && !errors.Is(err, errNoReassignmentInProgress) {
					sp.ErrorMessage = errMessage(err)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return respond(resp)
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > adminTimeout {
		timeout = adminTimeout
	}
	ctx, cancel := context.WithTimeout(b.raft.ctx, timeout)
	defer cancel()
	for _, rt := range r.Topics {
		parts := make([]reassignment, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			parts[i] = reassignment{partition: rp.Partition, target: rp.Replicas}
		}
		b.raft.alterReassignments(ctx, rt.Topic, parts, allowRF)
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range parts {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.partition
			sp.ErrorCode = reassignErrorCode(rp.err)
			sp.ErrorMessage = errMessage(rp.err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

// reassignErrorCode is adminErrorCode with the reassignment's own error.
func reassignErrorCode(err error) int16 {
	if errors.Is(err, errNoReassignmentInProgress) {
		return kerr.NoReassignmentInProgress.Code
	}
	return adminErrorCode(err)
}

// reassignSingleNode checks one partition's reassignment on a single node,
// where the only possible target, [this node], is already the partition's
// replica list: nil means done (nothing to move). Errors carry Kafka's
// messages (kafkaText).
func (b *Broker) reassignSingleNode(topicName string, partition int32, target []int32) error {
	t := b.topics.get(topicName)
	if t == nil {
		return kafkaText{errUnknownTopic, fmt.Sprintf("Unable to find a topic named %s.", topicName)}
	}
	if partition < 0 || int(partition) >= len(t.partitionList()) {
		return kafkaText{errUnknownTopic, fmt.Sprintf("Unable to find partition %s:%d.", topicName, partition)}
	}
	if target == nil {
		return errNoReassignmentInProgress
	}
	if len(target) == 0 {
		return kafkaText{errInvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."}
	}
	sorted := slices.Sorted(slices.Values(target))
	for i, id := range sorted {
		if id != b.cfg.NodeID {
			return kafkaText{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", id)}
		}
		if i > 0 && sorted[i-1] == id {
			return kafkaText{errInvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", id)}
		}
	}
	return nil
}

// kafkaText is an error whose message is Kafka's exact wording (sent as the
// error message) and which unwraps to the Moldau sentinel that picks the
// error code.
type kafkaText struct {
	sentinel error
	text     string
}

func (e kafkaText) Error() string { return e.text }
func (e kafkaText) Unwrap() error { return e.sentinel }
