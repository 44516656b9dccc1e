package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// The Kafka 4.4 version bumps (TxnOffsetCommit v6, DeleteGroups v3) and
// --kafka-version emulation of the keys and versions Kafka 4.x added.

func TestTxnOffsetCommitV6TopicIDs(t *testing.T) {
	b := newAdminBroker(t)
	in := mustCreateTopic(t, b, "in", 2, nil)
	pid, epoch := initTxn(t, b, "tx6")
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "tx6", "g6", pid, epoch, -1
	for _, id := range [][16]byte{in.id, {9, 9, 9}, {}} {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.TopicID = id
		for _, p := range []int32{0, 7} {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, 5
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := do[*kmsg.TxnOffsetCommitResponse](t, b, 6, req)
	if len(resp.Topics) != 3 || resp.Topics[0].TopicID != in.id || resp.Topics[1].TopicID != [16]byte{9, 9, 9} {
		t.Fatalf("topics %+v", resp.Topics)
	}
	want := [][2]*kerr.Error{{nil, kerr.UnknownTopicOrPartition}, {kerr.UnknownTopicID, kerr.UnknownTopicID}, {kerr.UnknownTopicID, kerr.UnknownTopicID}}
	for i, w := range want {
		for j := range 2 {
			wantCode(t, "v6 topic", resp.Topics[i].Partitions[j].ErrorCode, w[j])
		}
	}
	// Committed under the topic's name: visible by name after EndTxn.
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx6", pid, epoch, true
	if er := do[*kmsg.EndTxnResponse](t, b, 4, end); er.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v", kerr.ErrorForCode(er.ErrorCode))
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g6"
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "in", []int32{0}
	of.Topics = append(of.Topics, ot)
	fr := do[*kmsg.OffsetFetchResponse](t, b, 5, of)
	if len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].Offset != 5 {
		t.Fatalf("offset after commit: %+v", fr.Topics)
	}
}

func TestDeleteGroupsV3(t *testing.T) {
	b := newAdminBroker(t)
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Groups = []string{"nope"}
	resp := do[*kmsg.DeleteGroupsResponse](t, b, 3, req)
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorMessage != nil {
		t.Fatalf("v3: %+v", resp.Groups)
	}
	wantCode(t, "unknown group", resp.Groups[0].ErrorCode, kerr.GroupIDNotFound)
}

// TestKafkaVersionEmulation checks, for each key or version Kafka 4.x
// added, that franz-go's kversion knows the release that added it, so
// --kafka-version hides it before that release and shows it from then on.
func TestKafkaVersionEmulation(t *testing.T) {
	for _, tc := range []struct {
		key, version int16
		first, prev  string // the release that added key at version, and the one before
	}{
		{57, 2, "4.0", "3.9"}, // UpdateFeatures v2
		{28, 5, "4.0", "3.9"}, // TxnOffsetCommit v5 (transactions v2)
		{76, 1, "4.1", "4.0"}, // ShareGroupHeartbeat
		{77, 1, "4.1", "4.0"}, // ShareGroupDescribe
		{78, 1, "4.1", "4.0"}, // ShareFetch
		{79, 1, "4.1", "4.0"}, // ShareAcknowledge
		{83, 0, "4.1", "4.0"}, // InitializeShareGroupState
		{87, 0, "4.1", "4.0"}, // ReadShareGroupStateSummary
		{90, 0, "4.1", "4.0"}, // DescribeShareGroupOffsets
		{91, 0, "4.1", "4.0"}, // AlterShareGroupOffsets
		{92, 0, "4.1", "4.0"}, // DeleteShareGroupOffsets
		{74, 1, "4.1", "4.0"}, // ListConfigResources
		{66, 2, "4.1", "4.0"}, // ListTransactions v2
		{78, 2, "4.2", "4.1"}, // ShareFetch v2
		{88, 0, "4.2", "4.1"}, // StreamsGroupHeartbeat
		{89, 0, "4.2", "4.1"}, // StreamsGroupDescribe
		{80, 1, "4.2", "4.1"}, // AddRaftVoter v1
		{35, 5, "4.3", "4.2"}, // DescribeLogDirs v5
		{18, 5, "4.4", "4.3"}, // ApiVersions v5
		{28, 6, "4.4", "4.3"}, // TxnOffsetCommit v6
		{42, 3, "4.4", "4.3"}, // DeleteGroups v3
		{88, 1, "4.4", "4.3"}, // StreamsGroupHeartbeat v1
		{93, 0, "4.4", "4.3"}, // StreamsGroupTopologyDescriptionUpdate
		{94, 0, "4.4", "4.3"}, // UnregisterController
	} {
		first, prev := kversion.FromString(tc.first), kversion.FromString(tc.prev)
		if first == nil || prev == nil {
			t.Fatalf("kversion does not know %s or %s", tc.first, tc.prev)
		}
		if max, ok := first.LookupMaxKeyVersion(tc.key); !ok || max < tc.version {
			t.Errorf("key %d: kversion %s max %d (served %v), want >= %d", tc.key, tc.first, max, ok, tc.version)
		}
		if max, ok := prev.LookupMaxKeyVersion(tc.key); ok && max >= tc.version {
			t.Errorf("key %d v%d: kversion %s already has max %d", tc.key, tc.version, tc.prev, max)
		}
		// The broker's caps follow, for the keys it serves.
		a := apiFor(tc.key)
		if a == nil || a.max < tc.version {
			continue
		}
		capsFirst, err := newVersionCaps(tc.first)
		if err != nil {
			t.Fatal(err)
		}
		capsPrev, err := newVersionCaps(tc.prev)
		if err != nil {
			t.Fatal(err)
		}
		if capsFirst[tc.key] < tc.version {
			t.Errorf("--kafka-version %s: key %d capped at %d, want >= %d", tc.first, tc.key, capsFirst[tc.key], tc.version)
		}
		if capsPrev[tc.key] >= tc.version {
			t.Errorf("--kafka-version %s: key %d v%d advertised (cap %d)", tc.prev, tc.key, tc.version, capsPrev[tc.key])
		}
	}
	// 3.9 hides every share and streams key, and the features that go
	// with them.
	caps, err := newVersionCaps("3.9")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int16{76, 77, 78, 79, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94} {
		if caps[k] >= 0 {
			t.Errorf("--kafka-version 3.9 advertises key %d v%d", k, caps[k])
		}
	}
}

func TestUnregisterControllerSingleNode(t *testing.T) {
	b := newAdminBroker(t)
	for _, tc := range []struct {
		id   int32
		want *kerr.Error
		msg  string
	}{
		{b.cfg.NodeID, kerr.InvalidRequest, "Controller cannot unregister itself while it is active."},
		{b.cfg.NodeID + 9, kerr.ControllerIDNotRegistered, fmt.Sprintf("Controller ID %d is not currently registered.", b.cfg.NodeID+9)},
	} {
		req := kmsg.NewPtrUnregisterControllerRequest()
		req.ControllerID = tc.id
		resp := do[*kmsg.UnregisterControllerResponse](t, b, 0, req)
		wantCode(t, "unregister controller", resp.ErrorCode, tc.want)
		if got := nullableString(resp.ErrorMessage); got != tc.msg {
			t.Errorf("controller %d: message %q, want %q", tc.id, got, tc.msg)
		}
	}
}

// metadataTopicID is topic's id as the broker behind cl names it in
// Metadata (raw TxnOffsetCommit requests name topics by id from v6).
func metadataTopicID(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("Metadata %s: %v %+v", topic, err, resp)
	}
	return resp.Topics[0].TopicID
}
