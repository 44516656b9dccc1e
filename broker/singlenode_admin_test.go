package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

// A single node's answers to the reassignment and quorum-membership APIs
// (45, 46, 64, 80, 81): those of a one-broker KRaft Kafka 4.4 (node 1,
// static quorum), probed against tests/compat/kafka-ref.sh.

func strp(s string) *string { return &s }

func TestSingleNodeAdvertisesMembershipAPIs(t *testing.T) {
	b := newAdminBroker(t)
	resp := do[*kmsg.ApiVersionsResponse](t, b, 3, kmsg.NewPtrApiVersionsRequest())
	want := map[int16]int16{45: 1, 46: 0, 64: 0, 80: 1, 81: 0}
	for _, k := range resp.ApiKeys {
		if max, ok := want[k.ApiKey]; ok {
			if k.MinVersion != 0 || k.MaxVersion != max {
				t.Errorf("key %d: v%d-%d, want v0-%d", k.ApiKey, k.MinVersion, k.MaxVersion, max)
			}
			delete(want, k.ApiKey)
		}
	}
	if len(want) > 0 {
		t.Errorf("not advertised: %v", want)
	}
}

func TestSingleNodeAlterPartitionReassignments(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.NodeID = 1 })
	mustCreateTopic(t, b, "t", 2, nil)
	type part struct {
		topic     string
		partition int32
		replicas  []int32
		code      int16
		msg       *string
	}
	cases := []part{
		{"t", 0, []int32{1}, 0, nil},
		{"t", 1, []int32{1}, 0, nil},
		{"t", 0, []int32{2}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker 2, but no such broker is registered.")},
		{"t", 0, []int32{1, 2}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker 2, but no such broker is registered.")},
		{"t", 0, []int32{2, 2}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker 2, but no such broker is registered.")},
		{"t", 0, []int32{1, 1}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes the broker 1 more than once.")},
		{"t", 0, []int32{-1}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes broker -1, but no such broker is registered.")},
		{"t", 0, []int32{}, kerr.InvalidReplicaAssignment.Code, strp("The manual partition assignment includes an empty replica list.")},
		{"t", 0, nil, kerr.NoReassignmentInProgress.Code, nil},
		{"nope", 0, []int32{1}, kerr.UnknownTopicOrPartition.Code, strp("Unable to find a topic named nope.")},
		{"nope", 0, nil, kerr.UnknownTopicOrPartition.Code, strp("Unable to find a topic named nope.")},
		{"t", 7, []int32{1}, kerr.UnknownTopicOrPartition.Code, strp("Unable to find partition t:7.")},
		{"t", -1, nil, kerr.UnknownTopicOrPartition.Code, strp("Unable to find partition t:-1.")},
		{"t", 0, []int32{1}, 0, nil}, // listed twice: answered twice, as Kafka
	}
	for _, v := range []int16{0, 1} {
		for _, allow := range []bool{false, true} {
			req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
			req.TimeoutMillis = 1000
			req.AllowReplicationFactorChange = allow
			for _, c := range cases {
				rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
				rt.Topic = c.topic
				rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
				rp.Partition, rp.Replicas = c.partition, c.replicas
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
			}
			resp := do[*kmsg.AlterPartitionAssignmentsResponse](t, b, v, req)
			if resp.ErrorCode != 0 || resp.ErrorMessage != nil {
				t.Fatalf("v%d: top-level %d %v", v, resp.ErrorCode, resp.ErrorMessage)
			}
			if wantAllow := v < 1 || allow; v >= 1 && resp.AllowReplicationFactorChange != wantAllow {
				t.Errorf("v%d allow=%v: echoed %v", v, allow, resp.AllowReplicationFactorChange)
			}
			if len(resp.Topics) != len(cases) {
				t.Fatalf("v%d: %d topics, want %d", v, len(resp.Topics), len(cases))
			}
			for i, c := range cases {
				st := resp.Topics[i]
				if st.Topic != c.topic || len(st.Partitions) != 1 {
					t.Fatalf("v%d case %d: %+v", v, i, st)
				}
				sp := st.Partitions[0]
				got, want := "<nil>", "<nil>"
				if sp.ErrorMessage != nil {
					got = *sp.ErrorMessage
				}
				if c.msg != nil {
					want = *c.msg
				}
				if sp.Partition != c.partition || sp.ErrorCode != c.code || got != want {
					t.Errorf("v%d case %d %s-%d %v: %d %q, want %d %q", v, i, c.topic, c.partition, c.replicas, sp.ErrorCode, got, c.code, want)
				}
			}
		}
	}
	// The partitions did not move: still on [1], nothing in progress.
	list := do[*kmsg.ListPartitionReassignmentsResponse](t, b, 0, kmsg.NewPtrListPartitionReassignmentsRequest())
	if list.ErrorCode != 0 || list.Topics != nil {
		t.Errorf("list after: %d %+v", list.ErrorCode, list.Topics)
	}
}

func TestSingleNodeListPartitionReassignments(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "t", 2, nil)
	named := kmsg.NewPtrListPartitionReassignmentsRequest()
	rt := kmsg.NewListPartitionReassignmentsRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{0, 1, 7}
	rt2 := kmsg.NewListPartitionReassignmentsRequestTopic()
	rt2.Topic, rt2.Partitions = "nope", []int32{0}
	named.Topics = append(named.Topics, rt, rt2)
	empty := kmsg.NewPtrListPartitionReassignmentsRequest()
	empty.Topics = []kmsg.ListPartitionReassignmentsRequestTopic{}
	for i, req := range []*kmsg.ListPartitionReassignmentsRequest{kmsg.NewPtrListPartitionReassignmentsRequest(), named, empty} {
		resp := do[*kmsg.ListPartitionReassignmentsResponse](t, b, 0, req)
		if resp.ErrorCode != 0 || resp.ErrorMessage != nil || resp.Topics != nil {
			t.Errorf("request %d: %d %v %+v, want NONE, no topics", i, resp.ErrorCode, resp.ErrorMessage, resp.Topics)
		}
	}
}

func TestSingleNodeUnregisterBroker(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.NodeID = 1 })
	for _, c := range []struct {
		id   int32
		code int16
		msg  string
	}{
		{2, kerr.BrokerIDNotRegistered.Code, "Broker ID 2 is not currently registered"},
		{-1, kerr.BrokerIDNotRegistered.Code, "Broker ID -1 is not currently registered"},
		{1, kerr.InvalidRequest.Code, ""},
	} {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = c.id
		resp := do[*kmsg.UnregisterBrokerResponse](t, b, 0, req)
		if resp.ErrorCode != c.code || resp.ErrorMessage == nil || (c.msg != "" && *resp.ErrorMessage != c.msg) {
			t.Errorf("unregister %d: %d %v, want %d %q", c.id, resp.ErrorCode, resp.ErrorMessage, c.code, c.msg)
		}
	}
	// The node is still there.
	dc := do[*kmsg.DescribeClusterResponse](t, b, 0, kmsg.NewPtrDescribeClusterRequest())
	if len(dc.Brokers) != 1 || dc.Brokers[0].NodeID != 1 {
		t.Errorf("brokers after: %+v", dc.Brokers)
	}
}

func TestSingleNodeRaftVoters(t *testing.T) {
	b := newAdminBroker(t, func(c *config.Config) { c.NodeID = 1 })
	cluster := b.clusterID()
	wrong := "wrongcluster"
	dir := [16]byte{1, 2, 3}
	mismatch := `The given id "wrongcluster" doesn't match the cluster id "` + cluster + `"`
	type answer struct {
		code int16
		msg  string
	}
	for _, c := range []struct {
		id       int32
		cluster  *string
		dir      [16]byte
		add, rem answer
	}{
		{2, nil, dir, answer{kerr.UnsupportedVersion.Code, "Cluster doesn't support adding voter because the kraft.version feature is 0"}, answer{kerr.UnsupportedVersion.Code, "Cluster doesn't support removing voter because the kraft.version feature is 0"}},
		{1, &cluster, dir, answer{kerr.UnsupportedVersion.Code, "Cluster doesn't support adding voter because the kraft.version feature is 0"}, answer{kerr.UnsupportedVersion.Code, "Cluster doesn't support removing voter because the kraft.version feature is 0"}},
		{2, nil, [16]byte{}, answer{kerr.InvalidRequest.Code, "Add voter request didn't include a valid voter"}, answer{kerr.InvalidRequest.Code, "Remove voter request didn't include a valid voter"}},
		{2, &wrong, [16]byte{}, answer{kerr.InconsistentClusterID.Code, mismatch}, answer{kerr.InconsistentClusterID.Code, mismatch}},
		{1, &wrong, dir, answer{kerr.InconsistentClusterID.Code, mismatch}, answer{kerr.InconsistentClusterID.Code, mismatch}},
	} {
		for _, v := range []int16{0, 1} {
			add := kmsg.NewPtrAddRaftVoterRequest()
			add.ClusterID, add.VoterID, add.VoterDirectoryID, add.TimeoutMillis = c.cluster, c.id, c.dir, 1000
			l := kmsg.NewAddRaftVoterRequestListener()
			l.Name, l.Host, l.Port = "CONTROLLER", "127.0.0.1", 9093
			add.Listeners = append(add.Listeners, l)
			ar := do[*kmsg.AddRaftVoterResponse](t, b, v, add)
			if ar.ErrorCode != c.add.code || ar.ErrorMessage == nil || *ar.ErrorMessage != c.add.msg {
				t.Errorf("add v%d %d: %d %v, want %d %q", v, c.id, ar.ErrorCode, ar.ErrorMessage, c.add.code, c.add.msg)
			}
		}
		rem := kmsg.NewPtrRemoveRaftVoterRequest()
		rem.ClusterID, rem.VoterID, rem.VoterDirectoryID = c.cluster, c.id, c.dir
		rr := do[*kmsg.RemoveRaftVoterResponse](t, b, 0, rem)
		if rr.ErrorCode != c.rem.code || rr.ErrorMessage == nil || *rr.ErrorMessage != c.rem.msg {
			t.Errorf("remove %d: %d %v, want %d %q", c.id, rr.ErrorCode, rr.ErrorMessage, c.rem.code, c.rem.msg)
		}
	}
}
