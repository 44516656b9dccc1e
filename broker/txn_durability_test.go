package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/coordinator"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/txn"
)

// diskBroker opens a single-node broker on dir.
func diskBroker(t *testing.T, dir string) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endTxn ends the transaction (EndTxn v3, transactions v1).
func endTxn(t *testing.T, b *Broker, txnID string, pid int64, epoch int16, commit bool) {
	t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, pid, epoch, commit
	if resp := do[*kmsg.EndTxnResponse](t, b, 3, req); resp.ErrorCode != 0 {
		t.Fatalf("EndTxn (commit %v): %v", commit, kerr.ErrorForCode(resp.ErrorCode))
	}
}

// fetchOffset is the group's committed offset of topic-0 (OffsetFetch v7
// with require_stable) and the partition's error code.
func fetchOffset(t *testing.T, b *Broker, group, topic string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group, req.RequireStable = group, true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.OffsetFetchResponse](t, b, 7, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

// TestTxnOffsetsSurviveRestart: a single node restarted between
// TxnOffsetCommit and EndTxn keeps the transaction's offsets pending
// (require_stable: UNSTABLE_OFFSET_COMMIT) and the transaction open; a
// commit then makes them the group's offsets, an abort drops them, and
// both outcomes survive another restart (the marker in __consumer_offsets).
func TestTxnOffsetsSurviveRestart(t *testing.T) {
	for _, commit := range []bool{true, false} {
		name := "abort"
		if commit {
			name = "commit"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := diskBroker(t, dir)
			mustCreateTopic(t, b, "in", 1, nil)
			pid, epoch := initTxn(t, b, "etl")
			addOffsetsToTxn(t, b, "etl", pid, epoch, "g")
			if codes := txnOffsetCommit(t, b, 3, "etl", "g", pid, epoch, "in", 0); codes[0] != 0 {
				t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(codes[0]))
			}
			if off, code := fetchOffset(t, b, "g", "in"); code != kerr.UnstableOffsetCommit.Code {
				t.Fatalf("before the restart: offset %d, code %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			b = diskBroker(t, dir)
			if off, code := fetchOffset(t, b, "g", "in"); code != kerr.UnstableOffsetCommit.Code {
				t.Fatalf("after the restart: offset %d, code %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
			}
			endTxn(t, b, "etl", pid, epoch, commit)
			want := int64(-1)
			if commit {
				want = 5
			}
			if off, code := fetchOffset(t, b, "g", "in"); code != 0 || off != want {
				t.Fatalf("after EndTxn: offset %d, code %v, want %d", off, kerr.ErrorForCode(code), want)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}

			b = diskBroker(t, dir)
			defer func() { _ = b.Close(context.Background()) }()
			if off, code := fetchOffset(t, b, "g", "in"); code != 0 || off != want {
				t.Fatalf("after a second restart: offset %d, code %v, want %d", off, kerr.ErrorForCode(code), want)
			}
			// The marker is a control batch of the producer in the
			// group's __consumer_offsets partition, which closed the
			// transaction there (nothing unstable left).
			p := b.topics.get(offsetsTopic).partition(b.groups.PartitionFor("g"))
			if lso, hw := p.lastStableOffset(), p.highWatermark(); lso != hw {
				t.Fatalf("__consumer_offsets LSO %d, high watermark %d: the transaction is still open there", lso, hw)
			}
		})
	}
}

// TestMarkerCoordinatorEpochFenced: a marker from a coordinator epoch older
// than the producer's last marker on the partition is refused with
// TRANSACTION_COORDINATOR_FENCED (WriteTxnMarkers), leaves the producer's
// open transaction open, and the coordinator epoch survives a restart
// (the control record, the producer-state snapshot).
func TestMarkerCoordinatorEpochFenced(t *testing.T) {
	dir := t.TempDir()
	b := diskBroker(t, dir)
	mustCreateTopic(t, b, "in", 1, nil)
	p := b.topics.get("in").partition(0)
	const pid = 4242
	marker := func(b *Broker, coordinatorEpoch int32, commit bool) int16 {
		t.Helper()
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, 0, commit, coordinatorEpoch
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = "in", []int32{0}
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		return do[*kmsg.WriteTxnMarkersResponse](t, b, 1, req).Markers[0].Topics[0].Partitions[0].ErrorCode
	}
	begin := func(b *Broker, seq int32) {
		t.Helper()
		p := b.topics.get("in").partition(0)
		if _, err := p.appendBatch(producerBatch(pid, 0, seq, 1, true), 1000, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// A transaction ended by the coordinator at epoch 7, then a new one.
	begin(b, 0)
	if code := marker(b, 7, true); code != 0 {
		t.Fatalf("marker at coordinator epoch 7: %v", kerr.ErrorForCode(code))
	}
	begin(b, 1)
	// A former coordinator (epoch 6) retrying its marker must not end it.
	if code := marker(b, 6, false); code != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("marker at coordinator epoch 6: %v, want TRANSACTION_COORDINATOR_FENCED", kerr.ErrorForCode(code))
	}
	if _, ok := p.txns.Ongoing(pid); !ok {
		t.Fatal("the stale marker ended the open transaction")
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = diskBroker(t, dir)
	defer func() { _ = b.Close(context.Background()) }()
	if code := marker(b, 6, false); code != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("after a restart, marker at coordinator epoch 6: %v, want TRANSACTION_COORDINATOR_FENCED", kerr.ErrorForCode(code))
	}
	if code := marker(b, 7, true); code != 0 {
		t.Fatalf("marker at coordinator epoch 7 after a restart: %v", kerr.ErrorForCode(code))
	}
	p = b.topics.get("in").partition(0)
	if _, ok := p.txns.Ongoing(pid); ok {
		t.Fatal("the current coordinator's marker did not end the transaction")
	}
	// DescribeProducers reports the epoch (Admin abortTransaction sends it back).
	found := false
	for _, ps := range p.producers.Snapshot() {
		if ps.ProducerID == pid {
			found = true
			if ps.CoordinatorEpoch != 7 {
				t.Fatalf("coordinator epoch %d in the producer state, want 7", ps.CoordinatorEpoch)
			}
		}
	}
	if !found {
		t.Fatalf("producer %d missing from the producer state", pid)
	}
}

// retryRequest sends the request built by mk until code (its error code)
// is not retriable, for up to 60 s, and returns the last response.
func retryRequest[R kmsg.Response](t *testing.T, cl *kgo.Client, what string, mk func() kmsg.Request, code func(R) int16) R {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cl.Request(ctx, mk())
		cancel()
		if err == nil {
			r := resp.(R)
			c := code(r)
			if c == 0 {
				return r
			}
			if e := kerr.ErrorForCode(c); !kerr.IsRetriable(e) {
				t.Fatalf("%s: %v", what, e)
			}
			err = kerr.ErrorForCode(c)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterTxnOffsetsGroupCoordinatorFailover: the group coordinator's
// node stops between TxnOffsetCommit and EndTxn. The new leader of the
// group's __consumer_offsets partition rebuilds the transaction's offsets
// from the replicated transactional records (still pending: require_stable
// gets UNSTABLE_OFFSET_COMMIT), the transaction coordinator's commit marker
// reaches it, and the offsets are the group's.
func TestClusterTxnOffsetsGroupCoordinatorFailover(t *testing.T) {
	tc := txnCluster(t, "src")
	var group, id string
	var gn int32
	for i := 0; group == ""; i++ {
		g, x := "fo-group-"+strconv.Itoa(i), "fo-txn-"+strconv.Itoa(i)
		gn = tc.coordinatorNode(offsetsTopic, coordinator.PartitionFor(g, 50))
		if tn := tc.coordinatorNode(txnStateTopic, txn.PartitionFor(x, txnStatePartitions)); gn != tn {
			group, id = g, x
			t.Logf("group coordinator node %d, transaction coordinator node %d", gn, tn)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cl.Close() }()

	ip := retryRequest(t, cl, "InitProducerId", func() kmsg.Request {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.TransactionalID, r.TransactionTimeoutMillis = kmsg.StringPtr(id), 120000
		return r
	}, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
	pid, epoch := ip.ProducerID, ip.ProducerEpoch
	retryRequest(t, cl, "AddOffsetsToTxn", func() kmsg.Request {
		r := kmsg.NewPtrAddOffsetsToTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group = id, pid, epoch, group
		return r
	}, func(r *kmsg.AddOffsetsToTxnResponse) int16 { return r.ErrorCode })
	srcID := metadataTopicID(context.Background(), t, cl, "src") // TxnOffsetCommit v6 names topics by id
	retryRequest(t, cl, "TxnOffsetCommit", func() kmsg.Request {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = id, group, pid, epoch, -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = "src", srcID
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 42
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return r
	}, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
	offsetFetch := func() kmsg.Request {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Group, r.RequireStable = group, true
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "src", []int32{0}
		r.Topics = append(r.Topics, rt)
		return r
	}
	// fetched asks the group coordinator until it answers (retrying while
	// it moves or loads) and returns the partition's offset and code.
	fetched := func(what string) (int64, int16) {
		r := retryRequest(t, cl, what, offsetFetch, func(r *kmsg.OffsetFetchResponse) int16 {
			if r.ErrorCode != 0 {
				return r.ErrorCode
			}
			if len(r.Groups) > 0 {
				if r.Groups[0].ErrorCode != 0 {
					return r.Groups[0].ErrorCode
				}
				if c := r.Groups[0].Topics[0].Partitions[0].ErrorCode; c != kerr.UnstableOffsetCommit.Code {
					return c
				}
				return 0
			}
			if c := r.Topics[0].Partitions[0].ErrorCode; c != kerr.UnstableOffsetCommit.Code {
				return c
			}
			return 0
		})
		if len(r.Groups) > 0 {
			p := r.Groups[0].Topics[0].Partitions[0]
			return p.Offset, p.ErrorCode
		}
		p := r.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := fetched("OffsetFetch before the failover"); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("before the failover: offset %d, %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}

	gpart := coordinator.PartitionFor(group, 50)
	tc.stop(int(gn) - 1)
	tc.waitFor("a new group coordinator", func() bool {
		l := tc.leaderOf(offsetsTopic, gpart)
		return l >= 0 && l != int(gn)-1
	})
	// A new client: kgo keeps asking a group coordinator it cannot dial.
	cl.Close()
	var seeds []string
	for i, b := range tc.brokers {
		if b != nil {
			seeds = append(seeds, tc.cfgs[i].Addr)
		}
	}
	if cl, err = kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RetryTimeout(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if off, code := fetched("OffsetFetch after the failover"); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("after the failover: offset %d, %v, want UNSTABLE_OFFSET_COMMIT (the pending offsets were lost)", off, kerr.ErrorForCode(code))
	}
	// The new leader applied the transactional batch as a replica: the
	// transaction is open on its __consumer_offsets partition.
	newLeader := tc.leaderOf(offsetsTopic, gpart)
	gp := tc.brokers[newLeader].topics.get(offsetsTopic).partition(gpart)
	if lso, hw := gp.lastStableOffset(), gp.highWatermark(); lso >= hw {
		t.Fatalf("node %d's %s-%d: LSO %d, high watermark %d: the open transaction is not tracked", newLeader+1, offsetsTopic, gpart, lso, hw)
	}
	retryRequest(t, cl, "EndTxn", func() kmsg.Request {
		r := kmsg.NewPtrEndTxnRequest()
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = id, pid, epoch, true
		return r
	}, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode })
	var off int64
	var code int16
	tc.waitFor("the committed offset on the new coordinator", func() bool {
		off, code = fetched("OffsetFetch after the commit")
		return code == 0 && off == 42
	})
	tc.waitFor("the commit marker to close the transaction on "+offsetsTopic, func() bool {
		return gp.lastStableOffset() == gp.highWatermark()
	})
	t.Logf("offset %d on node %d after the commit", off, tc.leaderOf(offsetsTopic, gpart)+1)
}

// TestClusterStaleCoordinatorMarker: after the transaction coordinator
// moves, the former one is fenced twice over. Its marker writer stops, as
// it no longer leads its __transaction_state partition at the epoch it
// loaded it at; and a WriteTxnMarkers it had in flight, carrying that old
// coordinator epoch, is refused by the partition leader with
// TRANSACTION_COORDINATOR_FENCED once the new coordinator has written a
// marker of the producer there, so that it cannot end the producer's next
// transaction (transactions v1: the producer epoch is the same). Every
// replica keeps the new coordinator epoch in its producer state.
func TestClusterStaleCoordinatorMarker(t *testing.T) {
	tc := txnCluster(t, "mk")
	const id = "stale-coordinator"
	sp := txn.PartitionFor(id, txnStatePartitions)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.TransactionalID(id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("mk"),
		kgo.MaxVersions(kversion.V3_8_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	txnOf := func(v string, commit bool) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txnOf("first", true)
	old := tc.leaderOf(txnStateTopic, sp)
	oldEpoch, ok := tc.brokers[old].inter.loadedEpoch(sp)
	if !ok {
		t.Fatalf("node %d leads %s-%d but has not loaded it", old+1, txnStateTopic, sp)
	}
	tc.moveLeader(txnStateTopic, sp)
	txnOf("second", true)
	newC := tc.leaderOf(txnStateTopic, sp)
	newEpoch, _ := tc.brokers[newC].inter.loadedEpoch(sp)
	t.Logf("coordinator epoch %d on node %d, then %d on node %d", oldEpoch, old+1, newEpoch, newC+1)
	if newEpoch <= oldEpoch {
		t.Fatalf("the new coordinator epoch %d is not above the old %d", newEpoch, oldEpoch)
	}
	// A third transaction, left open.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("third")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mk0 := []txn.TopicPartition{{Topic: "mk", Partition: 0}}
	// The former coordinator's marker writer refuses to start.
	if err := (&markerWriter{b: tc.brokers[old]}).WriteMarkers(sp, pid, epoch, false, mk0); !errors.Is(err, txn.ErrNotCoordinator) {
		t.Fatalf("the former coordinator's WriteMarkers: %v, want txn.ErrNotCoordinator", err)
	}
	// Its WriteTxnMarkers in flight arrives at the partition's leader.
	leader := tc.leaderOf("mk", 0)
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, epoch, false, oldEpoch
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "mk", []int32{0}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	kresp, err := cl.Broker(leader+1).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := kresp.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("the stale marker: %v, want TRANSACTION_COORDINATOR_FENCED", kerr.ErrorForCode(code))
	}
	for i, b := range tc.brokers {
		p := b.topics.get("mk").partition(0)
		tc.waitFor(fmt.Sprintf("node %d's producer state of mk-0", i+1), func() bool {
			p.appendMu.Lock()
			defer p.appendMu.Unlock()
			for _, ps := range p.producers.Snapshot() {
				if ps.ProducerID == pid {
					return ps.CoordinatorEpoch == newEpoch
				}
			}
			return false
		})
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := consumeCommitted(t, tc.seeds(), "mk", 3)
	slices.Sort(got)
	if want := []string{"first", "second", "third"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
}

// TestTxnOffsetCommitAfterItsMarker: offsets of a TxnOffsetCommit whose
// transaction ended after the handler's check (the race the append repeats
// the check for) are refused when appended: by the transaction check when
// its marker was written, by the producer's epoch when a marker fenced it.
// Nothing is appended: no transaction is left open on __consumer_offsets.
func TestTxnOffsetCommitAfterItsMarker(t *testing.T) {
	b := newAdminBroker(t)
	mustCreateTopic(t, b, "in", 1, nil)
	pid, epoch := initTxn(t, b, "late")
	addOffsetsToTxn(t, b, "late", pid, epoch, "g")
	if codes := txnOffsetCommit(t, b, 3, "late", "g", pid, epoch, "in", 0); codes[0] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(codes[0]))
	}
	endTxn(t, b, "late", pid, epoch, false)
	gp := b.topics.get(offsetsTopic).partition(b.groups.PartitionFor("g"))
	end := gp.endOffset()
	tp := txn.TopicPartition{Topic: offsetsTopic, Partition: gp.index}
	req := coordinator.CommitRequest{Group: "g", Generation: -1,
		Offsets: []coordinator.OffsetCommit{{Topic: "in", Partition: 0, Offset: 9, LeaderEpoch: -1}}}
	errs := b.groups.TxnCommitOffsets(req, pid, epoch, func() error { return b.txns.Verify("late", pid, epoch, tp) })
	if !errors.Is(errs[0], coordinator.ErrTxnRefused) || !errors.Is(errs[0], txn.ErrInvalidTxnState) {
		t.Fatalf("after the abort marker: %v, want a refusal (invalid transaction state)", errs[0])
	}
	if code := txnOffsetCommitErrorCode(errs[0], 4, true); code != kerr.TransactionAbortable.Code {
		t.Fatalf("mapped to %v, want TRANSACTION_ABORTABLE at v4", kerr.ErrorForCode(code))
	}
	if gp.endOffset() != end {
		t.Fatalf("a refused commit was appended: end %d -> %d", end, gp.endOffset())
	}
	// A marker at a newer epoch (a fencing abort) refuses the old epoch
	// even without a check.
	if _, err := gp.writeMarkerChecked(pid, epoch+1, singleNodeCoordinatorEpoch, false, 1000, false); err != nil {
		t.Fatal(err)
	}
	end = gp.endOffset()
	errs = b.groups.TxnCommitOffsets(req, pid, epoch, nil)
	if !errors.Is(errs[0], coordinator.ErrTxnRefused) || !errors.Is(errs[0], txn.ErrProducerFenced) {
		t.Fatalf("after a fencing marker: %v, want a refusal (producer fenced)", errs[0])
	}
	if gp.endOffset() != end || gp.lastStableOffset() != gp.highWatermark() {
		t.Fatalf("a refused commit was appended: end %d -> %d, LSO %d, high watermark %d", end, gp.endOffset(), gp.lastStableOffset(), gp.highWatermark())
	}
	if off, code := fetchOffset(t, b, "g", "in"); off != -1 || code != 0 {
		t.Fatalf("offset %d (%v), want none", off, kerr.ErrorForCode(code))
	}
}

// TestTxnOffsetsCompaction: the log cleaner of __consumer_offsets leaves an
// undecided transactional offset alone and does not let it supersede the
// committed offset of the same key (the partition tracks the transaction:
// LSO), so that when the transaction aborts, the committed offset is still
// there, live and after a restart's replay.
func TestTxnOffsetsCompaction(t *testing.T) {
	dir := t.TempDir()
	b := diskBroker(t, dir)
	mustCreateTopic(t, b, "in", 1, nil)
	commit := func(topic string, off int64) {
		t.Helper()
		errs := b.groups.CommitOffsets(coordinator.CommitRequest{Group: "g", Generation: -1,
			Offsets: []coordinator.OffsetCommit{{Topic: topic, Partition: 0, Offset: off, LeaderEpoch: -1}}})
		if errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	commit("in", 10)
	gp := b.topics.get(offsetsTopic).partition(b.groups.PartitionFor("g"))
	lc := gp.topic.logConfig()
	lc.SegmentBytes = 1 // every batch in a segment of its own
	gp.log.SetConfig(lc)
	pid, epoch := initTxn(t, b, "cmp")
	addOffsetsToTxn(t, b, "cmp", pid, epoch, "g")
	if codes := txnOffsetCommit(t, b, 3, "cmp", "g", pid, epoch, "in", 0); codes[0] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(codes[0]))
	}
	commit("other", 1) // the transactional batch out of the active segment
	if _, err := gp.compact(time.Now().UnixMilli(), plog.NewCleaner(1<<20)); err != nil {
		t.Fatal(err)
	}
	endTxn(t, b, "cmp", pid, epoch, false)
	commit("other", 2)
	if _, err := gp.compact(time.Now().UnixMilli(), plog.NewCleaner(1<<20)); err != nil {
		t.Fatal(err)
	}
	if off, code := fetchOffset(t, b, "g", "in"); off != 10 || code != 0 {
		t.Fatalf("after the abort and the cleaning: offset %d (%v), want 10", off, kerr.ErrorForCode(code))
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = diskBroker(t, dir)
	defer func() { _ = b.Close(context.Background()) }()
	if off, code := fetchOffset(t, b, "g", "in"); off != 10 || code != 0 {
		t.Fatalf("replayed after the cleaning: offset %d (%v), want 10", off, kerr.ErrorForCode(code))
	}
}
