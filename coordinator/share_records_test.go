package coordinator

import (
	"encoding/hex"
	"testing"
)

// The expected bytes were produced by Apache Kafka 4.4.0's generated
// classes (org.apache.kafka.coordinator.group.generated.ShareGroup*Value,
// from kafka-group-coordinator-4.4.0.jar), each value prefixed with its
// version (0), as Kafka writes them to __consumer_offsets.
func TestShareRecordsMatchKafka(t *testing.T) {
	tid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	m := &shareMember{clientID: "c", clientHost: "/127.0.0.1", topics: []string{"a", "b"}, epoch: 7, prevEpoch: 6,
		assigned: Assignment{tid: {2, 0}}}
	ss := newShareState()
	ss.initializing[tid] = &shareTopicInit{name: "t", partitions: map[int32]bool{1: true}, since: 5}
	ss.initialized[tid] = &shareTopicInit{name: "t", partitions: map[int32]bool{2: true, 0: true}}
	ss.deleting[tid] = "t"
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"ShareGroupMetadataKey", consumerGroupKey(recShareGroupMetadata, "g"), "000b000167"},
		{"ShareGroupCurrentMemberAssignmentKey", consumerMemberKey(recShareGroupCurrentAssignment, "g", "m"), "000e00016700016d"},
		{"ShareGroupMetadataValue", encodeShareGroupEpoch(7, 0x1122334455667788), "000000000007112233445566778800"},
		{"ShareGroupMemberMetadataValue", encodeShareMemberMetadata(m), "00000002630b2f3132372e302e302e31030261026200"},
		{"ShareGroupTargetAssignmentMetadataValue", encodeTargetEpoch(7, 0), "00000000000700"},
		{"ShareGroupTargetAssignmentMetadataValue with timestamp", encodeTargetEpoch(7, 1700000000000), "0000000000070100080000018bcfe56800"},
		{"ShareGroupTargetAssignmentMemberValue", encodeTargetMember(Assignment{tid: {2, 0}}), "0000020102030405060708090a0b0c0d0e0f100300000000000000020000"},
		{"ShareGroupCurrentMemberAssignmentValue", encodeShareCurrentAssignment(m), "0000000000070000000600020102030405060708090a0b0c0d0e0f100300000000000000020000"},
		{"ShareGroupStatePartitionMetadataValue", encodeShareStateMetadata(ss), "0000020102030405060708090a0b0c0d0e0f100274020000000100020102030405060708090a0b0c0d0e0f10027403000000000000000200020102030405060708090a0b0c0d0e0f1002740000"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}

	// And they decode back.
	var m2 shareMember
	if err := decodeShareMemberMetadata(encodeShareMemberMetadata(m), &m2); err != nil || m2.clientHost != "/127.0.0.1" || len(m2.topics) != 2 {
		t.Errorf("member metadata round trip: %+v %v", m2, err)
	}
	if err := decodeShareCurrentAssignment(encodeShareCurrentAssignment(m), &m2); err != nil || m2.epoch != 7 || m2.prevEpoch != 6 || len(m2.assigned[tid]) != 2 {
		t.Errorf("current assignment round trip: %+v %v", m2, err)
	}
	ss2 := newShareState()
	if err := decodeShareStateMetadata(encodeShareStateMetadata(ss), ss2, 9); err != nil || len(ss2.initialized[tid].partitions) != 2 ||
		!ss2.initializing[tid].partitions[1] || ss2.initializing[tid].since != 9 || ss2.deleting[tid] != "t" {
		t.Errorf("state partition metadata round trip: %+v %v", ss2, err)
	}
	if e, h, err := decodeShareGroupEpoch(encodeShareGroupEpoch(7, -3)); e != 7 || h != -3 || err != nil {
		t.Errorf("group epoch round trip: %d %d %v", e, h, err)
	}
}
