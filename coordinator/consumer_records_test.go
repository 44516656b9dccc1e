package coordinator

import (
	"encoding/hex"
	"testing"
	"time"
)

// The expected bytes were produced by Apache Kafka 4.4.0's generated
// classes (org.apache.kafka.coordinator.group.generated.*), each value
// prefixed with its version (0) and each key with its record type, as
// Kafka writes them to __consumer_offsets.
func TestConsumerRecordsMatchKafka(t *testing.T) {
	tid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	inst := "i1"
	m := &consumerMember{instanceID: &inst, clientID: "c", clientHost: "/127.0.0.1", topics: []string{"a", "b"},
		rebalanceTimeout: 30 * time.Second, assignor: "uniform", epoch: 7, prevEpoch: 6, state: cmUnrevoked,
		assigned: Assignment{tid: {0}}, revoking: Assignment{tid: {2}}}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"ConsumerGroupMetadataKey", consumerGroupKey(recConsumerGroupMetadata, "g"), "0003000167"},
		{"ConsumerGroupCurrentMemberAssignmentKey", consumerMemberKey(recConsumerGroupCurrentAssignment, "g", "m"), "000800016700016d"},
		{"ConsumerGroupMetadataValue", encodeGroupEpoch(7, 0x1122334455667788), "0000000000070100081122334455667788"},
		{"ConsumerGroupTargetAssignmentMetadataValue", encodeTargetEpoch(7, 1700000000000), "0000000000070100080000018bcfe56800"},
		{"ConsumerGroupMemberMetadataValue", encodeMemberMetadata(m), "00000369310002630b2f3132372e302e302e310302610262000000753008756e69666f726d00"},
		{"ConsumerGroupTargetAssignmentMemberValue", encodeTargetMember(Assignment{tid: {2, 0}}), "0000020102030405060708090a0b0c0d0e0f100300000000000000020000"},
		{"ConsumerGroupCurrentMemberAssignmentValue", encodeCurrentAssignment(m), "0000000000070000000601020102030405060708090a0b0c0d0e0f10020000000000020102030405060708090a0b0c0d0e0f1002000000020000"},
	}
	classic := &consumerMember{clientID: "c", clientHost: "h", topics: []string{"a"}, rebalanceTimeout: 30 * time.Second,
		classic: &classicMeta{sessionTimeout: 10 * time.Second, protocols: []Protocol{{Name: "range", Metadata: []byte{1, 2}}}}}
	cases = append(cases, struct {
		name string
		got  []byte
		want string
	}{"ConsumerGroupMemberMetadataValue with ClassicMemberMetadata", encodeMemberMetadata(classic),
		"00000000026302680202610000007530000100110100002710020672616e67650301020000"})
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}

	// And they read back.
	var back consumerMember
	if err := decodeMemberMetadata(encodeMemberMetadata(m), &back); err != nil || *back.instanceID != "i1" ||
		back.clientHost != "/127.0.0.1" || len(back.topics) != 2 || back.rebalanceTimeout != 30*time.Second || back.assignor != "uniform" {
		t.Errorf("member metadata round trip: %+v, %v", back, err)
	}
	if err := decodeCurrentAssignment(encodeCurrentAssignment(m), &back); err != nil || back.epoch != 7 || back.prevEpoch != 6 ||
		back.state != cmUnrevoked || !has(back.assigned, tid, 0) || !has(back.revoking, tid, 2) {
		t.Errorf("current assignment round trip: %+v, %v", back, err)
	}
	if err := decodeMemberMetadata(encodeMemberMetadata(classic), &back); err != nil || back.classic == nil ||
		back.classic.sessionTimeout != 10*time.Second || len(back.classic.protocols) != 1 || back.classic.protocols[0].Name != "range" {
		t.Errorf("classic member metadata round trip: %+v, %v", back.classic, err)
	}
	if e, h, err := decodeGroupEpoch(encodeGroupEpoch(7, 0x1122334455667788)); err != nil || e != 7 || h != 0x1122334455667788 {
		t.Errorf("group epoch round trip: %d %x %v", e, h, err)
	}
	if a, err := decodeTargetMember(encodeTargetMember(Assignment{tid: {2, 0}})); err != nil || len(a[tid]) != 2 {
		t.Errorf("target round trip: %v %v", a, err)
	}
	typ, g, mid, err := parseConsumerKey(consumerMemberKey(recConsumerGroupTargetMember, "g", "m"))
	if err != nil || typ != recConsumerGroupTargetMember || g != "g" || mid != "m" {
		t.Errorf("key round trip: %d %q %q %v", typ, g, mid, err)
	}
	if _, _, _, err := parseConsumerKey([]byte{0, 5, 0, 9, 'g'}); err == nil {
		t.Error("truncated key parsed")
	}
}
