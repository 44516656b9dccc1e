package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/replication"
)

// testCluster is n brokers in cluster mode over an in-process network.
type testCluster struct {
	t       *testing.T
	nw      *replication.LocalNetwork
	brokers []*Broker
	cfgs    []config.Config
}

func clusterLogger() *slog.Logger {
	if os.Getenv("MOLDAU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, nw: replication.NewLocalNetwork()}
	var peers []config.Peer
	for i := 1; i <= n; i++ {
		peers = append(peers, config.Peer{NodeID: int32(i), Addr: fmt.Sprintf("local:%d", i)})
	}
	for i := 1; i <= n; i++ {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.NodeID = int32(i)
		cfg.Peers = peers
		cfg.Addr = "127.0.0.1:0"
		tc.cfgs = append(tc.cfgs, cfg)
		tc.brokers = append(tc.brokers, nil)
		tc.start(i - 1)
	}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			if b != nil {
				_ = b.Close(context.Background())
			}
		}
	})
	tc.waitFor("every broker registered", func() bool {
		for _, b := range tc.brokers {
			if b != nil && len(b.cluster.brokers()) != n {
				return false
			}
		}
		return true
	})
	return tc
}

func (tc *testCluster) start(i int) {
	tc.t.Helper()
	if host, port, err := net.SplitHostPort(tc.cfgs[i].Addr); err == nil && port == "0" {
		// A restart binds the port again: it must not come from the
		// ephemeral range, where an outgoing connection could take it.
		tc.cfgs[i].Addr = testenv.Addr(tc.t, host)
	}
	b, err := New(tc.cfgs[i], WithLogger(clusterLogger().With("node", i+1)), WithPeerNetwork(tc.nw))
	if err != nil {
		tc.t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		tc.t.Fatal(err)
	}
	tc.cfgs[i].Addr = b.Addr() // a restart listens where clients know it
	tc.brokers[i] = b
}

func (tc *testCluster) stop(i int) {
	tc.t.Helper()
	if err := tc.brokers[i].Close(context.Background()); err != nil {
		tc.t.Logf("close node %d: %v", i+1, err)
	}
	tc.brokers[i] = nil
}

func (tc *testCluster) seeds() []string {
	var s []string
	for _, c := range tc.cfgs {
		s = append(s, c.Addr)
	}
	return s
}

