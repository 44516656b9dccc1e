package broker

// Handler-level test of the streams group APIs (88, 89, and ListGroups,
// DescribeGroups, DeleteGroups of a streams group): the broker creates the
// internal topics a topology needs, then assigns tasks.

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func streamsJoin(group, member, process, in string) *kmsg.StreamsGroupHeartbeatRequest {
	r := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = group, member, 0, 30000
	r.ProcessID = &process
	r.UserEndpoint = &kmsg.StreamsGroupHeartbeatRequestUserEndpoint{Host: "localhost", Port: 8080}
	r.ActiveTasks, r.StandbyTasks, r.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
	t := kmsg.NewStreamsGroupHeartbeatRequestTopology()
	t.Epoch = 0
	s0 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s0.SubtopologyID, s0.SourceTopics, s0.RepartitionSinkTopics = "0", []string{in}, []string{group + "-by-key-repartition"}
	s1 := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	s1.SubtopologyID = "1"
	rep := kmsg.NewTopicInfo()
	rep.Topic = group + "-by-key-repartition"
	rep.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "delete"}}
	chg := kmsg.NewTopicInfo()
	chg.Topic = group + "-store-changelog"
	chg.Configs = []kmsg.TopicInfoConfig{{Key: "cleanup.policy", Value: "compact"}}
	s1.RepartitionSourceTopics, s1.StateChangelogTopics = []kmsg.TopicInfo{rep}, []kmsg.TopicInfo{chg}
	t.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{s0, s1}
	r.Topology = &t
	return r
}

