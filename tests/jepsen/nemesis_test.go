package jepsen

// The nemesis checked on its own, before any checker: each rule kind cuts
// what it should and nothing else (TestNFT*), and each fault kind has its
// intended effect on a real cluster and Heal gives back a cluster where
// every partition has a leader and acks=all produces succeed
// (TestNemesisMoldau; TestNemesisKafka with MOLDAU_JEPSEN_KAFKA=1).

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/testenv"
)

const nftInstall = "make deps: apt-get install nftables (Debian)"

// requireNFT ends the test when nft is missing or cannot change the rule
// set (not root): a skip on a developer machine, a failure under CI.
func requireNFT(t *testing.T) {
	t.Helper()
	testenv.RequireTool(t, "nft", nftInstall)
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "nftables rules need root (euid %d)", os.Geteuid())
	}
}

// echoListener accepts on addr and echoes every connection.
func echoListener(t *testing.T, addr string) (net.Listener, int) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return l, l.Addr().(*net.TCPAddr).Port
}

// dialFrom dials to from source address src within d; nil when connected.
func dialFrom(src, to string, d time.Duration) error {
	dl := net.Dialer{Timeout: d, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := dl.Dial("tcp", to)
	if err == nil {
		c.Close()
	}
	return err
}

// dialAsUID dials to from a process running as uid (bash's /dev/tcp under
// timeout(1)); nil when connected.
func dialAsUID(uid uint32, to string, d time.Duration) error {
	host, port, _ := net.SplitHostPort(to)
	secs := strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
	cmd := exec.Command("timeout", secs, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func TestNFTCutByAddress(t *testing.T) {
	requireNFT(t)
	ctx := context.Background()
	_, pa := echoListener(t, "127.0.0.1:0")
	_, pb := echoListener(t, "127.0.0.2:0")
	_, other := echoListener(t, "127.0.0.2:0") // a port that is not the campaign's
	a := &procNode{id: 1, ip: "127.0.0.1", ports: []int{pa}}
	b := &procNode{id: 2, ip: "127.0.0.2", ports: []int{pb}}
	toB := net.JoinHostPort(b.ip, strconv.Itoa(pb))

	tbl, err := newNFTTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	// An established connection from a to b, to see it stall.
	est, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(a.ip)}}).Dial("tcp", toB)
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	if err := tbl.add(ctx, addrCutRules(a, b)...); err != nil {
		t.Fatal(err)
	}
	if listing, _ := tbl.list(ctx); listing != "" {
		t.Logf("rules:\n%s", listing)
	}
	if err := dialFrom(a.ip, toB, 500*time.Millisecond); err == nil {
		t.Fatal("a dialled b's port through the cut")
	}
	if err := dialFrom(b.ip, net.JoinHostPort(a.ip, strconv.Itoa(pa)), 500*time.Millisecond); err == nil {
		t.Fatal("b dialled a's port through the cut")
	}
	if err := dialFrom(a.ip, net.JoinHostPort(b.ip, strconv.Itoa(other)), time.Second); err != nil {
		t.Fatalf("a port outside the rules is cut too: %v", err)
	}
	if err := dialFrom("127.0.0.3", toB, time.Second); err != nil {
		t.Fatalf("a third address cannot reach b: %v", err)
	}
	if err := dialFrom(ClientIP, toB, time.Second); err != nil {
		t.Fatalf("clients cannot reach b: %v", err)
	}
	if _, err := est.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = est.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := est.Read(make([]byte, 1)); err == nil {
		t.Fatal("an established a->b connection still carries data through the cut")
	}

	if err := tbl.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dialFrom(a.ip, toB, time.Second); err != nil {
		t.Fatalf("after the flush a cannot dial b: %v", err)
	}
	// The stalled byte arrives once TCP retransmits it.
	_ = est.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(est, make([]byte, 1)); err != nil {
		t.Fatalf("the established connection did not recover after the flush: %v", err)
	}
}

