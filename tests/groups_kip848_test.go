package tests

// KIP-848 (group.protocol=consumer) group tests against real clients and the real binary.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// TestGroupsKIP848SurvivesBrokerKill9 keeps two KIP-848 members running
// across a kill -9 and restart of the broker: the group's epoch and every
// member's assignment come back from __consumer_offsets (records 3–8), the
// members carry on without being assigned anything again, and consumption
// resumes from the committed offsets (nothing committed is read twice).
func TestGroupsKIP848SurvivesBrokerKill9(t *testing.T) {
	p := harness.Start(t, "--set", "group.consumer.heartbeat.interval.ms=300")
	const topic, group, parts = "g-848-kill9", "g-848-kill9-group", 4
	createTopic(t, p.Addr, topic, parts, nil)
	grpProduceFrom(t, p.Addr, topic, 0, 100)
	a := &grpAssigned{owners: map[int32]int{}}
	var mu sync.Mutex
	seen := map[string]int{}
	members := make([]*kgo.Client, 2)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	for i := range members {
		cl := grpClient(t, p.Addr, group, topic, kgo.ServerSideBalancer(), kgo.RetryTimeout(60*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.set(i, m) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(i, m) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(i, m) }))
		defer cl.Close()
		members[i] = cl
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				mu.Lock()
				for _, r := range fs.Records() {
					seen[string(r.Value)]++
				}
				mu.Unlock()
				// Commit synchronously before polling on: what is
				// committed is exactly what was seen.
				for ctx.Err() == nil {
					if err := cl.CommitRecords(ctx, fs.Records()...); err == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	a.covered(t, parts, map[int]bool{0: true, 1: true}, 30*time.Second)
	waitSeen := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			got := len(seen)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumed %d of %d", got, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitSeen(100)
	adm := kadm.NewClient(newClient(t, p.Addr))
	describe := func() kadm.DescribedConsumerGroup {
		d, err := adm.DescribeConsumerGroups(ctxT(t), group)
		if err != nil {
			t.Fatal(err)
		}
		return d[group]
	}
	// Wait until the group is Stable (both members reconciled).
	deadline := time.Now().Add(30 * time.Second)
	before := describe()
	for before.State != "Stable" {
		if time.Now().After(deadline) {
			t.Fatalf("group not Stable: %s", before.State)
		}
		time.Sleep(50 * time.Millisecond)
		before = describe()
	}
	a.mu.Lock()
	eventsBefore := a.events
	a.mu.Unlock()
	assignments := func(d kadm.DescribedConsumerGroup) map[string]string {
		out := map[string]string{}
		for _, m := range d.Members {
			out[m.MemberID] = fmt.Sprintf("epoch %d: %v", m.MemberEpoch, m.Assignment)
		}
		return out
	}

	p.Kill9()
	p.Restart()
	after := describe()
	if after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch ||
		fmt.Sprint(assignments(after)) != fmt.Sprint(assignments(before)) {
		t.Fatalf("after the restart the group differs:\nbefore: epoch %d/%d %v\nafter:  epoch %d/%d %v", before.Epoch, before.AssignmentEpoch,
			assignments(before), after.Epoch, after.AssignmentEpoch, assignments(after))
	}
	grpProduceFrom(t, p.Addr, topic, 100, 100)
	waitSeen(200)
	cancel()
	wg.Wait()
	mu.Lock()
	for v, n := range seen {
		if n != 1 {
			t.Errorf("%s consumed %d times", v, n)
		}
	}
	mu.Unlock()
	a.mu.Lock()
	if a.events != eventsBefore {
		t.Errorf("members were assigned partitions again after the restart (%d assignment events, %d before)", a.events, eventsBefore)
	}
	a.mu.Unlock()
	if d := describe(); d.Epoch != before.Epoch {
		t.Errorf("group epoch %d after the restart, %d before (a rebalance happened)", d.Epoch, before.Epoch)
	}
}

// TestGroupsKIP848RebalanceFiveMembers measures a KIP-848 rebalance of a
// five-member group at the protocol level: four members own ten
// partitions, the fifth joins, and the clock stops when all five are at
// the new group epoch with two partitions each. Every member heartbeats
// in turn without delay and gives up or takes partitions at once (a real
// client adds its heartbeat interval and its own revocation work). The
// broker keeps its log on disk: every heartbeat that changes something
// waits for its records' fsync. MOLDAU_GROUPS_BENCH_ADDR runs it against
// another broker (Apache Kafka, side by side; Kafka 4.4 computes target
// assignments at most every group.consumer.assignment.interval.ms, 1s by
// default, which its figure then shows).
func TestGroupsKIP848RebalanceFiveMembers(t *testing.T) {
	addr := os.Getenv("MOLDAU_GROUPS_BENCH_ADDR")
	if addr == "" {
		dir := t.TempDir()
		addr = harness.InProcess(t, func(c *config.Config) { c.Memory, c.DataDir = false, dir }).Addr()
	}
	const parts, n = 10, 5
	topic := fmt.Sprintf("g-848-rebalance-5-%d", time.Now().UnixNano())
	group := topic + "-group"
	createTopic(t, addr, topic, parts, nil)
	type member struct {
		cl    *kgo.Client
		id    string
		epoch int32
		owned map[[16]byte][]int32
		in    bool
	}
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = &member{cl: newClient(t, addr), id: fmt.Sprintf("member-%d-%d", i, time.Now().UnixNano())}
	}
	ctx := ctxT(t)
	hb := func(m *member, epoch int32) {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = group, m.id, epoch, 30000
		if epoch == 0 {
			req.SubscribedTopicNames = []string{topic}
		}
		if epoch >= 0 {
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
			for tid, ps := range m.owned {
				tp := kmsg.NewConsumerGroupHeartbeatRequestTopic()
				tp.TopicID, tp.Partitions = tid, ps
				req.Topics = append(req.Topics, tp)
			}
		}
		resp := heartbeat848(ctx, t, m.cl, req)
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = map[[16]byte][]int32{}
			for _, tp := range resp.Assignment.Topics {
				m.owned[tp.TopicID] = tp.Partitions
			}
		}
	}
	// settle heartbeats the members in turn until every member in the
	// group is at the same epoch and owns its share.
	settle := func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			for _, m := range ms {
				if m.in {
					hb(m, m.epoch)
				}
			}
			epoch, count, members, balanced := int32(-1), 0, 0, true
			for _, m := range ms {
				if !m.in {
					continue
				}
				members++
				owned := 0
				for _, ps := range m.owned {
					owned += len(ps)
				}
				count += owned
				balanced = balanced && owned >= parts/n && owned <= (parts+members-1)/members+1
				if epoch == -1 {
					epoch = m.epoch
				}
				balanced = balanced && m.epoch == epoch
			}
			if count == parts && balanced {
				return
			}
		}
		t.Fatal("the group did not settle")
	}
	for _, m := range ms[:n-1] {
		hb(m, 0)
		m.in = true
	}
	settle()
	const rounds = 20
	var total time.Duration
	last := ms[n-1]
	for range rounds {
		start := time.Now()
		hb(last, 0)
		last.in = true
		settle()
		total += time.Since(start)
		for _, m := range ms {
			owned := 0
			for _, ps := range m.owned {
				owned += len(ps)
			}
			if owned != parts/n {
				t.Fatalf("%s owns %d partitions, want %d", m.id, owned, parts/n)
			}
		}
		hb(last, -1)
		last.in, last.owned, last.epoch = false, nil, 0
		settle()
	}
	t.Logf("KIP-848, 5 members: rebalance (5th joins → all at the new epoch, 2 partitions each) %v on average over %d",
		(total / rounds).Round(time.Microsecond), rounds)
}

