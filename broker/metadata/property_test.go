package metadata

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// randomLog builds a log of n records against a reference state, seeded:
// mostly what a proposer would build from the current view (registrations,
// fencing, topics, partitions, configs, leadership reports, group id
// advances), some stale or invalid on purpose (a second proposer racing
// for the same name or group ids, stale epochs, unknown ids), some
// corrupt bytes and empty entries.
func randomLog(t testing.TB, seed uint64, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ref := New()
	var log [][]byte
	add := func(r Record) {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b)
		ref.Apply(uint64(len(log)), b)
	}
	topicID := func() UUID { return UUID{byte(rng.IntN(4)), 1, byte(rng.IntN(20) + 1)} }
	for len(log) < n {
		v := ref.View()
		switch rng.IntN(14) {
		case 0:
			id := int32(rng.IntN(6))
			add(RegisterBroker{NodeID: id, Incarnation: UUID{byte(rng.IntN(3) + 1)}, Rack: fmt.Sprint(id % 2),
				Listeners: []Listener{{Name: "PLAINTEXT", Host: fmt.Sprintf("b%d", id), Port: 9092, SecurityProtocol: "PLAINTEXT"}}})
		case 1:
			if rng.IntN(4) == 0 {
				add(UnregisterBroker{NodeID: int32(rng.IntN(7))})
				continue
			}
			add(FenceBroker{NodeID: int32(rng.IntN(7))})
		case 2, 3:
			add(UnfenceBroker{NodeID: int32(rng.IntN(7))})
		case 4, 5:
			var manual [][]int32
			if rng.IntN(3) == 0 {
				manual = [][]int32{{int32(rng.IntN(6))}, {int32(rng.IntN(6))}}
			}
			r, err := v.NewCreateTopic(fmt.Sprintf("t%d", rng.IntN(8)), topicID(), map[string]string{"k": fmt.Sprint(rng.IntN(3))},
				int32(rng.IntN(5)+1), int16(rng.IntN(3)+1), manual)
			if err != nil {
				// What a racing proposer might have committed anyway.
				r = CreateTopic{Name: fmt.Sprintf("t%d", rng.IntN(8)), TopicID: topicID(),
					Partitions: []PartitionAssignment{{GroupID: v.NextGroupID() - uint64(rng.IntN(2)), Replicas: []int32{int32(rng.IntN(6))}}}}
			}
			add(r)
		case 6:
			ts := v.Topics()
			if len(ts) == 0 {
				continue
			}
			tp := ts[rng.IntN(len(ts))]
			r, err := v.NewCreatePartitions(tp.ID, int32(len(tp.Partitions)+rng.IntN(3)), nil)
			if err != nil {
				continue
			}
			add(r)
		case 7:
			add(DeleteTopic{TopicID: topicID()})
		case 8:
			add(AlterTopicConfigs{TopicID: topicID(), Configs: map[string]string{"retention.ms": fmt.Sprint(rng.IntN(1000))}})
		case 9, 10:
			ts := v.Topics()
			if len(ts) == 0 {
				continue
			}
			tp := ts[rng.IntN(len(ts))]
			p := tp.Partitions[rng.IntN(len(tp.Partitions))]
			isr := p.Replicas[:1+rng.IntN(len(p.Replicas))]
			leader := isr[rng.IntN(len(isr))]
			if rng.IntN(5) == 0 {
				leader = -1
			}
			add(ChangePartitionLeadership{TopicID: tp.ID, Partitions: []LeadershipChange{{
				Partition: p.Partition, Leader: leader, LeaderEpoch: p.LeaderEpoch + int32(rng.IntN(3)) - 1, ISR: isr,
			}}})
		case 12:
			ts := v.Topics()
			if len(ts) == 0 {
				continue
			}
			tp := ts[rng.IntN(len(ts))]
			p := tp.Partitions[rng.IntN(len(tp.Partitions))]
			if p.Reassigning() && rng.IntN(2) == 0 {
				target := p.Target
				if rng.IntN(4) == 0 {
					target = p.Replicas // stale
				}
				add(CompletePartitionReassignment{TopicID: tp.ID, Partition: p.Partition, Replicas: target})
				continue
			}
			var target []int32
			if rng.IntN(4) != 0 {
				for _, id := range rng.Perm(6)[:1+rng.IntN(3)] {
					target = append(target, int32(id))
				}
			}
			add(AlterPartitionReassignments{TopicID: tp.ID, Partitions: []ReassignmentTarget{{Partition: p.Partition, Replicas: target}}})
		case 13:
			// Entities: mostly valid changes, some re-sent ids (a
			// proposal forwarded twice), some invalid kinds.
			kind := []string{"scram", "acl", "quota", "Bad"}[rng.IntN(4)]
			r := PutEntities{ID: UUID{0xe, byte(rng.IntN(40) + 1)}, Kind: kind}
			for range rng.IntN(3) {
				r.Puts = append(r.Puts, Entity{Key: fmt.Sprintf("k%d", rng.IntN(6)), Value: []byte(fmt.Sprint(rng.IntN(100)))})
			}
			for range rng.IntN(2) {
				r.Deletes = append(r.Deletes, fmt.Sprintf("k%d", rng.IntN(6)))
			}
			add(r)
		case 11:
			switch rng.IntN(3) {
			case 0:
				add(AdvanceGroupIDs{Next: v.NextGroupID() + uint64(rng.IntN(5)) - 1})
			case 1:
				log = append(log, nil) // Raft's empty entry
				ref.Apply(uint64(len(log)), nil)
			default:
				b := []byte{1, byte(rng.IntN(12))}
				b = append(b, []byte(`{"topic_id":"x"}`)[:rng.IntN(16)]...)
				log = append(log, b)
				ref.Apply(uint64(len(log)), b)
			}
		}
	}
	return log
}

