package tests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

func grpProduce(t *testing.T, addr, topic string, n int) { grpProduceFrom(t, addr, topic, 0, n) }

func grpProduceFrom(t *testing.T, addr, topic string, from, n int) {
	t.Helper()
	p := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	for i := from; i < from+n; i++ {
		p.Produce(ctxT(t), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%05d", i))}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := p.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func grpClient(t *testing.T, addr, group, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond)}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(addr)}, base...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// pollUntil polls cl until n records arrived (or the deadline).
func grpPoll(t *testing.T, cl *kgo.Client, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records", len(out), n)
		}
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func TestGroupsFranzCommitAndResume(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group = "g-resume", "g-resume-group"
	createTopic(t, addr, topic, 3, nil)
	grpProduce(t, addr, topic, 300)

	cl := grpClient(t, addr, group, topic)
	got := grpPoll(t, cl, 300, 30*time.Second)
	if len(got) != 300 {
		t.Fatalf("got %d", len(got))
	}
	if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	grpProduce(t, addr, topic, 100)
	cl2 := grpClient(t, addr, group, topic)
	defer cl2.Close()
	got = grpPoll(t, cl2, 100, 30*time.Second)
	for _, r := range got {
		if string(r.Value) < "v00000" || len(got) != 100 {
			t.Fatalf("resumed at the wrong place: %d records", len(got))
		}
	}
	adm := kadm.NewClient(newClient(t, addr))
	if total := committedSum(t, addr, group); total != 300 {
		t.Fatalf("committed offsets sum to %d, want 300", total)
	}
	described, err := adm.DescribeGroups(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if d := described[group]; d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("describe: state %q, %d members", d.State, len(d.Members))
	}
}

// grpAssigned is what each member of a group currently owns.
type grpAssigned struct {
	mu     sync.Mutex
	owners map[int32]int // partition → member index
	events int
}

func (a *grpAssigned) set(member int, assigned map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events++
	for _, ps := range assigned {
		for _, p := range ps {
			a.owners[p] = member
		}
	}
}

func (a *grpAssigned) drop(member int, lost map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ps := range lost {
		for _, p := range ps {
			if a.owners[p] == member {
				delete(a.owners, p)
			}
		}
	}
}

// covered waits until every partition is owned by a member in want.
func (a *grpAssigned) covered(t *testing.T, partitions int, want map[int]bool, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		a.mu.Lock()
		ok := len(a.owners) == partitions
		for _, m := range a.owners {
			if !want[m] {
				ok = false
			}
		}
		a.mu.Unlock()
		if ok {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Fatalf("partitions not covered by %v after %v: %v", want, d, a.owners)
	return 0
}

// grpMember starts a franz-go group member that polls in the background.
func grpMember(t *testing.T, addr, group, topic string, idx int, a *grpAssigned, opts ...kgo.Opt) (*kgo.Client, func()) {
	t.Helper()
	opts = append(opts,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(idx, m) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(idx, m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(idx, m) }))
	cl := grpClient(t, addr, group, topic, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	return cl, func() { cancel(); <-done; cl.Close() }
}

func TestGroupsFranzMembersSplitAndRebalance(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group, parts = "g-split", "g-split-group", 10
	createTopic(t, addr, topic, parts, nil)
	a := &grpAssigned{owners: map[int32]int{}}
	var stops []func()
	start := time.Now()
	for i := range 5 {
		_, stop := grpMember(t, addr, group, topic, i, a)
		stops = append(stops, stop)
	}
	a.covered(t, parts, map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}, 30*time.Second)
	// Every member owns two partitions once the group settled.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		per := map[int]int{}
		for _, m := range a.owners {
			per[m]++
		}
		a.mu.Unlock()
		if len(per) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all 5 members own partitions: %v", per)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("5 members joined and were assigned in %v", time.Since(start))

	// Member 4 leaves: its partitions move to the other four.
	t0 := time.Now()
	stops[4]()
	took := a.covered(t, parts, map[int]bool{0: true, 1: true, 2: true, 3: true}, 30*time.Second)
	t.Logf("rebalance of a 5-member group after a leave: %v", time.Since(t0).Round(time.Millisecond))
	_ = took
	for _, s := range stops[:4] {
		s()
	}
}

// grpCutDialer dials through connections the test can cut, simulating a
// member that dies without leaving.
type grpCutDialer struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (d *grpCutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *grpCutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
}

func TestGroupsFranzMemberKilledWithoutLeaving(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group, parts = "g-kill", "g-kill-group", 6
	createTopic(t, addr, topic, parts, nil)
	a := &grpAssigned{owners: map[int32]int{}}
	d := &grpCutDialer{}
	_, stop0 := grpMember(t, addr, group, topic, 0, a)
	defer stop0()
	victim, stop1 := grpMember(t, addr, group, topic, 1, a, kgo.Dialer(d.dial))
	a.covered(t, parts, map[int]bool{0: true, 1: true}, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		n := 0
		for _, m := range a.owners {
			if m == 1 {
				n++
			}
		}
		a.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("member 1 never got partitions")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Kill member 1's network: no LeaveGroup reaches the broker. Its
	// partitions move after the 3s session timeout.
	t0 := time.Now()
	d.cut()
	a.mu.Lock()
	for p, m := range a.owners {
		if m == 1 {
			delete(a.owners, p) // the victim's own view no longer counts
		}
	}
	a.mu.Unlock()
	a.covered(t, parts, map[int]bool{0: true}, 30*time.Second)
	if el := time.Since(t0); el < 2*time.Second {
		t.Fatalf("partitions moved after %v, before the session timeout", el)
	}
	t.Logf("partitions moved %v after the member died", time.Since(t0).Round(time.Millisecond))
	_ = victim
	go stop1() // its LeaveGroup cannot get through; do not wait for it
}

func TestGroupsFranzCooperativeStickyNoDoubleConsumption(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group, parts, total = "g-coop", "g-coop-group", 8, 4000
	createTopic(t, addr, topic, parts, nil)

	var mu sync.Mutex
	seen := map[string]int{}
	where := map[string][]string{}
	// consume runs member idx until stop is closed.
	consume := func(idx int, stop <-chan struct{}) {
		cl := grpClient(t, addr, group, topic, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.BlockRebalanceOnPoll(),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					t.Errorf("commit on revoke: %v", err)
				}
			}))
		defer cl.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			fs := cl.PollFetches(ctx)
			cancel()
			mu.Lock()
			for _, r := range fs.Records() {
				seen[string(r.Value)]++
				where[string(r.Value)] = append(where[string(r.Value)], fmt.Sprintf("m%d p%d o%d t%s", idx, r.Partition, r.Offset, time.Now().Format("05.000")))
			}
			mu.Unlock()
			if err := cl.CommitRecords(context.Background(), fs.Records()...); err != nil {
				t.Errorf("commit: %v", err)
			}
			cl.AllowRebalance()
		}
	}
	seenN := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) >= n
		}
	}
	adm := kadm.NewClient(newClient(t, addr))
	stableWith := func(members int) func() bool {
		return func() bool {
			described, err := adm.DescribeGroups(ctxT(t), group)
			if err != nil {
				t.Fatal(err)
			}
			d := described[group]
			return d.State == "Stable" && len(d.Members) == members
		}
	}
	var wg sync.WaitGroup
	var stops []chan struct{}
	start := func(idx int) {
		stop := make(chan struct{})
		stops = append(stops, stop)
		wg.Add(1)
		go func() { defer wg.Done(); consume(idx, stop) }()
	}
	// Members 0 and 1 consume; member 2 joins while records flow and more
	// are produced; member 1 leaves while the rest may still flow; the last
	// quarter is produced after the group settled on two members, so every
	// partition that moved is read past the offset it moved at (a wrong
	// committed offset shows as a record consumed twice).
	start(0)
	start(1)
	grpProduce(t, addr, topic, total/2)
	testenv.WaitFor(t, 60*time.Second, "a quarter consumed by two members", seenN(total/4))
	start(2)
	grpProduceFrom(t, addr, topic, total/2, total/4)
	testenv.WaitFor(t, 60*time.Second, "the third member to join", stableWith(3))
	testenv.WaitFor(t, 60*time.Second, "five eighths consumed", seenN(total*5/8))
	close(stops[1])
	testenv.WaitFor(t, 60*time.Second, "the group to settle on two members after one left", stableWith(2))
	grpProduceFrom(t, addr, topic, total*3/4, total/4)
	testenv.WaitFor(t, 60*time.Second, "every record consumed", seenN(total))
	close(stops[0])
	close(stops[2])
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != total {
		t.Fatalf("consumed %d distinct records, want %d", len(seen), total)
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("record %s consumed %d times: %v", v, n, where[v])
		}
	}
}