// heartbeat848 sends a ConsumerGroupHeartbeat, retrying the retriable
// errors of a group coordinator that is not found or loaded yet (for at
// most 30 s), and fails t on any other error.
func heartbeat848(ctx context.Context, t *testing.T, cl *kgo.Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if kerr.IsRetriable(err) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // the coordinator or its topic is not ready yet
			continue
		}
		if err != nil {
			t.Fatalf("heartbeat of %s at epoch %d: %v", req.MemberID, req.MemberEpoch, err)
		}
		return resp
	}
}

// TestGroupsKIP848OnlineMigration upgrades a running classic group online
// (KIP-848, migration policy bidirectional): two classic members
// (cooperative-sticky, then eager range) consume, a third member joins with the consumer
// protocol, the group converts and the classic members keep their place;
// then the consumer protocol member leaves and the group turns classic
// again. No partition is ever assigned to a member while another owns it.
func TestGroupsKIP848OnlineMigration(t *testing.T) {
	for _, balancer := range []kgo.GroupBalancer{kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()} {
		t.Run(balancer.ProtocolName(), func(t *testing.T) { testKIP848OnlineMigration(t, balancer) })
	}
}

func testKIP848OnlineMigration(t *testing.T, balancer kgo.GroupBalancer) {
	b := harness.InProcess(t, func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 0
		c.GroupMinSessionTimeoutMs = 500
		c.GroupConsumerHeartbeatIntervalMs = 300
	})
	addr := b.Addr()
	const parts = 6
	topic, group := "g-848-migrate-"+balancer.ProtocolName(), "g-848-migrate-group-"+balancer.ProtocolName()
	createTopic(t, addr, topic, parts, nil)
	a := &grpAssigned{owners: map[int32]int{}}
	var mu sync.Mutex
	double := ""
	owner := map[int32]int{}
	track := func(idx int) []kgo.Opt {
		return []kgo.Opt{
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				for _, ps := range m {
					for _, p := range ps {
						if o, ok := owner[p]; ok && o != idx && double == "" {
							double = fmt.Sprintf("partition %d assigned to member %d while member %d owns it", p, idx, o)
						}
						owner[p] = idx
					}
				}
				mu.Unlock()
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				for _, ps := range m {
					for _, p := range ps {
						if owner[p] == idx {
							delete(owner, p)
						}
					}
				}
				mu.Unlock()
			}),
		}
	}
	classic := []kgo.Opt{kgo.Balancers(balancer)}
	_, stop0 := grpMember(t, addr, group, topic, 0, a, append(track(0), classic...)...)
	defer stop0()
	_, stop1 := grpMember(t, addr, group, topic, 1, a, append(track(1), classic...)...)
	defer stop1()
	a.covered(t, parts, map[int]bool{0: true, 1: true}, 30*time.Second)

	adm := kadm.NewClient(newClient(t, addr))
	t0 := time.Now()
	_, stop2 := grpMember(t, addr, group, topic, 2, a, append(track(2), kgo.ServerSideBalancer())...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.mu.Lock()
		per := map[int]int{}
		for _, m := range a.owners {
			per[m]++
		}
		n := len(a.owners)
		a.mu.Unlock()
		if n == parts && per[0] == 2 && per[1] == 2 && per[2] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split 2/2/2 after the upgrade: %v", per)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("online upgrade: partitions split 2/2/2 %v after the consumer protocol member started", time.Since(t0).Round(time.Millisecond))
	deadline = time.Now().Add(30 * time.Second)
	for {
		described, err := adm.DescribeConsumerGroups(ctxT(t), group)
		if err != nil {
			t.Fatal(err)
		}
		g := described[group]
		types := map[int8]int{}
		for _, m := range g.Members {
			types[m.MemberType]++
		}
		if g.State == "Stable" && types[0] == 2 && types[1] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the upgrade: %s, member types %v (%v)", g.State, types, g.Err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The consumer protocol member leaves: the group turns classic and the
	// two classic members share everything again.
	stop2()
	a.covered(t, parts, map[int]bool{0: true, 1: true}, 30*time.Second)
	deadline = time.Now().Add(30 * time.Second)
	for {
		described, err := adm.DescribeGroups(ctxT(t), group)
		if err != nil {
			t.Fatal(err)
		}
		if g := described[group]; g.State == "Stable" && len(g.Members) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the downgrade: %+v", described[group])
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if double != "" {
		t.Fatal(double)
	}
}

// TestGroupsKIP848RebalanceFiveFranzMembers measures the same rebalance
// with franz-go consumers and the broker's default heartbeat interval
// (group.consumer.heartbeat.interval.ms=5000): members learn of a new
// target only at their next heartbeat, which dominates the time.
func TestGroupsKIP848RebalanceFiveFranzMembers(t *testing.T) {
	testenv.SkipIfShort(t, "takes a few heartbeat intervals")
	b := harness.InProcess(t, nil)
	addr := b.Addr()
	const topic, group, parts = "g-848-franz-5", "g-848-franz-5-group", 10
	createTopic(t, addr, topic, parts, nil)
	a := &grpAssigned{owners: map[int32]int{}}
	for i := range 4 {
		_, stop := grpMember(t, addr, group, topic, i, a, kgo.ServerSideBalancer())
		defer stop()
	}
	split := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			a.mu.Lock()
			per := map[int]int{}
			for _, m := range a.owners {
				per[m]++
			}
			owned := len(a.owners)
			a.mu.Unlock()
			ok := owned == parts && len(per) == n
			for _, c := range per {
				ok = ok && c >= parts/n && c <= (parts+n-1)/n
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("partitions not split over %d members: %v", n, per)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	split(4)
	start := time.Now()
	_, stop := grpMember(t, addr, group, topic, 4, a, kgo.ServerSideBalancer())
	defer stop()
	split(5)
	t.Logf("KIP-848, 5 franz-go members, heartbeat interval 5s: the 5th member started → 2 partitions each in %v", time.Since(start).Round(time.Millisecond))
}
