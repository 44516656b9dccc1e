package broker

// StreamsGroupHeartbeat, key 88, versions 0–1 (KIP-1071).
//
//   - The coordinator (coordinator/streams.go) keeps the topology, assigns
//     tasks server-side and reconciles members as Kafka 4.4's
//     streamsGroupHeartbeat does; membership, topology, epochs and
//     assignments are in __consumer_offsets (record types 17, 19–23) before
//     the response is sent.
//   - Internal topics the topology needs (repartition and changelog
//     topics) that do not exist are created here with the partition counts
//     the coordinator derived and the configs the client sent, as Kafka
//     4.4's KafkaApis does through its auto topic creation (asynchronously
//     there; here before answering). The response still reports
//     MISSING_INTERNAL_TOPICS; the next heartbeat finds them. Without
//     CREATE on the cluster or the topic, the status names the topics that
//     could not be created.
//   - v1: TopologyDescriptionRequired is always false (key 93 is not
//     served); AcceptableRecoveryLag as Kafka's default (10000).
//   - A group of another type is GROUP_ID_NOT_FOUND, as on Kafka.

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/acl"
	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

// Kafka 4.4's defaults of the streams assignment configs a member is told.
const (
	streamsAcceptableRecoveryLag   = 10000
	streamsTaskOffsetIntervalMilli = 60000
)

