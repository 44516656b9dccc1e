//go:build review

package replication

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// Review (not fixed): a replica added to a group whose log start has moved
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
