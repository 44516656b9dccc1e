package console_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type groupRow struct {
	GroupID string `json:"group_id"`
	Type    string `json:"type"`
	State   string `json:"state"`
	Members int    `json:"members"`
	Lag     int64  `json:"lag"`
	Unknown int    `json:"lag_unknown_partitions"`
}

type groupDetail struct {
	GroupID string `json:"group_id"`
	Type    string `json:"type"`
	State   string `json:"state"`
	Members []struct {
		MemberID    string `json:"member_id"`
		ClientID    string `json:"client_id"`
		Assignments []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignments"`
	} `json:"members"`
	Offsets []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed int64  `json:"committed"`
		LogEnd    int64  `json:"log_end"`
		Lag       int64  `json:"lag"`
		MemberID  string `json:"member_id"`
	} `json:"offsets"`
	Lag     int64 `json:"lag"`
	Unknown int   `json:"lag_unknown_partitions"`
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	f.createTopic("clicks", 2)
	produce := func(n int) {
		for i := range n {
			f.call("POST", "/api/topics/clicks/messages", map[string]any{"partition": i % 2, "value": fmt.Sprint(i)}, 200, nil)
		}
	}
	produce(10)

	consumer, err := kgo.NewClient(kgo.SeedBrokers(f.b.Addr()), kgo.ConsumerGroup("readers"), kgo.ConsumeTopics("clicks"),
		kgo.ClientID("reader-1"), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := 0
	for got < 10 {
		fs := consumer.PollFetches(f.ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(f.ctx); err != nil {
		t.Fatal(err)
	}
	produce(6) // lag 6: 3 per partition

	var d groupDetail
	waitFor(t, "the group to show its member and lag", func() bool {
		f.call("GET", "/api/groups/readers", nil, 200, &d)
		return len(d.Members) == 1 && d.Lag == 6
	})
	if d.Type != "classic" && d.Type != "consumer" || d.Members[0].ClientID != "reader-1" || len(d.Offsets) != 2 {
		t.Fatalf("group %+v", d)
	}
	for _, o := range d.Offsets {
		if o.Topic != "clicks" || o.Committed != 5 || o.LogEnd != 8 || o.Lag != 3 || o.MemberID != d.Members[0].MemberID {
			t.Fatalf("offset row %+v", o)
		}
	}
	var rows []groupRow
	f.call("GET", "/api/groups", nil, 200, &rows)
	if len(rows) != 1 || rows[0].GroupID != "readers" || rows[0].Members != 1 || rows[0].Lag != 6 {
		t.Fatalf("groups %+v", rows)
	}

	// Kafka's rule: no reset (nor delete) while the group has members.
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "to": "earliest"}, 409, nil)
	f.call("DELETE", "/api/groups/readers", nil, 409, nil)
	consumer.Close() // leaves the group

	waitFor(t, "the group to be empty", func() bool {
		f.call("GET", "/api/groups/readers", nil, 200, &d)
		return len(d.Members) == 0
	})
	var reset struct {
		Offsets []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"offsets"`
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "to": "earliest"}, 200, &reset)
	if len(reset.Offsets) != 2 || reset.Offsets[0].Offset != 0 || reset.Offsets[1].Offset != 0 {
		t.Fatalf("reset to earliest: %+v", reset)
	}
	f.call("GET", "/api/groups/readers", nil, 200, &d)
	if d.Lag != 16 {
		t.Fatalf("lag after reset to earliest: %d", d.Lag)
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "partitions": []int{1}, "to": "offset", "offset": 6}, 200, &reset)
	if len(reset.Offsets) != 1 || reset.Offsets[0].Partition != 1 || reset.Offsets[0].Offset != 6 {
		t.Fatalf("reset partition 1 to 6: %+v", reset)
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "to": "offset", "offset": 1000}, 200, &reset)
	if reset.Offsets[0].Offset != 8 {
		t.Fatalf("reset beyond the end is clamped to it: %+v", reset)
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "to": "latest"}, 200, &reset)
	f.call("GET", "/api/groups/readers", nil, 200, &d)
	if d.Lag != 0 {
		t.Fatalf("lag after reset to latest: %d", d.Lag)
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "clicks", "to": "timestamp", "timestamp": 0}, 200, &reset)
	if reset.Offsets[0].Offset != 0 {
		t.Fatalf("reset to timestamp 0: %+v", reset)
	}

	for _, bad := range []map[string]any{
		{"to": "earliest"},
		{"topic": "clicks", "to": "sideways"},
		{"topic": "clicks", "to": "offset"},
		{"topic": "clicks", "to": "timestamp"},
		{"topic": "clicks", "to": "earliest", "partitions": []int{5}},
	} {
		f.call("POST", "/api/groups/readers/reset-offsets", bad, 400, nil)
	}
	f.call("POST", "/api/groups/readers/reset-offsets", map[string]any{"topic": "nope", "to": "earliest"}, 404, nil)

	f.call("DELETE", "/api/groups/readers", nil, 204, nil)
	f.call("GET", "/api/groups/readers", nil, 404, nil)
	f.call("DELETE", "/api/groups/readers", nil, 404, nil)
}

// TestConsumerProtocolGroup: a group of the KIP-848 protocol (type
// consumer, described with ConsumerGroupDescribe) shows its members, their
// server-side assignments and its lag; a partition without a committed
// offset shows lag -1 and is left out of the total.
func TestConsumerProtocolGroup(t *testing.T) {
	f := newFixture(t)
	f.createTopic("orders", 2)
	for i := range 8 {
		f.call("POST", "/api/topics/orders/messages", map[string]any{"partition": i % 2, "value": fmt.Sprint(i)}, 200, nil)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(f.b.Addr()), kgo.ConsumerGroup("nextgen"), kgo.ConsumeTopics("orders"),
		kgo.ServerSideBalancer(), kgo.ClientID("nextgen-1"), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := 0
	for got < 8 {
		fs := consumer.PollFetches(f.ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	// Nothing committed: both partitions' lag unknown, and so the total
	// (not 0: that would read "caught up").
	var d groupDetail
	waitFor(t, "the consumer-protocol group to show its member's assignment", func() bool {
		f.call("GET", "/api/groups/nextgen", nil, 200, &d)
		return len(d.Members) == 1 && len(d.Offsets) == 2
	})
	if d.Lag != -1 || d.Unknown != 2 || d.Offsets[0].Lag != -1 || d.Offsets[1].Lag != -1 {
		t.Fatalf("lag without commits: %+v", d)
	}
	var rows []groupRow
	f.call("GET", "/api/groups", nil, 200, &rows)
	if len(rows) != 1 || rows[0].Lag != -1 || rows[0].Unknown != 2 {
		t.Fatalf("groups without commits %+v", rows)
	}

	// Commit partition 0 only (at 1 of its 4 records): lag 3 there,
	// partition 1 uncommitted.
	var commitErr error
	consumer.CommitOffsetsSync(f.ctx, map[string]map[int32]kgo.EpochOffset{"orders": {0: {Epoch: -1, Offset: 1}}},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			commitErr = err
			for _, tp := range resp.Topics {
				for _, p := range tp.Partitions {
					commitErr = errors.Join(commitErr, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		})
	if commitErr != nil {
		t.Fatal(commitErr)
	}

	waitFor(t, "the consumer-protocol group to show its member, assignment and lag", func() bool {
		f.call("GET", "/api/groups/nextgen", nil, 200, &d)
		return len(d.Members) == 1 && len(d.Members[0].Assignments) == 1 && len(d.Offsets) == 2 && d.Lag == 3
	})
	m := d.Members[0]
	if d.Type != "consumer" || d.State != "Stable" || d.Unknown != 1 || m.ClientID != "nextgen-1" || m.Assignments[0].Topic != "orders" ||
		len(m.Assignments[0].Partitions) != 2 {
		t.Fatalf("group %+v", d)
	}
	want := []struct{ committed, lag int64 }{{1, 3}, {-1, -1}}
	for i, o := range d.Offsets {
		if o.Partition != int32(i) || o.Committed != want[i].committed || o.LogEnd != 4 || o.Lag != want[i].lag || o.MemberID != m.MemberID {
			t.Fatalf("offset row %d: %+v", i, o)
		}
	}
	f.call("GET", "/api/groups", nil, 200, &rows)
	if len(rows) != 1 || rows[0].Type != "consumer" || rows[0].Members != 1 || rows[0].Lag != 3 || rows[0].Unknown != 1 {
		t.Fatalf("groups %+v", rows)
	}
	f.call("POST", "/api/groups/nextgen/reset-offsets", map[string]any{"topic": "orders", "to": "earliest"}, 409, nil)
}

// TestStreamsGroup: a streams group (KIP-1071), joined here with raw
// StreamsGroupHeartbeat requests, shows its member, the member's active
// tasks as the source topic's partitions, and its committed offsets' lag.
func TestStreamsGroup(t *testing.T) {
	f := newFixture(t)
	f.createTopic("in", 2)
	for i := range 6 {
		f.call("POST", "/api/topics/in/messages", map[string]any{"partition": i % 2, "value": fmt.Sprint(i)}, 200, nil)
	}
	join := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	join.Group, join.MemberID, join.MemberEpoch, join.RebalanceTimeoutMillis = "app", "streams-member-1", 0, 30000
	process := "process-1"
	join.ProcessID = &process
	join.ActiveTasks, join.StandbyTasks, join.WarmupTasks = []kmsg.TaskIDs{}, []kmsg.TaskIDs{}, []kmsg.TaskIDs{}
	topology := kmsg.NewStreamsGroupHeartbeatRequestTopology()
	sub := kmsg.NewStreamsGroupHeartbeatRequestTopologySubtopology()
	sub.SubtopologyID, sub.SourceTopics = "0", []string{"in"}
	topology.Subtopologies = []kmsg.StreamsGroupHeartbeatRequestTopologySubtopology{sub}
	join.Topology = &topology
	// kgo does not route StreamsGroupHeartbeat to a coordinator itself:
	// send it to the only broker.
	md, err := f.adm.BrokerMetadata(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	broker := f.kcl.Broker(int(md.Brokers[0].NodeID))
	resp, err := join.RequestWith(f.ctx, broker)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The assignment comes after the initial rebalance delay.
	hb := kmsg.NewPtrStreamsGroupHeartbeatRequest()
	hb.Group, hb.MemberID = "app", join.MemberID
	waitFor(t, "the streams member's tasks", func() bool {
		hb.MemberEpoch = resp.MemberEpoch
		resp, err = hb.RequestWith(f.ctx, broker)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.ActiveTasks) == 1 && len(resp.ActiveTasks[0].Partitions) == 2
	})
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = "app", join.MemberID, resp.MemberEpoch
	ct := kmsg.NewOffsetCommitRequestTopic()
	tmd, err := f.adm.Metadata(f.ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	ct.Topic, ct.TopicID = "in", tmd.Topics["in"].ID
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset = 0, 1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	cresp, err := commit.RequestWith(f.ctx, f.kcl)
	if err == nil {
		err = kerr.ErrorForCode(cresp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}

	var d groupDetail
	f.call("GET", "/api/groups/app", nil, 200, &d)
	if d.Type != "streams" || d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != join.MemberID ||
		len(d.Members[0].Assignments) != 1 || d.Members[0].Assignments[0].Topic != "in" ||
		len(d.Members[0].Assignments[0].Partitions) != 2 {
		t.Fatalf("streams group %+v", d)
	}
	if len(d.Offsets) != 2 || d.Offsets[0].Lag != 2 || d.Offsets[0].MemberID != join.MemberID || d.Offsets[1].Lag != -1 ||
		d.Lag != 2 || d.Unknown != 1 {
		t.Fatalf("streams group offsets %+v", d)
	}
	var rows []groupRow
	f.call("GET", "/api/groups", nil, 200, &rows)
	if len(rows) != 1 || rows[0].Type != "streams" || rows[0].Members != 1 || rows[0].Lag != 2 {
		t.Fatalf("groups %+v", rows)
	}
}

// TestShareGroupLag: a share group (KIP-932) has no committed offsets; its
// lag is the broker's (DescribeShareGroupOffsets).
func TestShareGroupLag(t *testing.T) {
	f := newFixture(t)
	f.createTopic("jobs", 1)
	consumer, err := kgo.NewClient(kgo.SeedBrokers(f.b.Addr()), kgo.ShareGroup("workers"), kgo.ConsumeTopics("jobs"),
		kgo.ClientID("worker-1"), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	poll := func(d time.Duration) int {
		ctx, cancel := context.WithTimeout(f.ctx, d)
		defer cancel()
		return consumer.PollFetches(ctx).NumRecords()
	}
	// share.auto.offset.reset is latest: produce until the share
	// partition, once initialized, delivers.
	waitFor(t, "the share consumer's first record", func() bool {
		f.call("POST", "/api/topics/jobs/messages", map[string]any{"value": "job"}, 200, nil)
		return poll(500*time.Millisecond) > 0
	})
	var d groupDetail
	waitFor(t, "the share group's lag to reach 0", func() bool {
		poll(100 * time.Millisecond) // acknowledges what the last poll delivered
		f.call("GET", "/api/groups/workers", nil, 200, &d)
		return len(d.Offsets) == 1 && d.Lag == 0
	})
	o := d.Offsets[0]
	if d.Type != "share" || len(d.Members) != 1 || d.Members[0].ClientID != "worker-1" || o.Topic != "jobs" ||
		o.Committed < 0 || o.LogEnd < 1 || o.Lag != 0 || o.MemberID != d.Members[0].MemberID {
		t.Fatalf("share group %+v", d)
	}
	var rows []groupRow
	f.call("GET", "/api/groups", nil, 200, &rows)
	if len(rows) != 1 || rows[0].Type != "share" || rows[0].Lag != 0 {
		t.Fatalf("groups %+v", rows)
	}
}
