package embed_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/embed"
)

// newCluster starts an n-node cluster closed at the end of the test.
func newCluster(t *testing.T, n int, opts ...embed.Option) *embed.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if os.Getenv("MOLDAU_TEST_LOG") != "" {
		opts = append(opts, embed.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	start := time.Now()
	c, err := embed.StartCluster(ctx, n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes ready in %v", n, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
			t.Logf("closed in %v", time.Since(start).Round(time.Millisecond))
		case <-time.After(60 * time.Second):
			// Seen when a node is closed before its (re)registration
			// is applied: the broker's registerLoop does not stop.
			t.Error("Close did not return within 60 s")
		}
	})
	return c
}

// waitFor polls cond until it holds, failing the test after 60 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metadataFrom asks the broker at addr itself (not whichever broker the
// client picks) for topic's metadata.
func metadataFrom(addr, topic string) (*kmsg.MetadataResponse, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// partitionFrom is partition p of topic as the broker at addr sees it.
func partitionFrom(addr, topic string, p int32) (kmsg.MetadataResponseTopicPartition, bool) {
	resp, err := metadataFrom(addr, topic)
	if err != nil || len(resp.Topics) != 1 {
		return kmsg.MetadataResponseTopicPartition{}, false
	}
	for _, mp := range resp.Topics[0].Partitions {
		if mp.Partition == p && mp.ErrorCode == 0 {
			return mp, true
		}
	}
	return kmsg.MetadataResponseTopicPartition{}, false
}

// partitionFromLeader is partition p of topic as its leader reports it
// (the leader publishes the ISR; isolated nodes are not asked).
func partitionFromLeader(c *embed.Cluster, topic string, p int32) (kmsg.MetadataResponseTopicPartition, bool) {
	for i := range c.Len() {
		if n := c.Node(i); !n.Running || n.Isolated {
			continue
		}
		if mp, ok := partitionFrom(c.Addrs()[i], topic, p); ok && mp.Leader == int32(i+1) {
			return mp, true
		}
	}
	return kmsg.MetadataResponseTopicPartition{}, false
}

// leaderIndex is the node index (id - 1) leading topic's partition p as
// the broker at addr reports it (-1: none).
func leaderIndex(addr, topic string, p int32) int {
	mp, ok := partitionFrom(addr, topic, p)
	if !ok || mp.Leader < 1 {
		return -1
	}
	return int(mp.Leader) - 1
}

func createTopic(t *testing.T, c *embed.Cluster, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 3, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	waitFor(t, "a leader for every partition", func() bool {
		for p := range partitions {
			if leaderIndex(c.Addrs()[0], topic, p) < 0 {
				return false
			}
		}
		return true
	})
}

// producer is an idempotent acks=all client writing "0", "1", ... to
// topic's partitions in turn; acked records the ones acknowledged.
type producer struct {
	t     *testing.T
	cl    *kgo.Client
	topic string
	parts int
	next  int

	mu    sync.Mutex
	acked map[string]bool
}

func newProducer(t *testing.T, c *embed.Cluster, topic string, parts int) *producer {
	t.Helper()
	kopts := []kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(1 << 30), kgo.RetryTimeout(60 * time.Second)}
	if os.Getenv("MOLDAU_TEST_CLIENT_LOG") != "" {
		kopts = append(kopts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)))
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{t: t, cl: cl, topic: topic, parts: parts, acked: map[string]bool{}}
}

// produceSync writes n records one at a time, each acknowledged before
// the next; an error fails the test.
func (p *producer) produceSync(n int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range n {
		v := fmt.Sprint(p.next)
		r := &kgo.Record{Topic: p.topic, Partition: int32(p.next % p.parts), Value: []byte(v)}
		p.next++
		if err := p.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			p.t.Fatalf("produce %s: %v", v, err)
		}
		p.mu.Lock()
		p.acked[v] = true
		p.mu.Unlock()
	}
}

