package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/replication"
	"go.etcd.io/raft/v3/raftpb"
)

// fetchErrorAt fetches topic's partition 0 at offset from node id and
// returns the partition's error code and log start offset.
func fetchErrorAt(t *testing.T, cl *kgo.Client, id int32, topic string, offset int64) (int16, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 10
	req.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = td[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition = 0
	fp.FetchOffset = offset
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl.Broker(int(id)))
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.LogStartOffset
}

// DeleteRecords on a replication-factor-3 partition: the low watermark
// (inside a batch) is answered by the leader once replicated; ListOffsets
// earliest and Fetch (OFFSET_OUT_OF_RANGE below it) enforce it on every
// replica; a replica down at the time reports the same start once it
// caught up; after a leader change and a restart it holds.
func TestClusterDeleteRecords(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 1, 3, nil, "dr"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	for b := range 10 { // ten batches of ten records
		var rs []*kgo.Record
		for i := range 10 {
			rs = append(rs, &kgo.Record{Topic: "dr", Partition: 0, Value: fmt.Appendf(nil, "%d", b*10+i)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tc.waitFor("a leader", func() bool { return tc.leaderOf("dr", 0) >= 0 })
	leader := tc.leaderOf("dr", 0)
	down := (leader + 1) % 3
	tc.stop(down)

	// 35 is inside the batch 30-39.
	res, err := adm.DeleteRecords(ctx, kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: 35}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.Lookup("dr", 0); !ok || r.Err != nil || r.LowWatermark != 35 {
		t.Fatalf("DeleteRecords: %+v", r)
	}
	checkStart := func(what string, want int64) {
		t.Helper()
		// The answer came once a quorum held the entry and the leader
		// applied it; the other replicas apply it at the next heartbeat.
		tc.waitFor(what+": every live replica applied the log start", func() bool {
			for _, b := range tc.brokers {
				if b != nil && b.topics.get("dr").partition(0).logStartOffset() != want {
					return false
				}
			}
			return true
		})
		var o kadm.ListedOffset
		tc.waitFor(what+": ListOffsets earliest answered", func() bool { // the client may still know a stopped node as leader
			lo, err := adm.ListStartOffsets(ctx, "dr")
			var ok bool
			o, ok = lo.Lookup("dr", 0)
			return err == nil && ok && o.Err == nil
		})
		if o.Offset != want {
			t.Fatalf("%s: ListOffsets earliest %+v, want %d", what, o, want)
		}
		// By timestamp: every record is after time 0, the first one at or
		// above the start answers.
		lt, err := adm.ListOffsetsAfterMilli(ctx, 0, "dr")
		if o, ok := lt.Lookup("dr", 0); err != nil || !ok || o.Err != nil || o.Offset != want {
			t.Fatalf("%s: ListOffsets by timestamp 0: %+v %v, want %d", what, o, err, want)
		}
		// OffsetForLeaderEpoch below the earliest epoch (Raft terms start
		// at 1): the earliest epoch's start, the log start (Kafka's
		// truncateFromStart of the epoch cache).
		oe, err := adm.OffsetForLeaderEpoch(ctx, kadm.OffsetForLeaderEpochRequest{"dr": {0: 0}})
		if e := oe["dr"][0]; err != nil || e.Err != nil || e.EndOffset != want {
			t.Fatalf("%s: OffsetForLeaderEpoch(0): %+v %v, want end offset %d", what, e, err, want)
		}
		l := tc.leaderOf("dr", 0)
		if code, start := fetchErrorAt(t, cl, int32(l+1), "dr", want-1); code != kerr.OffsetOutOfRange.Code {
			t.Fatalf("%s: fetch at %d from the leader: error %d (log start %d), want OFFSET_OUT_OF_RANGE", what, want-1, code, start)
		}
		if code, start := fetchErrorAt(t, cl, int32(l+1), "dr", want); code != 0 || start != want {
			t.Fatalf("%s: fetch at %d: error %d, log start %d", what, want, code, start)
		}
	}
	checkStart("after DeleteRecords", 35)
	// Below or at the start again: nothing moves, the start is answered.
	res, err = adm.DeleteRecords(ctx, kadm.Offsets{"dr": {0: {Topic: "dr", Partition: 0, At: 20}}})
	if r, ok := res.Lookup("dr", 0); err != nil || !ok || r.Err != nil || r.LowWatermark != 35 {
		t.Fatalf("DeleteRecords below the start: %+v %v", r, err)
	}

	// The replica that was down catches up and reports the same start.
	tc.start(down)
	tc.waitFor("the restarted replica applied the log start", func() bool {
		tp := tc.brokers[down].topics.get("dr")
		return tp != nil && tp.partition(0).repl != nil && tp.partition(0).logStartOffset() == 35
	})
	// A leader change: the old leader stops; the new one keeps the start.
	tc.stop(leader)
	tc.waitFor("a new leader", func() bool { l := tc.leaderOf("dr", 0); return l >= 0 && l != leader })
	checkStart("after a leader change", 35)
	// It survives a restart (persisted), and a consumer from the earliest
	// offset starts there.
	tc.start(leader)
	tc.waitFor("the old leader back", func() bool {
		tp := tc.brokers[leader].topics.get("dr")
		return tp != nil && tp.partition(0).repl != nil && tp.partition(0).highWatermark() == 100
	})
	checkStart("after a restart", 35)
	// Retention then moves each replica's Raft log start to the batch
	// holding the start (30-39), through CompactTo; the start stays 35.
	for i, b := range tc.brokers {
		p := b.topics.get("dr").partition(0)
		if _, err := p.enforceRetention(time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if p.log.LogStartOffset() != 30 || p.logStartOffset() != 35 {
			t.Fatalf("node %d after retention: log start %d, Kafka log start %d", i+1, p.log.LogStartOffset(), p.logStartOffset())
		}
	}
	checkStart("after retention", 35)
	got := consumeAll(t, tc.seeds(), "dr", 65)
	if got[0] != "35" || got[64] != "99" {
		t.Fatalf("consumed from the earliest offset: first %q, last %q", got[0], got[len(got)-1])
	}
}

// A compacted topic with replication factor 3 and many updates per key
// shrinks on every replica (each cleans its own log), every replica keeps
// the same Raft index -> offset map, and a consumer from the earliest
// offset sees the latest value of each key. __consumer_offsets, compacted
// too, is cleaned on every replica.
func TestClusterCompactedTopic(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(64<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	compact, seg := "compact", "1048576"
	if resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"cleanup.policy": &compact, "segment.bytes": &seg}, "cmp"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	// DeleteRecords on a compact-only topic is refused as in Kafka.
	res, err := adm.DeleteRecords(ctx, kadm.Offsets{"cmp": {0: {Topic: "cmp", Partition: 0, At: 0}}})
	if r, _ := res.Lookup("cmp", 0); err != nil || r.Err != kerr.PolicyViolation {
		t.Fatalf("DeleteRecords on a compacted topic: %v %v", r.Err, err)
	}
	const keys, rounds = 20, 200 // 4,000 records of 1 KB: four segments
	want := map[string][]byte{}
	for r := range rounds {
		var rs []*kgo.Record
		for k := range keys {
			val := make([]byte, 1000)
			_, _ = rand.Read(val)
			key := fmt.Sprintf("key-%d", k)
			want[key] = val
			rs = append(rs, &kgo.Record{Topic: "cmp", Partition: 0, Key: []byte(key), Value: val})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	end := int64(keys * rounds)
	tc.waitFor("every replica has every record", func() bool {
		for _, b := range tc.brokers {
			p := b.topics.get("cmp").partition(0)
			if p.highWatermark() != end || p.endOffset() != end {
				return false
			}
		}
		return true
	})
	pre := replicaOffsets(t, tc.brokers[0].topics.get("cmp").partition(0))
	var maps [][]int64
	for i, b := range tc.brokers {
		p := b.topics.get("cmp").partition(0)
		before, segs := p.size(), p.segments()
		st, err := p.compact(time.Now().UnixMilli(), plog.NewCleaner(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned || st.RecordsRemoved == 0 || p.size() >= before/2 {
			t.Fatalf("node %d: %+v: %d bytes in %d segments -> %d", i+1, st, before, segs, p.size())
		}
		t.Logf("node %d: %d bytes -> %d, %d records removed", i+1, before, p.size(), st.RecordsRemoved)
		maps = append(maps, replicaOffsets(t, p))
	}
	for i := range maps {
		if !slices.Equal(pre, maps[i]) {
			t.Fatalf("node %d's index -> offset map after the clean differs from the one before", i+1)
		}
	}
	// Still replicating after the clean: more updates reach every replica.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "cmp", Partition: 0, Key: []byte("key-0"), Value: []byte("last")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want["key-0"] = []byte("last")
	cons, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.ConsumeTopics("cmp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string][]byte{}
	n := 0
	for done := false; !done; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records", n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			got[string(r.Key)] = r.Value
			done = done || r.Offset == end
		})
	}
	if n >= keys*rounds/2 {
		t.Fatalf("consumed %d records of %d: not compacted", n, keys*rounds)
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("key %s: not the latest value", k)
		}
	}

	// __consumer_offsets: many commits of the same keys, then a clean on
	// every replica of the group's partition.
	rnd := make([]byte, 3000)
	_, _ = rand.Read(rnd)
	meta := base64.StdEncoding.EncodeToString(rnd) // 4,000 bytes, not very compressible
	const commits = 400                            // of about 4 KB each: two segments of 1 MiB
	for i := range commits {
		if i == 1 { // the first commit created the topic
			one := "1048576"
			if ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "segment.bytes", Value: &one}}, "__consumer_offsets"); err != nil || ar[0].Err != nil {
				t.Fatal(err, ar)
			}
		}
		os := kadm.Offsets{"cmp": {0: {Topic: "cmp", Partition: 0, At: int64(i), LeaderEpoch: -1, Metadata: meta}}}
		if r, err := adm.CommitOffsets(ctx, "g", os); err != nil || r.Error() != nil {
			t.Fatalf("commit %d: %v %v", i, err, r.Error())
		}
	}
	cleaned := 0
	for i, b := range tc.brokers {
		tp := b.topics.get("__consumer_offsets")
		for _, p := range tp.partitionList() {
			if p.repl == nil || p.segments() < 2 {
				continue
			}
			tc.waitFor("the offsets partition replicated", func() bool { return p.highWatermark() == p.endOffset() })
			before := p.size()
			st, err := p.compact(time.Now().UnixMilli(), plog.NewCleaner(1<<20))
			if err != nil {
				t.Fatal(err)
			}
			if st.RecordsRemoved == 0 || p.size() >= before {
				t.Fatalf("node %d %s: %+v, %d -> %d bytes", i+1, p.dirName(), st, before, p.size())
			}
			t.Logf("node %d %s: %d bytes -> %d, %d records removed", i+1, p.dirName(), before, p.size(), st.RecordsRemoved)
			cleaned++
		}
	}
	if cleaned != 3 {
		t.Fatalf("__consumer_offsets cleaned on %d replicas, want 3", cleaned)
	}
	fo, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fo.Lookup("cmp", 0); !ok || o.At != commits-1 || o.Metadata != meta {
		t.Fatalf("committed offset after the clean: %+v", o)
	}
}

// replicaOffsets is p's Raft index -> base offset map.
func replicaOffsets(t *testing.T, p *partition) []int64 {
	t.Helper()
	st := p.repl.storage
	first, _ := st.FirstIndex()
	last, _ := st.LastIndex()
	var out []int64
	for i := first; i <= last; i++ {
		o, err := st.BaseOffset(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// DeleteRecords is answered only once every replica on a live node holds
// the log start entry (Kafka waits for the log start of every replica on a
// live broker): with the leader's appends to one live follower dropped,
// the entry commits through the other follower, which applies it, and the
// answer still waits; once the appends flow again it comes, and the
// follower applies the start.
func TestClusterDeleteRecordsWaitsForLiveReplicas(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 1, 3, nil, "drw"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	var rs []*kgo.Record
	for i := range 20 {
		rs = append(rs, &kgo.Record{Topic: "drw", Partition: 0, Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("a leader", func() bool { return tc.leaderOf("drw", 0) >= 0 })
	leader := tc.leaderOf("drw", 0)
	slow, other := (leader+1)%3, (leader+2)%3
	part := func(i int) *partition { return tc.brokers[i].topics.get("drw").partition(0) }
	tc.waitFor("every replica has every record", func() bool {
		return part(slow).highWatermark() == 20 && part(other).highWatermark() == 20
	})
	// The client must route DeleteRecords to that leader. kgo answers a
	// sharded request (DeleteRecords) from its metadata cache, kept for
	// MetadataMinAge (5 s), and fails a partition the cached answer gave no
	// leader (LEADER_NOT_AVAILABLE) without asking again. Under load the
	// producer's first metadata came from a broker whose replica had not
	// heard from the new group's leader yet, and the whole test until
	// DeleteRecords fits in those 5 s. So: every broker names the leader,
	// then a metadata request (kgo caches its answer) names it too.
	tc.waitFor("every broker names the leader", func() bool {
		for i := range 3 {
			if part(i).lead.Load().leader != int32(leader+1) {
				return false
			}
		}
		return true
	})
	tc.waitFor("the client's metadata names the leader", func() bool {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("drw")
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return false
		}
		mp := resp.Topics[0].Partitions[0]
		return mp.ErrorCode == 0 && mp.Leader == int32(leader+1)
	})
	gid := part(leader).repl.gid
	from, to := raftID(int32(leader+1)), raftID(int32(slow+1))
	tc.nw.SetDropFilter(func(f, tt uint64, env replication.Envelope) bool {
		return f == from && tt == to && env.Group == gid && env.Msg != nil && env.Msg.GetType() == raftpb.MessageType_MsgApp
	})
	answered := make(chan kadm.DeleteRecordsResponse, 1)
	go func() {
		res, err := adm.DeleteRecords(ctx, kadm.Offsets{"drw": {0: {Topic: "drw", Partition: 0, At: 10}}})
		r, _ := res.Lookup("drw", 0)
		if err != nil {
			r.Err = err
		}
		answered <- r
	}()
	early := func() {
		select {
		case r := <-answered:
			t.Fatalf("answered (%+v) while a live replica did not hold the entry", r)
		default:
		}
	}
	tc.waitFor("the other follower applied the start", func() bool {
		early() // an early answer (or error) fails now, saying what it was
		return part(other).logStartOffset() == 10
	})
	early()
	if part(slow).logStartOffset() != 0 {
		t.Fatal("the slow follower applied an entry it was never sent")
	}
	tc.nw.SetDropFilter(nil)
	select {
	case r := <-answered:
		if r.Err != nil || r.LowWatermark != 10 {
			t.Fatalf("DeleteRecords: %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("no answer once every live replica could hold the entry")
	}
	tc.waitFor("the slow follower applied the start", func() bool { return part(slow).logStartOffset() == 10 })
}
