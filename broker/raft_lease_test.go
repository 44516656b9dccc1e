package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/replication"
)

// The fault campaign's offset regression: a group's coordinator is cut off
// from its partition's later term (it hears nothing of the new leader and
// of its followers' answers in the new term) while the group moves to a
// new coordinator and a commit is acknowledged there. The old coordinator
// still believes it leads (it has not heard the higher term; CheckQuorum
// has not made it step down yet). An OffsetFetch sent to it must not
// return the older offset: it cannot confirm its leadership and answers
// NOT_COORDINATOR.
//
// The new leader is made by a leadership transfer, so that the new term
// exists at once and the old leader's CheckQuorum (1-2 s) is far away:
// the window is deterministic, not a race between two timers.
func TestClusterCoordinatorLeaseStaleFetch(t *testing.T) {
	tc := newTestCluster(t, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tc.createKnownTopic(ctx, adm, "co", 1)
	commit := func(a *kadm.Client, at int64) error {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "co", Partition: 0, At: at, LeaderEpoch: -1})
		resps, err := a.CommitOffsets(ctx, "g1", offs)
		if err != nil {
			return err
		}
		return resps.Error()
	}
	if err := commit(adm, 7); err != nil {
		t.Fatalf("commit: %v", err)
	}
	part := tc.brokers[0].groups.PartitionFor("g1")
	old := -1
	tc.waitFor("a coordinator", func() bool { old = tc.leaderOf(offsetsTopic, part); return old >= 0 })
	ob := tc.brokers[old]
	op := ob.topics.get(offsetsTopic).partition(part)
	gid := op.repl.gid
	_, term, leading, err := ob.raft.node.Leader(gid)
	if err != nil || !leading {
		t.Fatalf("node %d: leading %v, %v", old+1, leading, err)
	}
	target := (old + 1) % 3
	oldID := raftID(int32(old + 1))
	// From now on the old leader hears nothing of the group in a later term.
	tc.nw.SetDropFilter(func(from, to uint64, env replication.Envelope) bool {
		return to == oldID && env.Group == gid && env.Msg != nil && env.Msg.GetTerm() > term
	})
	defer tc.nw.Heal()
	tc.waitFor("leadership transferred", func() bool {
		_ = ob.raft.node.TransferLeadership(gid, raftID(int32(target+1)))
		_, _, lead, err := tc.brokers[target].raft.node.Leader(gid)
		return err == nil && lead
	})
	// A client that knows only the other two brokers commits a newer
	// offset at the new coordinator.
	var others []string
	for i, s := range tc.seeds() {
		if i != old {
			others = append(others, s)
		}
	}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(others...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	tc.waitFor("the newer offset committed at the new coordinator", func() bool {
		return commit(kadm.NewClient(cl2), 9) == nil
	})
	// The old coordinator has not heard of it.
	if _, _, lead, _ := ob.raft.node.Leader(gid); !lead || !op.lead.Load().local {
		t.Fatalf("node %d stopped believing it leads before the fetch: the window was missed", old+1)
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = "g1"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = "co"
	rt.Partitions = []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.OffsetFetchResponse](t, ob, 7, req)
	switch {
	case resp.ErrorCode == kerr.NotCoordinator.Code:
	case resp.ErrorCode != 0:
		t.Fatalf("OffsetFetch at the old coordinator: %v", kerr.ErrorForCode(resp.ErrorCode))
	default:
		if got := resp.Topics[0].Partitions[0].Offset; got != 9 {
			t.Fatalf("OffsetFetch at the old coordinator returned %d, want 9 or NOT_COORDINATOR (the commit of 9 was acknowledged)", got)
		}
	}
	// The healthy new coordinator confirms and serves; the cost of a
	// confirmation is logged.
	nb := tc.brokers[target]
	resp = do[*kmsg.OffsetFetchResponse](t, nb, 7, req)
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].Offset != 9 {
		t.Fatalf("OffsetFetch at the new coordinator: %v, offset %d, want 9", kerr.ErrorForCode(resp.ErrorCode), resp.Topics[0].Partitions[0].Offset)
	}
	np := nb.topics.get(offsetsTopic).partition(part)
	const rounds = 50
	start := time.Now()
	for range rounds {
		if !nb.raft.confirmLeads(np) {
			t.Fatal("the new coordinator could not confirm its leadership")
		}
	}
	t.Logf("confirmLeads: %v per call (in-process network)", time.Since(start)/rounds)
}