func TestNFTCutByUID(t *testing.T) {
	requireNFT(t)
	testenv.RequireTool(t, "bash", "the base system")
	testenv.RequireTool(t, "timeout", "coreutils")
	ctx := context.Background()
	_, pa := echoListener(t, "127.0.0.1:0")
	_, pb := echoListener(t, "127.0.0.2:0")
	_, other := echoListener(t, "127.0.0.2:0")
	a := &procNode{id: 1, ip: "127.0.0.1", ports: []int{pa}, uid: 21001}
	b := &procNode{id: 2, ip: "127.0.0.2", ports: []int{pb}, uid: 21002}
	toA := net.JoinHostPort(a.ip, strconv.Itoa(pa))
	toB := net.JoinHostPort(b.ip, strconv.Itoa(pb))
	if err := dialAsUID(a.uid, toB, 5*time.Second); err != nil {
		t.Fatalf("uid %d cannot dial b before any rule: %v", a.uid, err)
	}
	tbl, err := newNFTTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if err := tbl.add(ctx, uidCutRules(a, b)...); err != nil {
		t.Fatal(err)
	}
	if err := dialAsUID(a.uid, toB, 700*time.Millisecond); err == nil {
		t.Fatal("a's uid dialled b's port through the cut")
	}
	if err := dialAsUID(b.uid, toA, 700*time.Millisecond); err == nil {
		t.Fatal("b's uid dialled a's port through the cut")
	}
	if err := dialAsUID(21003, toB, 5*time.Second); err != nil {
		t.Fatalf("a third uid cannot reach b: %v", err)
	}
	if err := dialAsUID(a.uid, net.JoinHostPort(b.ip, strconv.Itoa(other)), 5*time.Second); err != nil {
		t.Fatalf("a port outside the rules is cut too: %v", err)
	}
	if err := dialFrom("127.0.0.1", toB, time.Second); err != nil {
		t.Fatalf("our own uid (root, on 127.0.0.1 too) cannot reach b: %v", err)
	}
	if err := tbl.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dialAsUID(a.uid, toB, 5*time.Second); err != nil {
		t.Fatalf("after the flush a's uid cannot dial b: %v", err)
	}
}

// TestNFTStaleTable: a table left by a dead campaign is removed by the next.
func TestNFTStaleTable(t *testing.T) {
	requireNFT(t)
	ctx := context.Background()
	// A pid that is surely gone: a child that has exited and been reaped.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("jepsen_%d_1", cmd.Process.Pid)
	if err := runNFT(ctx, fmt.Sprintf("table inet %s {\n}\n", stale)); err != nil {
		t.Fatal(err)
	}
	tbl, err := newNFTTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if out, _ := exec.Command("nft", "list", "tables").Output(); strings.Contains(string(out), stale) {
		_ = runNFT(ctx, "delete table inet "+stale+"\n")
		t.Fatalf("stale table %s still there:\n%s", stale, out)
	}
}

// producer keeps an acks=all idempotent producer busy on topic.
type producer struct {
	acked, failed atomic.Int64
	lastErr       atomic.Value
	cancel        context.CancelFunc
	wg            sync.WaitGroup
}

func startProducer(t *testing.T, c procTarget, topic string) *producer {
	t.Helper()
	cl, err := c.base().client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer cl.Close()
		sem := make(chan struct{}, 64)
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 17)), Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
				<-sem
				if err != nil {
					p.failed.Add(1)
					p.lastErr.Store(err.Error())
				} else {
					p.acked.Add(1)
				}
			})
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *producer) stop() { p.cancel(); p.wg.Wait() }

