package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/broker/share"
	"github.com/moldau/moldau/broker/sharestate"
	"github.com/moldau/moldau/log/vfs"
)

// shareStateRecords decodes every record of __share_group_state on b: how
// many snapshots, updates and tombstones.
func shareStateRecords(t *testing.T, b *Broker) (snaps, updates, tombs int) {
	t.Helper()
	tp := b.topics.get(shareStateTopic)
	if tp == nil {
		t.Fatal("no __share_group_state")
	}
	for _, p := range tp.partitionList() {
		err := replayRecords(p.log, nil, func(_ int64, key, value []byte) error {
			typ, _, err := sharestate.DecodeKey(key)
			if err != nil {
				return err
			}
			switch {
			case value == nil:
				tombs++
			case typ == sharestate.RecordSnapshot:
				if _, err := sharestate.DecodeSnapshot(value); err != nil {
					return err
				}
				snaps++
			default:
				if _, err := sharestate.DecodeUpdate(value); err != nil {
					return err
				}
				updates++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return snaps, updates, tombs
}

// TestSharePersisterSurvivesCrash: state written through the persister on
// a single node is fsynced before the calls return: a crash that loses
// every unsynced byte (CrashClone) keeps all of it, snapshots and updates
// alike, and the reopened node answers the same state through the
// persister and through ReadShareGroupState.
func TestSharePersisterSurvivesCrash(t *testing.T) {
	fs := vfs.NewMem()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := New(cfg, WithFS(fs), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	b.shareState.updatesPerSnapshot = 3
	tp := mustCreateTopic(t, b, "q", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	per := b.newSharePersister()
	keys := []share.Key{{Group: "g", TopicID: tp.id, Partition: 0}, {Group: "g", TopicID: tp.id, Partition: 1}, {Group: "h", TopicID: tp.id, Partition: 0}}
	if _, err := per.Read(ctx, keys[0], -1); !errors.Is(err, share.ErrUninitialized) {
		t.Fatalf("read before initialize: %v", err)
	}
	want := map[share.Key]share.State{}
	for i, k := range keys {
		if err := per.Initialize(ctx, k, 1, int64(10*i)); err != nil {
			t.Fatal(err)
		}
		for j := range int64(8) {
			first := int64(10*i) + 2*j
			err := per.Write(ctx, k, 1, 5, -1, []share.StateBatch{{FirstOffset: first, LastOffset: first + 1, DeliveryState: share.StateAcked, DeliveryCount: 1}})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := per.Write(ctx, k, 1, 5, int64(10*i)+4, nil); err != nil {
			t.Fatal(err)
		}
		st, err := per.Read(ctx, k, 6) // records the newer leader epoch
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Batches) != 1 || st.Batches[0] != (share.StateBatch{FirstOffset: int64(10*i) + 4, LastOffset: int64(10*i) + 15, DeliveryState: share.StateAcked, DeliveryCount: 1}) ||
			st.StartOffset != int64(10*i)+4 || st.LeaderEpoch != 6 || st.StateEpoch != 1 || st.DeliveryCompleteCount != 12 {
			t.Fatalf("key %v: state %+v", k, st)
		}
		want[k] = st
	}
	if err := per.Write(ctx, keys[0], 1, 5, -1, nil); !errors.Is(err, share.ErrFencedLeaderEpoch) {
		t.Fatalf("write at an older leader epoch: %v", err)
	}
	if err := per.Initialize(ctx, keys[0], 0, 0); !errors.Is(err, share.ErrFencedStateEpoch) {
		t.Fatalf("initialize at an older state epoch: %v", err)
	}
	if err := per.Delete(ctx, keys[2]); err != nil {
		t.Fatal(err)
	}
	delete(want, keys[2])
	snaps, updates, tombs := shareStateRecords(t, b)
	if snaps < 3+3*2 || updates == 0 || tombs != 1 {
		t.Fatalf("records: %d snapshots, %d updates, %d tombstones", snaps, updates, tombs)
	}

	// Pruning drops what the latest snapshots superseded.
	if n := b.shareState.prune(ctx); n == 0 {
		t.Fatal("nothing pruned")
	}
	if n := b.shareState.prune(ctx); n != 0 {
		t.Fatalf("a second prune moved %d partitions", n)
	}
	for _, k := range keys[:2] {
		if st, err := b.newSharePersister().Read(ctx, k, -1); err != nil || !reflect.DeepEqual(st, want[k]) {
			t.Fatalf("key %v after pruning: %+v %v", k, st, err)
		}
	}
	b.shareState.mu.Lock()
	for _, ss := range b.shareState.shards {
		ss.mu.Lock()
		ss.shard = nil // replay the pruned logs
		ss.mu.Unlock()
	}
	b.shareState.mu.Unlock()
	for _, k := range keys[:2] {
		if st, err := b.newSharePersister().Read(ctx, k, -1); err != nil || !reflect.DeepEqual(st, want[k]) {
			t.Fatalf("key %v replayed after pruning: %+v %v", k, st, err)
		}
	}
	crashed := fs.CrashClone()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2, err := New(cfg, WithFS(crashed), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close(context.Background())
	per2 := b2.newSharePersister()
	for _, k := range keys {
		st, err := per2.Read(ctx, k, -1)
		if w, ok := want[k]; !ok {
			if !errors.Is(err, share.ErrUninitialized) {
				t.Fatalf("deleted key %v after the crash: %+v %v", k, st, err)
			}
			continue
		} else if err != nil || !reflect.DeepEqual(st, w) {
			t.Fatalf("key %v after the crash: %+v %v, want %+v", k, st, err, w)
		}
	}
	// The same through the wire.
	req := kmsg.NewPtrReadShareGroupStateRequest()
	req.GroupID = "g"
	rt := kmsg.NewReadShareGroupStateRequestTopic()
	rt.TopicID = tp.id
	rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch = 1, 6
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ReadShareGroupStateResponse](t, b2, 0, req)
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != 0 || got.StartOffset != 14 || got.StateEpoch != 1 || len(got.StateBatches) != 1 || got.StateBatches[0].LastOffset != 25 {
		t.Fatalf("ReadShareGroupState after the crash: %+v", got)
	}
}

// TestShareStateWire checks the handlers' answers and error codes.
func TestShareStateWire(t *testing.T) {
	b := newAdminBroker(t)
	tp := mustCreateTopic(t, b, "q", 1, nil)
	init := func(group string, topic [16]byte, part, stateEpoch int32, start int64) (int16, *string) {
		req := kmsg.NewPtrInitializeShareGroupStateRequest()
		req.GroupID = group
		rt := kmsg.NewInitializeShareGroupStateRequestTopic()
		rt.TopicID = topic
		rp := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.StartOffset = part, stateEpoch, start
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p := do[*kmsg.InitializeShareGroupStateResponse](t, b, 0, req).Topics[0].Partitions[0]
		return p.ErrorCode, p.ErrorMessage
	}
	write := func(version int16, stateEpoch, leaderEpoch int32, dcc int32, batches ...kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch) int16 {
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = "g"
		rt := kmsg.NewWriteShareGroupStateRequestTopic()
		rt.TopicID = tp.id
		rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset, rp.DeliveryCompleteCount, rp.StateBatches = 0, stateEpoch, leaderEpoch, -1, dcc, batches
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return do[*kmsg.WriteShareGroupStateResponse](t, b, version, req).Topics[0].Partitions[0].ErrorCode
	}
	summary := func() kmsg.ReadShareGroupStateSummaryResponseTopicPartition {
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.GroupID = "g"
		rt := kmsg.NewReadShareGroupStateSummaryRequestTopic()
		rt.TopicID = tp.id
		rp := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch = 0, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return do[*kmsg.ReadShareGroupStateSummaryResponse](t, b, 1, req).Topics[0].Partitions[0]
	}
	codeIs := func(what string, got, want int16) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}
	batch := func(first, last int64, state int8, count int16) kmsg.WriteShareGroupStateRequestTopicPartitionStateBatch {
		sb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
		sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = first, last, state, count
		return sb
	}

	if s := summary(); s.ErrorCode != 0 || s.StartOffset != -1 || s.LeaderEpoch != -1 || s.StateEpoch != 0 {
		t.Fatalf("summary of a key without state: %+v", s)
	}
	code, msg := init("g", [16]byte{}, 0, 0, 0)
	codeIs("null topic id", code, kerr.InvalidRequest.Code)
	if msg == nil || *msg != shareNullTopicMessage {
		t.Fatalf("null topic id message %v", msg)
	}
	code, _ = init("g", tp.id, -1, 0, 0)
	codeIs("negative partition", code, kerr.InvalidRequest.Code)
	code, _ = init("g", [16]byte{9}, 0, 0, 0)
	codeIs("unknown topic", code, kerr.UnknownTopicOrPartition.Code)
	code, _ = init("g", tp.id, 7, 0, 0)
	codeIs("unknown partition", code, kerr.UnknownTopicOrPartition.Code)
	codeIs("write before initialize", write(1, 0, 0, -1), kerr.InvalidRequest.Code)
	code, _ = init("g", tp.id, 0, 1, 5)
	codeIs("initialize", code, 0)
	code, _ = init("g", tp.id, 0, 0, 5)
	codeIs("initialize at an older state epoch", code, kerr.FencedStateEpoch.Code)
	codeIs("write at an older state epoch", write(0, 0, 3, -1), kerr.FencedStateEpoch.Code)
	codeIs("write v0", write(0, 1, 3, -1, batch(5, 9, 2, 1), batch(10, 12, 0, 1)), 0)
	if s := summary(); s.ErrorCode != 0 || s.StartOffset != 5 || s.LeaderEpoch != 3 || s.StateEpoch != 1 || s.DeliveryCompleteCount != 5 {
		t.Fatalf("summary after a v0 write: %+v", s)
	}
	codeIs("write at an older leader epoch", write(1, 1, 2, -1), kerr.FencedLeaderEpoch.Code)
	codeIs("write v1", write(1, 1, 3, 42, batch(10, 10, 4, 2)), 0)
	if s := summary(); s.ErrorCode != 0 || s.DeliveryCompleteCount != 42 {
		t.Fatalf("summary after a v1 write: %+v", s)
	}

	// FindCoordinator(SHARE) answers the leader of the key's partition;
	// malformed keys and versions before 6 get INVALID_REQUEST.
	k := share.Key{Group: "g", TopicID: tp.id, Partition: 0}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorType = 2
	fc.CoordinatorKeys = []string{shareCoordinatorKey(k), "g:nope:0", "g:" + kafkaUUID(tp.id), "a:b:" + kafkaUUID(tp.id) + ":0"}
	fr := do[*kmsg.FindCoordinatorResponse](t, b, 6, fc)
	if c := fr.Coordinators[0]; c.ErrorCode != 0 || c.NodeID != b.cfg.NodeID {
		t.Fatalf("FindCoordinator(SHARE): %+v", c)
	}
	for _, c := range fr.Coordinators[1:] {
		codeIs("FindCoordinator of "+c.Key, c.ErrorCode, kerr.InvalidRequest.Code)
	}
	fr = do[*kmsg.FindCoordinatorResponse](t, b, 5, fc)
	codeIs("FindCoordinator(SHARE) v5", fr.Coordinators[0].ErrorCode, kerr.InvalidRequest.Code)
	if got, want := b.shareState.partitionFor(k), javaSharePartition(shareCoordinatorKey(k), shareStatePartitions); got != want {
		t.Fatalf("partition of %q: %d, want %d", shareCoordinatorKey(k), got, want)
	}
	if md := b.topics.get(shareStateTopic); md == nil || !isInternalTopic(md.name) || md.state.Load().overrides["cleanup.policy"] != "delete" {
		t.Fatalf("__share_group_state: %+v", md)
	}
}

// javaSharePartition is Kafka's partitioning written out again from its
// definition (String.hashCode over UTF-16, Utils.abs, modulo), for the
// ASCII keys the test uses.
func javaSharePartition(key string, n int32) int32 {
	var h int32
	for i := 0; i < len(key); i++ {
		h = 31*h + int32(key[i])
	}
	if h == -1<<31 {
		return 0
	}
	if h < 0 {
		h = -h
	}
	return h % n
}

// TestShareStateKeyPartition pins Kafka's partitioning to known values:
// "abc:AAAAAAAAAAAAAAAAAAAAAA:0" has the Java hash 592190638 (computed
// outside Go), partition 38 of 50.
func TestShareStateKeyPartition(t *testing.T) {
	k := share.Key{Group: "abc", Partition: 0}
	if got := shareCoordinatorKey(k); got != "abc:AAAAAAAAAAAAAAAAAAAAAA:0" {
		t.Fatalf("coordinator key %q", got)
	}
	parsed, ok := parseShareCoordinatorKey("abc:AAAAAAAAAAAAAAAAAAAAAA:0")
	if !ok || parsed != k {
		t.Fatalf("parse: %+v %v", parsed, ok)
	}
	// Java hashes computed outside Go (Python), one positive, one negative.
	for key, want := range map[string]int32{
		"abc:AAAAAAAAAAAAAAAAAAAAAA:0": 38, // hash 592190638
		"g:d1OwwmG0TtiNLuQDg4_XVA:0":   27, // hash -716984977 (n & 0x7fffffff would give 21)
	} {
		if got := kafkaPartitionFor(key, 50); got != want {
			t.Fatalf("partition of %q: %d, want %d", key, got, want)
		}
		if got := kafkaPartitionFor(key, 50); got != javaSharePartition(key, 50) {
			t.Fatalf("partition of %q: %d, javaSharePartition %d", key, got, javaSharePartition(key, 50))
		}
	}
}

// TestClusterShareStateFollowsLeader: in a three-node cluster, state
// written through a node that does not lead the key's __share_group_state
// partition (the inter-broker WriteShareGroupState path) is committed by
// Raft; once that partition's leader is cut off, the new leader replays it
// and answers the same state, and takes new writes.
func TestClusterShareStateFollowsLeader(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tc.createKnownTopic(ctx, kadm.NewClient(cl), "q", 1)
	tp := tc.brokers[0].topics.get("q")
	k := share.Key{Group: "g", TopicID: tp.id, Partition: 0}
	if err := tc.brokers[0].newSharePersister().Initialize(ctx, k, 0, 0); err != nil {
		t.Fatal(err)
	}
	part := tc.brokers[0].shareState.partitionFor(k)
	leader := -1
	tc.waitFor("a leader of the state partition", func() bool {
		leader = tc.leaderOf(shareStateTopic, part)
		return leader >= 0
	})
	writer := (leader + 1) % 3
	per := tc.brokers[writer].newSharePersister()
	for i := range int64(5) {
		err := per.Write(ctx, k, 0, 1, -1, []share.StateBatch{{FirstOffset: 3 * i, LastOffset: 3*i + 1, DeliveryState: share.StateAcked, DeliveryCount: 1}})
		if err != nil {
			t.Fatalf("write %d through node %d: %v", i, writer+1, err)
		}
	}
	want, err := per.Read(ctx, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Batches) != 5 || want.StartOffset != 0 {
		t.Fatalf("state before the failover: %+v", want)
	}

	tc.nw.Isolate(raftID(int32(leader + 1)))
	defer tc.nw.Heal()
	tc.waitFor("a new leader of the state partition", func() bool {
		for i, b := range tc.brokers {
			if i == leader {
				continue
			}
			if p := b.topics.get(shareStateTopic).partition(part); p != nil && p.lead.Load().local {
				return true
			}
		}
		return false
	})
	got, err := per.Read(ctx, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Batches, want.Batches) || got.StartOffset != want.StartOffset || got.StateEpoch != want.StateEpoch {
		t.Fatalf("state after the failover: %+v, want %+v", got, want)
	}
	if err := per.Write(ctx, k, 0, 1, 6, []share.StateBatch{{FirstOffset: 20, LastOffset: 20, DeliveryState: share.StateArchived, DeliveryCount: 5}}); err != nil {
		t.Fatal(err)
	}
	got, err = per.ReadSummary(ctx, k)
	if err != nil || got.StartOffset != 6 || got.DeliveryCompleteCount != 7 { // 6, 7, 9, 10, 12, 13 acked; 20 archived
		t.Fatalf("summary after a write to the new leader: %+v %v", got, err)
	}
	if _, err := per.Read(ctx, k, 0); !errors.Is(err, share.ErrFencedLeaderEpoch) {
		t.Fatalf("read at an older leader epoch: %v", err)
	}
}
