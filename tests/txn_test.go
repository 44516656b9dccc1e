package tests

// Transactions with real clients (franz-go): an exactly-once copy loop with
// aborts mixed in, fencing of a zombie producer, read_committed isolation
// (aborted records never visible, the LSO held by an open transaction), a
// restart in the middle of a transaction, and the transactional throughput
// of one producer.

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

func txnProducer(t *testing.T, addr, id string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return newClient(t, addr, append([]kgo.Opt{kgo.TransactionalID(id), kgo.TransactionTimeout(30 * time.Second)}, opts...)...)
}

// readCommitted reads topic from the start under read_committed until it
// has seen want records and has read every partition up to its last stable
// offset (as listed once want records came): every record that could show
// (a duplicate, an aborted one) is then in the result. Control records
// (kept to see the markers' offsets) are not returned.
func readCommitted(t *testing.T, addr, topic string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}, opts...)...)
	defer cl.Close() // no fetch of it lingers at the broker
	adm := kadm.NewClient(newClient(t, addr))
	var out []*kgo.Record
	next := map[int32]int64{} // partition -> past the highest offset read
	var ends kadm.ListedOffsets
	deadline := time.Now().Add(60 * time.Second)
	for {
		if len(out) >= want {
			if ends == nil {
				var err error
				if ends, err = adm.ListCommittedOffsets(ctxT(t), topic); err != nil {
					t.Fatal(err)
				}
				if err := ends.Error(); err != nil {
					t.Fatal(err)
				}
			}
			done := true
			ends.Each(func(o kadm.ListedOffset) { done = done && next[o.Partition] >= o.Offset })
			if done {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d records, up to %v of last stable offsets %v", len(out), want, next, ends)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		for _, r := range fs.Records() {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		}
	}
}

// TestTxnCopyWithAborts copies a topic through a franz-go
// GroupTransactSession, aborting every third transaction: the output read
// with read_committed equals the input, with no duplicate. It runs with
// transactions v2 (what franz-go picks from the advertised
// transaction.version) and v1 (the client capped at Kafka 3.9's versions).
func TestTxnCopyWithAborts(t *testing.T) {
	t.Run("v2", func(t *testing.T) { testTxnCopyWithAborts(t) })
	t.Run("v1", func(t *testing.T) { testTxnCopyWithAborts(t, kgo.MaxVersions(kversion.V3_9_0())) })
}

func testTxnCopyWithAborts(t *testing.T, extra ...kgo.Opt) {
	addr := newBroker(t, fastGroups)
	in, out := "txn-copy-in", "txn-copy-out"
	createTopic(t, addr, in, 3, nil)
	createTopic(t, addr, out, 3, nil)
	const n = 3000
	grpProduce(t, addr, in, n)

	sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.TransactionalID("copy-1"),
		kgo.TransactionTimeout(30 * time.Second), kgo.ConsumerGroup("txn-copy"), kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ctx := ctxT(t)
	committed, aborted, txns := 0, 0, 0
	for committed < n {
		fs := sess.PollRecords(ctx, 200)
		if ctx.Err() != nil {
			t.Fatalf("copied %d of %d: %v", committed, n, ctx.Err())
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		// Flush so that aborted transactions leave their records in
		// the log (rather than dropping them from the client's buffer).
		if err := sess.Client().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		txns++
		try := kgo.TryCommit
		if txns%3 == 0 {
			try = kgo.TryAbort
		}
		ok, err := sess.End(ctx, try)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if ok {
			committed += len(recs)
		} else {
			aborted += len(recs)
		}
	}
	if aborted == 0 {
		t.Fatal("no transaction was aborted")
	}
	got := readCommitted(t, addr, out, n)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("v%05d", i)
		if seen[v] != 1 {
			t.Errorf("value %s seen %d times under read_committed", v, seen[v])
		}
	}
	if len(got) != n {
		t.Errorf("read %d records, want %d (%d aborted in %d transactions)", len(got), n, aborted, txns)
	}
	// The records of aborted transactions are in the log: read_uncommitted sees them.
	all := consumeN(t, addr, out, n+aborted)
	if len(all) < n+aborted {
		t.Errorf("read_uncommitted: %d records, want %d", len(all), n+aborted)
	}
}

// TestTxnFencing: a second producer with the same transactional id fences
// the first, whose open transaction is aborted and whose commit fails.
func TestTxnFencing(t *testing.T) {
	addr := newBroker(t, fastGroups)
	topic := "txn-fence"
	createTopic(t, addr, topic, 1, nil)
	ctx := ctxT(t)

	a := txnProducer(t, addr, "fence-id", kgo.DefaultProduceTopic(topic))
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := a.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b := txnProducer(t, addr, "fence-id", kgo.DefaultProduceTopic(topic))
	if err := b.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := b.ProduceSync(ctx, &kgo.Record{Value: []byte("live")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	err := a.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: got %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	got := readCommitted(t, addr, topic, 1)
	if len(got) != 1 || string(got[0].Value) != "live" {
		var vals []string
		for _, r := range got {
			vals = append(vals, string(r.Value))
		}
		t.Fatalf("read_committed saw %v, want [live]", vals)
	}
}

// listOffset is the latest offset of partition 0 under isolation.
func listOffset(t *testing.T, cl *kgo.Client, topic string, isolation int8) int64 {
	t.Helper()
	off, _ := listPartitionOffset(t, cl, topic, -1, isolation)
	return off
}

// TestTxnReadCommittedIsolation: records of aborted transactions are never
// seen under read_committed, an open transaction holds the last stable
// offset (ListOffsets latest under read_committed) and consumers wait for
// it, and its commit releases them.
func TestTxnReadCommittedIsolation(t *testing.T) {
	reg := prometheus.NewRegistry()
	addr := newBroker(t, fastGroups, withMetrics(reg))
	topic := "txn-isolation"
	createTopic(t, addr, topic, 1, nil)
	ctx := ctxT(t)
	p := txnProducer(t, addr, "iso-id", kgo.DefaultProduceTopic(topic))
	want := 0
	for i := 0; i < 10; i++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 5; j++ {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("t%d-%d", i, j))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		commit := i%2 == 0
		if commit {
			want += 5
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	// Ten markers, 50 data records: the log ends at 60.
	admin := newClient(t, addr)
	if hw, lso := listOffset(t, admin, topic, 0), listOffset(t, admin, topic, 1); hw != 60 || lso != 60 {
		t.Fatalf("after all transactions ended: high watermark %d, LSO %d; want 60, 60", hw, lso)
	}
	// An open transaction holds the LSO at its first offset.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if hw, lso := listOffset(t, admin, topic, 0), listOffset(t, admin, topic, 1); hw != 61 || lso != 60 {
		t.Fatalf("with an open transaction: high watermark %d, LSO %d; want 61, 60", hw, lso)
	}
	// (Its fetches wait 100 ms at most, so none of them is still waiting
	// at the broker below.)
	got := readCommitted(t, addr, topic, want, kgo.FetchMaxWait(100*time.Millisecond))
	for _, r := range got {
		var i, j int
		fmt.Sscanf(string(r.Value), "t%d-%d", &i, &j)
		if string(r.Value) == "open" || i%2 != 0 {
			t.Errorf("read_committed saw %q", r.Value)
		}
	}
	if len(got) != want {
		t.Errorf("read_committed: %d records, want %d", len(got), want)
	}
	// A consumer blocked at the LSO is woken by the commit marker.
	waitingFetches := func() float64 { return metricValue(t, reg, "moldau_requests_waiting", "api", "Fetch") }
	testenv.WaitFor(t, 10*time.Second, "no fetch waiting at the broker", func() bool { return waitingFetches() == 0 })
	cons := newClient(t, addr, kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(60)}}))
	done := make(chan []*kgo.Record, 1)
	go func() {
		fs := cons.PollFetches(ctx)
		done <- fs.Records()
	}()
	// The fetch parks at the broker: it found nothing below the LSO. Until
	// the commit only its MaxWait (franz-go's 5 s) could end it.
	testenv.WaitFor(t, 10*time.Second, "the read_committed fetch to wait at the LSO", func() bool { return waitingFetches() == 1 })
	select {
	case recs := <-done:
		t.Fatalf("read_committed returned %d records past the LSO", len(recs))
	default:
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-done:
		if len(recs) != 1 || string(recs[0].Value) != "open" {
			t.Fatalf("after the commit: %d records", len(recs))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit did not wake the read_committed consumer")
	}
}

// TestTxnRestartMidTransaction: a broker killed with a transaction open and
// one committed recovers both: the committed records stay visible, the open
// transaction's records never become visible (the coordinator aborts it
// when it times out), and the LSO moves on.
func TestTxnRestartMidTransaction(t *testing.T) {
	p := harness.Start(t)
	topic := "txn-restart"
	createTopic(t, p.Addr, topic, 2, nil)
	ctx := ctxT(t)
	func() {
		pr, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.TransactionalID("restart-id"),
			kgo.TransactionTimeout(2*time.Second), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("c%d", i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("open%d", i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}()
	p.Kill9()
	p.Restart()
	got := readCommitted(t, p.Addr, topic, 10)
	var vals []string
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	sort.Strings(vals)
	if len(vals) != 10 || vals[0] != "c0" || vals[9] != "c9" {
		t.Fatalf("after restart read_committed saw %v", vals)
	}
	admin := newClient(t, p.Addr)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if hw, lso := listOffset(t, admin, topic, 0), listOffset(t, admin, topic, 1); hw == lso {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the open transaction was not aborted after its timeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A new producer with the same id works.
	pr := txnProducer(t, p.Addr, "restart-id", kgo.DefaultProduceTopic(topic))
	if err := pr.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := readCommitted(t, p.Addr, topic, 11); len(got) != 11 {
		t.Fatalf("read %d records, want 11", len(got))
	}
}

// TestTxnThroughput measures transactions/s of 100 records from one
// producer against the on-disk binary (fsynced markers and state), with
// transactions v2 and v1: 50 transactions each, which must all commit, or
// 500 with MOLDAU_TXN_BENCH=1 for a figure. MOLDAU_TXN_BENCH_ADDR runs it
// against another broker (Apache Kafka: tests/compat/kafka-ref.sh) for a
// side-by-side figure.
func TestTxnThroughput(t *testing.T) {
	txns := 50
	if os.Getenv("MOLDAU_TXN_BENCH") != "" {
		txns = 500
	}
	addr := os.Getenv("MOLDAU_TXN_BENCH_ADDR")
	if addr == "" {
		addr = harness.Start(t).Addr
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{{"v2", nil}, {"v1", []kgo.Opt{kgo.MaxVersions(kversion.V3_9_0())}}} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "txn-bench-" + tc.name + "-" + suffix
			createTopic(t, addr, topic, 1, nil)
			ctx := ctxT(t)
			pr := txnProducer(t, addr, "bench-"+tc.name+"-"+suffix, append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0)}, tc.opts...)...)
			value := make([]byte, 100)
			start := time.Now()
			for i := 0; i < txns; i++ {
				if err := pr.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				var failed atomic.Value
				for j := 0; j < 100; j++ {
					pr.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
						if err != nil {
							failed.Store(err)
						}
					})
				}
				if err := pr.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				if err, _ := failed.Load().(error); err != nil {
					t.Fatalf("produce: %v", err)
				}
				if err := pr.EndTransaction(ctx, kgo.TryCommit); err != nil {
					t.Fatal(err)
				}
			}
			el := time.Since(start)
			t.Logf("%d transactions of 100 records (100 B) in %v: %.0f transactions/s", txns, el.Round(time.Millisecond), float64(txns)/el.Seconds())
		})
	}
}