func (tc *testCluster) waitFor(what string, cond func() bool) {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tc.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderOf is the node index leading topic's partition (-1: none).
// createKnownTopic creates topic (parts partitions, replication factor 3)
// through adm and waits until every broker of the cluster has it.
func (tc *testCluster) createKnownTopic(ctx context.Context, adm *kadm.Client, topic string, parts int32) {
	tc.t.Helper()
	if resp, err := adm.CreateTopic(ctx, parts, 3, nil, topic); err != nil || resp.Err != nil {
		tc.t.Fatalf("create: %v %v", err, resp.Err)
	}
	tc.waitFor("every broker knows the topic", func() bool {
		for _, b := range tc.brokers {
			if b.topics.get(topic) == nil {
				return false
			}
		}
		return true
	})
}

func (tc *testCluster) leaderOf(topic string, part int32) int {
	for i, b := range tc.brokers {
		if b == nil {
			continue
		}
		if t := b.topics.get(topic); t != nil {
			if p := t.partition(part); p != nil && p.repl != nil && p.lead.Load().local {
				return i
			}
		}
	}
	return -1
}

func produceN(t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

func consumeAll(t *testing.T, seeds []string, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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
			t.Fatalf("consumed %d of %d", len(got), want)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// A three-node cluster: a topic with replication factor 3 is created
// through the metadata group from any broker, produced to with acks=all
// and read back whole; every replica holds every batch.
func TestClusterProduceConsume(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	resp, err := adm.CreateTopic(ctx, 3, 3, nil, "rf3")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	meta, err := adm.Metadata(ctx, "rf3")
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3", len(meta.Brokers))
	}
	// The metadata quorum, as kafka-metadata-quorum describes it.
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dqt := kmsg.NewDescribeQuorumRequestTopic()
	dqt.Topic = "__cluster_metadata"
	dqt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	dq.Topics = append(dq.Topics, dqt)
	dqr, err := dq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	qp := dqr.Topics[0].Partitions[0]
	if qp.ErrorCode != 0 || qp.LeaderID < 1 || len(qp.CurrentVoters) != 3 || qp.HighWatermark <= 0 {
		t.Fatalf("DescribeQuorum: %+v", qp)
	}
	produceN(t, cl, "rf3", 0, 90)
	got := consumeAll(t, tc.seeds(), "rf3", 90)
	slices.Sort(got)
	if len(slices.Compact(got)) != 90 {
		t.Fatalf("read %d distinct records, want 90", len(got))
	}
	// Each partition holds its 30 records at offsets 0..29 (Raft's own
	// entries take no offset).
	tc.waitFor("every replica has every record", func() bool {
		for i := int32(0); i < 3; i++ {
			var hws []int64
			for _, b := range tc.brokers {
				p := b.topics.get("rf3").partition(i)
				hws = append(hws, p.highWatermark(), p.endOffset())
			}
			if hws[0] != 30 || slices.Min(hws) != slices.Max(hws) {
				return false
			}
		}
		return true
	})
}

// The leader of a partition is cut off from the other two in the middle
// of an idempotent acks=all stream: the others elect a new leader, the
// client re-routes, nothing acknowledged is lost and nothing duplicated;
// healed, the old leader catches up and every replica ends identical.
func TestClusterFailoverNoAckedLoss(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(context.Background(), 3, 3, nil, "fo"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produceN(t, cl, "fo", 0, 30)
	old := -1
	tc.waitFor("a leader of fo-0", func() bool { old = tc.leaderOf("fo", 0); return old >= 0 })
	tc.nw.Isolate(raftID(int32(old + 1)))
	tc.waitFor("a new leader of fo-0", func() bool {
		l := tc.leaderOf("fo", 0)
		return l >= 0 && l != old
	})
	produceN(t, cl, "fo", 30, 30)
	tc.nw.Heal()
	got := consumeAll(t, tc.seeds(), "fo", 60)
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range 60 {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("record %d read %d times", i, seen[fmt.Sprint(i)])
		}
	}
	tc.waitFor("the old leader caught up", func() bool {
		var ends []int64
		for _, b := range tc.brokers {
			ends = append(ends, b.topics.get("fo").partition(0).highWatermark())
		}
		return slices.Min(ends) == slices.Max(ends)
	})
}

// Committed offsets survive the loss of the group's coordinator: the new
// leader of the group's __consumer_offsets partition loads them, and a
// request to the old coordinator gets NOT_COORDINATOR once it has lost
// the leadership.
func TestClusterCoordinatorFailover(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tc.createKnownTopic(ctx, adm, "co", 2)
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "co", Partition: 0, At: 7, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "co", Partition: 1, At: 11, LeaderEpoch: -1})
	if resps, err := adm.CommitOffsets(ctx, "g1", offs); err != nil || resps.Error() != nil {
		t.Fatalf("commit: %v %v", err, resps.Error())
	}
	coord := -1
	tc.waitFor("a coordinator", func() bool {
		for i, b := range tc.brokers {
			if t := b.topics.get(offsetsTopic); t != nil {
				if p := t.partition(b.groups.PartitionFor("g1")); p != nil && p.lead.Load().local {
					coord = i
					return true
				}
			}
		}
		return false
	})
	tc.nw.Isolate(raftID(int32(coord + 1)))
	tc.waitFor("a new coordinator", func() bool {
		for i, b := range tc.brokers {
			if i == coord {
				continue
			}
			if t := b.topics.get(offsetsTopic); t != nil {
				if p := t.partition(b.groups.PartitionFor("g1")); p != nil && p.lead.Load().local {
					return true
				}
			}
		}
		return false
	})
	// A client that knows only the other two brokers.
	var others []string
	for i, s := range tc.seeds() {
		if i != coord {
			others = append(others, s)
		}
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(others...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	var fetched kadm.OffsetResponses
	tc.waitFor("the offsets from the new coordinator", func() bool {
		fetched, err = kadm.NewClient(cl2).FetchOffsets(ctx, "g1")
		return err == nil && fetched.Error() == nil && len(fetched) > 0
	})
	if o, _ := fetched.Lookup("co", 0); o.At != 7 {
		t.Fatalf("co-0 committed %d after failover, want 7", o.At)
	}
	if o, _ := fetched.Lookup("co", 1); o.At != 11 {
		t.Fatalf("co-1 committed %d after failover, want 11", o.At)
	}
	tc.nw.Heal()
}

// ElectLeaders (preferred) moves a partition's leadership back to its
// first replica after it moved away; a second call finds nothing to do.
func TestClusterElectPreferredLeader(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 1, 3, nil, "el"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	var preferred, leader int32
	tc.waitFor("a leader, all in sync", func() bool {
		i := tc.leaderOf("el", 0)
		if i < 0 {
			return false
		}
		l := tc.brokers[i].topics.get("el").partition(0).lead.Load()
		preferred, leader = l.replicas[0], l.leader
		return len(l.isr) == 3
	})
	if leader != preferred {
		// The preferred replica campaigns at creation, but on a loaded
		// machine another replica's election timeout can fire first:
		// then ElectLeaders brings it to the preferred one.
		res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"el": {0: {}}})
		if err != nil || res["el"][0].Err != nil {
			t.Fatalf("elect the preferred replica of a new partition: %v %v", err, res["el"][0].Err)
		}
		tc.waitFor("the preferred replica leads, all in sync", func() bool {
			i := tc.leaderOf("el", 0)
			return i >= 0 && int32(i+1) == preferred && len(tc.brokers[i].topics.get("el").partition(0).lead.Load().isr) == 3
		})
	}
	lb := tc.brokers[preferred-1]
	other := preferred%3 + 1
	if err := lb.raft.node.TransferLeadership(lb.topics.get("el").partition(0).repl.gid, raftID(other)); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("leadership moved away and the view knows it", func() bool {
		for _, b := range tc.brokers {
			if l := b.topics.get("el").partition(0).lead.Load(); l.leader != other || len(l.isr) != 3 {
				return false
			}
		}
		return true
	})
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"el": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res["el"][0]; r.Err != nil {
		t.Fatalf("elect: %v", r.Err)
	}
	if l := tc.leaderOf("el", 0); int32(l+1) != preferred {
		t.Fatalf("leader after the election: node %d, want %d", l+1, preferred)
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"el": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res["el"][0]; r.Err == nil || !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Fatalf("second election: %v, want ELECTION_NOT_NEEDED", r.Err)
	}

	// Moved away again, the controller's balancer asks it back (one
	// partition of one: above leader.imbalance.per.broker.percentage),
	// once the metadata records the move.
	if err := lb.raft.node.TransferLeadership(lb.topics.get("el").partition(0).repl.gid, raftID(other)); err != nil {
		t.Fatal(err)
	}
	tc.waitFor("the metadata records the move", func() bool {
		mt, _ := lb.raft.view().Topic("el")
		return mt.Partitions[0].Leader == other && len(mt.Partitions[0].ISR) == 3
	})
	if n := lb.raft.rebalanceLeaders(10); n != 1 {
		t.Fatalf("rebalance asked %d transfers, want 1", n)
	}
	if n := lb.raft.rebalanceLeaders(101); n != 0 {
		t.Fatalf("rebalance above a 101%% threshold asked %d transfers, want 0", n)
	}
	// A leadership transfer can be dropped (the transferee not caught up
	// within an election timeout on a loaded machine); the controller's
	// balancer asks again on its next round, which the test plays every 2 s.
	asked := time.Now()
	tc.waitFor("the preferred replica leads again", func() bool {
		if int32(tc.leaderOf("el", 0)+1) == preferred {
			return true
		}
		if time.Since(asked) > 2*time.Second {
			lb.raft.rebalanceLeaders(10)
			asked = time.Now()
		}
		return false
	})
}

