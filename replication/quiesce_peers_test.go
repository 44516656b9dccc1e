package replication

import (
	"testing"
	"time"
)

// A follower must not quiesce under a leader whose node it does not track
// for liveness (a node that joined after it started: Config.Peers is fixed
// at NewNode): nothing would ever wake it when that leader dies, and the
// group would stay leaderless. Before the fix, nodes 1 and 2 (peers {1, 2})
// quiesced under leader 3 and never elected a new leader once 3 was gone.
func TestNoQuiesceUnderUntrackedLeader(t *testing.T) {
	nw := NewLocalNetwork()
	nodes := map[uint64]*Node{}
	for id := uint64(1); id <= 3; id++ {
		peers := []uint64{1, 2}
		if id == 3 {
			peers = []uint64{1, 2, 3}
		}
		n, err := NewNode(Config{ID: id, Transport: nw.Endpoint(id), Workers: 2, Logger: quietLogger, Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Stop() })
		if err := n.AddGroup(GroupConfig{ID: 1, Storage: NewMemStorage(1, 2, 3), StateMachine: &testSM{}}); err != nil {
			t.Fatal(err)
		}
		nw.Attach(id, n)
		nodes[id] = n
	}
	settle := func() {
		deadline := time.Now().Add(10 * time.Second)
		for quiet := 0; quiet < 2; {
			busy := false
			for _, n := range nodes {
				busy = busy || n.Busy()
			}
			if !busy {
				quiet++
				continue
			}
			quiet = 0
			if time.Now().After(deadline) {
				t.Fatal("did not settle")
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	tick := func(ids ...uint64) {
		for _, id := range ids {
			nodes[id].Tick()
		}
		settle()
	}
	status := func(id uint64) GroupStatus {
		st, err := nodes[id].Status(1)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := nodes[3].Campaign(1); err != nil {
		t.Fatal(err)
	}
	settle()
	if !status(3).IsLeader {
		t.Fatal("node 3 did not become leader")
	}
	if err := nodes[3].Propose(t.Context(), 1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		tick(1, 2, 3)
	}
	nw.Isolate(3)
	for i := 0; ; i++ {
		if status(1).IsLeader || status(2).IsLeader {
			return
		}
		if i == 300 {
			t.Fatalf("no new leader among 1 and 2 after %d ticks with leader 3 gone (node 1: %+v, node 2: %+v)", i, status(1), status(2))
		}
		tick(1, 2)
	}
}
