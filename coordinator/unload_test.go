package coordinator

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestUnloadDropsGroups: a node that stops leading a __consumer_offsets
// partition drops that partition's groups (Kafka's onResignation). Before,
// their timers ran on: a KIP-848 member's session expired on the old
// leader, which rebalanced the stale group and appended what it decided,
// and would have written it into the log had it led the partition again.
func TestUnloadDropsGroups(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	l := newMemLog()
	c := New(Config{Partitions: 1, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute, MaxGroupSize: 10},
		l, clock, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
	c.SetTopics(func() []TopicMeta { return []TopicMeta{{Name: "t", Partitions: 2}} }, 45*time.Second, 5*time.Second)
	if err := c.Load(0); err != nil {
		t.Fatal(err)
	}
	hb := c.ConsumerHeartbeat(ConsumerHeartbeatRequest{Group: "g", MemberEpoch: 0, RebalanceTimeout: time.Minute,
		SubscribedTopics: []string{"t"}, Owned: Assignment{}})
	if hb.Err != nil || hb.MemberID == "" {
		t.Fatalf("join: %+v", hb)
	}
	before := len(l.parts[0])
	c.Unload(0)
	// The unload's group drop runs on its own goroutine.
	for deadline := time.Now().Add(10 * time.Second); c.getGroup("g") != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("group kept in memory after Unload")
		}
	}
	clock.Advance(time.Minute) // past the member's 45 s session
	if n := len(l.parts[0]); n != before {
		t.Fatalf("the unloaded group appended %d records after its partition was unloaded", n-before)
	}
	// Loaded again (leadership came back): the group is rebuilt from the
	// log, member included, with a fresh session.
	if err := c.Load(0); err != nil {
		t.Fatal(err)
	}
	g := c.getGroup("g")
	if g == nil || g.consumer == nil || g.consumer.members[hb.MemberID] == nil {
		t.Fatal("the reloaded group lost its member")
	}
	clock.Advance(46 * time.Second)
	c.inflight.Wait()
	g.mu.Lock()
	n := len(g.consumer.members)
	g.mu.Unlock()
	if n != 0 {
		t.Fatalf("the reloaded member's session never expired: %d members", n)
	}
}