func TestGroupsFranzStaticMemberRestartWithoutRebalance(t *testing.T) {
	reg := prometheus.NewRegistry()
	addr := newBroker(t, fastGroups, withMetrics(reg))
	const topic, group, parts = "g-static", "g-static-group", 4
	createTopic(t, addr, topic, parts, nil)
	a := &grpAssigned{owners: map[int32]int{}}
	_, stop0 := grpMember(t, addr, group, topic, 0, a, kgo.InstanceID("static-0"))
	defer stop0()
	// Member 0 joins alone first, so it is the group leader and member 1,
	// the one restarted below, is not: a restarted static leader is told
	// to skip assignment (KIP-814), but franz-go balances anyway and
	// rejoins, forcing a rebalance, when its own plan differs byte for
	// byte from the stored one — a client choice, the same on Kafka.
	a.covered(t, parts, map[int]bool{0: true}, 30*time.Second)
	_, stop1 := grpMember(t, addr, group, topic, 1, a, kgo.InstanceID("static-1"))
	a.covered(t, parts, map[int]bool{0: true, 1: true}, 30*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	// settled: the group is Stable with two members, and every partition's
	// owner has had its assignment callback. A cooperative group takes two
	// rebalances to move partitions: the second ends Stable with the 2/2
	// split, and nothing follows it.
	settled := func() bool {
		described, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			t.Fatal(err)
		}
		if d := described[group]; d.State != "Stable" || len(d.Members) != 2 {
			return false
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		per := map[int]int{}
		for _, m := range a.owners {
			per[m]++
		}
		return len(a.owners) == parts && per[0] == parts/2 && per[1] == parts/2
	}
	testenv.WaitFor(t, 30*time.Second, "the group to settle with two partitions each", settled)
	a.mu.Lock()
	before := a.events
	a.mu.Unlock()
	const rebalances = "moldau_group_rebalances_total"
	rebalancesBefore := metricValue(t, reg, rebalances)
	if rebalancesBefore == 0 {
		t.Fatalf("%s counted no rebalance while the group formed: it could not show one now", rebalances)
	}

	stop1() // a static member does not leave on close
	_, stop1 = grpMember(t, addr, group, topic, 1, a, kgo.InstanceID("static-1"))
	defer stop1()
	// The restarted member's JoinGroup is answered with its old assignment
	// and counts as no rebalance; a rebalance it started would be counted
	// before the member got any assignment.
	testenv.WaitFor(t, 30*time.Second, "the restarted member to get its partitions back", func() bool {
		a.mu.Lock()
		assigned := a.events > before
		a.mu.Unlock()
		return assigned && settled()
	})
	a.mu.Lock()
	after := a.events
	a.mu.Unlock()
	if n := metricValue(t, reg, rebalances); n != rebalancesBefore {
		t.Errorf("%s went from %v to %v: the restart rebalanced the group", rebalances, rebalancesBefore, n)
	}
	// The restarted member got its assignment once; member 0 saw nothing.
	if after != before+1 {
		t.Fatalf("assignment callbacks went from %d to %d: a rebalance happened", before, after)
	}
}

func TestGroupsOffsetsSurviveKill9(t *testing.T) {
	p := harness.Start(t, "--set", "group.initial.rebalance.delay.ms=0", "--set", "group.min.session.timeout.ms=500")
	const topic, group = "g-kill9", "g-kill9-group"
	createTopic(t, p.Addr, topic, 3, nil)
	grpProduce(t, p.Addr, topic, 90)
	cl := grpClient(t, p.Addr, group, topic)
	grpPoll(t, cl, 90, 30*time.Second)
	if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	p.Kill9()
	p.Restart()
	adm2 := kadm.NewClient(newClient(t, p.Addr))
	if sum := committedSum(t, p.Addr, group); sum != 90 {
		t.Fatalf("after kill -9 committed offsets sum to %d, want 90", sum)
	}
	// The group resumes where it left off.
	grpProduce(t, p.Addr, topic, 9)
	cl2 := grpClient(t, p.Addr, group, topic)
	defer cl2.Close()
	if got := grpPoll(t, cl2, 9, 30*time.Second); len(got) != 9 {
		t.Fatalf("resumed with %d records, want 9", len(got))
	}
	md, err := adm2.Metadata(ctxT(t), "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	if !md.Topics["__consumer_offsets"].IsInternal {
		t.Fatal("__consumer_offsets is not internal in Metadata")
	}
}

type grpSaramaHandler struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *grpSaramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *grpSaramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *grpSaramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)]++
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func (h *grpSaramaHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

func TestGroupsSaramaConsumerGroup(t *testing.T) {
	addr := newBroker(t, fastGroups)
	for _, ver := range []struct {
		name string
		v    sarama.KafkaVersion
	}{{"v1.0", sarama.V1_0_0_0}, {"v2.1", sarama.V2_1_0_0}, {"v3.6", sarama.V3_6_0_0}} {
		t.Run(ver.name, func(t *testing.T) {
			topic, group := "g-sarama-"+ver.name, "g-sarama-group-"+ver.name
			createTopic(t, addr, topic, 4, nil)
			grpProduce(t, addr, topic, 200)
			cfg := sarama.NewConfig()
			cfg.Version = ver.v
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
			cfg.Consumer.Group.Session.Timeout = 3 * time.Second
			cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
			// run consumes want records, and stops once the marks were
			// autocommitted up to the offset sum end.
			run := func(h *grpSaramaHandler, want int, end int64) {
				cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					for ctx.Err() == nil {
						if err := cg.Consume(ctx, []string{topic}, h); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("%d records consumed", want), func() bool { return h.count() >= want })
				testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("the marks autocommitted up to %d", end), func() bool { return committedSum(t, addr, group) >= end })
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("consume: %v", err)
				}
				if err := cg.Close(); err != nil {
					t.Fatal(err)
				}
				if h.count() != want {
					t.Fatalf("consumed %d, want %d", h.count(), want)
				}
			}
			run(&grpSaramaHandler{seen: map[string]int{}}, 200, 200)
			grpProduceFrom(t, addr, topic, 200, 50)
			h := &grpSaramaHandler{seen: map[string]int{}}
			run(h, 50, 250)
			for v := range h.seen {
				if v < "v00200" {
					t.Fatalf("resumed before the committed offsets: %s", v)
				}
			}
		})
	}
}

