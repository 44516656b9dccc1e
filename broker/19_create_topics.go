package broker

// CreateTopics, key 19, versions 0–7.
//
//   - v1+: validate only. v5+: flexible, and the response
//     carries the created topic's partitions, replication factor and
//     configs (v5+; the config error code is always NONE).
//   - v7: topic ids in the response.
//   - Duplicate names in one request are all answered INVALID_REQUEST.
//   - Replication factors above 1 are INVALID_REPLICATION_FACTOR: one broker.
//   - controller_mutation_rate (quotas.go): v6+ THROTTLING_QUOTA_EXCEEDED
//     per topic while the quota is exceeded; throttle_time_ms (v2+).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleCreateTopics(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	mq := b.mutationQuota(req, r.Version >= 6) // controller_mutation_rate (quotas.go)
	defer func() { resp.ThrottleMillis = max(resp.ThrottleMillis, mq.throttleMs()) }()
	seen := make(map[string]int, len(r.Topics))
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if seen[rt.Topic] > 1 {
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = kmsg.StringPtr("Create topics request from client contains multiple entries for the topic " + rt.Topic)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var assignment [][]int32
		for _, a := range rt.ReplicaAssignment {
			assignment = append(assignment, a.Replicas)
		}
		configs := make(map[string]*string, len(rt.Configs))
		for _, c := range rt.Configs {
			configs[c.Name] = c.Value
		}
		spec, err := b.checkTopicSpec(rt.Topic, rt.NumPartitions, rt.ReplicationFactor, assignment, configs)
		if err == nil {
			if r.ValidateOnly {
				if b.topics.get(rt.Topic) != nil {
					err = errTopicExists
				}
			} else {
				var t *topic
				if err = mq.take(int(spec.partitions)); err == nil {
					t, err = b.createTopic(spec)
				}
				if err == nil {
					st.TopicID = t.id
				}
			}
		}
		if err != nil {
			st.ErrorCode = adminRequestErrorCode(err)
			if r.Version >= 1 {
				st.ErrorMessage = errMessage(err)
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.NumPartitions, st.ReplicationFactor = spec.partitions, spec.replicationFactor
		for _, e := range b.config().DescribeTopicConfigs(spec.configs, nil, false, false) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value, c.ReadOnly, c.Source, c.IsSensitive = e.Name, e.Value, e.ReadOnly, int8(e.Source), e.Sensitive
			st.Configs = append(st.Configs, c)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
