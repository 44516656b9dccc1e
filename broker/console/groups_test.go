package console_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type groupRow struct {
	GroupID string `json:"group_id"`
	Type    string `json:"type"`
	State   string `json:"state"`
	Members int    `json:"members"`
	Lag     int64  `json:"lag"`
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
	Lag int64 `json:"lag"`
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
