package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bad input at the handler level that SECURITY.md's table lists, answered
// as Kafka answers it.

// TestBadTopicNames: names that are not up to 249 of [a-zA-Z0-9._-] (invalid
// UTF-8, a path separator, "..", 250 characters, empty) are refused with
// INVALID_TOPIC_EXCEPTION by CreateTopics and by Metadata's auto-creation,
// and a produce to one is UNKNOWN_TOPIC_OR_PARTITION (no such topic can
// exist).
func TestBadTopicNames(t *testing.T) {
	b := newAdminBroker(t)
	for _, name := range []string{"\xff\xfe", "caf\xc3", "a/b", "..", strings.Repeat("a", 250), "", "topic\x00"} {
		ct := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, -1
		ct.Topics = append(ct.Topics, rt)
		cr := do[*kmsg.CreateTopicsResponse](t, b, 7, ct)
		if got := cr.Topics[0].ErrorCode; got != kerr.InvalidTopicException.Code {
			t.Errorf("CreateTopics %q: error %d, want INVALID_TOPIC_EXCEPTION", name, got)
		}

		mr := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		mr.Topics = append(mr.Topics, mt)
		mr.AllowAutoTopicCreation = true
		m := do[*kmsg.MetadataResponse](t, b, 12, mr)
		if got := m.Topics[0].ErrorCode; got != kerr.InvalidTopicException.Code {
			t.Errorf("Metadata (auto-create) %q: error %d, want INVALID_TOPIC_EXCEPTION", name, got)
		}

		pr := do[*kmsg.ProduceResponse](t, b, 9, produceReq(name, 0, makeBatch(1, b.now().UnixMilli(), true)))
		if got := pr.Topics[0].Partitions[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("Produce %q: error %d, want UNKNOWN_TOPIC_OR_PARTITION", name, got)
		}
	}
	if n := len(b.topics.all()); n != 0 {
		t.Fatalf("%d topics exist after refused names", n)
	}
}

// TestProduceToInternalTopic: a client produce to __consumer_offsets is
// INVALID_TOPIC_EXCEPTION ("Cannot append to internal topic" in Kafka), and
// nothing is appended.
func TestProduceToInternalTopic(t *testing.T) {
	b := newAdminBroker(t)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"g"}
	do[*kmsg.FindCoordinatorResponse](t, b, 4, fc) // creates __consumer_offsets
	tp := b.topics.get("__consumer_offsets")
	if tp == nil {
		t.Fatal("__consumer_offsets not created by FindCoordinator")
	}
	end := tp.partition(0).endOffset()
	pr := do[*kmsg.ProduceResponse](t, b, 9, produceReq("__consumer_offsets", 0, makeBatch(1, b.now().UnixMilli(), true)))
	if got := pr.Topics[0].Partitions[0].ErrorCode; got != kerr.InvalidTopicException.Code {
		t.Fatalf("error %d, want INVALID_TOPIC_EXCEPTION", got)
	}
	if got := tp.partition(0).endOffset(); got != end {
		t.Fatalf("end offset %d -> %d after a refused produce", end, got)
	}
}

// TestProduceInvalidAcks: acks outside {-1, 0, 1} is INVALID_REQUIRED_ACKS
// for every partition, and nothing is appended.
func TestProduceInvalidAcks(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, nil)
	for _, acks := range []int16{2, -2, 32767} {
		req := produceReq("t", 0, makeBatch(1, b.now().UnixMilli(), true))
		req.Acks = acks
		pr := do[*kmsg.ProduceResponse](t, b, 9, req)
		if got := pr.Topics[0].Partitions[0].ErrorCode; got != kerr.InvalidRequiredAcks.Code {
			t.Fatalf("acks %d: error %d, want INVALID_REQUIRED_ACKS", acks, got)
		}
	}
	if end := tp.partition(0).endOffset(); end != 0 {
		t.Fatalf("end offset %d after refused produces", end)
	}
}
