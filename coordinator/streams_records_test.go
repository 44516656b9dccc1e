package coordinator

import (
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// The expected bytes were produced by Apache Kafka 4.4.0's generated
// classes (org.apache.kafka.coordinator.group.generated.StreamsGroup*,
// MessageUtil.toVersionPrefixedBytes), from the same values.
func TestStreamsRecordsMatchKafka(t *testing.T) {
	inst := "i1"
	m := &streamsMember{instanceID: &inst, clientID: "c", clientHost: "/127.0.0.1", rebalanceTimeout: 30 * time.Second,
		topologyEpoch: 2, processID: "p1", endpoint: &StreamsEndpoint{Host: "h", Port: 8080}, clientTags: map[string]string{"k": "v"},
		epoch: 7, prevEpoch: 6, state: cmUnrevoked,
		assigned: streamsTasks{active: Tasks{"0": {2, 0}}, standby: Tasks{}, warmup: Tasks{}},
		revoking: streamsTasks{active: Tasks{"1": {3}}, standby: Tasks{}, warmup: Tasks{}}}
	empty := "" // Kafka's default for InstanceId and RackId
	noEndpoint := &streamsMember{instanceID: &empty, rackID: &empty, clientID: "c", clientHost: "h", rebalanceTimeout: 30 * time.Second, topologyEpoch: 2, processID: "p1"}
	ss := &streamsState{epoch: 7, metaHash: 0x1122334455667788, validatedTopologyEpoch: 3, numStandby: 1}
	topo := &StreamsTopology{Epoch: 1, Subtopologies: []StreamsSubtopology{
		{ID: "0", SourceTopics: []string{"in"}, RepartitionSinkTopics: []string{"rep"}},
		{ID: "1", StateChangelogTopics: []StreamsTopicInfo{{Name: "chg", Configs: map[string]string{"cleanup.policy": "compact"}}},
			RepartitionSourceTopics: []StreamsTopicInfo{{Name: "rep", Partitions: 4, ReplicationFactor: 1}},
			CopartitionGroups:       []StreamsCopartitionGroup{{RepartitionSourceTopics: []int16{0}}}},
	}}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"StreamsGroupMetadataKey", consumerGroupKey(recStreamsGroupMetadata, "g"), "0011000167"},
		{"StreamsGroupMemberMetadataKey", consumerMemberKey(recStreamsGroupMemberMetadata, "g", "m"), "001300016700016d"},
		{"StreamsGroupTargetAssignmentMetadataKey", consumerGroupKey(recStreamsGroupTargetMetadata, "g"), "0014000167"},
		{"StreamsGroupTargetAssignmentMemberKey", consumerMemberKey(recStreamsGroupTargetMember, "g", "m"), "001500016700016d"},
		{"StreamsGroupCurrentMemberAssignmentKey", consumerMemberKey(recStreamsGroupCurrentAssignment, "g", "m"), "001600016700016d"},
		{"StreamsGroupTopologyKey", consumerGroupKey(recStreamsGroupTopology, "g"), "0017000167"},
		// Kafka's with ValidatedTopologyEpoch 3 and LastAssignmentConfigs
		// num.standby.replicas=1 (tags 0 and 1), without tags 2 and 3.
		{"StreamsGroupMetadataValue", encodeStreamsMetadata(ss), "00000000000711223344556677880200040000000301190215" +
			hex.EncodeToString([]byte("num.standby.replicas")) + "023100"},
		{"StreamsGroupTargetAssignmentMetadataValue", encodeTargetEpoch(7, 0), "00000000000700"},
		{"StreamsGroupTargetAssignmentMemberValue", encodeStreamsTarget(streamsTasks{active: Tasks{"0": {2, 0}}, standby: Tasks{"1": {1}}, warmup: Tasks{}}),
			"0000020230030000000000000002000202310200000001000100"},
		{"StreamsGroupCurrentMemberAssignmentValue", encodeStreamsCurrent(m), "0000000000070000000601020230030000000000000002000101020231020000000300010100"},
		{"StreamsGroupMemberMetadataValue", encodeStreamsMember(m), "00000369310002630b2f3132372e302e302e3100007530000000020370310102681f900002026b02760000"},
		{"StreamsGroupMemberMetadataValue without endpoint", encodeStreamsMember(noEndpoint), "00000101026302680000753000000002037031ff0100"},
		{"StreamsGroupTopologyValue", encodeStreamsTopology(topo), "0000000000010302300203696e01010204726570010100023101010204636867000000000000020f636c65616e75702e706f6c69637908636f6d7061637400000102047265700000000400010100020101020000000000"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}

	// Kafka's records decode to the same state, including a current
	// assignment with Kafka 4.4's per-task assignment epochs (tag 0 of
	// TaskIds), which are ignored.
	var back streamsState
	if err := decodeStreamsMetadata(encodeStreamsMetadata(ss), &back); err != nil || back.epoch != 7 || back.metaHash != ss.metaHash ||
		back.validatedTopologyEpoch != 3 || back.numStandby != 1 {
		t.Errorf("metadata round trip: %+v %v", back, err)
	}
	withEpochs, _ := hex.DecodeString("0000000000070000000601020230030000000000000002010009030000000500000006010101010100")
	var cm streamsMember
	if err := decodeStreamsCurrent(withEpochs, &cm); err != nil || cm.epoch != 7 || cm.prevEpoch != 6 || cm.state != cmUnrevoked ||
		!reflect.DeepEqual(cm.assigned.active, Tasks{"0": {0, 2}}) {
		t.Errorf("current assignment with assignment epochs: %+v %v", cm, err)
	}
	var mm streamsMember
	if err := decodeStreamsMember(encodeStreamsMember(m), &mm); err != nil || mm.processID != "p1" || mm.endpoint == nil ||
		*mm.endpoint != *m.endpoint || mm.clientTags["k"] != "v" || mm.rebalanceTimeout != 30*time.Second {
		t.Errorf("member round trip: %+v %v", mm, err)
	}
	tp, err := decodeStreamsTopology(encodeStreamsTopology(topo))
	if err != nil || len(tp.Subtopologies) != 2 || tp.Subtopologies[1].RepartitionSourceTopics[0].Partitions != 4 ||
		tp.Subtopologies[1].StateChangelogTopics[0].Configs["cleanup.policy"] != "compact" {
		t.Errorf("topology round trip: %+v %v", tp, err)
	}
}
