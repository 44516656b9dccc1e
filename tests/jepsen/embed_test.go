package jepsen

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/embed"
)

// embedCluster is a test-only Cluster over the in-process embed cluster.
type embedCluster struct{ c *embed.Cluster }

func (e *embedCluster) Name() string    { return "moldau-embed" }
func (e *embedCluster) Seeds() []string { return e.c.Addrs() }
func (e *embedCluster) Close() error    { return e.c.Close() }
func (e *embedCluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// embedNemesis is a trivial nemesis over embed.Cluster: a graceful stop of
// a random node (embed offers no kill -9) and a random node's Raft links
// cut (clients still reach it).
type embedNemesis struct {
	c       *embed.Cluster
	seed    int
	mu      sync.Mutex
	n       int
	stopped []int
}

func (e *embedNemesis) Kinds() []FaultKind {
	return []FaultKind{FaultKillRandom, FaultKillLeader, FaultKillController, FaultPartitionHalves}
}

// target picks the node a fault hits: the leader of topic's partition 0,
// the controller, or the next node in turn.
func (e *embedNemesis) target(ctx context.Context, kind FaultKind, topic string) (int, error) {
	e.n++
	if kind != FaultKillLeader && kind != FaultKillController {
		return (e.seed + e.n) % e.c.Len(), nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.c.Addrs()...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return 0, err
	}
	id := md.Controller
	if kind == FaultKillLeader {
		p, ok := md.Topics[topic].Partitions[0]
		if !ok {
			return 0, fmt.Errorf("embed nemesis: no %s/0", topic)
		}
		id = p.Leader
	}
	if id < 1 || int(id) > e.c.Len() {
		return 0, fmt.Errorf("embed nemesis: no node %d", id)
	}
	return int(id) - 1, nil
}

func (e *embedNemesis) Inject(ctx context.Context, kind FaultKind, topic string) (Fault, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, err := e.target(ctx, kind, topic)
	if err != nil {
		return Fault{}, err
	}
	f := Fault{Kind: kind, Nodes: []int32{e.c.Node(i).ID}, At: time.Now()}
	switch kind {
	case FaultKillRandom, FaultKillLeader, FaultKillController:
		if err := e.c.StopNode(i); err != nil {
			return Fault{}, err
		}
		e.stopped = append(e.stopped, i)
		f.Detail = fmt.Sprintf("node %d stopped (graceful: embed has no kill -9)", f.Nodes[0])
		if kind == FaultKillLeader {
			f.Detail = fmt.Sprintf("leader of %s/0 = node %d stopped (graceful)", topic, f.Nodes[0])
		}
	case FaultPartitionHalves:
		e.c.Isolate(i)
		f.Detail = fmt.Sprintf("cut %d | others (Raft links only)", f.Nodes[0])
	default:
		return Fault{}, fmt.Errorf("embed nemesis: no %s", kind)
	}
	return f, nil
}

func (e *embedNemesis) Heal(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, i := range e.stopped {
		if err := e.c.RestartNode(i); err != nil {
			return err
		}
	}
	e.stopped = nil
	e.c.Heal()
	return e.c.WaitReady(ctx)
}

// TestRunEmbedded runs the whole campaign (all three workloads, stops and
// isolations) against a three-node in-process cluster and expects no
// anomaly.
func TestRunEmbedded(t *testing.T) {
	d, lo, hi := 40*time.Second, 8*time.Second, 12*time.Second
	if testing.Short() {
		d, lo, hi = 25*time.Second, 6*time.Second, 8*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+6*time.Minute)
	defer cancel()
	c, err := embed.StartCluster(ctx, 3,
		embed.WithProperty("group.consumer.session.timeout.ms", "6000"),
		embed.WithProperty("group.consumer.heartbeat.interval.ms", "500"),
		embed.WithProperty("group.initial.rebalance.delay.ms", "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := t.TempDir()
	if dir := os.Getenv("JEPSEN_OUT"); dir != "" {
		out = dir
	}
	res, err := Run(ctx, Config{
		Cluster:     &embedCluster{c},
		Nemesis:     &embedNemesis{c: c, seed: 1},
		Duration:    d,
		IntervalMin: lo,
		IntervalMax: hi,
		OutDir:      out,
		Seed:        1,
		Logf:        t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary:\n%s", res.Summary)
	for _, a := range res.Anomalies {
		t.Errorf("%s: %s", a.Kind, a.Detail)
	}
	// The run did something: every workload completed operations and at
	// least one fault was injected and healed.
	hist, err := os.ReadFile(filepath.Join(out, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 {
		t.Fatal("empty history")
	}
	// The saved history checks clean again, and the checker sees a write
	// removed from it: the campaign's verdict rests on what it recorded.
	ops, err := ReadJSONL(filepath.Join(out, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if again := Check(ops); len(again) != len(res.Anomalies) {
		t.Errorf("the saved history checks to %d anomalies, the run found %d", len(again), len(res.Anomalies))
	}
	mutateAndCheck(t, ops)
	// The KIP-848 group runs the consumer protocol, the other the classic.
	for _, want := range []string{`-848","detail":"type consumer"`, `-classic","detail":"type classic"`} {
		if !strings.Contains(string(hist), want) {
			t.Errorf("history lacks %s", want)
		}
	}
	for _, want := range []string{"| queue | send |", "| transactions | txn |", "| transactions | copy |", "| groups | gpoll |", "| groups | commit |"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

// mutateAndCheck plants one anomaly of several kinds in a real history
// (a copy each time) and expects the checker to name it: the run records
// what the checks need.
func mutateAndCheck(t *testing.T, ops []Op) {
	t.Helper()
	clone := func() []Op {
		out := make([]Op, len(ops))
		for i, op := range ops {
			op.Records = append([]Rec(nil), op.Records...)
			out[i] = op
		}
		return out
	}
	flags := func(ops []Op, kind, needle string) bool {
		for _, a := range Check(ops) {
			if a.Kind == kind && strings.Contains(a.Detail, needle) {
				return true
			}
		}
		return false
	}
	acked := map[string]bool{}
	var aborted string
	for _, op := range ops {
		if op.F == FnSend && op.Type == OpOK {
			acked[op.Value] = true
		}
		if op.F == FnTxn && op.Type == OpFail && len(op.Records) > 0 && aborted == "" {
			aborted = op.Records[0].Value
		}
	}
	first := func(ops []Op, match func(*Op) bool) *Op {
		for i := range ops {
			if match(&ops[i]) {
				return &ops[i]
			}
		}
		t.Fatal("the history has no op to mutate")
		return nil
	}
	// An acknowledged value removed from the drain: lost-write.
	m := clone()
	op := first(m, func(op *Op) bool { return op.F == FnDrain && len(op.Records) > 0 && acked[op.Records[0].Value] })
	v := op.Records[0].Value
	op.Records = op.Records[1:]
	if !flags(m, "lost-write", strconv.Quote(v)) {
		t.Errorf("%q removed from the drain: no lost-write", v)
	}
	// A value polled again at another offset: duplicate.
	m = clone()
	op = first(m, func(op *Op) bool { return op.F == FnPoll && len(op.Records) > 0 })
	dup := op.Records[0]
	dup.Offset += 1 << 40
	op.Records = append(op.Records, dup)
	if !flags(m, "duplicate", strconv.Quote(dup.Value)) {
		t.Errorf("%q polled at two offsets: no duplicate", dup.Value)
	}
	// A value of an aborted transaction in a read_committed poll.
	m = clone()
	if aborted == "" {
		t.Fatal("no transaction aborted in the run")
	}
	op = first(m, func(op *Op) bool {
		return op.F == FnPoll && strings.HasPrefix(op.Process, "transactions") && len(op.Records) > 0
	})
	op.Records = append(op.Records, Rec{op.Records[0].Partition, 1 << 40, aborted})
	if !flags(m, "aborted-read", strconv.Quote(aborted)) {
		t.Errorf("aborted %q polled: no aborted-read", aborted)
	}
	// A group poll repeated by another member in the same generation.
	m = clone()
	op = first(m, func(op *Op) bool { return op.F == FnGroupPoll && op.Generation > 0 && len(op.Records) > 0 })
	twin := *op
	twin.Member, twin.Process = "impostor", "groups-impostor"
	m = append(m, twin)
	if !flags(m, "double-assignment", "impostor") {
		t.Errorf("a poll repeated by another member: no double-assignment")
	}
}
