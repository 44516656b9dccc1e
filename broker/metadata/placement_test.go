package metadata

import (
	"errors"
	"slices"
	"testing"
)

// TestPlacementEvenness: for every live broker count n <= 9, replication
// factor rf <= n, partition count up to 3n, split into a CreateTopic of k
// partitions and a CreatePartitions of the rest, and several starts:
// replicas of a partition are distinct live brokers, and over the topic
// leaders per broker and replicas per broker each differ by at most one.
func TestPlacementEvenness(t *testing.T) {
	checked := 0
	for n := 1; n <= 9; n++ {
		live := make([]int32, n)
		for i := range live {
			live[i] = int32(10 + 3*i) // ids need not be dense
		}
		for rf := 1; rf <= n; rf++ {
			for total := 1; total <= 3*n; total++ {
				for k := 1; k <= total; k++ {
					for _, start := range []uint32{0, 1, 7, 1 << 31} {
						first, err := Place(live, PlacementSpec{Partitions: int32(k), ReplicationFactor: int16(rf), Start: start})
						if err != nil {
							t.Fatal(err)
						}
						all := first
						if k < total {
							rest, err := Place(live, PlacementSpec{StartPartition: int32(k), Partitions: int32(total - k), ReplicationFactor: int16(rf), Start: start})
							if err != nil {
								t.Fatal(err)
							}
							all = slices.Concat(first, rest)
						}
						checkEven(t, live, rf, all, n, total, k, start)
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d placements checked", checked)
}

func checkEven(t *testing.T, live []int32, rf int, all [][]int32, n, total, k int, start uint32) {
	t.Helper()
	leaders, replicas := map[int32]int{}, map[int32]int{}
	for p, rs := range all {
		if len(rs) != rf {
			t.Fatalf("n=%d rf=%d total=%d k=%d start=%d: partition %d has %v", n, rf, total, k, start, p, rs)
		}
		for i, r := range rs {
			if !slices.Contains(live, r) || slices.Contains(rs[:i], r) {
				t.Fatalf("n=%d rf=%d total=%d k=%d start=%d: partition %d has %v", n, rf, total, k, start, p, rs)
			}
			replicas[r]++
		}
		leaders[rs[0]]++
	}
	spread := func(m map[int32]int) int {
		lo, hi := int(^uint(0)>>1), 0
		for _, b := range live {
			lo, hi = min(lo, m[b]), max(hi, m[b])
		}
		return hi - lo
	}
	if d := spread(leaders); d > 1 {
		t.Fatalf("n=%d rf=%d total=%d k=%d start=%d: leaders %v differ by %d: %v", n, rf, total, k, start, leaders, d, all)
	}
	if d := spread(replicas); d > 1 {
		t.Fatalf("n=%d rf=%d total=%d k=%d start=%d: replicas %v differ by %d: %v", n, rf, total, k, start, replicas, d, all)
	}
}

// TestPlacementFollowersVary: the followers of a leader change from round
// to round (as Kafka's placers shift them), so losing one broker does not
// move all its followers' load onto one other broker.
func TestPlacementFollowersVary(t *testing.T) {
	all, err := Place([]int32{1, 2, 3, 4, 5}, PlacementSpec{Partitions: 10, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(all[0], all[5]) {
		t.Fatalf("partition 0 and 5 have the same replicas %v", all[0])
	}
	if all[0][0] != all[5][0] {
		t.Fatalf("leaders of 0 and 5 differ: %v %v", all[0], all[5])
	}
}

func TestPlacementErrors(t *testing.T) {
	for _, tc := range []struct {
		live []int32
		spec PlacementSpec
		want error
	}{
		{[]int32{1, 2}, PlacementSpec{Partitions: 1, ReplicationFactor: 3}, ErrInvalidReplicationFactor},
		{nil, PlacementSpec{Partitions: 1, ReplicationFactor: 1}, ErrInvalidReplicationFactor},
		{[]int32{1}, PlacementSpec{Partitions: 1, ReplicationFactor: 0}, ErrInvalidReplicationFactor},
		{[]int32{1}, PlacementSpec{Partitions: 1, ReplicationFactor: -1}, ErrInvalidReplicationFactor},
		{[]int32{1}, PlacementSpec{Partitions: 0, ReplicationFactor: 1}, ErrInvalidPartitions},
		{[]int32{1}, PlacementSpec{StartPartition: -1, Partitions: 1, ReplicationFactor: 1}, ErrInvalidPartitions},
		{[]int32{1}, PlacementSpec{StartPartition: 1 << 30, Partitions: 1 << 30, ReplicationFactor: 1}, ErrInvalidPartitions},
	} {
		if _, err := Place(tc.live, tc.spec); !errors.Is(err, tc.want) {
			t.Errorf("Place(%v, %+v) = %v, want %v", tc.live, tc.spec, err, tc.want)
		}
	}
}

// TestPlacementThroughState: a topic created and grown through records
// over three live brokers (one fenced broker skipped) stays even.
func TestPlacementThroughState(t *testing.T) {
	s := New()
	idx := uint64(0)
	apply := func(r Record) {
		t.Helper()
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		idx++
		if res := s.Apply(idx, b); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	for id := int32(1); id <= 4; id++ {
		apply(RegisterBroker{NodeID: id, Incarnation: UUID{1}, Listeners: []Listener{{Name: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: "PLAINTEXT"}}})
		if id != 3 {
			apply(UnfenceBroker{NodeID: id})
		}
	}
	id := UUID{0xde, 0xad, 0xbe, 0xef, 5}
	r, err := s.View().NewCreateTopic("t", id, nil, 4, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	apply(r)
	for _, total := range []int32{5, 9, 10} {
		r, err := s.View().NewCreatePartitions(id, total, nil)
		if err != nil {
			t.Fatal(err)
		}
		apply(r)
	}
	topic, _ := s.View().Topic("t")
	var all [][]int32
	for _, p := range topic.Partitions {
		all = append(all, p.Replicas)
	}
	if len(all) != 10 {
		t.Fatalf("%d partitions", len(all))
	}
	checkEven(t, []int32{1, 2, 4}, 2, all, 3, 10, 4, StartFor(id))
}