// A node stopped and started again on its data directory rejoins: it
// replays the metadata log, reopens its replicas, catches up on what was
// written meanwhile, and every replica ends identical.
func TestClusterRestartNode(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 3, nil, "rs"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produceN(t, cl, "rs", 0, 30)
	tc.stop(2)
	produceN(t, cl, "rs", 30, 30)
	tc.start(2)
	tc.waitFor("node 3 caught up", func() bool {
		for i := int32(0); i < 3; i++ {
			var ends []int64
			for _, b := range tc.brokers {
				t := b.topics.get("rs")
				if t == nil {
					return false
				}
				p := t.partition(i)
				ends = append(ends, p.highWatermark(), p.endOffset())
			}
			if slices.Min(ends) != slices.Max(ends) {
				return false
			}
		}
		return true
	})
	got := consumeAll(t, tc.seeds(), "rs", 60)
	if len(got) != 60 {
		t.Fatalf("read %d records, want 60", len(got))
	}
}

// A broker cut off from the others is fenced by the controller after the
// session timeout: Metadata from the others stops listing it and shows
// its replicas offline; healed, it unfences itself and is listed again.
func TestClusterFenceSilentBroker(t *testing.T) {
	old := brokerSessionTimeout
	brokerSessionTimeout = 2 * time.Second
	t.Cleanup(func() { brokerSessionTimeout = old })
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 3, nil, "fe"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	victim := 0
	if c := tc.brokers[0].raft.controller(); c == 1 {
		victim = 1 // not the controller: its fencing needs the others' quorum
	}
	tc.nw.Isolate(raftID(int32(victim + 1)))
	other := (victim + 2) % 3
	tc.waitFor("the silent broker fenced", func() bool {
		b := tc.brokers[other]
		p := b.topics.get("fe").partition(0)
		return len(b.cluster.brokers()) == 2 && slices.Contains(p.lead.Load().offline, int32(victim+1))
	})
	tc.nw.Heal()
	tc.waitFor("the broker back", func() bool {
		b := tc.brokers[other]
		return len(b.cluster.brokers()) == 3 && len(b.topics.get("fe").partition(0).lead.Load().offline) == 0
	})
}

