package replication

import (
	"errors"
	"slices"
	"testing"
)

// A follower's ProposeForward reaches the leader, which proposes it as its
// own: it commits on every node. With no leader known it fails with
// ErrNotLeader (leader 0).
func TestProposeForward(t *testing.T) {
	c := newCluster(t, 3, 1)
	if err := c.nodes[2].ProposeForward(1, c.data("early")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("forward with no leader: %v, want ErrNotLeader", err)
	}
	c.elect(1, 1)
	if err := c.nodes[2].ProposeForward(1, c.data("from-2")); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[1].ProposeForward(1, c.data("from-1")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{1, 2, 3} {
		c.tickUntil("forwarded entries applied", 20, func() bool {
			v := c.values(id, 1)
			return slices.Contains(v, "from-2") && slices.Contains(v, "from-1")
		})
	}
	if v := c.values(3, 1); slices.Contains(v, "early") {
		t.Fatalf("the proposal refused with no leader was applied: %v", v)
	}
}

// RequestTransfer from a follower (and from a node that only knows who
// leads) moves the leadership to the target.
func TestRequestTransfer(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	if err := c.nodes[2].RequestTransfer(1, 3, 0); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 3 leads", 30, func() bool { return c.leader(1, 1, 2, 3) == 3 })
	if err := c.nodes[1].RequestTransfer(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 2 leads", 30, func() bool { return c.leader(1, 1, 2, 3) == 2 })
}
