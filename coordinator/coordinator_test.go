package coordinator

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionFor is Kafka's Utils.abs(groupId.hashCode()) % partitions.
func TestPartitionForMatchesKafka(t *testing.T) {
	javaHash := func(s string) int32 {
		var h int32
		for _, r := range s {
			h = 31*h + int32(r)
		}
		return h
	}
	if javaHash("polygenelubricants") != -2147483648 {
		t.Fatalf("java hash of polygenelubricants = %d", javaHash("polygenelubricants"))
	}
	if got := PartitionFor("polygenelubricants", 50); got != 0 {
		t.Fatalf("MIN_VALUE hash: partition %d, want 0", got)
	}
	if got := PartitionFor("a", 50); got != 97%50 {
		t.Fatalf("a: %d", got)
	}
	// "group".hashCode() = 98629247.
	if got := PartitionFor("group", 50); got != 98629247%50 {
		t.Fatalf("group: %d", got)
	}
	// A negative hash: "console-consumer-12345".hashCode() is negative;
	// Kafka takes h & 0x7fffffff.
	h := javaHash("console-consumer-12345")
	if got, want := PartitionFor("console-consumer-12345", 50), (h&0x7fffffff)%50; got != want {
		t.Fatalf("negative hash: %d, want %d", got, want)
	}
	// Characters outside the BMP count as two UTF-16 units.
	if got, want := PartitionFor("\U0001F600", 50), int32((31*0xD83D+0xDE00)&0x7fffffff)%50; got != want {
		t.Fatalf("surrogates: %d, want %d", got, want)
	}
}

func TestRecordsRoundTripKafkaSchemas(t *testing.T) {
	e := &offsetEntry{offset: 42, leaderEpoch: 3, metadata: "m", commitTimestamp: 1700, expireTimestamp: -1}
	r := offsetRecord("g", "t", 7, e)
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(r.Key); err != nil || k.Version != 1 || k.Group != "g" || k.Topic != "t" || k.Partition != 7 {
		t.Fatalf("key %+v %v", k, err)
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(r.Value); err != nil || v.Version != 3 || v.Offset != 42 || v.LeaderEpoch != 3 || v.Metadata != "m" || v.CommitTimestamp != 1700 {
		t.Fatalf("value %+v %v", v, err)
	}
	e.expireTimestamp = 9000
	r = offsetRecord("g", "t", 7, e)
	if err := v.ReadFrom(r.Value); err != nil || v.Version != 1 || v.ExpireTimestamp != 9000 {
		t.Fatalf("v1 value %+v %v", v, err)
	}

	c := New(Config{Partitions: 1}, newMemLog(), NewFakeClock(time.UnixMilli(5000)), nil, nil)
	g := newGroup(c, "grp")
	inst := "i"
	g.protocolType, g.protocolName, g.generation, g.leader = "consumer", "range", 4, "m1"
	g.members["m1"] = &member{id: "m1", instanceID: &inst, clientID: "c", clientHost: "/h", sessionTimeout: 10 * time.Second,
		rebalanceTimeout: time.Minute, protocols: []Protocol{{"range", []byte("sub")}}, assignment: []byte("asg")}
	gr := g.metadataRecord()
	var gk kmsg.GroupMetadataKey
	if err := gk.ReadFrom(gr.Key); err != nil || gk.Version != 2 || gk.Group != "grp" {
		t.Fatalf("group key %+v %v", gk, err)
	}
	var gv kmsg.GroupMetadataValue
	if err := gv.ReadFrom(gr.Value); err != nil || gv.Version != 3 || gv.Generation != 4 || *gv.Protocol != "range" || *gv.Leader != "m1" ||
		len(gv.Members) != 1 || !bytes.Equal(gv.Members[0].Subscription, []byte("sub")) || !bytes.Equal(gv.Members[0].Assignment, []byte("asg")) ||
		*gv.Members[0].InstanceID != "i" || gv.Members[0].SessionTimeoutMillis != 10000 || gv.Members[0].RebalanceTimeoutMillis != 60000 {
		t.Fatalf("group value %+v %v", gv, err)
	}
}

// Replay must survive any bytes in the log (a corrupted or foreign record
// is skipped, never a panic).
func FuzzReplayRecord(f *testing.F) {
	e := &offsetEntry{offset: 1, leaderEpoch: -1, expireTimestamp: -1}
	r := offsetRecord("g", "t", 0, e)
	f.Add(r.Key, r.Value)
	f.Add(groupKey("g"), []byte{0, 3, 0, 1, 'c', 0, 0, 0, 1, 255, 255, 255, 255})
	f.Add([]byte{0, 2}, []byte(nil))
	f.Add(consumerGroupKey(recConsumerGroupMetadata, "g"), encodeGroupEpoch(3, 99))
	f.Add(consumerGroupKey(recConsumerGroupTargetMetadata, "g"), encodeTargetEpoch(3, 1))
	cm := &consumerMember{clientID: "c", topics: []string{"t"}, assigned: Assignment{{1}: {0, 1}}, revoking: Assignment{}}
	f.Add(consumerMemberKey(recConsumerGroupMemberMetadata, "g", "m"), encodeMemberMetadata(cm))
	f.Add(consumerMemberKey(recConsumerGroupTargetMember, "g", "m"), encodeTargetMember(cm.assigned))
	f.Add(consumerMemberKey(recConsumerGroupCurrentAssignment, "g", "m"), encodeCurrentAssignment(cm))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		l := newMemLog()
		// The record, after a consumer group's epoch and one member (so
		// member records land in a group that replay installs).
		for _, r := range []Record{
			{Key: consumerGroupKey(recConsumerGroupMetadata, "g"), Value: encodeGroupEpoch(3, 0)},
			{Key: consumerMemberKey(recConsumerGroupMemberMetadata, "g", "m"), Value: encodeMemberMetadata(cm)},
			{Key: key, Value: value}} {
			if _, err := l.Append(0, []Record{r}); err != nil {
				t.Fatal(err)
			}
		}
		c := New(Config{Partitions: 1, MinSessionTimeout: time.Millisecond, MaxSessionTimeout: time.Hour}, l, NewFakeClock(time.Unix(0, 0)), nil, nil)
		if err := c.Load(0); err != nil {
			t.Fatal(err)
		}
		for _, g := range c.ListGroups() {
			// DescribeGroups serves classic groups; a consumer, share or
			// streams group answers GROUP_ID_NOT_FOUND there, as Kafka's.
			if _, err := c.DescribeGroup(g.Group); err != nil && g.Group != "" && g.Type == "classic" {
				t.Fatal(err)
			}
			_, _ = c.FetchOffsets(g.Group, nil)
			_, _ = c.DescribeConsumerGroup(g.Group)
			_, _ = c.DescribeStreamsGroup(g.Group)
			_, _ = c.DescribeShareGroup(g.Group)
		}
		c.Close()
	})
}