// background produces asynchronously until the returned stop is called
// (stop waits for every outstanding record); an error fails the test.
func (p *producer) background() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var errMu sync.Mutex
	var firstErr error
	go func() {
		defer close(done)
		sem := make(chan struct{}, 16) // in flight
		for ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				continue
			}
			v := fmt.Sprint(p.next)
			r := &kgo.Record{Topic: p.topic, Partition: int32(p.next % p.parts), Value: []byte(v)}
			p.next++
			p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				<-sem
				if err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, fmt.Errorf("produce %s: %w", r.Value, err))
					errMu.Unlock()
					return
				}
				p.mu.Lock()
				p.acked[string(r.Value)] = true
				p.mu.Unlock()
			})
		}
	}()
	return func() {
		cancel()
		<-done
		fctx, fcancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer fcancel()
		if err := p.cl.Flush(fctx); err != nil {
			p.t.Fatalf("flush: %v", err)
		}
		if firstErr != nil {
			p.t.Fatal(firstErr)
		}
	}
}

// ackedCount is how many records were acknowledged so far.
func (p *producer) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// checkReadBack consumes topic from the start through seeds until every
// acknowledged record is read, and fails if one is read twice or a value
// was never produced.
func (p *producer) checkReadBack(seeds []string) {
	p.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(p.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen := map[string]int{}
	missing := func() int {
		n := 0
		for v := range p.acked {
			if seen[v] == 0 {
				n++
			}
		}
		return n
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for missing() > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			p.t.Fatalf("%d of %d acknowledged records never read", missing(), len(p.acked))
		}
		fs.EachError(func(topic string, part int32, err error) { p.t.Logf("fetch %s-%d: %v", topic, part, err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	for v, n := range seen {
		if n != 1 {
			p.t.Errorf("record %s read %d times", v, n)
		}
	}
	p.t.Logf("%d acknowledged records read back once each (%d read, %d produced)", len(p.acked), len(seen), p.next)
}

func TestClusterStartAndErrors(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := newCluster(t, 3, embed.WithRegisterer(reg))
	addrs := c.Addrs()
	if len(addrs) != 3 || c.Bootstrap() != strings.Join(addrs, ",") {
		t.Fatalf("Addrs %v, Bootstrap %q", addrs, c.Bootstrap())
	}
	for i, a := range addrs {
		resp, err := metadataFrom(a, "none")
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Brokers) != 3 {
			t.Fatalf("node %d lists %d brokers", i, len(resp.Brokers))
		}
		if n := c.Node(i); n.ID != int32(i+1) || n.Addr != a || !n.Running || n.Isolated {
			t.Fatalf("Node(%d) = %+v", i, n)
		}
	}
	if err := c.RestartNode(1); !errors.Is(err, embed.ErrNodeRunning) {
		t.Fatalf("RestartNode of a running node: %v", err)
	}
	if err := c.StopNode(3); !errors.Is(err, embed.ErrNoSuchNode) {
		t.Fatalf("StopNode(3) of 3 nodes: %v", err)
	}
	if err := c.StopNode(1); err != nil {
		t.Fatal(err)
	}
	if err := c.StopNode(1); !errors.Is(err, embed.ErrNodeStopped) {
		t.Fatalf("StopNode of a stopped node: %v", err)
	}
	if c.Node(1).Running {
		t.Fatal("Node(1) runs after StopNode")
	}
	// The metrics were unregistered with the node: a restart registers
	// them again without a duplicate.
	if err := c.RestartNode(1); err != nil {
		t.Fatal(err)
	}
	if c.Node(1).Addr != addrs[1] {
		t.Fatalf("restarted on %s, was %s", c.Node(1).Addr, addrs[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
}

func TestClusterRejectsFixedAddr(t *testing.T) {
	t.Parallel()
	if _, err := embed.StartCluster(context.Background(), 3, embed.WithAddr("127.0.0.1:19092")); err == nil {
		t.Fatal("StartCluster accepted one fixed address for three nodes")
	}
}

// The leader of partition 0 is stopped during an idempotent acks=all
// stream: the client moves to the new leader, nothing acknowledged is lost
// or duplicated, and the ISR shrinks. Restarted, the old leader catches up
// (the leaders put it back in every ISR: it holds their whole log).
func TestClusterStopLeaderRestart(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, embed.WithProperty("replica.lag.time.max.ms", "2000"))
	createTopic(t, c, "stop", 3)
	p := newProducer(t, c, "stop", 3)
	p.produceSync(30)
	old := leaderIndex(c.Addrs()[0], "stop", 0)
	if old < 0 {
		t.Fatal("no leader of stop-0")
	}
	other := c.Addrs()[(old+1)%3]
	stopProducing := p.background()
	start := time.Now()
	if err := c.StopNode(old); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped node %d (leader of stop-0) in %v", old, time.Since(start).Round(time.Millisecond))
	waitFor(t, "a new leader of stop-0", func() bool {
		l := leaderIndex(other, "stop", 0)
		return l >= 0 && l != old
	})
	before := p.ackedCount()
	waitFor(t, "records acknowledged after the stop", func() bool { return p.ackedCount() >= before+100 })
	waitFor(t, "the stopped node out of stop-0's ISR", func() bool {
		mp, ok := partitionFromLeader(c, "stop", 0)
		return ok && len(mp.ISR) == 2 && !slices.Contains(mp.ISR, int32(old+1))
	})
	stopProducing()
	p.produceSync(30)
	p.checkReadBack(c.Addrs())

	if err := c.RestartNode(old); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := metadataFrom(c.Addrs()[old], "stop"); err != nil || len(resp.Brokers) != 3 {
		t.Fatalf("restarted node's metadata: %v", err)
	}
	waitFor(t, "the restarted node back in every ISR", func() bool {
		for part := range int32(3) {
			mp, ok := partitionFromLeader(c, "stop", part)
			if !ok || len(mp.ISR) != 3 {
				return false
			}
		}
		return true
	})
	p.produceSync(30)
	p.checkReadBack(c.Addrs())
	// Seeded with the restarted node alone, a consumer finds the cluster.
	p.checkReadBack([]string{c.Addrs()[old]})
}

// Partition 0's leader is cut off from the other nodes during an
// idempotent acks=all stream (its Kafka listener stays up): the majority
// elects a new leader, the client follows it, nothing acknowledged is lost
// or duplicated; healed, the old leader catches up.
func TestClusterIsolateHeal(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, embed.WithProperty("replica.lag.time.max.ms", "2000"))
	createTopic(t, c, "iso", 3)
	p := newProducer(t, c, "iso", 3)
	p.produceSync(30)
	old := leaderIndex(c.Addrs()[0], "iso", 0)
	if old < 0 {
		t.Fatal("no leader of iso-0")
	}
	other := c.Addrs()[(old+1)%3]
	stopProducing := p.background()
	start := time.Now()
	c.Isolate(old)
	if !c.Node(old).Isolated {
		t.Fatal("Node does not report the isolation")
	}
	waitFor(t, "a new leader of iso-0 in the majority", func() bool {
		l := leaderIndex(other, "iso", 0)
		return l >= 0 && l != old
	})
	t.Logf("new leader of iso-0 after %v", time.Since(start).Round(time.Millisecond))
	before := p.ackedCount()
	waitFor(t, "records acknowledged after the isolation", func() bool { return p.ackedCount() >= before+100 })
	t.Logf("100 more acknowledged after %v", time.Since(start).Round(time.Millisecond))
	waitFor(t, "the isolated node out of iso-0's ISR", func() bool {
		mp, ok := partitionFromLeader(c, "iso", 0)
		return ok && len(mp.ISR) == 2 && !slices.Contains(mp.ISR, int32(old+1))
	})
	t.Logf("ISR shrunk after %v", time.Since(start).Round(time.Millisecond))
	c.Heal()
	before = p.ackedCount()
	waitFor(t, "records acknowledged after healing", func() bool { return p.ackedCount() >= before+100 })
	t.Logf("healed; 100 more acknowledged after %v", time.Since(start).Round(time.Millisecond))
	stopProducing()
	p.checkReadBack(c.Addrs())
	waitFor(t, "the old leader back in every ISR", func() bool {
		for part := range int32(3) {
			mp, ok := partitionFromLeader(c, "iso", part)
			if !ok || len(mp.ISR) != 3 {
				return false
			}
		}
		return true
	})
}

// With WithDataDir the nodes keep their data in dir/node-<id>: a second
// StartCluster on the same dir finds the topic and its records again.
func TestClusterDataDirSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := embed.StartCluster(context.Background(), 3, embed.WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	first := c
	t.Cleanup(func() { _ = first.Close() }) // a no-op once closed below
	for i := range 3 {
		if got, want := c.Node(i).DataDir, filepath.Join(dir, fmt.Sprintf("node-%d", i+1)); got != want {
			t.Fatalf("node %d data dir %s, want %s", i, got, want)
		}
	}
	createTopic(t, c, "kept", 3)
	p := newProducer(t, c, "kept", 3)
	p.produceSync(30)
	p.cl.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = newCluster(t, 3, embed.WithDataDir(dir))
	p.checkReadBack(c.Addrs())
}
