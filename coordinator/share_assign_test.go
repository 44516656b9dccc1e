package coordinator

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestSimpleAssignProperties checks the SimpleAssignor's rules over random
// groups: every assignable partition of a subscribed topic is assigned, to
// subscribers only; each partition is shared by at most ceil(M/P) of its
// subscribers; in a homogeneous group the members' counts differ by at most
// one; recomputing with the result as the previous target changes nothing
// (stickiness); and the result is deterministic.
func TestSimpleAssignProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 500; iter++ {
		nTopics := 1 + rng.Intn(3)
		partitions := map[[16]byte]int32{}
		var topics [][16]byte
		for i := 0; i < nTopics; i++ {
			id := [16]byte{byte(i + 1)}
			topics = append(topics, id)
			partitions[id] = int32(1 + rng.Intn(6))
		}
		homogeneous := rng.Intn(2) == 0
		nMembers := 1 + rng.Intn(8)
		var members []shareAssignMember
		for i := 0; i < nMembers; i++ {
			m := shareAssignMember{id: fmt.Sprintf("m%02d", i)}
			for _, tid := range topics {
				if homogeneous || rng.Intn(2) == 0 {
					m.topics = append(m.topics, tid)
				}
			}
			members = append(members, m)
		}
		assignable := func(tid [16]byte, p int32) bool { return p != 4 } // partition 4 uninitialized
		out := simpleAssign(append([]shareAssignMember(nil), members...), partitions, assignable)
		again := simpleAssign(append([]shareAssignMember(nil), members...), partitions, assignable)
		if fmt.Sprint(out) != fmt.Sprint(again) {
			t.Fatalf("iteration %d: not deterministic", iter)
		}
		holders := map[topicPartitionID]int{}
		for _, m := range members {
			for tid, ps := range out[m.id] {
				if !containsTopic(m.topics, tid) {
					t.Fatalf("iteration %d: %s got unsubscribed topic %v", iter, m.id, tid[0])
				}
				for _, p := range ps {
					if !assignable(tid, p) {
						t.Fatalf("iteration %d: %s got unassignable partition %d", iter, m.id, p)
					}
					holders[topicPartitionID{tid, p}]++
				}
			}
		}
		for _, tid := range topics {
			subs := 0
			for _, m := range members {
				if containsTopic(m.topics, tid) {
					subs++
				}
			}
			assignableCount := 0
			for p := int32(0); p < partitions[tid]; p++ {
				if assignable(tid, p) {
					assignableCount++
				}
			}
			for p := int32(0); p < partitions[tid]; p++ {
				n := holders[topicPartitionID{tid, p}]
				if subs > 0 && assignable(tid, p) && n == 0 {
					t.Fatalf("iteration %d: partition %d of topic %d unassigned", iter, p, tid[0])
				}
				if !homogeneous && assignableCount > 0 && n > (subs+assignableCount-1)/assignableCount {
					t.Fatalf("iteration %d: partition %d of topic %d shared by %d of %d", iter, p, tid[0], n, subs)
				}
			}
		}
		if homogeneous {
			lo, hi := 1<<30, 0
			for _, m := range members {
				n := 0
				for _, ps := range out[m.id] {
					n += len(ps)
				}
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Fatalf("iteration %d: counts from %d to %d", iter, lo, hi)
			}
		}
		// Sticky: the result as the previous target is kept.
		for i := range members {
			members[i].old = out[members[i].id]
		}
		if next := simpleAssign(members, partitions, assignable); fmt.Sprint(next) != fmt.Sprint(out) {
			t.Fatalf("iteration %d: not sticky:\n%v\n%v", iter, out, next)
		}
	}
}

func containsTopic(ts [][16]byte, t [16]byte) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
