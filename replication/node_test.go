package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

func TestElectionAndCommit(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		for i := range 5 {
			if err := c.propose(1, 1, fmt.Sprintf("v%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"v0", "v1", "v2", "v3", "v4"}
		// Propose returns when applied on the leader; followers learn the
		// commit index with the next message (a heartbeat or append).
		if got := c.values(1, 1); !slices.Equal(got, want) {
			t.Fatalf("leader applied %v, want %v", got, want)
		}
		c.tickUntil("followers applied", 5, func() bool {
			return slices.Equal(c.values(2, 1), want) && slices.Equal(c.values(3, 1), want)
		})

		// A follower refuses at once and names the leader.
		err := c.propose(2, 1, "x")
		var nl *NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.Leader != 1 {
			t.Fatalf("propose on follower: %v, want NotLeaderError with leader 1", err)
		}
		if err := c.nodes[1].Propose(context.Background(), 1, nil); !errors.Is(err, ErrEmptyProposal) {
			t.Fatalf("empty proposal: %v", err)
		}
		if err := c.nodes[1].Propose(context.Background(), 99, []byte("x")); !errors.Is(err, ErrUnknownGroup) {
			t.Fatalf("unknown group: %v", err)
		}
	})
}

func TestCommitNeedsQuorum(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)

		// One follower away: two of three still commit.
		c.net.Isolate(3)
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
		// Both followers away: the entry is appended but not committed.
		c.net.Isolate(2)
		before := c.status(1, 1)
		done := make(chan error, 1)
		go func() { done <- c.propose(1, 1, "b") }()
		c.waitFor("b appended on the leader", func() bool { return c.status(1, 1).LastIndex == before.LastIndex+1 })
		c.settle()
		if st := c.status(1, 1); st.Commit != before.Commit {
			t.Fatalf("commit moved from %d to %d without a quorum", before.Commit, st.Commit)
		}
		select {
		case err := <-done:
			t.Fatalf("propose returned %v without a quorum", err)
		default:
		}
		if got := c.values(1, 1); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("leader applied %v without a quorum", got)
		}

		// Back: the leader's heartbeat finds the followers, they catch up, b
		// commits. (No CheckQuorum step-down: the leader was not ticked while
		// alone.)
		c.net.Heal()
		c.tickUntil("b committed", 20, func() bool {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("propose b: %v", err)
				}
				done <- nil
				return true
			default:
				return false
			}
		}, 1)
		c.tickUntil("all applied", 10, func() bool {
			for _, id := range c.ids {
				if !slices.Equal(c.values(id, 1), []string{"a", "b"}) {
					return false
				}
			}
			return true
		})
	})
}

func TestLeaderFailover(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
		oldTerm := c.status(1, 1).Term

		c.net.Isolate(1)
		// The others elect a new leader once their election timeout passes
		// (PreVote: they must have stopped hearing from 1 first).
		c.tickUntil("new leader among 2 and 3", 100, func() bool { return c.leader(1, 2, 3) != 0 }, 2, 3)
		nl := c.leader(1, 2, 3)
		if st := c.status(nl, 1); st.Term <= oldTerm {
			t.Fatalf("new leader %d in term %d, old term %d", nl, st.Term, oldTerm)
		}
		if err := c.propose(nl, 1, "b"); err != nil {
			t.Fatal(err)
		}
		// The cut-off old leader steps down on its own (CheckQuorum), so it
		// stops accepting writes.
		c.tickUntil("old leader steps down", 100, func() bool { return !c.status(1, 1).IsLeader }, 1)
		if err := c.propose(1, 1, "x"); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("propose on the deposed leader: %v", err)
		}
		// Healed, it follows the new leader and catches up.
		c.net.Heal()
		c.tickUntil("old leader caught up", 50, func() bool {
			return slices.Equal(c.values(1, 1), []string{"a", "b"}) && c.status(1, 1).Leader == nl
		})
	})
}