// Retention on a replicated log moves its start through Raft (CompactTo):
// each replica deletes the segments retention.bytes no longer needs, a
// consumer from the earliest offset starts at the new log start, and a
// replica that was down meanwhile catches up (by snapshot when the
// leader's log no longer holds what it lacks).
func TestClusterRetention(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	seg, ret := "1048576", "1048576"
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, map[string]*string{"segment.bytes": &seg, "retention.bytes": &ret}, "rt"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	tc.stop(2)
	produce := func(n int) {
		var rs []*kgo.Record
		for range n {
			val := make([]byte, 1000) // random: incompressible
			_, _ = rand.Read(val)
			rs = append(rs, &kgo.Record{Topic: "rt", Partition: 0, Value: val})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(4000) // about 4 MiB: four segments
	now := time.Now().UnixMilli()
	for _, b := range tc.brokers[:2] {
		p := b.topics.get("rt").partition(0)
		if _, err := p.enforceRetention(now); err != nil {
			t.Fatal(err)
		}
		if p.logStartOffset() == 0 {
			t.Fatalf("node %d: log start did not move (segments %d, size %d, point %d, hw %d)", b.cfg.NodeID, p.segments(), p.size(), p.log.RetentionPoint(now), p.highWatermark())
		}
	}
	start := tc.brokers[0].topics.get("rt").partition(0).logStartOffset()
	produce(100)
	tc.start(2)
	tc.waitFor("node 3 caught up", func() bool {
		var ends []int64
		for _, b := range tc.brokers {
			tp := b.topics.get("rt")
			if tp == nil {
				return false
			}
			p := tp.partition(0)
			ends = append(ends, p.highWatermark(), p.endOffset())
		}
		return slices.Min(ends) == slices.Max(ends) && ends[0] == 4100
	})
	cons, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...), kgo.ConsumeTopics("rt"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	fs := cons.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	if recs := fs.Records(); len(recs) == 0 || recs[0].Offset < start {
		t.Fatalf("first record read after retention: %v (log start %d)", recs, start)
	}
}

// A restarted node that has not replayed its metadata log yet does not
// know the cluster's id. Asked ApiVersions v5 (KIP-1242) with the right
// cluster and node id, it waits for the id instead of comparing the
// client's with its own local one and answering REBOOTSTRAP_REQUIRED (a
// Java 4.x client then rebootstrapped and, inside one poll, wedged a Kafka
// Streams producer on an IllegalStateException). A wrong node id is still
// refused at once.
func TestApiVersionsClusterIDAfterRestart(t *testing.T) {
	tc := newTestCluster(t, 3)
	id := tc.brokers[0].clusterID()
	tc.waitFor("node 1 to know the cluster id", func() bool { return tc.brokers[0].raft.view().ClusterID() == id })
	for i := range 3 {
		tc.stop(i)
	}
	// As after kill -9: no high watermark checkpoint and a hard state whose
	// commit index is older than the cluster id's record (it is written on
	// term and vote changes only), so the metadata log's entries wait for a
	// leader's commit index before they are applied.
	metaDir := filepath.Join(tc.cfgs[0].DataDir, "__cluster_metadata-0")
	if err := os.Remove(filepath.Join(metaDir, "replication-offset-checkpoint")); err != nil {
		t.Fatal(err)
	}
	hs, _, err := plog.LoadHardState(vfs.OS, metaDir)
	if err != nil {
		t.Fatal(err)
	}
	hs.Commit = 0
	if err := plog.SaveHardState(vfs.OS, metaDir, hs); err != nil {
		t.Fatal(err)
	}
	tc.start(0) // alone: no quorum, so it cannot catch up
	b := tc.brokers[0]
	if b.raft.view().ClusterID() != "" {
		t.Fatal("node 1 knows the cluster id without a quorum")
	}
	v5 := func(cluster string, node int32) <-chan *kmsg.ApiVersionsResponse {
		ch := make(chan *kmsg.ApiVersionsResponse, 1)
		go func() {
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
			req.Version = 5
			req.ClusterID, req.NodeID = kmsg.StringPtr(cluster), node
			reply := b.Handle(context.Background(), &protocol.Request{Key: 18, Version: 5, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
			ch <- reply.Resp.(*kmsg.ApiVersionsResponse)
		}()
		return ch
	}
	if resp := <-v5(id, 2); resp.ErrorCode != kerr.RebootstrapRequired.Code {
		t.Fatalf("another node's id: error %d, want REBOOTSTRAP_REQUIRED", resp.ErrorCode)
	}
	pending := v5(id, 1)
	select {
	case resp := <-pending:
		t.Fatalf("answered before the node knew the cluster id: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	case <-time.After(300 * time.Millisecond):
	}
	tc.start(1) // a quorum again: node 1 catches up
	select {
	case resp := <-pending:
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("after catching up: error %d, %d keys; want the table", resp.ErrorCode, len(resp.ApiKeys))
		}
		if got := b.raft.view().ClusterID(); got != id {
			t.Fatalf("answered with the cluster id still unknown (%q)", got)
		}
	case <-time.After(readyWait + 5*time.Second):
		t.Fatal("no answer")
	}
	if resp := <-v5("another-cluster", 1); resp.ErrorCode != kerr.RebootstrapRequired.Code {
		t.Fatalf("another cluster's id once caught up: error %d, want REBOOTSTRAP_REQUIRED", resp.ErrorCode)
	}
}