func TestGroupsKafkaGoReader(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group = "g-kafkago", "g-kafkago-group"
	createTopic(t, addr, topic, 3, nil)
	grpProduce(t, addr, topic, 60)
	read := func(n int) []string {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: group, Topic: topic,
			StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond, SessionTimeout: 3 * time.Second,
			HeartbeatInterval: 300 * time.Millisecond, RebalanceTimeout: 3 * time.Second})
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out []string
		for len(out) < n {
			m, err := r.ReadMessage(ctx) // commits synchronously
			if err != nil {
				t.Fatalf("read %d of %d: %v", len(out), n, err)
			}
			out = append(out, string(m.Value))
		}
		return out
	}
	if got := read(60); len(got) != 60 {
		t.Fatalf("got %d", len(got))
	}
	grpProduceFrom(t, addr, topic, 60, 15)
	for _, v := range read(15) {
		if v < "v00060" {
			t.Fatalf("kafka-go resumed before its committed offsets: %s", v)
		}
	}
}

// TestGroupsEveryAPIVersion drives one member through every version of the
// group APIs with raw requests: FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED
// from v4), SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, DescribeGroups,
// ListGroups, LeaveGroup, OffsetDelete, DeleteGroups.
func TestGroupsEveryAPIVersion(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic = "g-versions"
	createTopic(t, addr, topic, 2, nil)
	topicID := func() [16]byte {
		md, err := kadm.NewClient(newClient(t, addr)).Metadata(ctxT(t), topic)
		if err != nil {
			t.Fatal(err)
		}
		return md.Topics[topic].ID
	}()
	maxes := map[int16]int16{8: 10, 9: 10, 10: 6, 11: 9, 12: 4, 13: 5, 14: 5, 15: 6, 16: 5, 42: 2, 47: 0}
	for i := int16(0); i <= 10; i++ {
		i := i
		t.Run(fmt.Sprintf("v%d", i), func(t *testing.T) {
			vs := kversion.Stable()
			ver := map[int16]int16{}
			for k, m := range maxes {
				ver[k] = min(i, m)
				vs.SetMaxKeyVersion(k, ver[k])
			}
			cl := newClient(t, addr, kgo.MaxVersions(vs))
			ctx := ctxT(t)
			group := fmt.Sprintf("g-versions-%d", i)
			must := func(code int16, what string) {
				t.Helper()
				if err := kerr.ErrorForCode(code); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}

			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey, fc.CoordinatorKeys = group, []string{group}
			fcr, err := fc.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if ver[10] >= 4 {
				must(fcr.Coordinators[0].ErrorCode, "FindCoordinator")
			} else {
				must(fcr.ErrorCode, "FindCoordinator")
			}

			join := kmsg.NewPtrJoinGroupRequest()
			join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = group, 3000, 3000, "consumer"
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", []byte("meta")
			join.Protocols = []kmsg.JoinGroupRequestProtocol{p}
			jr, err := join.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if ver[11] >= 4 {
				if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
					t.Fatalf("JoinGroup v%d: want MEMBER_ID_REQUIRED with an id, got %v %q", ver[11], kerr.ErrorForCode(jr.ErrorCode), jr.MemberID)
				}
				join.MemberID = jr.MemberID
				if jr, err = join.RequestWith(ctx, cl); err != nil {
					t.Fatal(err)
				}
			}
			must(jr.ErrorCode, "JoinGroup")
			if jr.LeaderID != jr.MemberID || jr.Generation != 1 || len(jr.Members) != 1 || string(jr.Members[0].ProtocolMetadata) != "meta" {
				t.Fatalf("JoinGroup: %+v", jr)
			}
			member := jr.MemberID

			sync := kmsg.NewPtrSyncGroupRequest()
			sync.Group, sync.Generation, sync.MemberID = group, 1, member
			proto, ptype := "range", "consumer"
			sync.Protocol, sync.ProtocolType = &proto, &ptype
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID, a.MemberAssignment = member, []byte("assignment")
			sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{a}
			sr, err := sync.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			must(sr.ErrorCode, "SyncGroup")
			if string(sr.MemberAssignment) != "assignment" {
				t.Fatalf("SyncGroup assignment %q", sr.MemberAssignment)
			}

			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.Generation, hb.MemberID = group, 1, member
			hr, err := hb.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			must(hr.ErrorCode, "Heartbeat")

			oc := kmsg.NewPtrOffsetCommitRequest()
			oc.Group, oc.Generation, oc.MemberID = group, 1, member
			if ver[8] == 0 {
				oc.Generation, oc.MemberID = -1, ""
			}
			ot := kmsg.NewOffsetCommitRequestTopic()
			ot.Topic, ot.TopicID = topic, topicID
			op := kmsg.NewOffsetCommitRequestTopicPartition()
			op.Partition, op.Offset = 1, 77
			meta := "md"
			op.Metadata = &meta
			ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{op}
			oc.Topics = []kmsg.OffsetCommitRequestTopic{ot}
			ocr, err := oc.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if ver[8] == 0 {
				// A v0 commit is a simple commit: refused while the group has members.
				if ocr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownMemberID.Code {
					t.Fatalf("OffsetCommit v0 to a Stable group: %v", kerr.ErrorForCode(ocr.Topics[0].Partitions[0].ErrorCode))
				}
			} else {
				must(ocr.Topics[0].Partitions[0].ErrorCode, "OffsetCommit")
			}

			of := kmsg.NewPtrOffsetFetchRequest()
			of.Group = group
			ft := kmsg.NewOffsetFetchRequestTopic()
			ft.Topic, ft.Partitions = topic, []int32{0, 1}
			of.Topics = []kmsg.OffsetFetchRequestTopic{ft}
			fg := kmsg.NewOffsetFetchRequestGroup()
			fg.Group = group
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.TopicID, gt.Partitions = topic, topicID, []int32{0, 1}
			fg.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
			of.Groups = []kmsg.OffsetFetchRequestGroup{fg}
			ofr, err := of.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			var parts []kmsg.OffsetFetchResponseTopicPartition
			if ver[9] >= 8 {
				must(ofr.Groups[0].ErrorCode, "OffsetFetch")
				for _, p := range ofr.Groups[0].Topics[0].Partitions {
					parts = append(parts, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, Metadata: p.Metadata})
				}
				if ver[9] >= 10 && ofr.Groups[0].Topics[0].TopicID != topicID {
					t.Fatal("OffsetFetch v10: wrong topic id")
				}
			} else {
				must(ofr.ErrorCode, "OffsetFetch")
				parts = ofr.Topics[0].Partitions
			}
			wantOff := int64(77)
			if ver[8] == 0 {
				wantOff = -1
			}
			if len(parts) != 2 || parts[0].Offset != -1 || parts[1].Offset != wantOff {
				t.Fatalf("OffsetFetch v%d: %+v", ver[9], parts)
			}

			dg := kmsg.NewPtrDescribeGroupsRequest()
			dg.Groups = []string{group}
			dgr, err := dg.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			d := dgr.Groups[0]
			must(d.ErrorCode, "DescribeGroups")
			if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 || string(d.Members[0].MemberAssignment) != "assignment" {
				t.Fatalf("DescribeGroups: %+v", d)
			}

			lg := kmsg.NewPtrListGroupsRequest()
			lg.StatesFilter = []string{"stable"}
			lgr, err := lg.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range lgr.Groups {
				found = found || g.Group == group
			}
			if !found {
				t.Fatalf("ListGroups: %s missing", group)
			}

			lv := kmsg.NewPtrLeaveGroupRequest()
			lv.Group, lv.MemberID = group, member
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID = member
			lv.Members = []kmsg.LeaveGroupRequestMember{lm}
			lvr, err := lv.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			must(lvr.ErrorCode, "LeaveGroup")
			if ver[13] >= 3 {
				must(lvr.Members[0].ErrorCode, "LeaveGroup member")
			}

			if ver[8] > 0 {
				od := kmsg.NewPtrOffsetDeleteRequest()
				od.Group = group
				dt := kmsg.NewOffsetDeleteRequestTopic()
				dt.Topic = topic
				dp := kmsg.NewOffsetDeleteRequestTopicPartition()
				dp.Partition = 1
				dt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{dp}
				od.Topics = []kmsg.OffsetDeleteRequestTopic{dt}
				odr, err := od.RequestWith(ctx, cl)
				if err != nil {
					t.Fatal(err)
				}
				must(odr.ErrorCode, "OffsetDelete")
				must(odr.Topics[0].Partitions[0].ErrorCode, "OffsetDelete partition")
			}

			del := kmsg.NewPtrDeleteGroupsRequest()
			del.Groups = []string{group}
			delr, err := del.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			must(delr.Groups[0].ErrorCode, "DeleteGroups")
			dgr, err = dg.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if dgr.Groups[0].State != "Dead" {
				t.Fatalf("deleted group described as %s", dgr.Groups[0].State)
			}
		})
	}
}

