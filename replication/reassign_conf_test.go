package replication

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func addLearner(id uint64) *raftpb.ConfChangeV2 {
	return &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: new(id)}}}
}

// promote is the broker's joint change of a reassignment: add the
// learners as voters and remove the old voters, leaving the joint
// configuration automatically.
func promote(add, remove []uint64) *raftpb.ConfChangeV2 {
	cc := &raftpb.ConfChangeV2{Transition: raftpb.ConfChangeTransitionAuto.Enum()}
	for _, id := range add {
		cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(id)})
	}
	for _, id := range remove {
		cc.Changes = append(cc.Changes, &raftpb.ConfChangeSingle{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: new(id)})
	}
	return cc
}

// The reassignment path over LogStorage (broker/raft_reassign.go): a
// learner is added, every member restarts and finds it in its
// configuration (SaveConfState keeps learners), the joint change promotes
// it and removes the leader itself, whose step-down elects another; then a
// second reassignment adds a replica bootstrapped with the replicas of
// that time — not the group's first configuration — which replays the
// whole log from index 1 and ends with the leader's configuration; a
// final restart of everyone keeps it.
func TestReassignmentConfPersists(t *testing.T) {
	c := newClusterOpts(t, 5, 1, clusterOpts{kind: "log", sync: true, voters: []uint64{1, 2, 3}})
	all := []uint64{1, 2, 3, 4, 5}
	c.elect(1, 1)
	for i := range 5 {
		if err := c.propose(1, 1, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, addLearner(4)); err != nil {
		t.Fatal(err)
	}
	if err := c.propose(1, 1, "after-learner"); err != nil {
		t.Fatal(err)
	}
	last := c.status(1, 1).LastIndex
	c.tickUntil("learner 4 caught up", 40, func() bool { return c.status(4, 1).Applied >= last }, all...)
	for _, id := range []uint64{1, 4} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset()) // as the broker's apply does
		c.reopen(id, false)
	}
	for _, id := range []uint64{1, 4} {
		cs, err := c.nodes[id].ConfState(1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cs.Voters, []uint64{1, 2, 3}) || !slices.Equal(cs.Learners, []uint64{4}) {
			t.Fatalf("node %d after restart: %v, want voters [1 2 3] learners [4]", id, cs)
		}
	}
	c.tickUntil("a leader", 60, func() bool { return c.leader(1, 1, 2, 3) != 0 }, all...)
	lead := c.leader(1, 1, 2, 3)
	// {1 2 3} -> {2 3 4}, node 1 leaving.
	if err := c.nodes[lead].ProposeConfChange(t.Context(), 1, promote([]uint64{4}, []uint64{1})); err != nil {
		t.Fatal(err)
	}
	want := []uint64{2, 3, 4}
	settled := func(ids ...uint64) func() bool {
		return func() bool {
			for _, id := range ids {
				cs, err := c.nodes[id].ConfState(1)
				if err != nil || len(cs.VotersOutgoing) != 0 || len(cs.Learners) != 0 || !slices.Equal(cs.Voters, want) {
					return false
				}
			}
			return true
		}
	}
	c.tickUntil("configuration {2 3 4} everywhere", 80, settled(2, 3, 4), all...)
	c.tickUntil("a leader among {2 3 4}", 80, func() bool { return c.leader(1, 2, 3, 4) != 0 }, all...)
	lead = c.leader(1, 2, 3, 4)
	if err := c.propose(lead, 1, "after-move"); err != nil {
		t.Fatal(err)
	}

	// Node 5 joins as the broker opens an added replica: an empty log
	// whose bootstrap voters are the current replicas {2 3 4}.
	_ = c.nodes[5].Stop()
	c.net.Detach(5)
	_ = c.logs[[2]uint64{5, 1}].Close()
	if err := c.fss[5].RemoveAll("data/t-1"); err != nil {
		t.Fatal(err)
	}
	c.storages[[2]uint64{5, 1}] = c.newStorage(5, 1, []uint64{2, 3, 4})
	c.sms[[2]uint64{5, 1}] = &testSM{}
	c.start(5)
	if err := c.nodes[lead].ProposeConfChange(t.Context(), 1, addLearner(5)); err != nil {
		t.Fatal(err)
	}
	last = c.status(lead, 1).LastIndex
	c.tickUntil("learner 5 replayed the log", 60, func() bool { return c.status(5, 1).Applied >= last }, all...)
	want = []uint64{3, 4, 5}
	if err := c.nodes[lead].ProposeConfChange(t.Context(), 1, promote([]uint64{5}, []uint64{2})); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("configuration {3 4 5}", 80, settled(3, 4, 5), all...)
	c.tickUntil("a leader among {3 4 5}", 80, func() bool { return c.leader(1, 3, 4, 5) != 0 }, all...)
	lead = c.leader(1, 3, 4, 5)
	if err := c.propose(lead, 1, "end"); err != nil {
		t.Fatal(err)
	}
	last = c.status(lead, 1).LastIndex
	c.tickUntil("all applied", 40, func() bool {
		return c.status(3, 1).Applied >= last && c.status(4, 1).Applied >= last && c.status(5, 1).Applied >= last
	}, all...)
	if v := c.values(5, 1); len(v) == 0 || v[0] != "0" {
		t.Fatalf("node 5 holds %v, want the whole history", v)
	}
	for _, id := range []uint64{3, 4, 5} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset())
		c.reopen(id, false)
	}
	if !settled(3, 4, 5)() {
		for _, id := range []uint64{3, 4, 5} {
			cs, _ := c.nodes[id].ConfState(1)
			t.Errorf("node %d after restart: %v", id, cs)
		}
		t.FailNow()
	}
}

// A member removed and added again (a reassignment walked back) has no
// "last caught up" time from before: the leader must see it catch up
// again before it counts as caught up (the broker's promotion and ISR).
func TestReaddedMemberForgetsCaughtUp(t *testing.T) {
	c := newClusterOpts(t, 4, 1, clusterOpts{voters: []uint64{1, 2, 3}})
	all := []uint64{1, 2, 3, 4}
	c.elect(1, 1)
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, addLearner(4)); err != nil {
		t.Fatal(err)
	}
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	caughtUp := func() (time.Time, bool) {
		reps, err := c.nodes[1].Replicas(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			if r.ID == 4 {
				return r.CaughtUp, true
			}
		}
		return time.Time{}, false
	}
	c.tickUntil("learner 4 caught up", 40, func() bool { at, ok := caughtUp(); return ok && !at.IsZero() }, all...)
	remove := &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: new(uint64(4))}}}
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, remove); err != nil {
		t.Fatal(err)
	}
	_ = c.nodes[4].Stop() // gone: it cannot catch up again
	c.net.Detach(4)
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, addLearner(4)); err != nil {
		t.Fatal(err)
	}
	if at, ok := caughtUp(); !ok || !at.IsZero() {
		t.Fatalf("re-added learner 4: present %v, caught up at %v; want never", ok, at)
	}
}
