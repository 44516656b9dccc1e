package replication

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the value of a counter or gauge (summed over its
// series), or a histogram's sample count, from reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

func TestNodeMetrics(t *testing.T) {
	c := newCluster(t, 3, 2)
	reg := prometheus.NewRegistry()
	// Node 1 again, registered this time (a second node of the same id
	// would clash on the network: replace it).
	if err := c.nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(Config{ID: 1, Transport: c.net.Endpoint(1), Workers: 2, Logger: quietLogger, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range c.groups {
		if err := n.AddGroup(GroupConfig{ID: g, Storage: c.storages[[2]uint64{1, g}], StateMachine: c.sms[[2]uint64{1, g}]}); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[1] = n
	c.net.Attach(1, n)

	c.elect(1, 1)
	c.elect(2, 2)
	for range 3 {
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]float64{
		"moldau_raft_commit_seconds":       3,
		"moldau_raft_leader_changes_total": 2, // itself in group 1, node 2 in group 2
		"moldau_raft_groups":               2,
		"moldau_raft_leader_groups":        1,
		"moldau_raft_quiesced_groups":      0,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gathered(t, reg, "moldau_raft_proposals_total", "result", "committed"); got != 3 {
		t.Fatalf("committed proposals %v, want 3", got)
	}
	if gathered(t, reg, "moldau_raft_frames_sent_total") == 0 || gathered(t, reg, "moldau_raft_persist_seconds") == 0 {
		t.Fatal("no frames or persists counted")
	}
	if err := c.nodes[2].Propose(t.Context(), 1, []byte("x")); err == nil {
		t.Fatal("follower accepted a proposal")
	}
}

// Nodes embedded in one process share a registry (STYLE habit 13): two
// nodes register side by side (raft_node label), and a node created again
// with the same id (a restart) reuses its collectors — MustRegister
// panicked on both. The restarted node's counters go on from the first
// incarnation's, and the gauges describe the new node.
func TestNodeMetricsSharedRegistry(t *testing.T) {
	c := newCluster(t, 3, 1)
	reg := prometheus.NewRegistry()
	restart := func(id uint64) *Node {
		t.Helper()
		if err := c.nodes[id].Stop(); err != nil {
			t.Fatal(err)
		}
		c.net.Detach(id)
		n, err := NewNode(Config{ID: id, Transport: c.net.Endpoint(id), Workers: 2, Logger: quietLogger, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		sm := c.sms[[2]uint64{id, 1}]
		applied, _ := sm.snapshot()
		if err := n.AddGroup(GroupConfig{ID: 1, Storage: c.storages[[2]uint64{id, 1}], StateMachine: sm, Applied: applied}); err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = n
		c.net.Attach(id, n)
		return n
	}
	restart(1)
	restart(2)
	c.elect(1, 1)
	for range 2 {
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
	}
	node := func(id string) []string { return []string{"raft_node", id} }
	if got := gathered(t, reg, "moldau_raft_groups", node("1")...); got != 1 {
		t.Fatalf("node 1 groups %v, want 1", got)
	}
	if got := gathered(t, reg, "moldau_raft_groups", node("2")...); got != 1 {
		t.Fatalf("node 2 groups %v, want 1", got)
	}
	if got := gathered(t, reg, "moldau_raft_leader_groups", node("1")...); got != 1 {
		t.Fatalf("node 1 leads %v groups, want 1", got)
	}
	if got := gathered(t, reg, "moldau_raft_proposals_total", append(node("1"), "result", "committed")...); got != 2 {
		t.Fatalf("node 1 committed %v, want 2", got)
	}

	// Restart node 1 on the same registry.
	restart(1)
	if got := gathered(t, reg, "moldau_raft_leader_groups", node("1")...); got != 0 {
		t.Fatalf("restarted node 1 leads %v groups, want 0 before an election", got)
	}
	c.tickUntil("a leader after the restart", 100, func() bool { return c.leader(1, 1, 2, 3) != 0 }, 1, 2, 3)
	if l := c.leader(1, 1, 2, 3); l != 1 {
		if err := c.nodes[l].TransferLeadership(1, 1); err != nil {
			t.Fatal(err)
		}
		c.tickUntil("node 1 leads again", 100, func() bool { return c.leader(1, 1, 2, 3) == 1 }, 1, 2, 3)
	}
	if err := c.propose(1, 1, "b"); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, "moldau_raft_proposals_total", append(node("1"), "result", "committed")...); got != 3 {
		t.Fatalf("node 1 committed %v after the restart, want 3 (2 before it)", got)
	}
	if got := gathered(t, reg, "moldau_raft_groups", node("1")...); got != 1 {
		t.Fatalf("restarted node 1 groups %v, want 1", got)
	}

	// A conflicting registration is an error from NewNode, not a panic.
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "moldau_raft_leader_changes_total", Help: "other"}))
	if _, err := NewNode(Config{ID: 9, Transport: c.net.Endpoint(9), Logger: quietLogger, Registerer: bad}); err == nil {
		t.Fatal("NewNode registered over a conflicting metric")
	}
}
