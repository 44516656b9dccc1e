package broker

// CreatePartitions, key 37, versions 0–3.
//
//   - Every version: raise a topic's partition count to Count. A count equal
//     to or below the current one is INVALID_PARTITIONS (Kafka's messages);
//     above maxPartitionsPerTopic likewise. An assignment, if given, needs
//     one replica list per new partition, each exactly [this node]
//     (else INVALID_REPLICA_ASSIGNMENT). Unknown topic:
//     UNKNOWN_TOPIC_OR_PARTITION. A topic listed twice: INVALID_REQUEST,
//     answered once.
//   - ValidateOnly checks without creating. The new partitions become
//     visible once the grown topic record is durable (see
//     Broker.createPartitions). v2+: flexible.
//   - controller_mutation_rate (quotas.go): v3+ THROTTLING_QUOTA_EXCEEDED
//     per topic while the quota is exceeded; throttle_time_ms.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleCreatePartitions(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	mq := b.mutationQuota(req, r.Version >= 3) // controller_mutation_rate (quotas.go)
	defer func() { resp.ThrottleMillis = max(resp.ThrottleMillis, mq.throttleMs()) }()
	seen := make(map[string]int, len(r.Topics))
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		n := seen[rt.Topic]
		if n < 0 {
			continue // a duplicate, answered once already
		}
		var err error
		if n > 1 {
			seen[rt.Topic] = -1
			err = fmt.Errorf("%w: duplicate topic name %q", errInvalidRequest, rt.Topic)
		} else {
			var assignment [][]int32
			if rt.Assignment != nil {
				assignment = make([][]int32, 0, len(rt.Assignment))
				for _, a := range rt.Assignment {
					assignment = append(assignment, a.Replicas)
				}
			}
			err = mq.createPartitions(b, rt.Topic, rt.Count, assignment, r.ValidateOnly)
		}
		st.ErrorCode = adminRequestErrorCode(err)
		st.ErrorMessage = errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
