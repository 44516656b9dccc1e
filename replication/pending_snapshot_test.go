package replication

import (
	"bytes"
	"errors"
	"testing"
)

// A proposal appended on a leader that was cut off, whose node comes back
// through a snapshot of a later term that ends below the proposal's index,
// fails with ErrDropped. Before, handleReady failed only the proposals at
// or below the snapshot index; the ones above waited for an entry at their
// index that an idle group never sends: Done never closed (Propose
// returned only through its ctx). 2 of 3 were still pending after 100
// ticks.
func TestPendingAboveSnapshotDropped(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("a everywhere", 10, func() bool { return c.converged(1) })
	c.net.Isolate(1)
	var lost []*Proposal
	for _, v := range []string{"lost-x", "lost-y", "lost-z"} {
		p, err := c.nodes[1].ProposeAsync(1, c.data(v))
		if err != nil {
			t.Fatal(err)
		}
		lost = append(lost, p)
	}
	c.waitFor("x, y, z appended on node 1", func() bool { return c.status(1, 1).LastIndex == 5 })
	c.tickUntil("new leader", 100, func() bool { return c.leader(1, 2, 3) != 0 }, 2, 3)
	nl := c.leader(1, 2, 3)
	c.tickUntil("all applied on 2 and 3", 20, func() bool {
		return c.status(2, 1).Applied == 3 && c.status(3, 1).Applied == 3
	}, 2, 3)
	for _, id := range []uint64{2, 3} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset())
		if err := c.storages[[2]uint64{id, 1}].(*LogStorage).CompactTo(3); err != nil {
			t.Fatal(err)
		}
	}
	c.net.Heal()
	c.tickUntil("node 1 installed the snapshot", 100, func() bool {
		st := c.status(1, 1)
		return st.Leader == nl && st.Applied == 3
	})
	for i := range 100 {
		done := 0
		for _, p := range lost {
			select {
			case <-p.Done():
				done++
			default:
			}
		}
		if done == len(lost) {
			for _, p := range lost {
				if !errors.Is(p.Err(), ErrDropped) {
					t.Fatalf("proposal of the old leader: %v, want ErrDropped", p.Err())
				}
			}
			if bytes.Contains(c.logBytes(1, 1), []byte("lost-")) {
				t.Fatal("the dropped proposals are still in node 1's log")
			}
			return
		}
		if i == 99 {
			t.Fatalf("%d of %d proposals of the old leader still pending after the snapshot and 100 ticks", len(lost)-done, len(lost))
		}
		c.tick()
	}
}