func (b *Broker) handleStreamsGroupHeartbeat(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.StreamsGroupHeartbeatRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.StreamsGroupHeartbeatResponse)
		resp.MemberEpoch = -1
		fail := func(code int16, msg string) kmsg.Response {
			resp.ErrorCode = code
			if msg != "" {
				resp.ErrorMessage = &msg
			}
			resp.MemberID = r.MemberID
			return resp
		}
		if b.featureLevel(featureStreams) < 1 {
			// streams.version 0 (UpdateFeatures) turns the protocol off, as Kafka's
			// isStreamsGroupProtocolEnabled: UNSUPPORTED_VERSION, the key still advertised.
			return fail(kerr.UnsupportedVersion.Code, "")
		}
		if r.MemberID == "" {
			return fail(kerr.InvalidRequest.Code, "MemberId can't be empty.")
		}
		if r.MemberEpoch == 0 {
			switch {
			case r.RebalanceTimeoutMillis < 0:
				return fail(kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request.")
			case r.Topology == nil:
				return fail(kerr.InvalidRequest.Code, "Topology must be non-null when joining the group.")
			case r.ProcessID == nil || *r.ProcessID == "":
				return fail(kerr.InvalidRequest.Code, "ProcessId can't be null or empty when joining the group.")
			}
		}
		if err := b.ensureOffsetsTopic(); err != nil {
			return fail(groupErrorCode(err), "")
		}
		hr := coordinator.StreamsHeartbeatRequest{
			Group: r.Group, MemberID: r.MemberID, MemberEpoch: r.MemberEpoch, EndpointInformationEpoch: r.EndpointInformationEpoch,
			InstanceID: r.InstanceID, RackID: r.RackID, RebalanceTimeout: time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond,
			ProcessID: r.ProcessID, ShutdownApplication: r.ShutdownApplication,
			ActiveTasks: tasksFrom(r.ActiveTasks), StandbyTasks: tasksFrom(r.StandbyTasks), WarmupTasks: tasksFrom(r.WarmupTasks),
			ClientID: req.ClientID, ClientHost: clientHost(req),
		}
		if r.Topology != nil {
			hr.Topology = topologyFrom(r.Topology)
		}
		hr.TaskOffsets, hr.TaskEndOffsets = taskOffsetsFrom(r.TaskOffsets), taskOffsetsFrom(r.TaskEndOffsets)
		if r.UserEndpoint != nil {
			hr.UserEndpoint = &coordinator.StreamsEndpoint{Host: r.UserEndpoint.Host, Port: r.UserEndpoint.Port}
		}
		if r.ClientTags != nil {
			hr.ClientTags = map[string]string{}
			for _, t := range r.ClientTags {
				hr.ClientTags[t.Key] = t.Value
			}
		}
		res := b.groups.StreamsHeartbeat(hr)
		if res.Err != nil {
			code := groupErrorCode(res.Err)
			if errors.Is(res.Err, coordinator.ErrNotStreamsGroup) {
				code = kerr.GroupIDNotFound.Code
			}
			return fail(code, res.Err.Error())
		}
		resp.MemberID = res.MemberID
		resp.MemberEpoch = res.MemberEpoch
		resp.HeartbeatIntervalMillis = int32(res.HeartbeatInterval.Milliseconds())
		resp.AcceptableRecoveryLagLegacy = streamsAcceptableRecoveryLag
		resp.AcceptableRecoveryLag = streamsAcceptableRecoveryLag
		resp.TaskOffsetIntervalMillis = streamsTaskOffsetIntervalMilli
		resp.EndpointInformationEpoch = res.EndpointInformationEpoch
		for _, s := range res.Status {
			st := kmsg.NewStreamsGroupHeartbeatResponseStatus()
			st.StatusCode, st.StatusDetail = s.Code, s.Detail
			resp.Status = append(resp.Status, st)
		}
		denied, failed := b.createStreamsInternalTopics(req, res.CreateTopics)
		if len(denied) > 0 {
			st := kmsg.NewStreamsGroupHeartbeatResponseStatus()
			st.StatusCode = coordinator.StreamsMissingInternalTopics
			st.StatusDetail = "Unauthorized to CREATE on topics " + strings.Join(denied, ", ") + "."
			resp.Status = append(resp.Status, st)
		}
		for _, f := range failed {
			st := kmsg.NewStreamsGroupHeartbeatResponseStatus()
			st.StatusCode = coordinator.StreamsMissingInternalTopics
			st.StatusDetail = f
			resp.Status = append(resp.Status, st)
		}
		if res.Assigned {
			resp.ActiveTasks, resp.StandbyTasks, resp.WarmupTasks = taskIDsOf(res.ActiveTasks), taskIDsOf(res.StandbyTasks), taskIDsOf(res.WarmupTasks)
		}
		if res.PartitionsByEndpoint != nil {
			resp.PartitionsByUserEndpoint = []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpoint{}
			for _, e := range res.PartitionsByEndpoint {
				pe := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpoint()
				pe.UserEndpoint.Host, pe.UserEndpoint.Port = e.Endpoint.Host, e.Endpoint.Port
				for _, tp := range groupByTopic(e.Active) {
					ap := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpointActivePartition()
					ap.Topic, ap.Partitions = tp.topic, tp.partitions
					pe.ActivePartitions = append(pe.ActivePartitions, ap)
				}
				for _, tp := range groupByTopic(e.Standby) {
					sp := kmsg.NewStreamsGroupHeartbeatResponsePartitionsByUserEndpointStandbyPartition()
					sp.Topic, sp.Partitions = tp.topic, tp.partitions
					pe.StandbyPartitions = append(pe.StandbyPartitions, sp)
				}
				if pe.ActivePartitions == nil {
					pe.ActivePartitions = []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpointActivePartition{}
				}
				if pe.StandbyPartitions == nil {
					pe.StandbyPartitions = []kmsg.StreamsGroupHeartbeatResponsePartitionsByUserEndpointStandbyPartition{}
				}
				resp.PartitionsByUserEndpoint = append(resp.PartitionsByUserEndpoint, pe)
			}
		}
		return resp
	}}
}

// createStreamsInternalTopics creates the internal topics a streams group
// needs (a concurrent creation of the same topic is fine); it returns the
// topics the caller may not create and why others failed (as Kafka's
// creation error cache reports them in the status).
func (b *Broker) createStreamsInternalTopics(req *protocol.Request, topics []coordinator.StreamsTopicInfo) (denied, failed []string) {
	for _, it := range topics {
		if b.topics.get(it.Name) != nil {
			continue
		}
		if b.authz != nil {
			z := b.authzFor(req)
			if !z.cluster(acl.OpCreate) && !z.topic(acl.OpCreate, it.Name) {
				denied = append(denied, it.Name)
				continue
			}
		}
		rf := it.ReplicationFactor
		if rf <= 0 {
			rf = -1
		}
		configs := map[string]*string{}
		for k, v := range it.Configs {
			configs[k] = &v
		}
		spec, err := b.checkTopicSpec(it.Name, it.Partitions, rf, nil, configs)
		if err == nil {
			_, err = b.createTopic(spec)
		}
		if err != nil && !errors.Is(err, errTopicExists) {
			b.logger.Warn("creating a streams internal topic failed", "topic", it.Name, "partitions", it.Partitions, "err", err)
			failed = append(failed, "Internal topic "+it.Name+" could not be created: "+err.Error())
			continue
		}
		if err == nil {
			b.logger.Info("created streams internal topic", "topic", it.Name, "partitions", it.Partitions)
		}
	}
	return denied, failed
}

