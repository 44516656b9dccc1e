package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/moldau/moldau/broker/metadata"
)

// entityEverywhere reports whether every running broker of tc serves
// value under kind/key (nil value: the key is absent).
func (tc *testCluster) entityEverywhere(kind, key string, value []byte) bool {
	for _, b := range tc.brokers {
		if b == nil {
			continue
		}
		got, ok := b.entities.Get(kind, key)
		if ok != (value != nil) || !bytes.Equal(got, value) {
			return false
		}
	}
	return true
}

// controllerIndex is the index of the node that leads the metadata group,
// as node i knows it (-1: none).
func (tc *testCluster) controllerIndex(i int) int {
	return int(tc.brokers[i].raft.controller()) - 1
}

// TestClusterEntities: an entity change made on a follower (forwarded to
// the controller) is seen by that follower when Apply returns and by every
// broker after; the store keeps the contract in cluster mode; entities
// survive a node restart and a controller change, and every broker's
// metadata snapshot, restored, has them byte for byte.
func TestClusterEntities(t *testing.T) {
	tc := newTestCluster(t, 3)
	ctx := context.Background()
	var ctrl int
	tc.waitFor("a controller", func() bool { ctrl = tc.controllerIndex(0); return ctrl >= 0 })
	follower := (ctrl + 1) % 3
	fb := tc.brokers[follower]
	if _, ok := fb.entities.(raftEntities); !ok {
		t.Fatalf("cluster store is %T", fb.entities)
	}
	v0 := fb.entities.Version()
	if err := fb.entities.Apply(ctx, entityScram, []Entity{{Key: "SCRAM-SHA-512/alice", Value: []byte("cred-1")}}, nil); err != nil {
		t.Fatal(err)
	}
	// Read your writes on the broker that applied it, at once.
	if got, ok := fb.entities.Get(entityScram, "SCRAM-SHA-512/alice"); !ok || string(got) != "cred-1" {
		t.Fatalf("follower right after Apply: %q %v", got, ok)
	}
	if fb.entities.Version() <= v0 {
		t.Fatalf("version %d after %d", fb.entities.Version(), v0)
	}
	tc.waitFor("every broker has alice", func() bool { return tc.entityEverywhere(entityScram, "SCRAM-SHA-512/alice", []byte("cred-1")) })

	// The whole contract, on a follower.
	entityConformance(t, fb.entities)
	want := fb.entities.List(entityQuota)
	tc.waitFor("every broker has the quotas", func() bool {
		for _, b := range tc.brokers {
			if len(b.entities.List(entityQuota)) != len(want) {
				return false
			}
		}
		return true
	})

	// A node restarts: it replays the metadata log and has them again.
	restart := (ctrl + 2) % 3
	tc.stop(restart)
	if err := fb.entities.Apply(ctx, entityACL, []Entity{{Key: "while-down", Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	tc.start(restart)
	tc.waitFor("the restarted node has the entities", func() bool {
		b := tc.brokers[restart]
		got, ok := b.entities.Get(entityScram, "SCRAM-SHA-512/alice")
		w, ok2 := b.entities.Get(entityACL, "while-down")
		return ok && string(got) == "cred-1" && ok2 && string(w) == "1" && len(b.entities.List(entityQuota)) == len(want)
	})

	// The controller goes away: a change made meanwhile on another node
	// commits under the new controller, and the old one sees it when
	// back.
	tc.stop(ctrl)
	other := (ctrl + 1) % 3
	tc.waitFor("a new controller", func() bool {
		c := tc.controllerIndex(other)
		return c >= 0 && c != ctrl
	})
	if err := tc.brokers[other].entities.Apply(ctx, entityToken, []Entity{{Key: "tok-1", Value: []byte("t")}}, []string{}); err != nil {
		t.Fatal(err)
	}
	if err := tc.brokers[other].entities.Apply(ctx, entityScram, nil, []string{"SCRAM-SHA-512/alice"}); err != nil {
		t.Fatal(err)
	}
	tc.start(ctrl)
	tc.waitFor("every broker has the token and lost alice", func() bool {
		return tc.entityEverywhere(entityToken, "tok-1", []byte("t")) && tc.entityEverywhere(entityScram, "SCRAM-SHA-512/alice", nil)
	})

	// Every broker's metadata state at the same applied index is the
	// same snapshot; restored, it serves the same entities.
	var snap []byte
	tc.waitFor("identical metadata snapshots", func() bool {
		snap = tc.brokers[0].raft.view().Snapshot()
		for _, b := range tc.brokers[1:] {
			if !bytes.Equal(b.raft.view().Snapshot(), snap) {
				return false
			}
		}
		return true
	})
	if snap[0] != 4 {
		t.Fatalf("snapshot version %d, want 4 (entities)", snap[0])
	}
	restored := metadata.New()
	if err := restored.Restore(snap); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{entityScram, entityACL, entityQuota, entityToken} {
		got, live := restored.View().Entities().List(kind), tc.brokers[0].entities.List(kind)
		if len(got) != len(live) {
			t.Fatalf("%s: restored %d, live %d", kind, len(got), len(live))
		}
		for i := range got {
			if got[i].Key != live[i].Key || !bytes.Equal(got[i].Value, live[i].Value) {
				t.Fatalf("%s: restored %v, live %v", kind, got[i], live[i])
			}
		}
	}
}

// TestClusterEntitiesControllerCutOff: the controller is cut off without a
// handover; a change made on another node while the others elect a new
// controller (its first forwards go to the old one and are lost, the
// re-forwards carry the same id) is committed once, and the old
// controller has it after the network heals.
func TestClusterEntitiesControllerCutOff(t *testing.T) {
	tc := newTestCluster(t, 3)
	var ctrl int
	tc.waitFor("a controller", func() bool { ctrl = tc.controllerIndex(0); return ctrl >= 0 })
	other := (ctrl + 1) % 3
	tc.nw.Isolate(raftID(int32(ctrl + 1)))
	for i := range 3 {
		key := fmt.Sprintf("User:u%d", i)
		if err := tc.brokers[other].entities.Apply(context.Background(), entityQuota, []Entity{{Key: key, Value: []byte{byte(i)}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if c := tc.controllerIndex(other); c == ctrl {
		t.Fatalf("the cut-off node %d still controls on node %d", ctrl+1, other+1)
	}
	tc.nw.Heal()
	tc.waitFor("every broker has the quotas", func() bool {
		for i := range 3 {
			if !tc.entityEverywhere(entityQuota, fmt.Sprintf("User:u%d", i), []byte{byte(i)}) {
				return false
			}
		}
		return true
	})
	// The old controller's state converged with the others'.
	tc.waitFor("identical snapshots", func() bool {
		s := tc.brokers[0].raft.view().Snapshot()
		return bytes.Equal(s, tc.brokers[1].raft.view().Snapshot()) && bytes.Equal(s, tc.brokers[2].raft.view().Snapshot())
	})
	restored := metadata.New()
	if err := restored.Restore(tc.brokers[ctrl].raft.view().Snapshot()); err != nil {
		t.Fatal(err)
	}
	if n := len(restored.View().Entities().List(entityQuota)); n != 3 {
		t.Fatalf("%d quotas after restore", n)
	}
}
