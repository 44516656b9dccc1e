package broker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/moldau/moldau/coordinator"
	"github.com/moldau/moldau/txn"
)

// txnCluster is a 3-node cluster whose internal topics exist with a
// leader for every partition, and a topic per name given (3 partitions,
// RF=3; their leaders are spread over the nodes, as the assignment's
// preferred leaders campaign first, but an election may have moved one).
func txnCluster(t *testing.T, topics ...string) *testCluster {
	t.Helper()
	tc := newTestCluster(t, 3)
	b0 := tc.brokers[0]
	if err := b0.ensureOffsetsTopic(); err != nil {
		t.Fatal(err)
	}
	if err := b0.ensureTxnStateTopic(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, name := range topics {
		if resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 3, nil, name); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp.Err)
		}
	}
	tc.waitFor("a leader for every partition, seen by every node", func() bool {
		for _, b := range tc.brokers {
			for _, name := range append([]string{offsetsTopic, txnStateTopic}, topics...) {
				tp := b.topics.get(name)
				if tp == nil {
					return false
				}
				for _, p := range tp.partitionList() {
					if p.lead.Load().leader < 0 {
						return false
					}
				}
			}
		}
		return true
	})
	return tc
}

// coordinatorNode is the node leading the internal topic's partition.
func (tc *testCluster) coordinatorNode(topic string, part int32) int32 {
	return tc.brokers[0].topics.get(topic).partition(part).lead.Load().leader
}

// A transactional producer writes to three partitions led by the three
// nodes, so that at least two of them have their transaction coordinator
// on another node: the leaders verify (or, with transactions v2, add)
// the partition through AddPartitionsToTxn to the coordinator, which
// writes its markers with WriteTxnMarkers to the leaders. Committed and
// aborted transactions alternate; a read_committed consumer sees exactly
// the committed records, each once. Run with transactions v2 (Produce v12,
// implicit additions) and v1 (AddPartitionsToTxn from the client,
// KIP-890 part 1 verification on produce).
func TestClusterTransactions(t *testing.T) {
	for _, tv := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"tv2", nil},
		{"tv1", []kgo.Opt{kgo.MaxVersions(kversion.V3_8_0())}},
	} {
		t.Run(tv.name, func(t *testing.T) {
			topic := "txn-" + tv.name
			tc := txnCluster(t, topic)
			// A transactional id whose coordinator leads at most one
			// of the three partitions.
			var id string
			for i := 0; id == ""; i++ {
				x := "producer-" + tv.name + "-" + strconv.Itoa(i)
				c := int(tc.coordinatorNode(txnStateTopic, txn.PartitionFor(x, txnStatePartitions))) - 1
				here := 0
				for p := int32(0); p < 3; p++ {
					if tc.leaderOf(topic, p) == c {
						here++
					}
				}
				if here <= 1 {
					id = x
				}
			}
			t.Logf("coordinator of %s: node %d; leaders of %s: %d %d %d", id,
				tc.coordinatorNode(txnStateTopic, txn.PartitionFor(id, txnStatePartitions)), topic,
				tc.leaderOf(topic, 0)+1, tc.leaderOf(topic, 1)+1, tc.leaderOf(topic, 2)+1)
			opts := append([]kgo.Opt{kgo.SeedBrokers(tc.seeds()...), kgo.TransactionalID(id),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic)}, tv.opts...)
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var committed []string
			const txns, perTxn = 8, 9
			for n := range txns {
				if err := cl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				var batch []string
				for i := range perTxn {
					v := fmt.Sprintf("%d-%d", n, i)
					batch = append(batch, v)
					if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 3), Value: []byte(v)}).FirstErr(); err != nil {
						t.Fatalf("produce %s: %v", v, err)
					}
				}
				commit := n%2 == 0 || n == txns-1
				if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
					t.Fatalf("end transaction %d (commit %v): %v", n, commit, err)
				}
				if commit {
					committed = append(committed, batch...)
				}
			}
			got := consumeCommitted(t, tc.seeds(), topic, len(committed))
			slices.Sort(got)
			slices.Sort(committed)
			if !slices.Equal(got, committed) {
				t.Fatalf("read_committed read %d records %v, want %d %v", len(got), got, len(committed), committed)
			}
		})
	}
}