// An isolated leader's uncommitted entries are replaced by the new
// leader's when it rejoins, and its proposer learns that they were dropped.
func TestDivergentTailTruncatedOnHeal(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
		c.tickUntil("a everywhere", 5, func() bool { return len(c.values(3, 1)) == 1 && len(c.values(2, 1)) == 1 })

		c.net.Isolate(1)
		lost := make(chan error, 2)
		for _, v := range []string{"lost1", "lost2"} {
			before := c.status(1, 1).LastIndex
			go func() { lost <- c.propose(1, 1, v) }()
			c.waitFor("appended on the old leader", func() bool { return c.status(1, 1).LastIndex == before+1 })
		}
		c.tickUntil("new leader", 100, func() bool { return c.leader(1, 2, 3) != 0 }, 2, 3)
		nl := c.leader(1, 2, 3)
		if err := c.propose(nl, 1, "b"); err != nil {
			t.Fatal(err)
		}

		c.net.Heal()
		for range 2 {
			var err error
			c.tickUntil("old leader's proposals resolved", 100, func() bool {
				select {
				case err = <-lost:
					return true
				default:
					return false
				}
			})
			if !errors.Is(err, ErrDropped) {
				t.Fatalf("proposal on the partitioned leader: %v, want ErrDropped", err)
			}
		}
		c.tickUntil("logs converge", 50, func() bool {
			for _, id := range c.ids {
				if !slices.Equal(c.values(id, 1), []string{"a", "b"}) {
					return false
				}
			}
			return true
		})
		// The old leader's storage holds the new leader's entries at the
		// indexes its own entries had.
		l1, _ := c.storages[[2]uint64{1, 1}].LastIndex()
		ln, _ := c.storages[[2]uint64{nl, 1}].LastIndex()
		for i := uint64(1); i <= max(l1, ln); i++ {
			t1, err1 := c.storages[[2]uint64{1, 1}].Term(i)
			tn, err2 := c.storages[[2]uint64{nl, 1}].Term(i)
			if err1 != nil || err2 != nil || t1 != tn {
				t.Fatalf("index %d: term %d (%v) on node 1, %d (%v) on the leader", i, t1, err1, tn, err2)
			}
		}
	})
}

func TestLaggingFollowerCatchesUp(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		c.net.Isolate(3)
		var want []string
		for i := range 50 {
			v := fmt.Sprintf("v%d", i)
			want = append(want, v)
			if err := c.propose(1, 1, v); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.values(3, 1); len(got) != 0 {
			t.Fatalf("isolated follower applied %v", got)
		}
		c.net.Heal()
		c.tickUntil("follower caught up", 50, func() bool { return slices.Equal(c.values(3, 1), want) }, 1)
	})
}

