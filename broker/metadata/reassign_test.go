package metadata

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// reassignState is four registered brokers and topic t (id 1) with two
// partitions on [1 2 3] and [2 3 4].
func reassignState(t *testing.T) *State {
	t.Helper()
	st := New()
	var idx uint64
	apply := func(r Record) {
		t.Helper()
		idx++
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if res := st.Apply(idx, b); res.Err != nil {
			t.Fatalf("%s: %v", r.Type(), res.Err)
		}
	}
	for id := int32(1); id <= 4; id++ {
		apply(RegisterBroker{NodeID: id, Incarnation: UUID{0: 1, 15: byte(id)},
			Listeners: []Listener{{Name: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: "PLAINTEXT"}}})
	}
	apply(CreateTopic{Name: "t", TopicID: shortID(1), Partitions: []PartitionAssignment{
		{Partition: 0, GroupID: 1, Replicas: []int32{1, 2, 3}},
		{Partition: 1, GroupID: 2, Replicas: []int32{2, 3, 4}},
	}})
	return st
}

func applyRec(t *testing.T, st *State, r Record) error {
	t.Helper()
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", r.Type(), err)
	}
	if b2, _ := Encode(got); !bytes.Equal(b, b2) {
		t.Fatalf("%s does not round-trip", r.Type())
	}
	res := st.Apply(st.View().Applied()+1, b)
	// Snapshot, restore and compare: the reassignment fields survive.
	snap := st.Snapshot()
	other := New()
	if err := other.Restore(snap); err != nil {
		t.Fatalf("restore after %s: %v", r.Type(), err)
	}
	if !bytes.Equal(other.Snapshot(), snap) {
		t.Fatalf("snapshot after %s differs once restored", r.Type())
	}
	return res.Err
}

func part(st *State, p int32) Partition {
	tp, _ := st.View().TopicByID(shortID(1))
	return tp.Partitions[p]
}

