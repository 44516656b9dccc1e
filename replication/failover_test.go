package replication

import (
	"testing"
)

// A crashed leader (its node unreachable: sends to it fail) is reported
// down (PeerDownSince) once silent past fastDeadTicks, well before the
// election timeout, and replaced: the followers' election clocks skip to
// the election timeout, leaving the randomized remainder. A leader that is
// merely silent while its node stays reachable (held messages: a slow
// link, a paused process) is not reported down before the election
// timeout.
func TestUnreachableLeaderReplacedFast(t *testing.T) {
	const g = 1
	for _, tc := range []struct {
		name    string
		cut     func(c *cluster)
		crashed bool
	}{
		{"crashed", func(c *cluster) { c.net.Detach(1); _ = c.nodes[1].Stop(); delete(c.nodes, 1) }, true},
		{"silent but reachable", func(c *cluster) { c.net.Hold(1, 2); c.net.Hold(1, 3) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClusterWith(t, 3, 1, true)
			c.elect(1, g)
			if err := c.propose(1, g, "a"); err != nil {
				t.Fatal(err)
			}
			// The leader is never ticked: no heartbeats, no quiescing.
			c.tick(2, 3)
			tc.cut(c)
			for range fastDeadTicks {
				c.tick(2, 3)
			}
			for _, id := range []uint64{2, 3} {
				if _, down := c.nodes[id].PeerDownSince(1); down != tc.crashed {
					t.Fatalf("node %d: PeerDownSince(1) down %v after %d ticks, want %v", id, down, fastDeadTicks, tc.crashed)
				}
			}
			if !tc.crashed {
				c.net.Heal()
				return
			}
			// Detection at the next tick leaves the clocks at the
			// election timeout (10): an election within the
			// randomized remainder (at most 9 more ticks), where the
			// whole timeout would take up to 19.
			c.tickUntil("an election", 10, func() bool { return c.status(2, g).Term > 1 || c.status(3, g).Term > 1 }, 2, 3)
			// Usually the first election elects. When both survivors
			// drew the same randomized timeout they campaign in the
			// same tick and split the vote (each votes for itself; a
			// legitimate Raft outcome, about one run in sixty here
			// where ticks are in lockstep); each candidate draws a
			// new timeout (10 to 19 ticks) and the next election
			// splits again only on another tie (one in ten), so 100
			// ticks leave a failure chance near 1e-7.
			c.tickUntil("a new leader", 100, func() bool { return c.leader(g, 2, 3) != 0 }, 2, 3)
		})
	}
}
