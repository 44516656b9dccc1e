package tests

// Process-level cluster tests (issue #14): three moldau processes on
// 127.0.0.1, 127.0.0.2 and 127.0.0.3, started with the cluster flags of the
// issue, killed with SIGKILL or stopped with SIGTERM and restarted on the
// same addresses and data directories, while franz-go clients produce and
// consume.
//
// What every test checks at the end (checkLedger): each value a producer
// saw acknowledged is stored exactly once, at the partition and offset the
// acknowledgement named; nothing is stored twice; nothing is stored that was
// never sent; offsets increase within a partition and each producer's
// values are in sending order. The read-back (readBack) uses raw Fetch
// requests to each partition's leader up to its high watermark, so that it
// ends exactly at the committed end whatever offsets the log skips.
//
// Each node's stderr (every run of it) goes to a file in the test's
// temporary directory; when the test fails, the tail of each is printed.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// clusterLagMs is replica.lag.time.max.ms on the test clusters: short, so
// that a stopped follower leaves the ISR within seconds (Kafka's 30 s
// default would hide whether a restarted follower came back).
const clusterLagMs = 3000

// clusterNode is one moldau process of a procCluster.
type clusterNode struct {
	t       *testing.T
	id      int
	addr    string // Kafka listener, 127.0.0.<id>:port
	args    []string
	logPath string // every run's stderr, appended
	runs    int
	cmd     *exec.Cmd
	exited  chan error  // the run's exit status, once
	lines   chan string // the run's first stdout line
}

// procCluster is three moldau processes forming one cluster.
type procCluster struct {
	t     *testing.T
	nodes []*clusterNode
}

// clusterPorts finds a Kafka port and a peer port free on all three
// loopback addresses (the same numbers serve every node: the IPs differ).
func clusterPorts(t *testing.T) (int, int) {
	t.Helper()
	ports := testenv.Ports(t, 2, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	return ports[0], ports[1]
}

// startProcCluster starts three nodes and waits until each is registered
// and a Metadata answer lists all three. Each extra function's flags for a
// node id are appended to that node's (a repeated flag's last value wins).
func startProcCluster(t *testing.T, extra ...func(id int) []string) *procCluster {
	t.Helper()
	kport, pport := clusterPorts(t)
	var peers []string
	for id := 1; id <= 3; id++ {
		peers = append(peers, fmt.Sprintf("%d@127.0.0.%d:%d", id, id, pport))
	}
	c := &procCluster{t: t}
	logDir := t.TempDir()
	for id := 1; id <= 3; id++ {
		ip := fmt.Sprintf("127.0.0.%d", id)
		n := &clusterNode{
			t: t, id: id, addr: net.JoinHostPort(ip, strconv.Itoa(kport)),
			logPath: filepath.Join(logDir, fmt.Sprintf("node%d.log", id)),
		}
		n.args = []string{
			"--node-id", strconv.Itoa(id),
			"--addr", n.addr,
			"--peer-addr", net.JoinHostPort(ip, strconv.Itoa(pport)),
			"--peers", strings.Join(peers, ","),
			"--data-dir", t.TempDir(),
			"--admin-addr", "",
			"--schema-registry-addr", "", "--console-addr", "", "--http-proxy-addr", "",
			"--set", "replica.lag.time.max.ms=" + strconv.Itoa(clusterLagMs),
		}
		for _, f := range extra {
			n.args = append(n.args, f(id)...)
		}
		c.nodes = append(c.nodes, n)
	}
	// Registered first: a failing test prints the logs after the nodes
	// are killed (cleanups run last-in first-out).
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				if keep := os.Getenv("MOLDAU_TEST_KEEP_LOGS"); keep != "" {
					if b, err := os.ReadFile(n.logPath); err == nil {
						_ = os.WriteFile(filepath.Join(keep, fmt.Sprintf("%s-node%d.log", t.Name(), n.id)), b, 0o644)
					}
				}
				t.Logf("node %d log (%s): runs, warnings and errors:\n%s\ntail:\n%s", n.id, n.logPath,
					grepLines(n.logPath, "=== run", "level=WARN", "level=ERROR"), fileTail(n.logPath, 2500))
			}
		}
	})
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.running() {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
	})
	// Start all three at once: each start waits for its listener, and the
	// metadata group needs a quorum before anything registers.
	for _, n := range c.nodes {
		n.spawn()
	}
	for _, n := range c.nodes {
		n.awaitListening()
	}
	cl := c.client()
	c.waitFor(60*time.Second, "every node's Metadata listing three brokers", func() bool {
		if m, err := metadata(ctxT(t), cl); err != nil || len(m.Brokers) != 3 {
			return false // the client learns the node ids first
		}
		for _, n := range c.nodes {
			m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(t), cl.Broker(n.id))
			if err != nil || len(m.Brokers) != 3 {
				return false
			}
		}
		return true
	})
	return c
}