func TestReassignmentLifecycle(t *testing.T) {
	st := reassignState(t)
	v := st.View()
	for _, c := range []struct {
		part   int32
		target []int32
		rf     bool
		want   error
	}{
		{2, []int32{1}, true, ErrUnknownTopic},
		{0, []int32{}, true, ErrInvalidReplicaAssignment},
		{0, []int32{1, 1, 2}, true, ErrInvalidReplicaAssignment},
		{0, []int32{1, 2, 9}, true, ErrInvalidReplicaAssignment},
		{0, nil, true, ErrNoReassignment},
		{0, []int32{2, 3}, false, ErrInvalidReplicationFactor},
		{0, []int32{2, 3}, true, nil},
		{0, []int32{2, 3, 4}, false, nil},
	} {
		if err := v.ValidateReassignment(shortID(1), c.part, c.target, c.rf); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("validate %d %v rf=%v: %v, want %v", c.part, c.target, c.rf, err, c.want)
		}
	}

	// Move p0 from [1 2 3] to [2 3 4].
	if err := applyRec(t, st, AlterPartitionReassignments{TopicID: shortID(1), Partitions: []ReassignmentTarget{{Partition: 0, Replicas: []int32{2, 3, 4}}}}); err != nil {
		t.Fatal(err)
	}
	p := part(st, 0)
	if !p.Reassigning() || !slices.Equal(p.Adding(), []int32{4}) || !slices.Equal(p.Removing(), []int32{1}) ||
		!slices.Equal(p.ReportedReplicas(), []int32{2, 3, 4, 1}) || !p.Hosts(4) || !p.Hosts(1) {
		t.Fatalf("in progress: %+v adding %v removing %v", p, p.Adding(), p.Removing())
	}
	// The new replica may report as leader and in the ISR meanwhile.
	if err := applyRec(t, st, ChangePartitionLeadership{TopicID: shortID(1), Partitions: []LeadershipChange{{Partition: 0, Leader: 4, LeaderEpoch: 3, ISR: []int32{1, 2, 3, 4}}}}); err != nil {
		t.Fatal(err)
	}
	// A broker still hosting cannot be unregistered.
	if err := applyRec(t, st, UnregisterBroker{NodeID: 4}); !errors.Is(err, ErrBrokerInUse) {
		t.Fatalf("unregister a target: %v", err)
	}
	// A stale completion is refused.
	if err := applyRec(t, st, CompletePartitionReassignment{TopicID: shortID(1), Partition: 0, Replicas: []int32{2, 3}}); !errors.Is(err, ErrStaleReassignment) {
		t.Fatalf("stale complete: %v", err)
	}
	if err := applyRec(t, st, CompletePartitionReassignment{TopicID: shortID(1), Partition: 0, Replicas: []int32{2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	p = part(st, 0)
	if p.Reassigning() || !slices.Equal(p.Replicas, []int32{2, 3, 4}) || !slices.Equal(p.ISR, []int32{2, 3, 4}) || p.Leader != 4 || p.Hosts(1) {
		t.Fatalf("completed: %+v", p)
	}
	if err := applyRec(t, st, CompletePartitionReassignment{TopicID: shortID(1), Partition: 0, Replicas: []int32{2, 3, 4}}); !errors.Is(err, ErrNoReassignment) {
		t.Fatalf("second complete: %v", err)
	}
}

func TestReassignmentReplaceAndCancel(t *testing.T) {
	st := reassignState(t)
	alter := func(target []int32) error {
		return applyRec(t, st, AlterPartitionReassignments{TopicID: shortID(1), Partitions: []ReassignmentTarget{{Partition: 1, Replicas: target}}})
	}
	if err := alter(nil); !errors.Is(err, ErrNoReassignment) {
		t.Fatalf("cancel with none: %v", err)
	}
	if err := alter([]int32{1, 3, 4}); err != nil { // [2 3 4] -> [1 3 4]
		t.Fatal(err)
	}
	// Replaced by [3 4]: 1 may be in the Raft configuration already, so
	// it lingers (still hosts, reported as removing).
	if err := alter([]int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	p := part(st, 1)
	if !slices.Equal(p.Target, []int32{3, 4}) || !slices.Equal(p.Lingering, []int32{1}) || !p.Hosts(1) ||
		!slices.Equal(p.Removing(), []int32{2, 1}) || len(p.Adding()) != 0 {
		t.Fatalf("replaced: %+v removing %v", p, p.Removing())
	}
	// Cancel: the target becomes the replicas from before, 1 still lingers.
	if err := alter(nil); err != nil {
		t.Fatal(err)
	}
	p = part(st, 1)
	if !slices.Equal(p.Target, []int32{2, 3, 4}) || !slices.Equal(p.Lingering, []int32{1}) {
		t.Fatalf("cancelled: %+v", p)
	}
	if err := st.View().ValidateReassignment(shortID(1), 1, nil, true); !errors.Is(err, ErrNoReassignment) {
		t.Fatalf("cancel of a cancel: %v", err)
	}
	if err := alter(nil); err != nil { // idempotent when re-proposed
		t.Fatal(err)
	}
	if err := applyRec(t, st, CompletePartitionReassignment{TopicID: shortID(1), Partition: 1, Replicas: []int32{2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	p = part(st, 1)
	if p.Reassigning() || p.Lingering != nil || p.Hosts(1) || !slices.Equal(p.Replicas, []int32{2, 3, 4}) {
		t.Fatalf("reverted: %+v", p)
	}
	// A changed replication factor survives a snapshot (version 2).
	if err := alter([]int32{3}); err != nil {
		t.Fatal(err)
	}
	if err := applyRec(t, st, CompletePartitionReassignment{TopicID: shortID(1), Partition: 1, Replicas: []int32{3}}); err != nil {
		t.Fatal(err)
	}
	if p := part(st, 1); !slices.Equal(p.Replicas, []int32{3}) || p.Leader != -1 {
		t.Fatalf("rf 1: %+v", p)
	}
}