// A follower behind the leader's first index gets a snapshot, restores it
// and then follows the log.
func TestLaggingFollowerCatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	c.net.Isolate(3)
	for i := range 20 {
		if err := c.propose(1, 1, fmt.Sprintf("v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The leader compacts its log up to what it applied (retention).
	ls := c.mem(1, 1)
	applied, data := c.sms[[2]uint64{1, 1}].snapshot()
	if _, err := ls.CreateSnapshot(applied, &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, data); err != nil {
		t.Fatal(err)
	}
	if err := ls.Compact(applied); err != nil {
		t.Fatal(err)
	}
	if err := c.propose(1, 1, "after"); err != nil {
		t.Fatal(err)
	}
	c.net.Heal()
	c.tickUntil("follower restored", 50, func() bool { return len(c.values(3, 1)) == 21 }, 1)
	if got := c.values(3, 1); got[0] != "v0" || got[20] != "after" {
		t.Fatalf("follower has %v", got)
	}
	if first, _ := c.storages[[2]uint64{3, 1}].FirstIndex(); first <= 1 {
		t.Fatalf("follower's first index %d: it was not installed from a snapshot", first)
	}
}

// A storage error stops the node: it neither acknowledges nor applies
// anything after it, and its proposers get the error.
func TestStorageErrorStopsNode(t *testing.T) {
	boom := errors.New("disk on fire")
	t.Run("follower", func(t *testing.T) {
		c := newCluster(t, 3, 1)
		c.elect(1, 1)
		c.mem(2, 1).FailSaves(boom)
		if err := c.propose(1, 1, "a"); err != nil { // 1 and 3 are a quorum
			t.Fatal(err)
		}
		c.waitFor("node 2 stopped", func() bool {
			select {
			case <-c.nodes[2].Done():
				return true
			default:
				return false
			}
		})
		if err := c.nodes[2].Err(); !errors.Is(err, boom) {
			t.Fatalf("node 2 Err %v, want %v", err, boom)
		}
		if got := c.values(2, 1); len(got) != 0 {
			t.Fatalf("failed node applied %v", got)
		}
		if _, err := c.nodes[2].Status(1); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[2].Propose(context.Background(), 1, []byte("x")); !errors.Is(err, ErrStopped) {
			t.Fatalf("propose on a stopped node: %v", err)
		}
	})
	t.Run("leader", func(t *testing.T) {
		c := newCluster(t, 3, 1)
		c.elect(1, 1)
		followerLast := c.status(2, 1).LastIndex
		c.mem(1, 1).FailSaves(boom)
		err := c.propose(1, 1, "a")
		if !errors.Is(err, ErrStopped) || !errors.Is(err, boom) {
			t.Fatalf("propose with a failing leader storage: %v, want ErrStopped wrapping %v", err, boom)
		}
		// The leader failed before sending: nobody got the entry.
		c.settle()
		for _, id := range []uint64{2, 3} {
			if st := c.status(id, 1); st.LastIndex != followerLast || len(c.values(id, 1)) != 0 {
				t.Fatalf("node %d has last index %d, values %v after the leader's storage failed", id, st.LastIndex, c.values(id, 1))
			}
		}
		if err := c.nodes[1].Stop(); !errors.Is(err, boom) {
			t.Fatalf("Stop returned %v, want the cause", err)
		}
	})
	t.Run("apply", func(t *testing.T) {
		c := newCluster(t, 3, 1)
		c.elect(1, 1)
		c.sms[[2]uint64{1, 1}].mu.Lock()
		c.sms[[2]uint64{1, 1}].failWith = boom
		c.sms[[2]uint64{1, 1}].mu.Unlock()
		if err := c.propose(1, 1, "a"); !errors.Is(err, boom) {
			t.Fatalf("propose with a failing state machine: %v", err)
		}
		if c.nodes[1].Err() == nil {
			t.Fatal("node still running after an apply error")
		}
	})
}

// Many groups share one sender per node pair: every message between two
// nodes goes over one link, in fewer frames than messages.
func TestManyGroupsShareOneLinkPerPair(t *testing.T) {
	const groups = 60
	c := newCluster(t, 3, groups)
	for _, g := range c.groups {
		c.elect(g%3+1, g)
	}
	var wg sync.WaitGroup
	errs := make(chan error, groups*3)
	for _, g := range c.groups {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.propose(g%3+1, g, fmt.Sprintf("g%d-%d", g, i))
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("every replica applied", 10, func() bool {
		for _, g := range c.groups {
			for _, id := range c.ids {
				if len(c.values(id, g)) != 3 {
					return false
				}
			}
		}
		return true
	})
	links := c.net.Links()
	if len(links) != 6 {
		t.Fatalf("links used: %v, want the 6 directed links of 3 nodes", links)
	}
	var frames, msgs int
	for _, l := range links {
		f, m := c.net.Traffic(l[0], l[1])
		frames += f
		msgs += m
	}
	t.Logf("%d groups: %d messages in %d frames", groups, msgs, frames)
	if frames >= msgs {
		t.Fatalf("%d frames for %d messages: no batching across groups", frames, msgs)
	}
	// One tick's heartbeats from the 20 groups node 1 leads go out at the
	// end of the scheduling round: one frame per worker finishing the
	// round at most (2 workers), not one per group.
	f0, m0 := c.net.Traffic(1, 2)
	c.nodes[1].Tick()
	c.settle()
	f1, m1 := c.net.Traffic(1, 2)
	t.Logf("one tick: %d messages from node 1 to 2 in %d frames", m1-m0, f1-f0)
	if m1-m0 < groups/3 || f1-f0 > 3 {
		t.Fatalf("one tick: %d heartbeats from node 1 to 2 in %d frames", m1-m0, f1-f0)
	}
}

// A node restarted on its storage keeps its term and vote and rejoins.
func TestRestartKeepsHardState(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
		c.tickUntil("a on 2", 5, func() bool { return len(c.values(2, 1)) == 1 })
		term := c.status(2, 1).Term
		if err := c.nodes[2].Stop(); err != nil {
			t.Fatal(err)
		}
		c.net.Detach(2)
		c.start(2)
		if st := c.status(2, 1); st.Term != term || st.Applied != 2 {
			t.Fatalf("restarted node: term %d applied %d, want term %d applied 2", st.Term, st.Applied, term)
		}
		if err := c.propose(1, 1, "b"); err != nil {
			t.Fatal(err)
		}
		c.tickUntil("b on restarted node", 10, func() bool { return slices.Equal(c.values(2, 1), []string{"a", "b"}) }, 1)
	})
}

// Held and reordered messages do not break agreement.
func TestDelayAndReorder(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		base := c.status(1, 1).LastIndex
		c.net.Hold(1, 2)
		c.net.Hold(1, 3)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for i := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.propose(1, 1, fmt.Sprintf("v%d", i))
			}()
		}
		c.waitFor("5 appended on the leader", func() bool { return c.status(1, 1).LastIndex == base+5 })
		c.settle()
		c.net.Release(1, 2, true)
		c.net.Release(1, 3, true)
		c.tickUntil("all agree", 50, func() bool {
			a := c.values(1, 1)
			return len(a) == 5 && slices.Equal(a, c.values(2, 1)) && slices.Equal(a, c.values(3, 1))
		}, 1)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// ProposeAsync reports the leader's append (acks=1) before the commit