// TestTxnAdmin: DescribeTransactions, ListTransactions and
// DescribeProducers (kadm) see an open transaction and its producer.
func TestTxnAdmin(t *testing.T) {
	addr := newBroker(t, fastGroups)
	topic := "txn-admin"
	createTopic(t, addr, topic, 2, nil)
	ctx := ctxT(t)
	p := txnProducer(t, addr, "admin-id", kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("x")}, &kgo.Record{Partition: 1, Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, addr))
	described, err := adm.DescribeTransactions(ctx, "admin-id", "no-such-id")
	if err != nil {
		t.Fatal(err)
	}
	d := described["admin-id"]
	if d.Err != nil || d.State != "Ongoing" || d.TimeoutMillis != 30000 || d.StartTimestamp <= 0 || d.ProducerID < 0 {
		t.Errorf("described %+v", d)
	}
	if parts := d.Topics[topic]; len(parts) != 1 {
		t.Errorf("described partitions %v, want [1] of %s", d.Topics, topic)
	}
	if !errors.Is(described["no-such-id"].Err, kerr.TransactionalIDNotFound) {
		t.Errorf("unknown id: %v", described["no-such-id"].Err)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := listed["admin-id"]; !ok || l.ProducerID != d.ProducerID || l.State != "Ongoing" {
		t.Errorf("listed %+v", listed)
	}
	if listed, err = adm.ListTransactionsByTxPattern(ctx, nil, nil, "adm.*"); err != nil || len(listed) != 1 {
		t.Errorf("listed by pattern: %v %v", listed, err)
	}
	if listed, err = adm.ListTransactions(ctx, nil, []string{"CompleteCommit"}); err != nil || len(listed) != 0 {
		t.Errorf("listed CompleteCommit: %v %v", listed, err)
	}
	prods, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	all := prods.SortedProducers()
	if len(all) != 1 || all[0].Partition != 1 || all[0].ProducerID != d.ProducerID || all[0].LastSequence != 1 || all[0].CurrentTxnStartOffset != 0 {
		t.Errorf("producers %+v", all)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if described, err = adm.DescribeTransactions(ctx, "admin-id"); err != nil || described["admin-id"].State != "CompleteCommit" {
		t.Errorf("after commit: %+v %v", described, err)
	}
	prods, err = adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if all := prods.SortedProducers(); len(all) != 1 || all[0].CurrentTxnStartOffset != -1 {
		t.Errorf("producers after commit %+v", all)
	}
}

// TestTxnExactlyOnceKill9 copies 100,000 records through transactions of up
// to 750 records (every fifth one aborted) while the broker is killed with
// SIGKILL and restarted three times (at a quarter, half and three quarters
// of the input); the copier recreates its session after any error. Once
// the group's committed
// offsets reach the end of the input, the output read with read_committed
// equals the input: nothing lost, nothing duplicated, nothing aborted
// visible.
func TestTxnExactlyOnceKill9(t *testing.T) {
	testenv.SkipIfShort(t, "a long run with real clients")
	p := harness.Start(t, "--set", "group.initial.rebalance.delay.ms=0", "--set", "group.min.session.timeout.ms=500")
	in, out, group := "eos-in", "eos-out", "eos-copy"
	createTopic(t, p.Addr, in, 3, nil)
	createTopic(t, p.Addr, out, 3, nil)
	const n = 100000
	grpProduce(t, p.Addr, in, n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var copied, committedTxns, abortedTxns, restarts atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		txns, fetchErrs := 0, 0
		for ctx.Err() == nil {
			sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(p.Addr), kgo.TransactionalID("eos-copier"),
				kgo.TransactionTimeout(10*time.Second), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
				kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryTimeout(5*time.Second))
			if err != nil {
				t.Errorf("session: %v", err)
				return
			}
			restarts.Add(1)
			for ctx.Err() == nil {
				pollCtx, pollCancel := context.WithTimeout(ctx, 2*time.Second)
				fs := sess.PollRecords(pollCtx, 750)
				pollCancel()
				fs.EachError(func(tp string, p int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && fetchErrs < 5 {
						fetchErrs++
						t.Logf("fetch %s/%d: %v", tp, p, err)
					}
				})
				recs := fs.Records()
				if len(recs) == 0 {
					continue
				}
				if err := sess.Begin(); err != nil {
					t.Logf("begin: %v", err)
					break
				}
				for _, r := range recs {
					sess.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Key, Value: r.Value}, nil)
				}
				flushCtx, flushCancel := context.WithTimeout(ctx, 10*time.Second)
				flushErr := sess.Client().Flush(flushCtx)
				flushCancel()
				txns++
				try := kgo.TryCommit
				if txns%5 == 0 || flushErr != nil {
					try = kgo.TryAbort
				}
				endCtx, endCancel := context.WithTimeout(ctx, 15*time.Second)
				committed, err := sess.End(endCtx, try)
				endCancel()
				if err != nil {
					t.Logf("end: %v", err)
					break
				}
				if committed {
					copied.Add(int64(len(recs)))
					committedTxns.Add(1)
				} else {
					abortedTxns.Add(1)
				}
			}
			sess.Close()
		}
	}()

	// Kill the broker three times while the copy runs, each time a few
	// milliseconds (seeded, 0-150) after a commit so that the kill lands in
	// any phase of the next transaction.
	start := time.Now()
	rng := rand.New(rand.NewSource(9))
	for i := 0; i < 3; i++ {
		deadline := time.Now().Add(30 * time.Second)
		for copied.Load() < int64((i+1)*n/4) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Intn(150)) * time.Millisecond)
		t.Logf("kill -9 after %v with %d records copied", time.Since(start).Round(time.Millisecond), copied.Load())
		p.Kill9()
		p.Restart()
	}
	// Wait for the group's committed offsets to reach the input's end.
	adm := kadm.NewClient(newClient(t, p.Addr))
	deadline := time.Now().Add(120 * time.Second)
	for {
		offs, err := adm.FetchOffsets(context.Background(), group)
		total := int64(0)
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		}
		if total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets sum to %d of %d (copied %d, err %v)", total, n, copied.Load(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	copyTime := time.Since(start)
	cancel()
	<-done
	got := readCommitted(t, p.Addr, out, n)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	bad := 0
	for i := 0; i < n; i++ {
		if v := fmt.Sprintf("v%05d", i); seen[v] != 1 {
			if bad++; bad <= 10 {
				t.Errorf("value %s seen %d times under read_committed", v, seen[v])
			}
		}
	}
	t.Logf("copied %d records in %v: %d committed transactions (%d records each on average), %d aborted, %d sessions; output %d records",
		copied.Load(), copyTime.Round(time.Millisecond), committedTxns.Load(), copied.Load()/max(committedTxns.Load(), 1), abortedTxns.Load(), restarts.Load(), len(got))
	if len(got) != n {
		t.Errorf("read %d records, want %d", len(got), n)
	}
}