// grepLines is the lines of the file at path containing any of subs.
func grepLines(path string, subs ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(line, s) }) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-n):])
}

// spawn starts a run of the process, its stderr appended to the node's
// log file; awaitListening waits for it to serve.
func (n *clusterNode) spawn() {
	n.t.Helper()
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	bin := harness.Binary(n.t)
	n.runs++
	fmt.Fprintf(f, "=== run %d of node %d at %s: moldau %s\n", n.runs, n.id, time.Now().UTC().Format(time.RFC3339Nano), strings.Join(n.args, " "))
	cmd := exec.Command(bin, n.args...)
	cmd.Stderr = f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	lines := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() {
		<-read // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()
	n.cmd, n.exited, n.lines = cmd, exited, lines
}

func (n *clusterNode) awaitListening() {
	n.t.Helper()
	select {
	case line, ok := <-n.lines:
		if want := "listening on " + n.addr; !ok || line != want {
			n.t.Fatalf("node %d did not start: first line %q, want %q\n%s", n.id, line, want, fileTail(n.logPath, 4000))
		}
	case <-time.After(30 * time.Second):
		n.t.Fatalf("node %d did not start within 30 s\n%s", n.id, fileTail(n.logPath, 4000))
	}
}

// start runs the node again with the same flags and data directory.
func (n *clusterNode) start() {
	n.t.Helper()
	n.spawn()
	n.awaitListening()
}

// running reports whether the current run has not exited.
func (n *clusterNode) running() bool {
	return n.cmd != nil && n.cmd.ProcessState == nil && len(n.exited) == 0
}

// kill9 kills the node with SIGKILL and waits until it is gone.
func (n *clusterNode) kill9() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("kill -9 node %d: %v", n.id, err)
	}
	<-n.exited
}

// stop sends SIGTERM and waits for a clean exit (status 0) within 30 s.
func (n *clusterNode) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.exited:
		if err != nil {
			n.t.Fatalf("node %d exited with %v after SIGTERM", n.id, err)
		}
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		n.t.Fatalf("node %d did not stop within 30 s of SIGTERM", n.id)
	}
}

// seeds is every node's Kafka address.
func (c *procCluster) seeds() []string {
	var s []string
	for _, n := range c.nodes {
		s = append(s, n.addr)
	}
	return s
}

// node is the node with Kafka node id id.
func (c *procCluster) node(id int32) *clusterNode {
	c.t.Helper()
	if id < 1 || int(id) > len(c.nodes) {
		c.t.Fatalf("no node %d", id)
	}
	return c.nodes[id-1]
}

// client is a franz-go client of the cluster that refreshes its metadata
// quickly (franz-go's default minimum age is 5 s, which would make every
// failover look 5 s slow), closed at cleanup.
func (c *procCluster) client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	return newClient(c.t, c.seeds()[0], append([]kgo.Opt{
		kgo.SeedBrokers(c.seeds()...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}, opts...)...)
}

func (c *procCluster) admin() *kadm.Client { return kadm.NewClient(c.client()) }

func (c *procCluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	testenv.WaitFor(c.t, d, what, cond)
}

// metadata asks one broker (any: franz-go picks) for the brokers and
// topics, bypassing franz-go's metadata cache (kadm's Metadata answers
// from it, and its broker list would stay as first seen).
func metadata(ctx context.Context, cl *kgo.Client, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none: brokers only
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, cl)
}

// nodeView is topic's partitions as node id's own Metadata answer gives
// them (nil when it does not answer or does not know the topic).
func nodeView(ctx context.Context, cl *kgo.Client, id int, topic string) map[int32]kmsg.MetadataResponseTopicPartition {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	m, err := req.RequestWith(ctx, cl.Broker(id))
	if err != nil || len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 {
		return nil
	}
	out := map[int32]kmsg.MetadataResponseTopicPartition{}
	for _, p := range m.Topics[0].Partitions {
		out[p.Partition] = p
	}
	return out
}

// leaderView is, for each partition of topic, the answer of the live node
// that names itself the leader (the highest epoch if several do): the
// leader computes the ISR, so its answer is the one to wait on. A
// partition no live node claims to lead is absent.
func (c *procCluster) leaderView(cl *kgo.Client, topic string) map[int32]kmsg.MetadataResponseTopicPartition {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[int32]kmsg.MetadataResponseTopicPartition{}
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		for i, p := range nodeView(ctx, cl, n.id, topic) {
			if cur, ok := out[i]; p.ErrorCode == 0 && p.Leader == int32(n.id) && (!ok || p.LeaderEpoch > cur.LeaderEpoch) {
				out[i] = p
			}
		}
	}
	return out
}