// TestGroupsCommitThroughput measures durable offset commits per second from
// one client committing one partition at a time, waiting for each answer
// (the broker fsyncs __consumer_offsets before answering).
func TestGroupsCommitThroughput(t *testing.T) {
	testenv.SkipIfShort(t, "measurement")
	p := harness.Start(t)
	const topic, group = "g-commit-rate", "g-commit-rate-group"
	createTopic(t, p.Addr, topic, 1, nil)
	adm := kadm.NewClient(newClient(t, p.Addr))
	ctx := ctxT(t)
	commit := func(off int64) {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: off, LeaderEpoch: -1})
		r, err := adm.CommitOffsets(ctx, group, os)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Error(); err != nil {
			t.Fatal(err)
		}
	}
	commit(0) // creates __consumer_offsets
	start := time.Now()
	n := 0
	for time.Since(start) < 2*time.Second {
		n++
		commit(int64(n))
	}
	el := time.Since(start)
	t.Logf("%d durable commits in %v: %.0f commits/s, %.2f ms each", n, el.Round(time.Millisecond), float64(n)/el.Seconds(), el.Seconds()*1000/float64(n))
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(topic, 0); o.At != int64(n) {
		t.Fatalf("committed %d, fetched %d", n, o.At)
	}

	// Eight clients, each committing for its own group, at once: groups
	// have their own locks and concurrent commits share fsyncs.
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start = time.Now()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cadm := kadm.NewClient(newClient(t, p.Addr))
			g := fmt.Sprintf("%s-%d", group, i)
			k := 0
			for time.Since(start) < 2*time.Second {
				k++
				var os kadm.Offsets
				os.Add(kadm.Offset{Topic: topic, Partition: 0, At: int64(k), LeaderEpoch: -1})
				r, err := cadm.CommitOffsets(ctx, g, os)
				if err == nil {
					err = r.Error()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
			mu.Lock()
			total += k
			mu.Unlock()
		}()
	}
	wg.Wait()
	el = time.Since(start)
	t.Logf("8 clients, 8 groups: %d durable commits in %v: %.0f commits/s", total, el.Round(time.Millisecond), float64(total)/el.Seconds())
}