// (acks=all), and the commit only with a quorum.
func TestProposeAsyncAppendedThenCommitted(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		c.net.Isolate(2)
		c.net.Isolate(3)
		p, err := c.nodes[1].ProposeAsync(1, c.data("a"))
		if err != nil {
			t.Fatal(err)
		}
		c.waitFor("appended on the leader", func() bool {
			select {
			case <-p.Appended():
				return true
			default:
				return false
			}
		})
		if idx := p.Index(); idx != c.status(1, 1).LastIndex {
			t.Fatalf("proposal index %d, leader's last index %d", idx, c.status(1, 1).LastIndex)
		}
		c.settle()
		select {
		case <-p.Done():
			t.Fatalf("done without a quorum: %v", p.Err())
		default:
		}
		c.net.Heal()
		c.tickUntil("committed", 20, func() bool {
			select {
			case <-p.Done():
				return true
			default:
				return false
			}
		}, 1)
		if err := p.Err(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRemoveGroup(t *testing.T) {
	c := newCluster(t, 3, 2)
	c.elect(1, 1)
	c.elect(1, 2)
	c.net.Isolate(2)
	c.net.Isolate(3)
	p, err := c.nodes[1].ProposeAsync(2, []byte("never"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[1].RemoveGroup(2); err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("pending proposal of a removed group: %v", err)
	}
	if err := c.nodes[1].Propose(context.Background(), 2, []byte("x")); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("propose to a removed group: %v", err)
	}
	if err := c.nodes[1].RemoveGroup(2); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("second remove: %v", err)
	}
	c.net.Heal()
	// The other group is unaffected.
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
}

// With the node's own ticker (no manual ticks) a leader is elected and
// serves.
func TestTickerElectsLeader(t *testing.T) {
	nw := NewLocalNetwork()
	var nodes []*Node
	for id := uint64(1); id <= 3; id++ {
		n, err := NewNode(Config{ID: id, Transport: nw.Endpoint(id), TickInterval: 2 * time.Millisecond, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Stop() })
		if err := n.AddGroup(GroupConfig{ID: 7, Storage: NewMemStorage(1, 2, 3), StateMachine: &testSM{}}); err != nil {
			t.Fatal(err)
		}
		nw.Attach(id, n)
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leader *Node
		for _, n := range nodes {
			if st, _ := n.Status(7); st.IsLeader {
				leader = n
			}
		}
		if leader != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := leader.Propose(ctx, 7, []byte("x"))
			cancel()
			if err == nil {
				return
			}
			if !errors.Is(err, ErrDropped) && !errors.Is(err, ErrNotLeader) {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader served within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A lossy network (a seeded third of all messages dropped) delays but does
// not break agreement: ticks retransmit.
func TestLossyNetworkConverges(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 3)
		for _, g := range c.groups {
			c.elect(g, g)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		c.net.SetDropFilter(func(from, to uint64, env Envelope) bool { return rng.IntN(3) == 0 })
		var wg sync.WaitGroup
		for _, g := range c.groups {
			for i := range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Errors are possible (a leader change under loss);
					// what matters is that the replicas agree.
					_ = c.propose(g, g, fmt.Sprintf("g%d-%d", g, i))
				}()
			}
		}
		c.tickUntil("proposals resolved", 400, func() bool {
			for _, g := range c.groups {
				for _, id := range c.ids {
					if st := c.status(id, g); st.Applied < st.LastIndex {
						return false
					}
				}
			}
			for _, g := range c.groups {
				if len(c.values(g, g)) < 5 && c.leader(g, c.ids...) == g {
					return false
				}
			}
			return true
		})
		c.net.Heal()
		c.tickUntil("replicas agree", 100, func() bool {
			for _, g := range c.groups {
				a := c.values(1, g)
				if !slices.Equal(a, c.values(2, g)) || !slices.Equal(a, c.values(3, g)) {
					return false
				}
			}
			return true
		})
		wg.Wait()
	})
}