// checkAgreement: within 10 s every live node's Metadata answer for topic
// gives each partition the leader, epoch and ISR its leader gives (as
// Kafka's brokers do, all serving one metadata log), and every node gives
// the same cluster id. A disagreement fails the test without ending it.
func (c *procCluster) checkAgreement(cl *kgo.Client, topic, what string) {
	c.t.Helper()
	var diffs []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		diffs = diffs[:0]
		leaders := c.leaderView(cl, topic)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			view := nodeView(ctx, cl, n.id, topic)
			for i, lp := range leaders {
				np, ok := view[i]
				if !ok || np.Leader != lp.Leader || np.LeaderEpoch != lp.LeaderEpoch || !sameSet(np.ISR, lp.ISR) {
					diffs = append(diffs, fmt.Sprintf("partition %d: node %d says leader %d epoch %d ISR %v; leader %d says epoch %d ISR %v",
						i, n.id, np.Leader, np.LeaderEpoch, np.ISR, lp.Leader, lp.LeaderEpoch, lp.ISR))
				}
			}
		}
		cancel()
		if len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One cluster, one cluster id.
	ids := map[string][]int{}
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctxT(c.t), cl.Broker(n.id))
		if err != nil {
			c.t.Errorf("%s: Metadata from node %d: %v", what, n.id, err)
			continue
		}
		id := "(none)"
		if m.ClusterID != nil {
			id = *m.ClusterID
		}
		ids[id] = append(ids[id], n.id)
	}
	if len(ids) > 1 {
		c.t.Errorf("%s: the brokers give different cluster ids: %v", what, ids)
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		c.t.Errorf("%s: after 10 s the brokers' Metadata answers still disagree with the partition leaders':\n%s", what, strings.Join(diffs, "\n"))
	}
}

func sameSet(a, b []int32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkRestartedView: the first Metadata answer of node n, just restarted,
// lists the three brokers and topic's parts partitions, each with a
// leader. (A Kafka broker opens its listener only once it has caught up
// with the metadata log; a node answering from an empty or stale view
// sends clients UNKNOWN_TOPIC_OR_PARTITION, COORDINATOR_NOT_AVAILABLE and
// the like.) A failure does not end the test.
func (c *procCluster) checkRestartedView(n *clusterNode, topic string, parts int32) {
	c.t.Helper()
	// A new client that knows only n: its first request goes there.
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	m, err := req.RequestWith(ctxT(c.t), cl)
	if err != nil {
		c.t.Errorf("node %d, just restarted: Metadata: %v", n.id, err)
		return
	}
	var problems []string
	if len(m.Brokers) != 3 {
		problems = append(problems, fmt.Sprintf("%d brokers", len(m.Brokers)))
	}
	switch {
	case len(m.Topics) != 1:
		problems = append(problems, fmt.Sprintf("%d topics", len(m.Topics)))
	case m.Topics[0].ErrorCode != 0:
		problems = append(problems, fmt.Sprintf("%s: %v", topic, kerr.ErrorForCode(m.Topics[0].ErrorCode)))
	case len(m.Topics[0].Partitions) != int(parts):
		problems = append(problems, fmt.Sprintf("%s with %d partitions", topic, len(m.Topics[0].Partitions)))
	default:
		for _, p := range m.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				problems = append(problems, fmt.Sprintf("partition %d: leader %d, %v", p.Partition, p.Leader, kerr.ErrorForCode(p.ErrorCode)))
			}
		}
	}
	if len(problems) > 0 {
		c.t.Errorf("node %d, just restarted (listening), answered Metadata from a view not caught up with the cluster's: %s", n.id, strings.Join(problems, "; "))
	}
}

// createReplicatedTopic creates topic with parts partitions, RF 3 and
// min.insync.replicas=2, and waits until each has a leader and a full ISR.
func (c *procCluster) createReplicatedTopic(topic string, parts int32) {
	c.t.Helper()
	resp, err := c.admin().CreateTopics(ctxT(c.t), parts, 3, map[string]*string{"min.insync.replicas": strp("2")}, topic)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		c.t.Fatalf("create %s: %v", topic, err)
	}
	c.waitFullISR(topic, parts, "")
}