// consumeCommitted reads topic with read_committed until want records came
// (every committed one; the last transaction was committed, so an aborted
// record, being before it, would have been read too).
func consumeCommitted(t *testing.T, seeds []string, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), want, got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// Consume-transform-produce across nodes: a GroupTransactSession copies a
// topic to another, committing its group's offsets in each transaction
// (TxnOffsetCommit to the group coordinator, which has the transaction
// coordinator, on another node, verify or add its __consumer_offsets
// partition; the commit marker reaches it as WriteTxnMarkers). Every
// record is copied exactly once; the group's committed offsets are the
// source's ends.
func TestClusterTxnGroupETL(t *testing.T) {
	tc := txnCluster(t, "etl-src", "etl-dst")
	// A group and a transactional id whose coordinators are on two
	// different nodes.
	var group, id string
	for i := 0; group == ""; i++ {
		g, x := "etl-group-"+strconv.Itoa(i), "etl-txn-"+strconv.Itoa(i)
		gn := tc.coordinatorNode(offsetsTopic, coordinator.PartitionFor(g, 50))
		tn := tc.coordinatorNode(txnStateTopic, txn.PartitionFor(x, txnStatePartitions))
		if gn != tn {
			group, id = g, x
			t.Logf("group coordinator node %d, transaction coordinator node %d", gn, tn)
		}
	}
	const n = 300
	src, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.DefaultProduceTopic("etl-src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for from := 0; from < n; from += 30 { // several batches: several transactions
		var recs []*kgo.Record
		for i := from; i < from+30; i++ {
			recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
		}
		if err := src.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(tc.seeds()...), kgo.TransactionalID(id),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics("etl-src"), kgo.DefaultProduceTopic("etl-dst"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(1000), kgo.FetchMaxPartitionBytes(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	copied, txns := 0, 0
	for copied < n {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("copied %d of %d", copied, n)
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		k := 0
		fs.EachRecord(func(r *kgo.Record) {
			k++
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		})
		ok, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if ok {
			copied += k
			txns++
		}
	}
	t.Logf("copied %d records in %d transactions", copied, txns)

	got := consumeCommitted(t, tc.seeds(), "etl-dst", n)
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range n {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("record %d copied %d times", i, seen[strconv.Itoa(i)])
		}
	}
	// The group's offsets are past each source partition's last record.
	next := map[int32]int64{}
	rd, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.ConsumeTopics("etl-src"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for read := 0; read < n; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d source records", read, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		})
	}
	offs, err := kadm.NewClient(src).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range next {
		if o, ok := offs.Lookup("etl-src", part); !ok || o.At != want {
			t.Errorf("etl-src-%d: committed %v (%v), want %d", part, o.At, ok, want)
		}
	}
}

// moveLeader transfers the leadership of topic's partition part to
// another replica and waits until every node sees the new leader (and, for
// a __transaction_state partition, until its coordinator loaded it).
func (tc *testCluster) moveLeader(topic string, part int32) int {
	tc.t.Helper()
	from := -1
	tc.waitFor("a leader of "+topic, func() bool { from = tc.leaderOf(topic, part); return from >= 0 })
	to := (from + 1) % len(tc.brokers)
	var state string
	defer func() {
		if tc.t.Failed() {
			tc.t.Logf("moveLeader %s-%d: last state: %s", topic, part, state)
		}
	}()
	tc.waitFor(fmt.Sprintf("%s-%d moved from node %d to node %d", topic, part, from+1, to+1), func() bool {
		// makeLeader asks whichever node leads now: under load an
		// election can pass leadership to the third node instead.
		tc.makeLeader(topic, part, to)
		for i, b := range tc.brokers {
			if l := b.topics.get(topic).partition(part).lead.Load().leader; l != int32(to+1) {
				state = fmt.Sprintf("node %d sees leader %d", i+1, l)
				return false
			}
		}
		state = "not loaded by the new leader"
		return topic != txnStateTopic || tc.brokers[to].inter.loaded(part)
	})
	return to
}

// Leadership moves in the middle of transactions: a data partition's
// leader moves between two batches of one transaction (the new leader
// verifies with the coordinator again; the markers go to it after the
// coordinator re-reads the cluster view), then the transaction
// coordinator moves (its successor loads the transaction state and ends
// the next transactions), and moves again with a transaction open. A
// read_committed consumer sees exactly the committed records.
func TestClusterTxnLeadersMove(t *testing.T) {
	tc := txnCluster(t, "mv")
	const id = "mover"
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.TransactionalID(id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("mv"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var committed []string
	produce := func(txnNo, from, to int) []string {
		var vs []string
		for i := from; i < to; i++ {
			v := fmt.Sprintf("%d-%d", txnNo, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 3), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
			vs = append(vs, v)
		}
		return vs
	}
	end := func(commit bool) {
		t.Helper()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end (commit %v): %v", commit, err)
		}
	}

	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	vs := produce(0, 0, 6)
	to := tc.moveLeader("mv", 0)
	t.Logf("mv-0 moved to node %d mid-transaction", to+1)
	vs = append(vs, produce(0, 6, 12)...)
	end(true)
	committed = append(committed, vs...)

	tp := txn.PartitionFor(id, txnStatePartitions)
	to = tc.moveLeader(txnStateTopic, tp)
	t.Logf("the coordinator of %s moved to node %d", id, to+1)
	for n := 1; n <= 4; n++ {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		vs := produce(n, 0, 6)
		switch n {
		case 2:
			to = tc.moveLeader("mv", 1)
			t.Logf("mv-1 moved to node %d mid-transaction", to+1)
			vs = append(vs, produce(n, 6, 9)...)
		case 4:
			// The coordinator moves with the transaction open: its
			// successor loads it from __transaction_state and commits.
			to = tc.moveLeader(txnStateTopic, tp)
			t.Logf("the coordinator of %s moved to node %d mid-transaction", id, to+1)
			vs = append(vs, produce(n, 6, 9)...)
		}
		commit := n%2 == 0
		end(commit)
		if commit {
			committed = append(committed, vs...)
		}
	}
	got := consumeCommitted(t, tc.seeds(), "mv", len(committed))
	slices.Sort(got)
	slices.Sort(committed)
	if !slices.Equal(got, committed) {
		t.Fatalf("read_committed read %v, want %v", got, committed)
	}
}

// The verification guard: a marker written while a remote verification is
// in flight, or after it, invalidates it; a new leader epoch or producer
// epoch does too.
func TestTxnGuards(t *testing.T) {
	tp := &topic{name: "g"}
	p := newPartition(tp, 0, nil, &leadership{leader: 1, epoch: 3, local: true})
	g := txnGuards{m: map[guardKey]*txnGuard{}}
	if g.valid(p, 7, 0) == nil {
		t.Fatal("valid without a verification")
	}
	gen := g.begin(p, 7)
	g.verified(p, 7, 0, gen)
	if err := g.valid(p, 7, 0); err != nil {
		t.Fatalf("verified: %v", err)
	}
	if g.valid(p, 7, 1) == nil || g.valid(p, 8, 0) == nil {
		t.Fatal("valid for another epoch or producer")
	}
	g.markerWriting(p, 7)
	if g.valid(p, 7, 0) == nil {
		t.Fatal("valid after a marker")
	}
	gen = g.begin(p, 7)
	g.markerWriting(p, 7) // the transaction ends while the verification is in flight
	g.verified(p, 7, 0, gen)
	if g.valid(p, 7, 0) == nil {
		t.Fatal("a verification that raced a marker was recorded")
	}
	gen = g.begin(p, 7)
	g.verified(p, 7, 0, gen)
	p.lead.Store(&leadership{leader: 1, epoch: 4, local: true})
	if g.valid(p, 7, 0) == nil {
		t.Fatal("valid under a new leader epoch")
	}
	g.prune(time.Now().Add(time.Hour), time.Minute)
	if len(g.m) != 0 {
		t.Fatalf("prune left %d records", len(g.m))
	}
}