// TestGroupsRebalanceFiveMembers measures a 5-member rebalance at the
// protocol level: from the moment all five rejoin (a new generation) until
// the last SyncGroup answer, with raw requests (no client heartbeat delay).
func TestGroupsRebalanceFiveMembers(t *testing.T) {
	b := harness.InProcess(t, func(c *config.Config) { c.GroupInitialRebalanceDelayMs = 200 })
	addr := b.Addr()
	roundNo := 0
	const group = "g-rebalance-5"
	// One client (connection) per member: a broker answers one request
	// at a time per connection, so a waiting JoinGroup holds up the next.
	var clients []*kgo.Client
	for range 5 {
		clients = append(clients, newClient(t, addr))
	}
	ctx := ctxT(t)
	members := make([]string, 5)
	join := func(i int) *kmsg.JoinGroupResponse {
		cl := clients[i]
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = group, members[i], 10000, 10000, "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		// New metadata every round: a rejoin with changed metadata
		// starts a rebalance (an unchanged follower would just get the
		// current generation back).
		p.Name, p.Metadata = "range", []byte{byte(i), byte(roundNo)}
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		for {
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Error(err)
				return nil
			}
			if resp.ErrorCode == kerr.MemberIDRequired.Code {
				req.MemberID = resp.MemberID
				continue
			}
			if resp.ErrorCode != 0 {
				t.Errorf("join: %v", kerr.ErrorForCode(resp.ErrorCode))
				return nil
			}
			members[i] = resp.MemberID
			return resp
		}
	}
	round := func() time.Duration {
		roundNo++
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jr := join(i)
				if jr == nil {
					return
				}
				sreq := kmsg.NewPtrSyncGroupRequest()
				sreq.Group, sreq.Generation, sreq.MemberID = group, jr.Generation, jr.MemberID
				if jr.LeaderID == jr.MemberID {
					for _, mem := range jr.Members {
						a := kmsg.NewSyncGroupRequestGroupAssignment()
						a.MemberID, a.MemberAssignment = mem.MemberID, []byte("a")
						sreq.GroupAssignment = append(sreq.GroupAssignment, a)
					}
				}
				sr, err := sreq.RequestWith(ctx, clients[i])
				if err != nil || sr.ErrorCode != 0 {
					t.Errorf("sync: %v %v", err, kerr.ErrorForCode(sr.ErrorCode))
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	// The first round is the group forming (with a 200ms initial delay);
	// the next rounds are rebalances of a Stable five-member group.
	first := round()
	var total time.Duration
	const rounds = 20
	for range rounds {
		total += round()
	}
	t.Logf("5 members: group formed in %v; rebalance (all rejoin → all synced) %v on average over %d", first.Round(time.Microsecond), (total / rounds).Round(time.Microsecond), rounds)
}

// TestGroupsMemberSurvivesBrokerKill9 keeps a group member running across a
// kill -9 and restart of the broker: the group comes back Stable from
// __consumer_offsets, the member carries on with its generation, and
// consumption resumes from the committed offsets (nothing committed is
// consumed twice, nothing is skipped).
func TestGroupsMemberSurvivesBrokerKill9(t *testing.T) {
	p := harness.Start(t, "--set", "group.initial.rebalance.delay.ms=0", "--set", "group.min.session.timeout.ms=500")
	const topic, group = "g-survive", "g-survive-group"
	createTopic(t, p.Addr, topic, 2, nil)
	grpProduceFrom(t, p.Addr, topic, 0, 100)
	cl := grpClient(t, p.Addr, group, topic, kgo.SessionTimeout(20*time.Second), kgo.RetryTimeout(60*time.Second))
	defer cl.Close()
	seen := map[string]int{}
	consume := func(n int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for len(seen) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d", len(seen), n)
			}
			for _, r := range fs.Records() {
				seen[string(r.Value)]++
			}
			if err := cl.CommitRecords(ctx, fs.Records()...); err != nil {
				t.Logf("commit (retried by the next poll): %v", err)
			}
		}
	}
	consume(100)
	p.Kill9()
	p.Restart()
	grpProduceFrom(t, p.Addr, topic, 100, 50)
	consume(150)
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("%s consumed %d times", v, n)
		}
	}
	adm := kadm.NewClient(newClient(t, p.Addr))
	d, err := adm.DescribeGroups(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if g := d[group]; g.State != "Stable" || len(g.Members) != 1 {
		t.Fatalf("after the restart: %s with %d members", g.State, len(g.Members))
	}
}

