package broker

// StreamsGroupDescribe, key 89, versions 0–1 (KIP-1071).
//
//   - Groups that do not exist, and groups of another type, get
//     GROUP_ID_NOT_FOUND, as Kafka answers.
//   - The topology as the group holds it (source and repartition sink
//     topics, changelog and repartition source topics with the partition
//     counts the members sent), members with process ids, endpoints,
//     client tags, current and target tasks, and the task offsets and end
//     offsets members last reported (kept in memory: empty after a
//     coordinator failover until the members report again).
//   - v1 (KIP-1331): no topology description is stored (Kafka without a
//     group.streams.topology.description.plugin.class, its default): the
//     status is NOT_STORED (1) when IncludeTopologyDescription asks for it,
//     else NOT_REQUESTED (0), with a null description. AssignorName
//     "sticky".

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/protocol"
)

func (b *Broker) handleStreamsGroupDescribe(ctx context.Context, req *protocol.Request) protocol.Reply {
	r := req.Body.(*kmsg.StreamsGroupDescribeRequest)
	return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.StreamsGroupDescribeResponse)
		for _, id := range r.Groups {
			g := kmsg.NewStreamsGroupDescribeResponseGroup()
			g.Group = id
			g.AuthorizedOperations = opsNotAsked
			if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = allGroupOps
			}
			d, err := b.groups.DescribeStreamsGroup(id)
			if err != nil {
				g.ErrorCode = groupErrorCode(err)
				if errors.Is(err, coordinator.ErrNotStreamsGroup) {
					g.ErrorCode = kerr.GroupIDNotFound.Code
				}
				msg := err.Error()
				g.ErrorMessage = &msg
				resp.Groups = append(resp.Groups, g)
				continue
			}
			g.State, g.Epoch, g.AssignmentEpoch = d.State, d.GroupEpoch, d.TargetEpoch
			if r.Version >= 1 {
				assignor := "sticky"
				g.AssignorName = &assignor
				if r.IncludeTopologyDescription {
					g.TopologyDescriptionStatus = topologyDescriptionNotStored
				}
			}
			if d.Topology != nil {
				t := kmsg.NewStreamsGroupDescribeResponseGroupTopology()
				t.Epoch = d.Topology.Epoch
				t.Subtopologies = []kmsg.StreamsGroupDescribeResponseGroupTopologySubtopology{}
				for _, st := range d.Topology.Subtopologies {
					s := kmsg.NewStreamsGroupDescribeResponseGroupTopologySubtopology()
					s.SubtopologyID = st.ID
					s.SourceTopics = orEmptyStrings(st.SourceTopics)
					s.RepartitionSinkTopics = orEmptyStrings(st.RepartitionSinkTopics)
					s.StateChangelogTopics = topicInfosOf(st.StateChangelogTopics)
					s.RepartitionSourceTopics = topicInfosOf(st.RepartitionSourceTopics)
					t.Subtopologies = append(t.Subtopologies, s)
				}
				g.Topology = &t
			}
			g.Members = []kmsg.StreamsGroupDescribeResponseGroupMember{}
			for _, m := range d.Members {
				rm := kmsg.NewStreamsGroupDescribeResponseGroupMember()
				rm.MemberID, rm.MemberEpoch, rm.InstanceID, rm.RackID = m.MemberID, m.MemberEpoch, m.InstanceID, m.RackID
				rm.ClientID, rm.ClientHost, rm.TopologyEpoch, rm.ProcessID = m.ClientID, m.ClientHost, m.TopologyEpoch, m.ProcessID
				if m.Endpoint != nil {
					rm.UserEndpoint = &kmsg.StreamsGroupDescribeResponseGroupMemberUserEndpoint{Host: m.Endpoint.Host, Port: m.Endpoint.Port}
				}
				rm.ClientTags = []kmsg.StreamsGroupDescribeResponseGroupMemberClientTag{}
				for k, v := range m.ClientTags {
					rm.ClientTags = append(rm.ClientTags, kmsg.StreamsGroupDescribeResponseGroupMemberClientTag{Key: k, Value: v})
				}
				rm.TaskOffsets, rm.TaskEndOffsets = taskOffsetsOf(m.TaskOffsets), taskOffsetsOf(m.TaskEndOffsets)
				rm.Assignment = kmsg.StreamsAssignment{ActiveTasks: taskIDsOf(m.Active), StandbyTasks: taskIDsOf(m.Standby), WarmupTasks: taskIDsOf(m.Warmup)}
				rm.TargetAssignment = kmsg.StreamsAssignment{ActiveTasks: taskIDsOf(m.TargetActive), StandbyTasks: taskIDsOf(m.TargetStandby),
					WarmupTasks: taskIDsOf(m.TargetWarmup)}
				g.Members = append(g.Members, rm)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}

// KIP-1331's TopologyDescriptionStatus values.
const (
	topologyDescriptionNotRequested int8 = 0
	topologyDescriptionNotStored    int8 = 1
)

func orEmptyStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func topicInfosOf(ts []coordinator.StreamsTopicInfo) []kmsg.TopicInfo {
	out := []kmsg.TopicInfo{}
	for _, t := range ts {
		ti := kmsg.NewTopicInfo()
		ti.Topic, ti.NumPartitions, ti.ReplicationFactor = t.Name, t.Partitions, t.ReplicationFactor
		ti.Configs = []kmsg.TopicInfoConfig{}
		for k, v := range t.Configs {
			ti.Configs = append(ti.Configs, kmsg.TopicInfoConfig{Key: k, Value: v})
		}
		out = append(out, ti)
	}
	return out
}
