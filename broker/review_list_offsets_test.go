package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReviewListOffsetsLeaderEpoch: the leader epoch ListOffsets (v4+)
// answers with an offset is, as in Kafka 4.x (UnifiedLog.fetchOffsetByTimestamp
// and Partition.fetchOffsetForTimestamp), the epoch of that offset: the
// epoch cache's for the log start (earliest), the found batch's for a
// timestamp or the max timestamp; only latest answers the current epoch.
// Records 0-1 are written at epoch 0, records 2-4 at epoch 3.
func TestReviewListOffsetsLeaderEpoch(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "t", 1, nil)
	p := tp.partition(0)
	produce := func(n int) {
		t.Helper()
		if resp := do[*kmsg.ProduceResponse](t, b, 9, produceReq("t", 0, adminBatch(n))); resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
		}
	}
	produce(2) // timestamps 1000, 1001
	if err := b.cluster.setLeadership(p, 0, 3, []int32{0}, []int32{0}, nil); err != nil {
		t.Fatal(err)
	}
	produce(3) // timestamps 1000, 1001, 1002: the max timestamp is offset 4's
	for _, c := range []struct {
		name      string
		ts        int64
		wantOff   int64
		wantEpoch int32
	}{
		{"earliest", tsEarliest, 0, 0},
		{"earliest local", tsEarliestLocal, 0, 0},
		{"timestamp 1000", 1000, 0, 0},
		{"max timestamp", tsMaxTimestamp, 4, 3},
		{"latest", tsLatest, 5, 3},
	} {
		req := listOffsetsReq("t", 0, -1, -1)
		req.Topics[0].Partitions[0].Timestamp = c.ts
		lp := do[*kmsg.ListOffsetsResponse](t, b, 8, req).Topics[0].Partitions[0]
		if lp.ErrorCode != 0 || lp.Offset != c.wantOff || lp.LeaderEpoch != c.wantEpoch {
			t.Errorf("%s: error %d offset %d epoch %d, want offset %d epoch %d", c.name, lp.ErrorCode, lp.Offset, lp.LeaderEpoch, c.wantOff, c.wantEpoch)
		}
	}
}