// TestGroupsKIP848Franz runs franz-go's KIP-848 consumer (the broker
// assigns): members split the partitions, one leaves, one dies without
// leaving, and a new client resumes from the committed offsets.
func TestGroupsKIP848Franz(t *testing.T) {
	b := harness.InProcess(t, func(c *config.Config) {
		c.GroupConsumerHeartbeatIntervalMs = 200
		c.GroupConsumerSessionTimeoutMs = 3000
	})
	addr := b.Addr()
	// The test needs ConsumerGroupHeartbeat v1 advertised (franz-go would
	// otherwise fall back to the classic protocol silently).
	vr, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctxT(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	advertised := false
	for _, k := range vr.ApiKeys {
		advertised = advertised || (k.ApiKey == 68 && k.MaxVersion >= 1)
	}
	if !advertised {
		t.Fatal("ConsumerGroupHeartbeat v1 (KIP-848) is not advertised")
	}
	const topic, group, parts = "g-848", "g-848-group", 6
	createTopic(t, addr, topic, parts, nil)
	opts := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())}
	a := &grpAssigned{owners: map[int32]int{}}
	_, stop0 := grpMember(t, addr, group, topic, 0, a, opts...)
	defer stop0()
	_, stop1 := grpMember(t, addr, group, topic, 1, a, opts...)
	d := &grpCutDialer{}
	_, stop2 := grpMember(t, addr, group, topic, 2, a, append(opts, kgo.Dialer(d.dial))...)
	a.covered(t, parts, map[int]bool{0: true, 1: true, 2: true}, 30*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		a.mu.Lock()
		per := map[int]int{}
		for _, m := range a.owners {
			per[m]++
		}
		a.mu.Unlock()
		if per[0] == 2 && per[1] == 2 && per[2] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split 2/2/2: %v", per)
		}
		time.Sleep(20 * time.Millisecond)
	}
	adm := kadm.NewClient(newClient(t, addr))
	described, err := adm.DescribeConsumerGroups(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if g := described[group]; g.State != "Stable" || len(g.Members) != 3 {
		t.Fatalf("ConsumerGroupDescribe: %s with %d members (%v)", g.State, len(g.Members), g.Err)
	}

	// Member 1 leaves: its partitions move to 0 and 2.
	t0 := time.Now()
	stop1()
	a.covered(t, parts, map[int]bool{0: true, 2: true}, 30*time.Second)
	t.Logf("KIP-848: partitions of a leaving member moved in %v", time.Since(t0).Round(time.Millisecond))

	// Member 2 dies: after the session timeout member 0 owns everything.
	d.cut()
	a.mu.Lock()
	for p, m := range a.owners {
		if m == 2 {
			delete(a.owners, p)
		}
	}
	a.mu.Unlock()
	a.covered(t, parts, map[int]bool{0: true}, 30*time.Second)
	go stop2()

	// Commit and resume with the consumer protocol.
	grpProduce(t, addr, topic, 60)
	cl := grpClient(t, addr, group+"-resume", topic, opts...)
	grpPoll(t, cl, 60, 30*time.Second)
	if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	grpProduceFrom(t, addr, topic, 60, 6)
	cl2 := grpClient(t, addr, group+"-resume", topic, opts...)
	defer cl2.Close()
	for _, r := range grpPoll(t, cl2, 6, 30*time.Second) {
		if string(r.Value) < "v00060" {
			t.Fatalf("resumed before the committed offsets: %s", r.Value)
		}
	}
	lg, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := lg[group]; !ok || l.ProtocolType != "consumer" {
		t.Fatalf("ListGroups: %+v", lg[group])
	}
}

