package replication

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// A replica added to a group whose log start has moved
// (CompactTo: any partition under retention) never catches up. The leader
// probes the new learner down to index 1, below its first index, and sends
// a snapshot (LogStorage.Snapshot) whose ConfState is the configuration at
// the log start — from before the learner was added. etcd raft's restore
// (raft.go, "attempted to restore snapshot but it is not in the
// ConfState") ignores a snapshot whose configuration does not contain the
// recipient, so the leader sends it again and again. Reassignment, add-node
// and replacing a failed broker all take this path.
//
// Run with: go test -tags review -race -count=1 ./replication/ -run TestReviewNewReplicaAfterCompaction
func TestReviewNewReplicaAfterCompaction(t *testing.T) {
	c := newClusterOpts(t, 4, 1, clusterOpts{kind: "log", sync: true, voters: []uint64{1, 2, 3}})
	c.elect(1, 1)
	for i := range 10 {
		if err := c.propose(1, 1, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("all applied", 20, func() bool {
		return c.status(2, 1).Applied == 11 && c.status(3, 1).Applied == 11
	}, 1, 2, 3)
	for _, id := range []uint64{1, 2, 3} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset()) // as the broker's apply does
		if err := c.storages[[2]uint64{id, 1}].(*LogStorage).CompactTo(8); err != nil {
			t.Fatal(err)
		}
	}
	cc := &raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(4))}}}
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, cc); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("new learner 4 installed the snapshot and caught up", 60, func() bool {
		return c.status(4, 1).Applied >= 12
	}, 1, 2, 3, 4)
}

// The same with a joint-consensus change (explicit: entered, left later)
// as the one adding the replica: the snapshot's configuration is the joint
// one, and the log then replays the EnterJoint entry, which raft refuses
// on a configuration that is already joint (panic) unless the group skips
// the conf changes the snapshot's configuration already holds — also after
// the new replica restarts before its high watermark reaches the change.
// Leaving the joint configuration afterwards is applied normally.
func TestNewReplicaJointAfterCompaction(t *testing.T) {
	c := newClusterOpts(t, 4, 1, clusterOpts{kind: "log", sync: true, voters: []uint64{1, 2, 3}})
	c.elect(1, 1)
	for i := range 10 {
		if err := c.propose(1, 1, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("all applied", 20, func() bool {
		return c.status(2, 1).Applied == 11 && c.status(3, 1).Applied == 11
	}, 1, 2, 3)
	for _, id := range []uint64{1, 2, 3} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset())
		if err := c.storages[[2]uint64{id, 1}].(*LogStorage).CompactTo(8); err != nil {
			t.Fatal(err)
		}
	}
	enter := &raftpb.ConfChangeV2{
		Transition: raftpb.ConfChangeTransitionJointExplicit.Enum(),
		Changes:    []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: new(uint64(4))}},
	}
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, enter); err != nil { // index 12
		t.Fatal(err)
	}
	if err := c.propose(1, 1, "x"); err != nil { // 13
		t.Fatal(err)
	}
	c.tickUntil("replica 4 applied past the joint change", 60, func() bool {
		return c.status(4, 1).Applied >= 13
	}, 1, 2, 3, 4)
	if ci := c.storages[[2]uint64{4, 1}].(*LogStorage).ConfIndex(); ci != 12 {
		t.Fatalf("replica 4's anchor conf index %d, want 12 (the joint change)", ci)
	}

	// Restart 4 with its high watermark below the joint change: the log
	// replays it over the joint configuration InitialState gives.
	// (c.reopen starts the state machine at 0; this log starts at 9.)
	_ = c.nodes[4].Stop()
	c.net.Detach(4)
	_ = c.logs[[2]uint64{4, 1}].Close()
	st4 := c.newStorage(4, 1, nil).(*LogStorage)
	c.storages[[2]uint64{4, 1}] = st4
	c.sms[[2]uint64{4, 1}] = &testSM{applied: st4.AppliedIndex()}
	c.start(4)
	if st := c.status(4, 1); st.Applied > 11 {
		t.Fatalf("restarted replica applied %d, want the test to replay the conf change at 12", st.Applied)
	}
	if err := c.nodes[1].ProposeConfChange(t.Context(), 1, &raftpb.ConfChangeV2{}); err != nil { // leave: 14
		t.Fatal(err)
	}
	if err := c.propose(1, 1, "y"); err != nil { // 15
		t.Fatal(err)
	}
	c.tickUntil("replica 4 applied the leave and after it", 60, func() bool {
		return c.status(4, 1).Applied >= 15
	}, 1, 2, 3, 4)
	if v := c.values(4, 1); len(v) == 0 || v[len(v)-1] != "y" {
		t.Fatalf("replica 4's values end %v, want y", v)
	}
	l4 := c.logs[[2]uint64{4, 1}]
	l4.SetHighWatermark(l4.EndOffset()) // as the broker's apply does
	_, cs, err := c.storages[[2]uint64{4, 1}].InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.VotersOutgoing) != 0 || !slices.Equal(cs.Voters, []uint64{1, 2, 3, 4}) {
		t.Fatalf("replica 4's configuration after the leave: %v", cs)
	}
}

// An anchor file of version 1 (no conf index) still reads: its
// configuration is the one at the log start.
func TestAnchorVersion1(t *testing.T) {
	b := append([]byte(anchorMagic), 1, 1)
	b = binary.BigEndian.AppendUint64(b, 51) // first
	b = binary.BigEndian.AppendUint64(b, 3)  // term before it
	b = binary.BigEndian.AppendUint64(b, 100)
	b = append(b, 0)
	b = appendConfState(b, &raftpb.ConfState{Voters: []uint64{1, 2}})
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	as, confs, err := decodeAnchors(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || len(confs) != 0 || as[0].first != 51 || as[0].confIndex != 50 || as[0].logStart != 100 || !slices.Equal(as[0].cs.Voters, []uint64{1, 2}) {
		t.Fatalf("decoded %+v %v", as, confs)
	}
	// Written back as version 2, it reads the same.
	as2, _, err := decodeAnchors(encodeAnchors(as, nil))
	if err != nil || as2[0].confIndex != 50 || as2[0].first != 51 {
		t.Fatalf("round trip: %+v %v", as2, err)
	}
}
