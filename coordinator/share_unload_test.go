package coordinator

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestShareGroupUnloadAndReload: a share group moves with its
// __consumer_offsets partition: unloaded (leadership lost), its timers stop
// and it writes nothing more; loaded again, it comes back from its records
// with its member, epochs, target and initialized partitions.
func TestShareGroupUnloadAndReload(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	l := newMemLog()
	c := New(Config{Partitions: 1, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute, MaxGroupSize: 10},
		l, clock, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
	defer c.Close()
	tid := [16]byte{7}
	c.SetTopics(func() []TopicMeta { return []TopicMeta{{ID: tid, Name: "t", Partitions: 2}} }, 45*time.Second, 5*time.Second)
	e := &scriptEnv{t: t, topics: []TopicMeta{{ID: tid, Name: "t", Partitions: 2}}}
	c.SetShareStates(shareStubFor(e))
	if err := c.Load(0); err != nil {
		t.Fatal(err)
	}
	hb := c.ShareHeartbeat(ShareHeartbeatRequest{Group: "g", MemberID: "m", SubscribedTopics: []string{"t"}})
	if hb.Err != nil {
		t.Fatalf("join: %+v", hb)
	}
	c.WaitIdle()               // initialization
	clock.Advance(time.Second) // share.assignment.interval.ms
	hb = c.ShareHeartbeat(ShareHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: hb.MemberEpoch})
	if hb.Err != nil || len(hb.Assignment[tid]) != 2 || hb.MemberEpoch != 3 {
		t.Fatalf("heartbeat: %+v", hb)
	}
	c.WaitIdle()
	before := len(l.parts[0])
	c.Unload(0)
	for deadline := time.Now().Add(10 * time.Second); c.getGroup("g") != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("share group kept in memory after Unload")
		}
	}
	clock.Advance(time.Minute) // past the member's session
	c.WaitIdle()
	if n := len(l.parts[0]); n != before {
		t.Fatalf("the unloaded share group appended %d records", n-before)
	}
	if r := c.ShareHeartbeat(ShareHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 3}); r.Err == nil {
		t.Fatal("heartbeat served while unloaded")
	}
	if err := c.Load(0); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeShareGroup("g")
	if err != nil || len(d.Members) != 1 || d.Members[0].MemberEpoch != 3 || len(d.Members[0].Assignment[tid]) != 2 || d.GroupEpoch != 3 {
		t.Fatalf("after reload: %+v %v", d, err)
	}
	// The member carries on with its epoch; nothing is initialized again.
	hb = c.ShareHeartbeat(ShareHeartbeatRequest{Group: "g", MemberID: "m", MemberEpoch: 3})
	c.WaitIdle()
	if hb.Err != nil || hb.MemberEpoch != 3 || hb.Assignment != nil {
		t.Fatalf("heartbeat after reload: %+v", hb)
	}
	stub := shareStubFor(e)
	stub.mu.Lock()
	calls := len(stub.calls)
	stub.mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d Initialize calls, want 2 (one per partition, before the unload only)", calls)
	}
	// Its session runs again: it expires and the group turns Empty.
	clock.Advance(46 * time.Second)
	c.WaitIdle()
	if d, _ := c.DescribeShareGroup("g"); d.State != "Empty" {
		t.Fatalf("after the session timeout: %+v", d)
	}
}