func TestTransferLeadership(t *testing.T) {
	eachStorage(t, func(t *testing.T, kind string) {
		c := newClusterKind(t, kind, 3, 1)
		c.elect(1, 1)
		if err := c.propose(1, 1, "a"); err != nil {
			t.Fatal(err)
		}
		if err := c.nodes[2].TransferLeadership(1, 3); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("transfer from a follower: %v", err)
		}
		if err := c.nodes[1].TransferLeadership(1, 2); err != nil {
			t.Fatal(err)
		}
		// The transferee is caught up once it has "a": it is told to campaign
		// at once (no election timeout, no ticks).
		c.tickUntil("node 2 leads", 10, func() bool { return c.status(2, 1).IsLeader }, 1)
		if err := c.propose(2, 1, "b"); err != nil {
			t.Fatal(err)
		}
		var nl *NotLeaderError
		c.waitFor("node 1 knows the new leader", func() bool {
			return errors.As(c.propose(1, 1, "x"), &nl) && nl.Leader == 2
		})
	})
}

// Replicas reports, on the leader, when each replica last had the whole
// log: the basis of the ISR (replica.lag.time.max.ms).
func TestReplicasCaughtUp(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.clock.advance(time.Hour)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	t0 := c.clock.now()
	c.net.Isolate(3)
	c.clock.advance(time.Minute)
	if err := c.propose(1, 1, "b"); err != nil {
		t.Fatal(err)
	}
	c.settle()
	reps, err := c.nodes[1].Replicas(1)
	if err != nil {
		t.Fatal(err)
	}
	now := c.clock.now()
	if len(reps) != 3 || !reps[0].CaughtUp.Equal(now) || !reps[1].CaughtUp.Equal(now) || !reps[2].CaughtUp.Equal(t0) {
		t.Fatalf("replicas %+v: want 1 and 2 caught up now (%v), 3 last at %v", reps, now, t0)
	}
	if reps[2].Match >= reps[1].Match {
		t.Fatalf("cut-off replica's match %d not behind %d", reps[2].Match, reps[1].Match)
	}
	if _, err := c.nodes[2].Replicas(1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Replicas on a follower: %v", err)
	}
}

