package replication

import (
	"slices"
	"testing"
	"time"
)

func (c *cluster) allQuiesced(ids ...uint64) bool {
	for _, id := range ids {
		for _, g := range c.groups {
			if !c.status(id, g).Quiesced {
				return false
			}
		}
	}
	return true
}

func (c *cluster) raftMessages() int {
	total := 0
	for _, a := range c.ids {
		for _, b := range c.ids {
			_, m := c.net.Traffic(a, b)
			total += m
		}
	}
	return total
}

// Idle groups stop ticking and sending: a quiet cluster exchanges only the
// node-level liveness envelopes, however many groups it hosts.
func TestIdleGroupsQuiesce(t *testing.T) {
	const groups = 30
	c := newClusterWith(t, 3, groups, true)
	for _, g := range c.groups {
		c.elect(g%3+1, g)
		if err := c.propose(g%3+1, g, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("every group quiesced", 20, func() bool { return c.allQuiesced(c.ids...) })
	before := c.raftMessages()
	for range 50 {
		c.tick()
	}
	if after := c.raftMessages(); after != before {
		t.Fatalf("%d Raft messages in 50 ticks of %d quiesced groups, want 0", after-before, groups)
	}
	if !c.allQuiesced(c.ids...) {
		t.Fatal("a group woke up without a reason")
	}
	// The same without quiescing, for comparison.
	active := newCluster(t, 3, groups)
	for _, g := range active.groups {
		active.elect(g%3+1, g)
	}
	active.settle()
	base := active.raftMessages()
	for range 50 {
		active.tick()
	}
	busy := active.raftMessages() - base
	t.Logf("50 ticks, %d groups: 0 Raft messages quiesced, %d active", groups, busy)
	if busy < 50*groups {
		t.Fatalf("active groups sent only %d messages in 50 ticks", busy)
	}

	// A proposal wakes its group, commits without any tick, and the
	// group quiesces again.
	if err := c.propose(1, 3, "b"); err != nil {
		t.Fatal(err)
	}
	if c.status(1, 3).Quiesced {
		t.Fatal("group 3 still quiesced after a proposal")
	}
	c.tickUntil("group 3 applied everywhere and quiet again", 20, func() bool {
		for _, id := range c.ids {
			if !slices.Equal(c.values(id, 3), []string{"a", "b"}) {
				return false
			}
		}
		return c.allQuiesced(c.ids...)
	})
}

// When the node that leads quiesced groups dies, the followers notice
// through node liveness, wake those groups and elect new leaders; the
// groups led elsewhere stay quiet on the survivors.
func TestQuiescedGroupsFailOver(t *testing.T) {
	c := newClusterWith(t, 3, 6, true)
	for _, g := range c.groups {
		c.elect(g%3+1, g)
		if err := c.propose(g%3+1, g, "a"); err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("every group quiesced", 20, func() bool { return c.allQuiesced(c.ids...) })

	c.net.Isolate(1)
	ledBy1 := []uint64{3, 6} // g%3+1 == 1
	c.tickUntil("new leaders for node 1's groups", 200, func() bool {
		for _, g := range ledBy1 {
			if c.leader(g, 2, 3) == 0 {
				return false
			}
		}
		return true
	}, 2, 3)
	for _, g := range ledBy1 {
		nl := c.leader(g, 2, 3)
		if err := c.propose(nl, g, "b"); err != nil {
			t.Fatalf("group %d on new leader %d: %v", g, nl, err)
		}
	}
	// Node 1, cut off, wakes its groups too and steps down (CheckQuorum).
	c.tickUntil("node 1 steps down", 200, func() bool {
		for _, g := range ledBy1 {
			if c.status(1, g).IsLeader {
				return false
			}
		}
		return true
	}, 1)
	c.net.Heal()
	c.tickUntil("node 1 caught up", 100, func() bool {
		for _, g := range ledBy1 {
			if !slices.Equal(c.values(1, g), []string{"a", "b"}) {
				return false
			}
		}
		return true
	})
	for _, g := range c.groups {
		if got := c.values(2, g); len(got) == 0 {
			t.Fatalf("group %d: %v", g, got)
		}
	}
}

// A thousand idle groups on three nodes: once quiesced, ticks cost no Raft
// message at all (only the node-level liveness envelope per peer).
func TestThousandIdleGroups(t *testing.T) {
	const groups = 1000
	c := newClusterWith(t, 3, groups, true)
	for _, g := range c.groups {
		if err := c.nodes[g%3+1].Campaign(g); err != nil {
			t.Fatal(err)
		}
	}
	c.settle()
	for _, g := range c.groups {
		if !c.status(g%3+1, g).IsLeader {
			t.Fatalf("group %d has no leader after its campaign", g)
		}
	}
	c.tickUntil("every group quiesced", 20, func() bool { return c.allQuiesced(c.ids...) })
	before := c.raftMessages()
	start := time.Now()
	for range 20 {
		c.tick()
	}
	elapsed := time.Since(start)
	if after := c.raftMessages(); after != before {
		t.Fatalf("%d Raft messages in 20 ticks of %d quiesced groups, want 0", after-before, groups)
	}
	t.Logf("%d quiesced groups x 3 nodes: 20 ticks in %v (with -race), 0 Raft messages", groups, elapsed)
}