func taskOffsetsFrom(ts []kmsg.TaskOffset) []coordinator.StreamsTaskOffset {
	if ts == nil {
		return nil
	}
	out := make([]coordinator.StreamsTaskOffset, 0, len(ts))
	for _, t := range ts {
		out = append(out, coordinator.StreamsTaskOffset{Subtopology: t.SubtopologyID, Partition: t.Partition, Offset: t.Offset})
	}
	return out
}

func taskOffsetsOf(ts []coordinator.StreamsTaskOffset) []kmsg.TaskOffset {
	out := make([]kmsg.TaskOffset, 0, len(ts))
	for _, t := range ts {
		o := kmsg.NewTaskOffset()
		o.SubtopologyID, o.Partition, o.Offset = t.Subtopology, t.Partition, t.Offset
		out = append(out, o)
	}
	return out
}

func tasksFrom(ts []kmsg.TaskIDs) coordinator.Tasks {
	if ts == nil {
		return nil
	}
	out := coordinator.Tasks{}
	for _, t := range ts {
		out[t.SubtopologyID] = append(out[t.SubtopologyID], t.Partitions...)
	}
	return out
}

func taskIDsOf(t coordinator.Tasks) []kmsg.TaskIDs {
	out := []kmsg.TaskIDs{}
	subs := make([]string, 0, len(t))
	for st := range t {
		subs = append(subs, st)
	}
	sort.Strings(subs)
	for _, st := range subs {
		id := kmsg.NewTaskIDs()
		id.SubtopologyID, id.Partitions = st, t[st]
		out = append(out, id)
	}
	return out
}

func topicInfosFrom(ts []kmsg.TopicInfo) []coordinator.StreamsTopicInfo {
	out := make([]coordinator.StreamsTopicInfo, 0, len(ts))
	for _, t := range ts {
		it := coordinator.StreamsTopicInfo{Name: t.Topic, Partitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor,
			Configs: map[string]string{}}
		for _, c := range t.Configs {
			it.Configs[c.Key] = c.Value
		}
		out = append(out, it)
	}
	return out
}

func topologyFrom(t *kmsg.StreamsGroupHeartbeatRequestTopology) *coordinator.StreamsTopology {
	out := &coordinator.StreamsTopology{Epoch: t.Epoch}
	for _, st := range t.Subtopologies {
		s := coordinator.StreamsSubtopology{ID: st.SubtopologyID, SourceTopics: st.SourceTopics, SourceTopicRegex: st.SourceTopicRegex,
			StateChangelogTopics: topicInfosFrom(st.StateChangelogTopics), RepartitionSinkTopics: st.RepartitionSinkTopics,
			RepartitionSourceTopics: topicInfosFrom(st.RepartitionSourceTopics)}
		for _, cg := range st.CopartitionGroups {
			s.CopartitionGroups = append(s.CopartitionGroups, coordinator.StreamsCopartitionGroup{SourceTopics: cg.SourceTopics,
				SourceTopicRegex: cg.SourceTopicRegex, RepartitionSourceTopics: cg.RepartitionSourceTopics})
		}
		out.Subtopologies = append(out.Subtopologies, s)
	}
	return out
}

type topicPartitions struct {
	topic      string
	partitions []int32
}

// groupByTopic turns sorted partitions into partitions by topic.
func groupByTopic(tps []coordinator.TopicPartition) []topicPartitions {
	var out []topicPartitions
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].topic != tp.Topic {
			out = append(out, topicPartitions{topic: tp.Topic})
		}
		out[len(out)-1].partitions = append(out[len(out)-1].partitions, tp.Partition)
	}
	return out
}