// TestReplicasConverge: three states applying the same log, one restored
// from a snapshot half way, and one that is re-delivered every entry twice
// (a restart re-applying from an older index) end with the same snapshot;
// views taken along the way never change afterwards.
func TestReplicasConverge(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		log := randomLog(t, seed, 300)
		states := []*State{New(), New(), New()}
		restored, redelivered := New(), New()
		type frozen struct {
			v    *View
			snap []byte
		}
		var views []frozen
		rejected := 0
		for i, rec := range log {
			idx := uint64(i + 1)
			var results []Result
			for _, s := range states {
				results = append(results, s.Apply(idx, rec))
			}
			for _, r := range results[1:] {
				if fmt.Sprint(r) != fmt.Sprint(results[0]) {
					t.Fatalf("seed %d index %d: results differ: %v vs %v", seed, idx, r, results[0])
				}
			}
			if results[0].Err != nil {
				rejected++
			}
			if i == len(log)/2 {
				if err := restored.Restore(states[0].Snapshot()); err != nil {
					t.Fatal(err)
				}
			} else if i > len(log)/2 {
				restored.Apply(idx, rec)
			}
			redelivered.Apply(idx, rec)
			if i > 0 {
				if res := redelivered.Apply(idx-1, log[i-1]); !res.Skipped {
					t.Fatalf("seed %d: re-delivered index %d not skipped", seed, idx-1)
				}
			}
			if i%50 == 0 {
				views = append(views, frozen{states[0].View(), states[0].Snapshot()})
			}
		}
		want := states[0].Snapshot()
		for i, s := range append(states[1:], restored, redelivered) {
			if got := s.Snapshot(); !bytes.Equal(got, want) {
				t.Fatalf("seed %d: state %d differs:\n%s\nwant\n%s", seed, i+1, got, want)
			}
		}
		for _, f := range views {
			if got := f.v.Snapshot(); !bytes.Equal(got, f.snap) {
				t.Fatalf("seed %d: a view changed after later applies", seed)
			}
		}
		v := states[0].View()
		if rejected == 0 || rejected == len(log) || len(v.Topics()) == 0 {
			t.Fatalf("seed %d: log not varied enough: %d of %d rejected, %d topics", seed, rejected, len(log), len(v.Topics()))
		}
		if seed == 1 {
			t.Logf("seed 1: %d records, %d rejected, %d brokers, %d topics, next group %d, snapshot %d bytes",
				len(log), rejected, len(v.Brokers()), len(v.Topics()), v.NextGroupID(), len(want))
		}
	}
}

// TestConcurrentReaders: readers walk views while a writer applies
// (run with -race).
func TestConcurrentReaders(t *testing.T) {
	s := New()
	log := randomLog(t, 7, 300)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v := s.View()
				for _, tp := range v.Topics() {
					if got, ok := v.TopicByID(tp.ID); !ok || got != tp {
						t.Error("topic not found by id in its own view")
						return
					}
					for _, p := range tp.Partitions {
						_ = p.Leader + int32(len(p.ISR))
					}
				}
				_ = v.Brokers()
			}
		}()
	}
	for i, rec := range log {
		s.Apply(uint64(i+1), rec)
		if i%10 == 0 {
			s.SetController(int32(i%3), int32(i))
		}
	}
	close(stop)
	wg.Wait()
}
