package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBridgeFollowerNamesLiveLeader: nodes 2 and 3 cannot talk, node 1
// reaches both (the fault campaign's partition-bridge). Node 2 leads and
// keeps committing with node 1; node 3, cut off from it, becomes a
// pre-candidate and forgets the leader. A client that asks node 3 for
// metadata must still be told node 2 leads (the metadata log says so), not
// LEADER_NOT_AVAILABLE for as long as the cut lasts, and its acks=all
// produce must succeed.
func TestBridgeFollowerNamesLiveLeader(t *testing.T) {
	tc := newTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, kgo.SeedBrokers(tc.seeds()...)))
	tc.createKnownTopic(ctx, adm, "bridge", 1)
	tc.waitFor("a leader", func() bool { return tc.leaderOf("bridge", 0) >= 0 })

	// Traffic keeps the group awake (an idle group quiesces and its
	// followers do not tick).
	bg := newClient(t, kgo.SeedBrokers(tc.cfgs[0].Addr, tc.cfgs[1].Addr), kgo.DefaultProduceTopic("bridge"))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			_ = bg.ProduceSync(pctx, &kgo.Record{Value: []byte("keepalive")})
			pcancel()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	defer tc.nw.Heal()

	// A starved node 1 (CI runs packages side by side on two cores) can
	// miss node 2's heartbeats for an election timeout and grant node 3's
	// pre-vote: node 3 (or 1) then leads, a legitimate Raft outcome that
	// leaves no bridge to test; the scenario is set up again then.
	for attempt := 1; ; attempt++ {
		broken := bridgeScenario(t, ctx, tc)
		if broken == "" {
			return
		}
		if attempt == 3 {
			t.Fatalf("attempt %d: %s: the test did not test the bridge", attempt, broken)
		}
		t.Logf("attempt %d: %s; again", attempt, broken)
		tc.nw.Heal()
	}
}

// bridgeScenario makes node 2 lead "bridge", cuts nodes 2 and 3 apart and
// checks node 3's Metadata answer and an acks=all produce through it. It
// returns why the scenario did not hold (node 3 learnt a leader through
// the cut), or "" when it held and passed; a check failing fails t.
func bridgeScenario(t *testing.T, ctx context.Context, tc *testCluster) string {
	t.Helper()
	tc.makeLeader("bridge", 0, 1) // node id 2
	tc.waitFor("node 3's metadata names node 2", func() bool {
		mt, ok := tc.brokers[2].raft.view().Topic("bridge")
		return ok && mt.Partitions[0].Leader == 2
	})
	const n2 = 2
	tc.nw.Cut(raftID(2), raftID(3))
	p3 := tc.brokers[2].topics.get("bridge").partition(0)
	deadline := time.Now().Add(30 * time.Second)
	for l := p3.lead.Load().leader; l >= 0; l = p3.lead.Load().leader {
		if l != n2 {
			return fmt.Sprintf("node %d leads before node 3 let go of node 2", l)
		}
		if time.Now().After(deadline) {
			st, _ := tc.brokers[2].raft.node.Status(p3.repl.gid)
			t.Fatalf("node 3 still follows %d: %+v", l, st)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Ask node 3 alone.
	cl := newClient(t, kgo.SeedBrokers(tc.brokers[2].Addr()))
	seed := cl.SeedBrokers()[0]
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	topic := "bridge"
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	var last string
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := seed.Request(ctx, req)
		if err == nil {
			mr := resp.(*kmsg.MetadataResponse)
			if len(mr.Topics) == 1 && len(mr.Topics[0].Partitions) == 1 {
				mp := mr.Topics[0].Partitions[0]
				if mp.ErrorCode == 0 && mp.Leader == n2 {
					break
				}
				last = fmt.Sprintf("error %d leader %d epoch %d", mp.ErrorCode, mp.Leader, mp.LeaderEpoch)
			}
		} else {
			last = err.Error()
		}
		if l := p3.lead.Load().leader; l >= 0 {
			return fmt.Sprintf("node 3 learnt leader %d through the cut (last answer: %s)", l, last)
		}
		if time.Now().After(deadline) {
			v := tc.brokers[2].raft.view()
			mt, _ := v.Topic("bridge")
			b2, _ := v.Broker(2)
			for i, b := range tc.brokers {
				st, _ := b.raft.node.Status(p3.repl.gid)
				t.Logf("node %d: raft %+v lead %+v", i+1, st, *b.topics.get("bridge").partition(0).lead.Load())
			}
			t.Fatalf("node 3 does not name leader 2: %s; its metadata log: %+v; broker 2: %+v; controller %+v", last, mt.Partitions[0], b2, v.Controller())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l := p3.lead.Load().leader; l >= 0 {
		return fmt.Sprintf("node 3 learnt leader %d through the cut", l)
	}

	prod := newClient(t, kgo.SeedBrokers(tc.brokers[2].Addr()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("bridge"))
	pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
	defer pcancel()
	if err := prod.ProduceSync(pctx, &kgo.Record{Value: []byte("across the bridge")}).FirstErr(); err != nil {
		t.Fatalf("acks=all produce while node 3 is cut from leader 2: %v", err)
	}
	return ""
}

func newClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
