package broker

// ListPartitionReassignments, key 46, version 0.
//
//   - Topics null: every partition being reassigned; else the named
//     partitions that are (unknown topics or partitions, and partitions not
//     being reassigned, are left out, as Kafka's controller does).
//   - Per partition: Replicas as Metadata reports them (the target, then
//     the replicas being removed), AddingReplicas (target − replicas),
//     RemovingReplicas (replicas − target).
//   - Served by any broker from its metadata view (Kafka forwards to its
//     controller). Flexible.
//   - A single node (no --peers) never has a reassignment in progress
//     (45 completes at once there): Topics is null, whatever was asked,
//     unknown topics included, as a one-broker Kafka 4.4 answers (probed).

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/metadata"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleListPartitionReassignments(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if b.raft == nil {
		return respond(resp)
	}
	v := b.raft.view()
	add := func(t *metadata.Topic, parts []int32) {
		st := kmsg.NewListPartitionReassignmentsResponseTopic()
		st.Topic = t.Name
		for _, i := range parts {
			if i < 0 || int(i) >= len(t.Partitions) || !t.Partitions[i].Reassigning() {
				continue
			}
			mp := &t.Partitions[i]
			sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			sp.Partition = i
			sp.Replicas = slices.Clone(mp.ReportedReplicas())
			sp.AddingReplicas = mp.Adding()
			sp.RemovingReplicas = mp.Removing()
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			resp.Topics = append(resp.Topics, st)
		}
	}
	if r.Topics == nil {
		for _, t := range v.Topics() {
			all := make([]int32, len(t.Partitions))
			for i := range all {
				all[i] = int32(i)
			}
			add(t, all)
		}
		return respond(resp)
	}
	for _, rt := range r.Topics {
		if t, ok := v.Topic(rt.Topic); ok {
			add(t, rt.Partitions)
		}
	}
	return respond(resp)
}
