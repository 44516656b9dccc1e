package broker

// Metadata, key 3, versions 0–13.
//
//   - v0: an empty topic list means all topics; v1+: null means all, empty
//     means none. v1+: controller id, internal flag, rack.
//   - v2+: cluster id. v4+: AllowAutoTopicCreation (below v4 auto-creation
//     follows auto.create.topics.enable alone). v5+: offline replicas.
//   - v7+: leader epoch. v8–v10: authorized operations when asked (every
//     operation without an authorizer; authorize.go computes them and
//     hides the topics the caller may not describe when it is on). v9+: flexible.
//   - v10+: topic ids; v12+: topics may be named by id alone (answered by
//     id; unknown ids get UNKNOWN_TOPIC_ID).
//   - v13: top-level error code (always NONE).
//   - Brokers are given with their endpoint on the listener the request
//     came in on (Kafka's behaviour); a broker without it is left out.
//   - Brokers, the controller and each partition's leader, epoch,
//     replicas, ISR and offline replicas come from the cluster view
//     (cluster.go); a partition without a leader gets LEADER_NOT_AVAILABLE
//     and leader -1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// Authorized-operation bitfields: every topic and cluster operation Kafka
// defines, the answer without an authorizer (authorize.go replaces them
// when one is configured).
const (
	// READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8)
	// DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11)
	allTopicOps int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE(5) ALTER(7) DESCRIBE(8) CLUSTER_ACTION(9) DESCRIBE_CONFIGS(10)
	// ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12)
	allClusterOps int32 = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
	opsNotAsked   int32 = -2147483648
)

func (b *Broker) handleMetadata(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.MetadataRequest)
	if hold := b.electionHold(r); hold != nil {
		// A partition asked about lost its leader a moment ago: answer
		// once the successor is known (raft_partition.go).
		return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
			hold(ctx)
			return b.metadataResponse(r, listenerOf(req))
		}}
	}
	return respond(b.metadataResponse(r, listenerOf(req)))
}

// metadataResponse answers r with the brokers' endpoints on listener (the
// request's listener, as Kafka does; a broker without it is left out).
func (b *Broker) metadataResponse(r *kmsg.MetadataRequest, listener string) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	nodes := b.cluster.brokers()
	resp.Brokers = make([]kmsg.MetadataResponseBroker, 0, len(nodes))
	for _, n := range nodes {
		host, port, ok := n.endpointFor(listener)
		if !ok {
			continue
		}
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port, br.Rack = n.id, host, port, n.rack
		resp.Brokers = append(resp.Brokers, br)
	}
	cluster := b.clusterID()
	resp.ClusterID = &cluster
	resp.ControllerID = b.cluster.controllerID()
	resp.AuthorizedOperations = opsNotAsked
	if r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = allClusterOps
	}

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, t := range b.topics.all() {
			resp.Topics = append(resp.Topics, b.metadataTopic(t, r))
		}
		return resp
	}
	allowCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	for _, rt := range r.Topics {
		var t *topic
		if rt.Topic == nil {
			if t = b.topics.getID(rt.TopicID); t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				mt.AuthorizedOperations = opsNotAsked
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, b.metadataTopic(t, r))
			continue
		}
		name := *rt.Topic
		t = b.topics.get(name)
		if t == nil && allowCreate && validTopicName(name) {
			var err error
			t, err = b.autoCreateTopic(name)
			if err != nil {
				b.logger.Warn("auto-create topic failed", "topic", name, "err", err)
			}
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.AuthorizedOperations = opsNotAsked
			mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
			if validTopicName(name) {
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(t, r))
	}
	return resp
}

func (b *Broker) metadataTopic(t *topic, r *kmsg.MetadataRequest) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	mt.IsInternal = isInternalTopic(t.name)
	mt.AuthorizedOperations = opsNotAsked
	if r.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = allTopicOps
	}
	parts := t.partitionList()
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(parts))
	for i, p := range parts {
		l := b.clientLeadership(p)
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = l.leader
		mp.LeaderEpoch = l.epoch
		mp.Replicas = l.replicas
		mp.ISR = l.isr
		mp.OfflineReplicas = l.offline
		if l.leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions[i] = mp
	}
	return mt
}
