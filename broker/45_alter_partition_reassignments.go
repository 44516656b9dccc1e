package broker

// AlterPartitionReassignments, key 45 (kmsg AlterPartitionAssignments),
// versions 0–1 — cluster mode only (a single node has nowhere to move a
// replica and does not advertise it).
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

import (
	"context"
	"errors"
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
		resp.ErrorCode = kerr.UnsupportedVersion.Code
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