func TestStreamsGroupHandlers(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "in", 3, nil)
	const group = "app"

	for _, v := range []int16{0, 1} {
		r := kmsg.NewPtrStreamsGroupHeartbeatRequest()
		r.Group, r.MemberID, r.MemberEpoch = group, "", 1
		resp := do[*kmsg.StreamsGroupHeartbeatResponse](t, b, v, r)
		wantCode(t, "empty member id", resp.ErrorCode, kerr.InvalidRequest)
	}

	// The join finds the internal topics missing and the broker creates
	// them: the repartition topic with the source's partition count, the
	// changelog with the task count, with the configs the client sent.
	resp := do[*kmsg.StreamsGroupHeartbeatResponse](t, b, 1, streamsJoin(group, "m1", "p1", "in"))
	wantCode(t, "join", resp.ErrorCode, nil)
	if resp.MemberEpoch < 1 || resp.HeartbeatIntervalMillis != 5000 || resp.AcceptableRecoveryLag != streamsAcceptableRecoveryLag {
		t.Fatalf("join: epoch %d interval %d recovery lag %d", resp.MemberEpoch, resp.HeartbeatIntervalMillis, resp.AcceptableRecoveryLag)
	}
	if len(resp.Status) == 0 || resp.Status[0].StatusCode != 3 {
		t.Fatalf("join: status %+v, want MISSING_INTERNAL_TOPICS", resp.Status)
	}
	for name, want := range map[string]int32{group + "-by-key-repartition": 3, group + "-store-changelog": 3} {
		tp := b.topics.get(name)
		if tp == nil {
			t.Fatalf("%s was not created", name)
		}
		if n := int32(len(tp.partitionList())); n != want {
			t.Fatalf("%s: %d partitions, want %d", name, n, want)
		}
	}
	if p := b.topics.get(group + "-store-changelog").state.Load().overrides["cleanup.policy"]; p != "compact" {
		t.Fatalf("changelog cleanup.policy %q", p)
	}

	// Once the initial rebalance delay (3 s) has passed, a heartbeat gets
	// every task and the endpoint's partitions.
	hb := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	hb.Group, hb.MemberID = group, "m1"
	deadline := time.Now().Add(10 * time.Second)
	for {
		hb.MemberEpoch = resp.MemberEpoch
		resp = do[*kmsg.StreamsGroupHeartbeatResponse](t, b, 1, hb)
		wantCode(t, "heartbeat", resp.ErrorCode, nil)
		if len(resp.Status) == 0 {
			break
		}
		if len(resp.Status) != 1 || resp.Status[0].StatusCode != 5 || time.Now().After(deadline) {
			t.Fatalf("status %+v, want none (or ASSIGNMENT_DELAYED for 3 s)", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tasks := map[string]int{}
	for _, ts := range resp.ActiveTasks {
		tasks[ts.SubtopologyID] += len(ts.Partitions)
	}
	if tasks["0"] != 3 || tasks["1"] != 3 {
		t.Fatalf("active tasks %+v, want 3 of each subtopology", resp.ActiveTasks)
	}
	if len(resp.PartitionsByUserEndpoint) != 1 || len(resp.PartitionsByUserEndpoint[0].ActivePartitions) != 2 {
		t.Fatalf("partitions by endpoint %+v", resp.PartitionsByUserEndpoint)
	}
	epoch := resp.MemberEpoch

	// Offsets commit with the member epoch.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.MemberID, oc.Generation = group, "m1", epoch
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = "in"
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	ocp.Partition, ocp.Offset = 0, 7
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	ocr := do[*kmsg.OffsetCommitResponse](t, b, 9, oc)
	wantCode(t, "offset commit", ocr.Topics[0].Partitions[0].ErrorCode, nil)
	oc.Generation = epoch - 1
	ocr = do[*kmsg.OffsetCommitResponse](t, b, 9, oc)
	wantCode(t, "stale offset commit", ocr.Topics[0].Partitions[0].ErrorCode, kerr.StaleMemberEpoch)

	// Describe, list, and the classic APIs.
	dr := kmsg.NewPtrStreamsGroupDescribeRequest()
	dr.Groups = []string{group, "nope"}
	d := do[*kmsg.StreamsGroupDescribeResponse](t, b, 1, dr)
	if g := d.Groups[0]; g.ErrorCode != 0 || g.State != "Stable" || len(g.Members) != 1 || g.Topology == nil || len(g.Topology.Subtopologies) != 2 ||
		g.Members[0].ProcessID != "p1" || len(g.Members[0].Assignment.ActiveTasks) != 2 {
		t.Fatalf("describe: %+v", g)
	}
	wantCode(t, "describe unknown", d.Groups[1].ErrorCode, kerr.GroupIDNotFound)
	lg := do[*kmsg.ListGroupsResponse](t, b, 5, kmsg.NewPtrListGroupsRequest())
	found := false
	for _, g := range lg.Groups {
		if g.Group == group {
			found = g.GroupType == "streams" && g.ProtocolType == "streams" && g.GroupState == "Stable"
		}
	}
	if !found {
		t.Fatalf("list groups: %+v", lg.Groups)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group}
	delr := do[*kmsg.DeleteGroupsResponse](t, b, 2, del)
	wantCode(t, "delete non-empty", delr.Groups[0].ErrorCode, kerr.NonEmptyGroup)

	// A consumer group heartbeat on a streams group is refused; the member
	// leaves; the group can then be deleted.
	leave := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch = group, "m1", -1
	resp = do[*kmsg.StreamsGroupHeartbeatResponse](t, b, 0, leave)
	wantCode(t, "leave", resp.ErrorCode, nil)
	if resp.MemberEpoch != -1 {
		t.Fatalf("leave: epoch %d", resp.MemberEpoch)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		delr = do[*kmsg.DeleteGroupsResponse](t, b, 2, del)
		if delr.Groups[0].ErrorCode == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantCode(t, "delete", delr.Groups[0].ErrorCode, nil)
}

// streamsJoinSource is a join with a one-subtopology topology reading in
// (the authorization cases of authorize_test.go).
func streamsJoinSource(group, in string) func(*aclFixture) kmsg.Request {
	return func(*aclFixture) kmsg.Request {
		r := kmsg.NewPtrStreamsGroupHeartbeatRequest()
		r.Group, r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = group, randomMemberID(), 0, 30000
		r.ProcessID = str("p")
		t := kmsg.NewStreamsGroupHeartbeatRequestTopology()
		st := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
		st.SubtopologyID, st.SourceTopics = "0", []string{in}
		t.Subtopologies = append(t.Subtopologies, st)
		r.Topology = &t
		return r
	}
}

// TestStreamsGroupTopologyDescription: without a topology description
// plugin (Kafka 4.4's default) a push is refused with UNSUPPORTED_VERSION
// and StreamsGroupDescribe v1 reports the description NOT_STORED when asked.
func TestStreamsGroupTopologyDescription(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "in", 1, nil)
	resp := do[*kmsg.StreamsGroupHeartbeatResponse](t, b, 1, streamsJoin("app", "m1", "p1", "in"))
	wantCode(t, "join", resp.ErrorCode, nil)
	if resp.TopologyDescriptionRequired {
		t.Fatal("a heartbeat asked for a topology description push")
	}
	push := kmsg.NewPtrStreamsGroupTopologyDescriptionUpdateRequest()
	push.Group, push.MemberID, push.TopologyEpoch = "app", "m1", 0
	pr := do[*kmsg.StreamsGroupTopologyDescriptionUpdateResponse](t, b, 0, push)
	wantCode(t, "push", pr.ErrorCode, kerr.UnsupportedVersion)
	for _, include := range []bool{false, true} {
		dr := kmsg.NewPtrStreamsGroupDescribeRequest()
		dr.Groups, dr.IncludeTopologyDescription = []string{"app"}, include
		d := do[*kmsg.StreamsGroupDescribeResponse](t, b, 1, dr)
		want := topologyDescriptionNotRequested
		if include {
			want = topologyDescriptionNotStored
		}
		if g := d.Groups[0]; g.ErrorCode != 0 || g.TopologyDescriptionStatus != want || g.TopologyDescription != nil {
			t.Fatalf("describe (include %v): code %d status %d description %v", include, g.ErrorCode, g.TopologyDescriptionStatus, g.TopologyDescription)
		}
	}
}