// TestGroupsRequireStableWithPendingTxnOffsets: offsets committed in an
// open transaction are invisible to OffsetFetch and, with RequireStable,
// answered UNSTABLE_OFFSET_COMMIT until the transaction commits (KIP-447).
func TestGroupsRequireStableWithPendingTxnOffsets(t *testing.T) {
	addr := newBroker(t, fastGroups)
	const topic, group, txnID = "g-stable", "g-stable-group", "g-stable-txn"
	createTopic(t, addr, topic, 1, nil)
	cl := newClient(t, addr)
	ctx := ctxT(t)
	ip := kmsg.NewPtrInitProducerIDRequest()
	tid := txnID
	ip.TransactionalID, ip.TransactionTimeoutMillis = &tid, 60000
	ipr, err := ip.RequestWith(ctx, cl)
	if err != nil || ipr.ErrorCode != 0 {
		t.Fatalf("InitProducerID: %v %v", err, kerr.ErrorForCode(ipr.ErrorCode))
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = txnID, ipr.ProducerID, ipr.ProducerEpoch, group
	aor, err := ao.RequestWith(ctx, cl)
	if err != nil || aor.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %v", err, kerr.ErrorForCode(aor.ErrorCode))
	}
	tc := kmsg.NewPtrTxnOffsetCommitRequest()
	tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = txnID, group, ipr.ProducerID, ipr.ProducerEpoch, -1
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic, tt.TopicID = topic, metadataTopicID(ctx, t, cl, topic) // v6 names topics by id
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Partition, tp.Offset = 0, 42
	tt.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{tp}
	tc.Topics = []kmsg.TxnOffsetCommitRequestTopic{tt}
	tcr, err := tc.RequestWith(ctx, cl)
	if err != nil || tcr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v %+v", err, tcr)
	}
	fetch := func(stable bool) (int64, int16) {
		t.Helper()
		of := kmsg.NewPtrOffsetFetchRequest()
		of.RequireStable = stable
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = group
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = topic, []int32{0}
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
		of.Groups = []kmsg.OffsetFetchRequestGroup{g}
		ofr, err := of.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := ofr.Groups[0].Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := fetch(false); off != -1 || code != 0 {
		t.Fatalf("pending offset visible: %d %v", off, kerr.ErrorForCode(code))
	}
	if _, code := fetch(true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("RequireStable with a pending offset: %v", kerr.ErrorForCode(code))
	}
	et := kmsg.NewPtrEndTxnRequest()
	et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = txnID, ipr.ProducerID, ipr.ProducerEpoch, true
	etr, err := et.RequestWith(ctx, cl)
	if err != nil || etr.ErrorCode != 0 {
		t.Fatalf("EndTxn: %v %v", err, kerr.ErrorForCode(etr.ErrorCode))
	}
	waitFor(t, "the committed transaction's offset", func() bool {
		off, code := fetch(true)
		return off == 42 && code == 0
	})
}
