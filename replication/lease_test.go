package replication

import (
	"context"
	"errors"
	"testing"
	"time"
)

func (c *cluster) confirm(id, g uint64, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.nodes[id].ConfirmLeader(ctx, g)
}

// A healthy leader confirms its leadership; a follower is told who leads.
func TestConfirmLeaderHealthy(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.confirm(1, 1, 10*time.Second); err != nil {
			t.Fatalf("healthy leader: %v", err)
		}
	}
	var nl *NotLeaderError
	if err := c.confirm(2, 1, 10*time.Second); !errors.As(err, &nl) || nl.Leader != 1 {
		t.Fatalf("follower: %v, want a NotLeaderError naming 1", err)
	}
}

// A leader cut off from its followers cannot confirm: no answers arrive.
func TestConfirmLeaderIsolated(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	c.net.Isolate(1)
	if err := c.confirm(1, 1, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("isolated leader: %v, want DeadlineExceeded", err)
	}
	if !c.status(1, 1).IsLeader {
		t.Fatal("no ticks ran: node 1 should still believe it leads")
	}
	// Ticking it (CheckQuorum) makes it step down; a round then fails at once.
	c.tickUntil("isolated leader stepped down", 50, func() bool { return !c.status(1, 1).IsLeader }, 1)
	var nl *NotLeaderError
	if err := c.confirm(1, 1, 10*time.Second); !errors.As(err, &nl) {
		t.Fatalf("after stepping down: %v, want a NotLeaderError", err)
	}
}

// The bug of the fault campaign: a leader paused (no ticks, cut off) while
// the others elect a new leader and commit, then resumed, still believes it
// leads. Its round reaches followers of a higher term, whose answers depose
// it: the round fails instead of confirming stale state.
func TestConfirmLeaderDeposedAfterPause(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	c.net.Isolate(1) // paused: neither ticks nor hears anything
	c.tickUntil("a new leader", 100, func() bool { return c.leader(1, 2, 3) != 0 }, 2, 3)
	nl := c.leader(1, 2, 3)
	if err := c.propose(nl, 1, "b"); err != nil {
		t.Fatal(err)
	}
	c.net.Heal() // resumed
	if !c.status(1, 1).IsLeader {
		t.Fatal("node 1 should still believe it leads")
	}
	var nle *NotLeaderError
	if err := c.confirm(1, 1, 10*time.Second); !errors.As(err, &nle) {
		t.Fatalf("deposed leader: %v, want a NotLeaderError", err)
	}
	if c.status(1, 1).IsLeader {
		t.Fatal("node 1 still leads after its round")
	}
	if err := c.confirm(nl, 1, 10*time.Second); err != nil {
		t.Fatalf("new leader %d: %v", nl, err)
	}
}

// A quiesced leader confirms on demand without a tick (the round wakes it
// and carries its own heartbeat), and quiesces again afterwards.
func TestConfirmLeaderQuiesced(t *testing.T) {
	c := newClusterWith(t, 3, 1, true)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("quiesced", 20, func() bool { return c.allQuiesced(c.ids...) })
	if err := c.confirm(1, 1, 10*time.Second); err != nil {
		t.Fatalf("quiesced leader: %v", err)
	}
	c.tickUntil("quiesced again", 20, func() bool { return c.allQuiesced(c.ids...) })
	if !c.status(1, 1).IsLeader {
		t.Fatal("leadership moved")
	}
}

// A single-voter group confirms at once.
func TestConfirmLeaderSingleVoter(t *testing.T) {
	c := newClusterWith(t, 1, 1, false)
	c.elect(1, 1)
	if err := c.confirm(1, 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