// Membership changes through Raft: a new node joins as a learner, catches
// up, is promoted to voter, and the old leader is removed (it steps down;
// the others elect a leader among themselves).
func TestConfChangeAddAndRemove(t *testing.T) {
	c := newClusterWith(t, 4, 1, false, 1, 2, 3)
	c.elect(1, 1)
	if err := c.propose(1, 1, "a"); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	add := func(typ raftpb.ConfChangeType, id uint64) error {
		return c.nodes[1].ProposeConfChange(ctx, 1, &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(id)}}})
	}
	if err := add(raftpb.ConfChangeAddLearnerNode, 4); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("learner caught up", 20, func() bool { return slices.Equal(c.values(4, 1), []string{"a"}) }, 1)
	reps, err := c.nodes[1].Replicas(1)
	if err != nil || len(reps) != 4 || !reps[3].Learner {
		t.Fatalf("replicas %+v (%v): want node 4 as a learner", reps, err)
	}
	if err := add(raftpb.ConfChangeAddNode, 4); err != nil {
		t.Fatal(err)
	}
	if err := add(raftpb.ConfChangeRemoveNode, 1); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 1 stepped down", 20, func() bool { return !c.status(1, 1).IsLeader }, 1)
	c.tickUntil("a leader among 2, 3, 4", 100, func() bool { return c.leader(1, 2, 3, 4) != 0 }, 2, 3, 4)
	nl := c.leader(1, 2, 3, 4)
	if err := c.propose(nl, 1, "b"); err != nil {
		t.Fatal(err)
	}
	reps, err = c.nodes[nl].Replicas(1)
	if err != nil || len(reps) != 3 || reps[0].ID != 2 || reps[2].ID != 4 || reps[2].Learner {
		t.Fatalf("replicas after the change %+v (%v): want voters 2, 3, 4", reps, err)
	}
	c.tickUntil("voters applied b", 20, func() bool {
		for _, id := range []uint64{2, 3, 4} {
			if !slices.Equal(c.values(id, 1), []string{"a", "b"}) {
				return false
			}
		}
		return true
	}, nl)
}

// lockingSM takes mu in Apply, as the broker's partition takes its append
// lock to apply.
type lockingSM struct {
	testSM
	mu *sync.Mutex
}

func (s *lockingSM) Apply(entries []*raftpb.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.testSM.Apply(entries)
}