// waitFullISR waits until every partition of topic has a leader and three
// replicas in its ISR; what names the wait in the failure.
func (c *procCluster) waitFullISR(topic string, parts int32, what string) {
	c.t.Helper()
	cl := c.client()
	c.waitFor(60*time.Second, fmt.Sprintf("%s: %s's %d partitions led with a full ISR", what, topic, parts), func() bool {
		ps := c.leaderView(cl, topic)
		if len(ps) != int(parts) {
			return false
		}
		for _, p := range ps {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
}

// waitAllFullISR waits until every partition of every topic (internal
// ones included) has a leader and a full ISR: no partition under-replicated,
// the condition a rolling restart waits for before the next node. Only an
// ISR computed more than replica.lag.time.max.ms after down counts: a node
// down since then is in it only if it caught up again since.
func (c *procCluster) waitAllFullISR(what string, down time.Time) {
	c.t.Helper()
	cl := c.client()
	settled := down.Add(clusterLagMs*time.Millisecond + time.Second) // + the leaders' 500 ms ISR refresh
	c.waitFor(60*time.Second, what+": every partition of every topic led with a full ISR", func() bool {
		if time.Now().Before(settled) {
			return false
		}
		req := kmsg.NewPtrMetadataRequest() // nil Topics: all
		m, err := req.RequestWith(ctxT(c.t), cl)
		if err != nil {
			return false
		}
		for _, t := range m.Topics {
			if t.ErrorCode != 0 || t.Topic == nil {
				return false
			}
			ps := c.leaderView(cl, *t.Topic)
			if len(ps) != len(t.Partitions) {
				return false
			}
			for _, p := range ps {
				if len(p.ISR) != 3 {
					return false
				}
			}
		}
		return true
	})
}

// ledger records what producers sent and what was acknowledged where.
type ledger struct {
	mu    sync.Mutex
	sent  map[string]bool
	acked map[string]ackedAt
	errs  []error
	// slowest is the longest ProduceSync of a stream since takeSlowest.
	slowest time.Duration
}

// takeSlowest returns the longest ProduceSync since the last call.
func (l *ledger) takeSlowest() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.slowest
	l.slowest = 0
	return d
}

type ackedAt struct {
	partition int32
	offset    int64
}

func newLedger() *ledger {
	return &ledger{sent: map[string]bool{}, acked: map[string]ackedAt{}}
}

func (l *ledger) send(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[v] = true
}

// result records one produce result.
func (l *ledger) result(r *kgo.Record, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s: %w", r.Value, err))
		return
	}
	l.acked[string(r.Value)] = ackedAt{r.Partition, r.Offset}
}

func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *ledger) sentCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

func (l *ledger) errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// stream is an idempotent acks=all producer writing prefix-000000,
// prefix-000001, ... round-robin over the partitions, in ProduceSync
// batches of four records per partition, until stopped.
type stream struct {
	t        *testing.T
	ledger   *ledger
	stopped  chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func (c *procCluster) startStream(l *ledger, topic, prefix string, parts int32) *stream {
	c.t.Helper()
	cl := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	s := &stream{t: c.t, ledger: l, stopped: make(chan struct{}), done: make(chan struct{})}
	// Not the test's context: a produce in flight when the test stops the
	// stream must finish (canceling it would be an error). A test that
	// ends early cancels it (before the client closes: cleanups run last
	// in, first out).
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	c.t.Cleanup(func() {
		s.stopOnce.Do(func() { close(s.stopped) })
		cancel()
		<-s.done
	})
	go func() {
		defer close(s.done)
		for i := 0; ; {
			select {
			case <-s.stopped:
				return
			default:
			}
			const perPartition = 4
			rs := make([]*kgo.Record, 0, perPartition*int(parts))
			for range perPartition * int(parts) {
				v := fmt.Sprintf("%s-%06d", prefix, i)
				rs = append(rs, &kgo.Record{Partition: int32(i % int(parts)), Value: []byte(v)})
				l.send(v)
				i++
			}
			began := time.Now()
			res := cl.ProduceSync(ctx, rs...)
			took := time.Since(began)
			for _, r := range res {
				l.result(r.Record, r.Err)
			}
			l.mu.Lock()
			l.slowest = max(l.slowest, took)
			l.mu.Unlock()
		}
	}()
	return s
}

// stop ends the stream after its produce in flight.
func (s *stream) stop() {
	s.t.Helper()
	s.stopOnce.Do(func() { close(s.stopped) })
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("the producer did not finish its last produce within 60 s")
	}
}

