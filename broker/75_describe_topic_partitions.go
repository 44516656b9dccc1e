package broker

// DescribeTopicPartitions, key 75, version 0.
//
//   - The named topics (an empty list means every topic), sorted by name,
//     with each partition's leader, leader epoch, replicas and ISR as in
//     Metadata (from the cluster view, cluster.go); eligible leader
//     replicas and last known ELR are always empty. Topic ids and
//     authorized operations (every topic operation without an authorizer; authorize.go's with one) included.
//   - Paging as Kafka: at most ResponsePartitionLimit partitions per
//     response (clamped to 1..maxDescribePartitions); Cursor resumes at a
//     topic and partition (topics before it are skipped); NextCursor is set
//     when the answer was cut short.
//   - A named topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION (or
//     INVALID_TOPIC_EXCEPTION for an illegal name); with all topics asked
//     none can be missing.
//   - A cursor naming a topic outside the requested list, or a negative
//     partition: every requested topic (none, if all were asked) gets
//     INVALID_REQUEST, as Kafka's error response does.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// maxDescribePartitions is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions answer holds.
const maxDescribePartitions = 2000

func (b *Broker) handleDescribeTopicPartitions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.DescribeTopicPartitionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)

	all := len(r.Topics) == 0
	var names []string
	if all {
		for _, t := range b.topics.all() {
			names = append(names, t.name)
		}
	} else {
		for _, rt := range r.Topics {
			names = append(names, rt.Topic)
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}

	cursorTopic, cursorPartition := "", int32(0)
	if c := r.Cursor; c != nil {
		if (!all && !slices.Contains(names, c.Topic)) || c.Partition < 0 {
			for _, rt := range r.Topics {
				st := kmsg.NewDescribeTopicPartitionsResponseTopic()
				st.Topic = kmsg.StringPtr(rt.Topic)
				st.ErrorCode = kerr.InvalidRequest.Code
				resp.Topics = append(resp.Topics, st)
			}
			return respond(resp)
		}
		cursorTopic, cursorPartition = c.Topic, c.Partition
	}

	remaining := min(max(r.ResponsePartitionLimit, 1), maxDescribePartitions)
	for _, name := range names {
		if name < cursorTopic {
			continue
		}
		if remaining == 0 {
			// Everything before this topic is answered in full.
			next := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
			next.Topic, next.Partition = name, 0
			resp.NextCursor = &next
			break
		}
		st := kmsg.NewDescribeTopicPartitionsResponseTopic()
		st.Topic = kmsg.StringPtr(name)
		t := b.topics.get(name)
		if t == nil {
			if all {
				continue // deleted meanwhile
			}
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if !validTopicName(name) {
				st.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.id
		st.AuthorizedOperations = allTopicOps
		start := int32(0)
		if name == cursorTopic {
			start = cursorPartition
		}
		parts := t.partitionList()
		count := int32(len(parts))
		end := count
		if start < count && count-start > remaining {
			end = start + remaining
		}
		st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		for i := start; i < end; i++ {
			l := b.clientLeadership(parts[i])
			sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			sp.Partition = i
			sp.LeaderID = l.leader
			sp.LeaderEpoch = l.epoch
			sp.Replicas, sp.ISR, sp.OfflineReplicas = l.replicas, l.isr, l.offline
			sp.EligibleLeaderReplicas, sp.LastKnownELR = []int32{}, []int32{}
			if l.leader < 0 {
				sp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
		if end < count {
			next := kmsg.NewDescribeTopicPartitionsResponseNextCursor()
			next.Topic, next.Partition = name, end
			resp.NextCursor = &next
			break
		}
		remaining -= int32(len(st.Partitions))
	}
	return respond(resp)
}