// TestTxnV2EpochBump: franz-go runs transactions v2 against Moldau (it
// reads transaction.version 2 from ApiVersions), so every EndTxn bumps the
// producer epoch.
func TestTxnV2EpochBump(t *testing.T) {
	addr := newBroker(t, fastGroups)
	topic := "txn-v2"
	createTopic(t, addr, topic, 1, nil)
	ctx := ctxT(t)
	p := txnProducer(t, addr, "v2-id", kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(newClient(t, addr))
	epoch := func() int16 {
		d, err := adm.DescribeTransactions(ctx, "v2-id")
		if err != nil {
			t.Fatal(err)
		}
		return d["v2-id"].ProducerEpoch
	}
	for i := 0; i < 3; i++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(i != 1)); err != nil {
			t.Fatal(err)
		}
	}
	if e := epoch(); e != 3 {
		t.Fatalf("epoch after three transactions: %d, want 3 (one bump per EndTxn)", e)
	}
	got := readCommitted(t, addr, topic, 2)
	if len(got) != 2 || string(got[0].Value) != "0" || string(got[1].Value) != "2" {
		t.Fatalf("read_committed: %d records", len(got))
	}
}

// TestTxnAdminAbortMarker: an administrator's WriteTxnMarkers (what
// kafka-transactions.sh abort sends) aborts an open transaction on a
// partition: the LSO moves on and read_committed never shows its records;
// a marker older than the producer's epoch is refused.
func TestTxnAdminAbortMarker(t *testing.T) {
	addr := newBroker(t, fastGroups)
	topic := "txn-admin-abort"
	createTopic(t, addr, topic, 1, nil)
	ctx := ctxT(t)
	p := txnProducer(t, addr, "hang-id", kgo.DefaultProduceTopic(topic))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("hanging")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	raw := newClient(t, addr)
	adm := kadm.NewClient(raw)
	prods, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	all := prods.SortedProducers()
	if len(all) != 1 || all[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("producers %+v", all)
	}
	write := func(epoch int16) int16 {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed = all[0].ProducerID, epoch, false
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, []int32{0}
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Markers[0].Topics[0].Partitions[0].ErrorCode
	}
	if all[0].ProducerEpoch > 0 {
		if code := write(all[0].ProducerEpoch - 1); code != kerr.InvalidProducerEpoch.Code {
			t.Errorf("stale marker: code %d", code)
		}
	}
	if code := write(all[0].ProducerEpoch); code != 0 {
		t.Fatalf("abort marker: %v", kerr.ErrorForCode(code))
	}
	if hw, lso := listOffset(t, raw, topic, 0), listOffset(t, raw, topic, 1); hw != 2 || lso != 2 {
		t.Fatalf("after the abort marker: high watermark %d, LSO %d; want 2, 2", hw, lso)
	}
	if got := readCommitted(t, addr, topic, 0); len(got) != 0 {
		t.Fatalf("read_committed saw %d records of the aborted transaction", len(got))
	}
}