// waitAcked waits until n more records than now are acknowledged.
func (c *procCluster) waitAcked(l *ledger, n int, what string) {
	c.t.Helper()
	want := l.ackedCount() + n
	c.waitFor(60*time.Second, fmt.Sprintf("%d acknowledged records (%s)", want, what), func() bool { return l.ackedCount() >= want })
}

// readBack reads every partition of topic from its leader, from offset 0
// up to the high watermark, with raw Fetch requests.
func (c *procCluster) readBack(topic string, parts int32) []*kgo.Record {
	c.t.Helper()
	cl := c.client()
	var out []*kgo.Record
	for p := range parts {
		out = append(out, c.readPartition(cl, topic, p)...)
	}
	return out
}

func (c *procCluster) readPartition(cl *kgo.Client, topic string, part int32) []*kgo.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		out     []*kgo.Record
		off     int64
		hwm     int64 = -1
		lastErr error
	)
	for hwm < 0 || off < hwm {
		if ctx.Err() != nil {
			c.t.Fatalf("read back %s/%d: stuck at offset %d below the high watermark %d; last error: %v", topic, part, off, hwm, lastErr)
		}
		m, err := metadata(ctx, cl, topic)
		if err == nil && (len(m.Topics) != 1 || int(part) >= len(m.Topics[0].Partitions)) {
			err = fmt.Errorf("metadata without partition %d: %+v", part, m.Topics)
		}
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		td := m.Topics[0]
		pd := td.Partitions[part]
		if pd.Partition != part || pd.Leader < 0 {
			lastErr = fmt.Errorf("no leader in metadata: %+v", pd)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 100
		req.MinBytes = 1
		req.MaxBytes = 4 << 20
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, td.TopicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = part, off, 4<<20
		rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(pd.Leader)))
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil && (len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1) {
			err = fmt.Errorf("fetch answered %d topics", len(resp.Topics))
		}
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		rpr := &resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(rpr.ErrorCode); err != nil {
			lastErr = fmt.Errorf("from node %d: %w", pd.Leader, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: off, Topic: topic, Partition: part},
			rpr, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			c.t.Fatalf("read back %s/%d at %d from node %d: %v", topic, part, off, pd.Leader, fp.Err)
		}
		hwm = rpr.HighWatermark
		out = append(out, fp.Records...)
		if next > off {
			off = next
		} else if off < hwm {
			lastErr = fmt.Errorf("node %d returned nothing at offset %d (high watermark %d)", pd.Leader, off, hwm)
		}
	}
	return out
}