// probe produces one record to every partition of topic from a new client
// (so no acknowledgement comes from before) and returns how long until all
// were acknowledged.
func probe(ctx context.Context, c procTarget, topic string, parts int32) (time.Duration, error) {
	began := time.Now()
	cl, err := c.base().client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range parts {
		recs = append(recs, &kgo.Record{Partition: p, Value: []byte("probe")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return time.Since(began), err
	}
	return time.Since(began), nil
}

// allLed reports whether every partition of topic has a leader among the
// members.
func allLed(ctx context.Context, c procTarget, topic string, parts int) bool {
	cl, err := c.base().client()
	if err != nil {
		return false
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	m, err := req.RequestWith(ctx, cl)
	if err != nil || len(m.Topics) != 1 || len(m.Topics[0].Partitions) != parts {
		return false
	}
	for _, p := range m.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 || c.base().member(p.Leader) == nil {
			return false
		}
	}
	return true
}

// ledOff reports whether every partition of topic has a leader other
// than node id (asked of the other members: a cut node may still think it
// leads).
func ledOff(ctx context.Context, c procTarget, topic string, parts int, id int32) bool {
	for _, n := range c.base().currentMembers() {
		if n.id == id {
			continue
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr()), kgo.Dialer(c.Dial), kgo.RetryTimeout(0))
		if err != nil {
			return false
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := req.RequestWith(rctx, cl)
		cancel()
		cl.Close()
		if err != nil || len(m.Topics) != 1 || len(m.Topics[0].Partitions) != parts {
			return false
		}
		for _, p := range m.Topics[0].Partitions {
			if p.Leader < 0 || p.Leader == id {
				return false
			}
		}
		return true
	}
	return false
}

// canReach reports whether node from can open a connection to node to's
// Kafka port the way the cluster's nodes do (by address or by uid).
func canReach(from, to *procNode) bool {
	if from.uid != 0 {
		return dialAsUID(from.uid, to.addr(), 700*time.Millisecond) == nil
	}
	return dialFrom(from.ip, to.addr(), 700*time.Millisecond) == nil
}

// exerciseNemesis injects every kind the nemesis serves against c, checks
// each one's effect and that Heal restores a serving cluster.
func exerciseNemesis(t *testing.T, c procTarget, kinds []FaultKind) {
	ctx := context.Background()
	const topic, parts = "nemesis", 6
	cl, err := c.base().client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, parts, 3, map[string]*string{"min.insync.replicas": kmsg.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 60*time.Second, "every partition led", func() bool { return allLed(ctx, c, topic, parts) })
	prod := startProducer(t, c, topic)
	nm, err := NewProcNemesis(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if kinds == nil {
		kinds = nm.Kinds()
	}
	for _, kind := range kinds {
		before := prod.acked.Load()
		f, err := nm.Inject(ctx, kind, topic)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		t.Logf("%s: injected: %s", kind, f.Detail)
		victim := c.base().member(f.Nodes[0])
		switch kind {
		case FaultKillLeader, FaultKillController, FaultKillRandom:
			if victim.running() {
				t.Fatalf("%s: node %d still runs", kind, victim.id)
			}
			if err := dialFrom(ClientIP, victim.addr(), time.Second); err == nil {
				t.Fatalf("%s: node %d's port still accepts", kind, victim.id)
			}
		case FaultPause:
			if st := procState(victim.pid()); st != "T" {
				t.Fatalf("pause: node %d is in state %q, want T", victim.id, st)
			}
		case FaultPartitionHalves, FaultIsolate, FaultPartitionBridge:
			for _, o := range c.base().currentMembers() {
				if o == victim {
					continue
				}
				bridge := kind == FaultPartitionBridge && o.id == f.Nodes[1]
				if got := canReach(victim, o); got != bridge {
					t.Fatalf("%s: node %d reaches node %d: %v, want %v", kind, victim.id, o.id, got, bridge)
				}
				if got := canReach(o, victim); got != bridge {
					t.Fatalf("%s: node %d reaches node %d: %v, want %v", kind, o.id, victim.id, got, bridge)
				}
			}
			if got := dialFrom(ClientIP, victim.addr(), 700*time.Millisecond) == nil; got != (kind != FaultIsolate) {
				t.Fatalf("%s: clients reach node %d: %v", kind, victim.id, got)
			}
		}
		// The partitions the victim led move to others (kill, pause,
		// isolate, halves: it is cut from the quorum's majority; not a
		// bridge's end, which still reaches a majority through the bridge).
		if kind != FaultMembership && kind != FaultPartitionBridge {
			began := f.At
			testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%s: no partition led by node %d", kind, victim.id), func() bool {
				return ledOff(ctx, c, topic, parts, victim.id)
			})
			t.Logf("%s: metadata shows every partition led by a node other than %d %v after the fault",
				kind, victim.id, time.Since(began).Round(time.Millisecond))
		}
		// Under the fault, a new client's acks=all produce to every
		// partition succeeds once the cluster has worked around it
		// (a paused or cut node's partitions fail over).
		pctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		served, err := probe(pctx, c, topic, parts)
		cancel()
		if err != nil {
			t.Errorf("%s: no acks=all produce to every partition within %v of the fault: %v", kind, served.Round(time.Millisecond), err)
		} else {
			t.Logf("%s: every partition took an acks=all produce %v after the fault", kind, served.Round(time.Millisecond))
		}
		healStart := time.Now()
		if err := nm.Heal(ctx); err != nil {
			t.Fatalf("%s: heal: %v", kind, err)
		}
		healed := time.Since(healStart)
		if l, _ := c.base().nft.list(ctx); strings.Contains(l, "drop") {
			t.Fatalf("%s: rules left after heal:\n%s", kind, l)
		}
		testenv.WaitFor(t, 60*time.Second, "every partition led by a member after heal", func() bool { return allLed(ctx, c, topic, parts) })
		pctx, cancel = context.WithTimeout(ctx, 45*time.Second)
		after, err := probe(pctx, c, topic, parts)
		cancel()
		if err != nil {
			t.Fatalf("%s: produce after heal: %v", kind, err)
		}
		testenv.WaitFor(t, 60*time.Second, "the producer's acknowledgements moving on", func() bool { return prod.acked.Load() > before+100 })
		t.Logf("%s: healed in %v (members %v), then every partition took a produce in %v; producer acked %d, failed %d so far",
			kind, healed.Round(time.Millisecond), ids(c.base().currentMembers()), after.Round(time.Millisecond), prod.acked.Load(), prod.failed.Load())
	}
	prod.stop()
	if n := prod.failed.Load(); n > 0 {
		t.Logf("producer: %d records failed (last: %v); failures are allowed under faults, losses are the checker's business", n, prod.lastErr.Load())
	}
}

func TestNemesisMoldau(t *testing.T) {
	requireNFT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := NewMoldauCluster(ctx, ProcOptions{Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	exerciseNemesis(t, c, nil)
}

// TestNemesisMoldauAfterMembership: faults after membership changes hit
// the current members by their current addresses (nodes 4 and 5 on
// 127.0.0.4-5), and original nodes restart with --peers naming a removed
// node.
func TestNemesisMoldauAfterMembership(t *testing.T) {
	requireNFT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := NewMoldauCluster(ctx, ProcOptions{Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	exerciseNemesis(t, c, []FaultKind{FaultMembership, FaultKillRandom, FaultMembership,
		FaultKillController, FaultIsolate, FaultKillLeader, FaultPartitionBridge})
	if got := ids(c.currentMembers()); len(got) != 3 || !slices.Contains(got, 4) || !slices.Contains(got, 5) {
		t.Fatalf("members %v, want three including the added 4 and 5", got)
	}
}

// dumpLogsOnFailure prints each node's warnings and log tail when t failed.
func dumpLogsOnFailure(t *testing.T, c *procCluster) {
	if !t.Failed() {
		return
	}
	c.mu.Lock()
	nodes := append(append([]*procNode(nil), c.members...), c.removed...)
	c.mu.Unlock()
	for _, n := range nodes {
		t.Logf("node %d log %s, tail:\n%s", n.id, n.logPath, n.logTail(3000))
	}
}

func TestNemesisKafka(t *testing.T) {
	if os.Getenv("MOLDAU_JEPSEN_KAFKA") != "1" {
		t.Skip("the Kafka side by side runs with MOLDAU_JEPSEN_KAFKA=1 (three JVMs: too heavy for CI)")
	}
	requireNFT(t)
	testenv.RequireTool(t, "java", "make deps: apt-get install default-jdk-headless")
	testenv.RequireTool(t, "bash", "the base system")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c, err := NewKafkaCluster(ctx, ProcOptions{Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	exerciseNemesis(t, c, nil)
}

// TestNemesisKafkaMembership: the membership fault on Kafka (dynamic
// quorum: a node joins as a voter, an old one's replicas move to it, it
// leaves the quorum and is unregistered), then faults on the new members.
func TestNemesisKafkaMembership(t *testing.T) {
	if os.Getenv("MOLDAU_JEPSEN_KAFKA") != "1" {
		t.Skip("the Kafka side by side runs with MOLDAU_JEPSEN_KAFKA=1 (three JVMs: too heavy for CI)")
	}
	requireNFT(t)
	testenv.RequireTool(t, "java", "make deps: apt-get install default-jdk-headless")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c, err := NewKafkaCluster(ctx, ProcOptions{Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer dumpLogsOnFailure(t, c.procCluster)
	exerciseNemesis(t, c, []FaultKind{FaultMembership, FaultKillController, FaultIsolate})
	if got := ids(c.currentMembers()); len(got) != 3 || !slices.Contains(got, 4) {
		t.Fatalf("members %v, want three including the added 4", got)
	}
}