// A Stable consumer group keeps the offsets of the topics its members
// subscribe to, and loses others after the retention (Kafka's
// cleanupGroupMetadata).
func TestExpireOffsetsOfUnsubscribedTopicsInStableGroup(t *testing.T) {
	clock := NewFakeClock(time.Unix(1000, 0))
	c := New(Config{Partitions: 1, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Hour, OffsetsRetention: time.Hour},
		newMemLog(), clock, nil, nil)
	c.MarkLoaded()
	sub := kmsg.NewConsumerMemberMetadata()
	sub.Topics = []string{"kept"}
	done := make(chan JoinResult, 1)
	c.JoinGroup(JoinRequest{Group: "g", ClientID: "c", SessionTimeout: 50 * time.Minute, RebalanceTimeout: time.Minute,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: sub.AppendTo(nil)}}}, func(r JoinResult) { done <- r })
	clock.Advance(0)
	r := <-done
	c.SyncGroup(SyncRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation}, func(SyncResult) {})
	c.WaitIdle()
	errs := c.CommitOffsets(CommitRequest{Group: "g", MemberID: r.MemberID, Generation: r.Generation, Offsets: []OffsetCommit{
		{Topic: "kept", Partition: 0, Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1},
		{Topic: "gone", Partition: 0, Offset: 2, LeaderEpoch: -1, ExpireTimestamp: -1}}})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for range 2 {
		clock.Advance(40 * time.Minute)
		if err := c.Heartbeat("g", r.MemberID, nil, r.Generation); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.ExpireOffsets(); n != 1 {
		t.Fatalf("expired %d offsets, want 1", n)
	}
	offs, _ := c.FetchOffsets("g", nil)
	if len(offs) != 1 || offs[0].Topic != "kept" {
		t.Fatalf("left %+v", offs)
	}
	if d, _ := c.DescribeGroup("g"); d.State != StateStable {
		t.Fatalf("group %s", d.State)
	}
	c.Close()
}