// checkLedger checks recs (a read-back of the whole topic) against l: see
// the file comment.
func checkLedger(t *testing.T, l *ledger, recs []*kgo.Record) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	where := map[string]ackedAt{}
	lastOffset := map[int32]int64{}
	lastSeq := map[string]int{} // producer prefix and partition -> sequence
	bad := 0
	report := func(format string, args ...any) {
		t.Helper()
		if bad < 20 {
			t.Errorf(format, args...)
		}
		bad++
	}
	for _, r := range recs {
		v := string(r.Value)
		at := ackedAt{r.Partition, r.Offset}
		if prev, dup := where[v]; dup {
			report("duplicate: %s at %d/%d and %d/%d", v, prev.partition, prev.offset, at.partition, at.offset)
		}
		where[v] = at
		if o, ok := lastOffset[r.Partition]; ok && r.Offset <= o {
			report("partition %d: offset %d after %d", r.Partition, r.Offset, o)
		}
		lastOffset[r.Partition] = r.Offset
		if !l.sent[v] {
			report("stored %q at %d/%d was never sent", v, at.partition, at.offset)
			continue
		}
		if i := strings.LastIndexByte(v, '-'); i > 0 {
			seq, err := strconv.Atoi(v[i+1:])
			key := fmt.Sprintf("%s/%d", v[:i], r.Partition)
			if prev, ok := lastSeq[key]; err == nil && ok && seq < prev {
				report("partition %d: %s stored after %s-%06d (out of producing order)", r.Partition, v, v[:i], prev)
			}
			lastSeq[key] = seq
		}
	}
	lost := 0
	for v, a := range l.acked {
		got, ok := where[v]
		if !ok {
			lost++
			report("lost acknowledged record %s (acknowledged at %d/%d)", v, a.partition, a.offset)
			continue
		}
		if got != a {
			report("%s acknowledged at %d/%d but stored at %d/%d", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	if bad > 0 {
		t.Errorf("%d problems in all (%d acknowledged records lost); read %d records, %d sent, %d acknowledged", bad, lost, len(recs), len(l.sent), len(l.acked))
	}
}

// TestClusterKillLeader: kill -9 of partition 0's leader during an
// idempotent acks=all stream loses no acknowledged record and duplicates
// none; a new leader serves partition 0 within seconds; the killed node,
// restarted, rejoins partition 0's ISR.
func TestClusterKillLeader(t *testing.T) {
	c := startProcCluster(t)
	const topic, parts = "cluster-kill-leader", 6
	c.createReplicatedTopic(topic, parts)
	cl := c.client()
	l := newLedger()
	s := c.startStream(l, topic, "seq", parts)
	c.waitAcked(l, 600, "before the kill")

	p0, ok := c.leaderView(cl, topic)[0]
	if !ok {
		t.Fatal("no leader of partition 0")
	}
	victim := c.node(p0.Leader)
	victim.kill9()
	killed := time.Now()
	t.Logf("killed node %d, leader of partition 0 (epoch %d)", victim.id, p0.LeaderEpoch)

	// A new leader serves partition 0: a produce from a client started
	// after the kill (so no acknowledgement can come from the old leader)
	// succeeds. franz-go retries NOT_LEADER_OR_FOLLOWER and connection
	// errors by itself.
	probe := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	l.send("probe-0")
	res := probe.ProduceSync(pctx, &kgo.Record{Partition: 0, Value: []byte("probe-0")})
	served := time.Since(killed)
	for _, r := range res {
		l.result(r.Record, r.Err)
	}
	if err := res.FirstErr(); err != nil {
		t.Fatalf("no new leader served partition 0 within 30 s of the kill: %v", err)
	}
	var elected time.Duration
	c.waitFor(30*time.Second, "a new leader of partition 0 in metadata", func() bool {
		p, ok := c.leaderView(cl, topic)[0]
		if ok && p.Leader != int32(victim.id) {
			elected = time.Since(killed)
			return true
		}
		return false
	})
	t.Logf("after the kill: partition 0 served (acks=all produce acknowledged) in %v; metadata names a new leader in %v (polled after the produce)", served.Round(time.Millisecond), elected.Round(time.Millisecond))

	c.waitAcked(l, 600, "after the failover")
	// The dead node leaves partition 0's ISR (it does at once on the new
	// leader, which has not heard from it; replica.lag.time.max.ms at most),
	// so that its return below means it caught up.
	c.waitFor(30*time.Second, fmt.Sprintf("node %d out of partition 0's ISR", victim.id), func() bool {
		p, ok := c.leaderView(cl, topic)[0]
		return ok && !slices.Contains(p.ISR, int32(victim.id))
	})
	t.Logf("node %d out of partition 0's ISR %v after the kill", victim.id, time.Since(killed).Round(time.Millisecond))
	c.checkAgreement(cl, topic, "after the kill")
	victim.start()
	restarted := time.Now()
	c.checkRestartedView(victim, topic, parts)
	c.waitFor(60*time.Second, "the restarted node back in partition 0's ISR", func() bool {
		p, ok := c.leaderView(cl, topic)[0]
		return ok && len(p.ISR) == 3 && slices.Contains(p.ISR, int32(victim.id))
	})
	t.Logf("node %d back in partition 0's ISR %v after its restart", victim.id, time.Since(restarted).Round(time.Millisecond))
	c.waitAcked(l, 300, "after the restart")
	s.stop()
	c.checkAgreement(cl, topic, "after the restart")

	errs := l.errors()
	if len(errs) > 0 {
		t.Logf("%d produce errors (not acknowledged, so allowed to be lost; an idempotent producer retrying without limit should see none); first: %v", len(errs), errs[0])
	}
	recs := c.readBack(topic, parts)
	t.Logf("sent %d, acknowledged %d, stored %d", l.sentCount(), l.ackedCount(), len(recs))
	checkLedger(t, l, recs)
}

// TestClusterRollingRestart: each node in turn stopped with SIGTERM (it
// hands its leaderships over first) and restarted, waiting until no
// partition is under-replicated before the next, under an acks=all
// producer and a consumer group: neither sees an error, and nothing
// acknowledged is lost.
func TestClusterRollingRestart(t *testing.T) {
	c := startProcCluster(t)
	const topic, parts = "cluster-rolling-restart", 6
	c.createReplicatedTopic(topic, parts)
	l := newLedger()
	s := c.startStream(l, topic, "roll", parts)

	var (
		mu         sync.Mutex
		consumed   = map[string]int{}
		fetchErrs  []error
		commitErrs []error
		commitsOK  int
	)
	// The group client's log, for a failure's diagnosis.
	groupLog := filepath.Join(t.TempDir(), "group-client.log")
	glf, err := os.Create(groupLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = glf.Close()
		if t.Failed() {
			t.Logf("group client log (warnings and errors):\n%s", grepLines(groupLog, "level=WARN", "level=ERROR", "[WARN]", "[ERROR]"))
		}
	})
	group := c.client(kgo.ConsumerGroup("cluster-rolling-restart"), kgo.ConsumeTopics(topic),
		kgo.WithLogger(kgo.BasicLogger(glf, kgo.LogLevelInfo, func() string { return time.Now().UTC().Format("15:04:05.000 ") })),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitInterval(500*time.Millisecond),
		kgo.AutoCommitCallback(func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				commitErrs = append(commitErrs, err)
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						commitErrs = append(commitErrs, fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err))
					} else {
						commitsOK++
					}
				}
			}
		}))
	cctx, ccancel := context.WithCancel(context.Background())
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for cctx.Err() == nil {
			fs := group.PollFetches(cctx)
			mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					fetchErrs = append(fetchErrs, fmt.Errorf("%s/%d: %w", tp, p, err))
				}
			})
			fs.EachRecord(func(r *kgo.Record) { consumed[string(r.Value)]++ })
			mu.Unlock()
		}
	}()
	defer func() { ccancel(); <-consumerDone }()

	c.waitAcked(l, 600, "before the rolling restart")
	// Steady state first: the group has joined, consumed and committed
	// (a node stopped while __consumer_offsets is being created is another
	// test).
	c.waitFor(60*time.Second, "the group consuming and committing", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(consumed) >= 600 && commitsOK > 0
	})
	cl := c.client()
	for _, n := range c.nodes {
		l.takeSlowest()
		stopping := time.Now()
		n.stop()
		stopped := time.Since(stopping)
		// The node handed its leaderships over before it exited: the
		// others lead every partition (logged, not asserted: franz-go
		// would ride out an election too, only slower).
		c.waitFor(30*time.Second, fmt.Sprintf("every partition led with node %d down", n.id), func() bool {
			return len(c.leaderView(cl, topic)) == parts
		})
		led := time.Since(stopping)
		c.waitAcked(l, 200, fmt.Sprintf("with node %d down", n.id))
		slowest := l.takeSlowest()
		n.start()
		restarted := time.Now()
		c.checkRestartedView(n, topic, parts)
		c.waitAllFullISR(fmt.Sprintf("node %d restarted", n.id), stopping)
		t.Logf("node %d: SIGTERM to exit %v, to every partition led by the others %v; slowest produce meanwhile %v; restart to no partition under-replicated %v (replica.lag.time.max.ms after the stop at least)", n.id,
			stopped.Round(time.Millisecond), led.Round(time.Millisecond), slowest.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
		c.waitAcked(l, 200, fmt.Sprintf("after node %d's restart", n.id))
	}
	s.stop()

	if errs := l.errors(); len(errs) > 0 {
		t.Errorf("the producer saw %d errors during the rolling restart; first: %v", len(errs), errs[0])
	}
	// The group reads every acknowledged record (at least once: a
	// rebalance may replay from the last commit).
	missing := func() []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for v := range l.acked {
			if consumed[v] == 0 {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m := missing(); len(m) > 0 {
		t.Errorf("the consumer group did not read %d acknowledged records within 60 s, first %v", len(m), m[:min(5, len(m))])
	}
	ccancel()
	<-consumerDone
	mu.Lock()
	if len(fetchErrs) > 0 {
		t.Errorf("the consumer group saw %d fetch errors; first: %v", len(fetchErrs), fetchErrs[0])
	}
	if len(commitErrs) > 0 {
		t.Errorf("the consumer group's commits failed %d times; first: %v", len(commitErrs), commitErrs[0])
	}
	replayed := 0
	for _, k := range consumed {
		replayed += k - 1
	}
	t.Logf("the group consumed %d distinct records, %d again after a rebalance", len(consumed), replayed)
	mu.Unlock()

	recs := c.readBack(topic, parts)
	t.Logf("sent %d, acknowledged %d, stored %d", l.sentCount(), l.ackedCount(), len(recs))
	checkLedger(t, l, recs)
}

// produce writes n records prefix-from.. round-robin over the partitions
// with an idempotent acks=all producer, synchronously, and fails on any
// error.
func (c *procCluster) produce(l *ledger, topic, prefix string, parts int32, from, n int) {
	c.t.Helper()
	cl := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := from; i < from+n; {
		var rs []*kgo.Record
		for ; i < from+n && len(rs) < 100; i++ {
			v := fmt.Sprintf("%s-%06d", prefix, i)
			l.send(v)
			rs = append(rs, &kgo.Record{Partition: int32(i % int(parts)), Value: []byte(v)})
		}
		res := cl.ProduceSync(ctxT(c.t), rs...)
		for _, r := range res {
			l.result(r.Record, r.Err)
		}
		if err := res.FirstErr(); err != nil {
			c.t.Fatalf("produce %s: %v", topic, err)
		}
	}
}

// TestClusterFollowerCatchUp: a follower killed with SIGKILL misses
// records; restarted, it rejoins every partition's ISR; then, with another
// node killed, it is needed for every commit and (ElectLeaders) leads the
// partitions it is the preferred replica of, which are read back from it:
// everything acknowledged reads back exactly once.
func TestClusterFollowerCatchUp(t *testing.T) {
	c := startProcCluster(t)
	const topic, parts = "cluster-follower-catch-up", 6
	c.createReplicatedTopic(topic, parts)
	cl := c.client()
	l := newLedger()
	c.produce(l, topic, "seq", parts, 0, 600)

	leaders := c.leaderView(cl, topic)
	p0, ok := leaders[0]
	if !ok {
		t.Fatal("no leader of partition 0")
	}
	var follower *clusterNode
	for _, n := range c.nodes {
		if int32(n.id) != p0.Leader {
			follower = n
			break
		}
	}
	follower.kill9()
	killed := time.Now()
	const missed = 6000
	c.produce(l, topic, "seq", parts, 600, missed)
	t.Logf("node %d (a follower of partition 0) killed; %d records produced without it in %v", follower.id, missed, time.Since(killed).Round(time.Millisecond))
	c.waitFor(30*time.Second, fmt.Sprintf("node %d out of every partition's ISR", follower.id), func() bool {
		ps := c.leaderView(cl, topic)
		if len(ps) != parts {
			return false
		}
		for _, p := range ps {
			if slices.Contains(p.ISR, int32(follower.id)) {
				return false
			}
		}
		return true
	})
	t.Logf("node %d out of every partition's ISR %v after the kill", follower.id, time.Since(killed).Round(time.Millisecond))

	follower.start()
	restarted := time.Now()
	c.waitFullISR(topic, parts, fmt.Sprintf("node %d restarted", follower.id))
	t.Logf("node %d back in every partition's ISR %v after its restart", follower.id, time.Since(restarted).Round(time.Millisecond))

	// Kill the node (other than the follower) leading the most partitions:
	// the follower is then needed for every commit and takes over some.
	count := map[int32]int{}
	for _, p := range c.leaderView(cl, topic) {
		count[p.Leader]++
	}
	var other *clusterNode
	for _, n := range c.nodes {
		if n != follower && (other == nil || count[int32(n.id)] > count[int32(other.id)]) {
			other = n
		}
	}
	other.kill9()
	c.waitFor(30*time.Second, "every partition led by a live node", func() bool {
		return len(c.leaderView(cl, topic)) == parts
	})
	// The partitions whose preferred replica (the first) is the follower
	// are handed to it (ElectLeaders, preferred), so that the read-back
	// below reads them from the caught-up node.
	preferred := map[int32]bool{}
	set := kadm.TopicsSet{}
	for i, p := range c.leaderView(cl, topic) {
		if len(p.Replicas) > 0 && p.Replicas[0] == int32(follower.id) {
			preferred[i] = true
			set.Add(topic, i)
		}
	}
	if len(preferred) == 0 {
		t.Fatalf("node %d is the preferred leader of no partition of %s", follower.id, topic)
	}
	if _, err := c.admin().ElectLeaders(ctxT(t), kadm.ElectPreferredReplica, set); err != nil {
		t.Fatalf("elect preferred leaders: %v", err)
	}
	c.waitFor(30*time.Second, fmt.Sprintf("node %d leading partitions %v", follower.id, slices.Sorted(maps.Keys(preferred))), func() bool {
		n := 0
		for i, p := range c.leaderView(cl, topic) {
			if preferred[i] && p.Leader == int32(follower.id) {
				n++
			}
		}
		return n == len(preferred)
	})
	led := 0
	for _, p := range c.leaderView(cl, topic) {
		if p.Leader == int32(follower.id) {
			led++
		}
	}
	t.Logf("node %d killed; node %d leads %d of %d partitions (its preferred ones: %v)", other.id, follower.id, led, parts, slices.Sorted(maps.Keys(preferred)))
	c.produce(l, topic, "seq", parts, 600+missed, 600)
	recs := c.readBack(topic, parts)
	t.Logf("sent %d, acknowledged %d, stored %d", l.sentCount(), l.ackedCount(), len(recs))
	checkLedger(t, l, recs)
}