// A proposer may hold the lock its StateMachine's Apply takes (the broker
// proposes under the partition's append lock, to order its checks, and
// applies under it): proposing never waits for the group's Ready round,
// so there is no lock-order deadlock. Leader answers without any lock.
func TestProposeUnderStateMachineLock(t *testing.T) {
	nw := NewLocalNetwork()
	var appendMu sync.Mutex
	var nodes []*Node
	for id := uint64(1); id <= 3; id++ {
		n, err := NewNode(Config{ID: id, Transport: nw.Endpoint(id), Workers: 2, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Stop() })
		sm := &lockingSM{mu: &appendMu}
		if id != 1 {
			sm.mu = new(sync.Mutex)
		}
		if err := n.AddGroup(GroupConfig{ID: 1, Storage: NewMemStorage(1, 2, 3), StateMachine: sm}); err != nil {
			t.Fatal(err)
		}
		nw.Attach(id, n)
		nodes = append(nodes, n)
	}
	if err := nodes[0].Campaign(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, leading, _ := nodes[0].Leader(1); leading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 1 did not become leader")
		}
		time.Sleep(100 * time.Microsecond)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				appendMu.Lock() // as partition.appendBatch holds appendMu
				p, err := nodes[0].ProposeAsync(1, []byte(fmt.Sprintf("w%d-%d", w, i)))
				appendMu.Unlock()
				if err != nil {
					errs <- err
					return
				}
				select {
				case <-p.Done():
					if err := p.Err(); err != nil {
						errs <- err
						return
					}
				case <-time.After(10 * time.Second):
					errs <- errors.New("proposal not applied within 10 s: deadlock?")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	leader, term, leading, err := nodes[0].Leader(1)
	if err != nil || leader != 1 || !leading || term == 0 {
		t.Fatalf("Leader: %d term %d leading %v (%v)", leader, term, leading, err)
	}
	if leader, _, leading, _ := nodes[1].Leader(1); leader != 1 || leading {
		t.Fatalf("follower's Leader: %d, leading %v", leader, leading)
	}
}

// observingSM records LeaderChanged calls.
type observingSM struct {
	testSM
	mu      sync.Mutex
	changes [][2]uint64 // (leader, term)
}

func (s *observingSM) LeaderChanged(leader, term uint64) {
	s.mu.Lock()
	s.changes = append(s.changes, [2]uint64{leader, term})
	s.mu.Unlock()
}

func (s *observingSM) seen() [][2]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

// A StateMachine that is a LeadershipObserver hears each new leader with
// its term (the broker's leader epoch), on every replica.
func TestLeadershipObserver(t *testing.T) {
	c := newCluster(t, 3, 1)
	obs := map[uint64]*observingSM{}
	for _, id := range c.ids {
		if err := c.nodes[id].Stop(); err != nil {
			t.Fatal(err)
		}
		c.net.Detach(id)
	}
	for _, id := range c.ids {
		obs[id] = &observingSM{}
		n, err := NewNode(Config{ID: id, Transport: c.net.Endpoint(id), Workers: 2, Logger: quietLogger})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.AddGroup(GroupConfig{ID: 1, Storage: NewMemStorage(1, 2, 3), StateMachine: obs[id]}); err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = n
		c.net.Attach(id, n)
	}
	c.elect(1, 1)
	t1 := c.status(1, 1).Term
	if err := c.nodes[1].TransferLeadership(1, 2); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 2 leads", 10, func() bool { return c.status(2, 1).IsLeader }, 1)
	t2 := c.status(2, 1).Term
	c.tickUntil("everyone saw both leaders", 10, func() bool {
		for _, id := range c.ids {
			if got := obs[id].seen(); len(got) < 2 || got[len(got)-1] != [2]uint64{2, t2} {
				return false
			}
		}
		return true
	}, 2)
	for _, id := range c.ids {
		got := obs[id].seen()
		if !slices.Contains(got, [2]uint64{1, t1}) {
			t.Fatalf("node %d saw %v, want (1, %d) then (2, %d)", id, got, t1, t2)
		}
	}
}

// WaitReplicated: min.insync.replicas above the majority (3 of 3) waits
// for the third replica after the commit.
func TestWaitReplicated(t *testing.T) {
	c := newCluster(t, 3, 1)
	c.elect(1, 1)
	c.net.Isolate(3)
	p, err := c.nodes[1].ProposeAsync(1, c.data("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); err != nil { // committed by 1 and 2
		t.Fatal(err)
	}
	idx := p.Index()
	if err := c.nodes[1].WaitReplicated(t.Context(), 1, idx, 2); err != nil {
		t.Fatalf("2 replicas: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.nodes[1].WaitReplicated(t.Context(), 1, idx, 3) }()
	c.settle()
	select {
	case err := <-done:
		t.Fatalf("3 replicas with one cut off: %v", err)
	default:
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.nodes[1].WaitReplicated(ctx, 1, idx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if err := c.nodes[2].WaitReplicated(t.Context(), 1, idx, 2); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("on a follower: %v", err)
	}
	c.net.Heal()
	c.tickUntil("third replica has it", 20, func() bool {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
			return false
		}
	}, 1)
}
