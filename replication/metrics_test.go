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
