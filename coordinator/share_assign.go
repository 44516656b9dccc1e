package coordinator

// The share groups' server-side assignor, after Kafka's SimpleAssignor
// (org.apache.kafka.coordinator.group.assignor.SimpleAssignor and its
// Simple{Homogeneous,Heterogeneous}AssignmentBuilder):
//
//   - With M members and P assignable partitions, every partition is
//     shared by desiredSharing = ceil(M/P) members, and member i (in member
//     order) wants ceil(d·(i+1)) − ceil(d·i) partitions, d = desiredSharing·P/M
//     (so the counts add up to desiredSharing·P and differ by at most one).
//   - Stickiness: a member keeps the partitions of its previous target that
//     are still assignable and subscribed, up to its desired count; then
//     partitions held by more than desiredSharing members lose the surplus;
//     then the partitions still short of desiredSharing go round-robin to the
//     members short of their count.
//   - If every member subscribes to the same topics (homogeneous) this runs
//     once over all their partitions; otherwise once per topic, over the
//     members subscribed to it.
//
// Kafka iterates hash sets; here members go by id and partitions by topic id
// then partition, so the result is deterministic.

import (
	"bytes"
	"sort"
)

type shareAssignMember struct {
	id     string
	topics [][16]byte // subscribed topics that exist
	old    Assignment // previous target
}

type topicPartitionID struct {
	topic     [16]byte
	partition int32
}

// simpleAssign computes the target assignment of every member.
func simpleAssign(members []shareAssignMember, partitions map[[16]byte]int32, assignable func([16]byte, int32) bool) map[string]Assignment {
	sort.Slice(members, func(i, j int) bool { return members[i].id < members[j].id })
	out := make(map[string]Assignment, len(members))
	for _, m := range members {
		out[m.id] = Assignment{}
	}
	if len(members) == 0 {
		return out
	}
	targetsOf := func(topics [][16]byte) []topicPartitionID {
		ts := append([][16]byte(nil), topics...)
		sort.Slice(ts, func(i, j int) bool { return bytes.Compare(ts[i][:], ts[j][:]) < 0 })
		var out []topicPartitionID
		for _, t := range ts {
			for p := int32(0); p < partitions[t]; p++ {
				if assignable(t, p) {
					out = append(out, topicPartitionID{t, p})
				}
			}
		}
		return out
	}
	homogeneous := true
	for _, m := range members[1:] {
		if !sameTopicSet(m.topics, members[0].topics) {
			homogeneous = false
			break
		}
	}
	idx := make([]int, len(members))
	for i := range idx {
		idx[i] = i
	}
	if homogeneous {
		simpleAssignRun(members, idx, targetsOf(members[0].topics), out)
	} else {
		byTopic := map[[16]byte][]int{}
		var topics [][16]byte
		for i, m := range members {
			for _, t := range m.topics {
				if byTopic[t] == nil {
					topics = append(topics, t)
				}
				byTopic[t] = append(byTopic[t], i)
			}
		}
		sort.Slice(topics, func(i, j int) bool { return bytes.Compare(topics[i][:], topics[j][:]) < 0 })
		for _, t := range topics {
			simpleAssignRun(members, byTopic[t], targetsOf([][16]byte{t}), out)
		}
	}
	for _, a := range out {
		for t := range a {
			sort.Slice(a[t], func(i, j int) bool { return a[t][i] < a[t][j] })
		}
	}
	return out
}

// simpleAssignRun assigns targets to the members at idx (in that order),
// adding to out.
func simpleAssignRun(members []shareAssignMember, idx []int, targets []topicPartitionID, out map[string]Assignment) {
	n, p := len(idx), len(targets)
	if n == 0 || p == 0 {
		return
	}
	sharing := (n + p - 1) / p
	d := float64(sharing*p) / float64(n)
	desired := make([]int, n)
	for i := range desired {
		desired[i] = ceilInt(d*float64(i+1)) - ceilInt(d*float64(i))
	}
	isTarget := make(map[topicPartitionID]bool, p)
	for _, tp := range targets {
		isTarget[tp] = true
	}
	holds := make([]map[topicPartitionID]bool, n)
	holders := make(map[topicPartitionID][]int, p)
	// Keep what is still assignable, up to the desired count.
	for i, mi := range idx {
		holds[i] = map[topicPartitionID]bool{}
		for _, tp := range targets {
			if len(holds[i]) >= desired[i] {
				break
			}
			if has(members[mi].old, tp.topic, tp.partition) {
				holds[i][tp] = true
				holders[tp] = append(holders[tp], i)
			}
		}
	}
	// Partitions shared by too many lose the surplus.
	for _, tp := range targets {
		for len(holders[tp]) > sharing {
			last := holders[tp][len(holders[tp])-1]
			holders[tp] = holders[tp][:len(holders[tp])-1]
			delete(holds[last], tp)
		}
	}
	// Round-robin the rest over the members short of their count.
	var unfilled []int
	for i := range idx {
		if len(holds[i]) < desired[i] {
			unfilled = append(unfilled, i)
		}
	}
	pos, progressed := 0, false
	for _, tp := range targets {
		if len(unfilled) == 0 {
			break
		}
		need := sharing - len(holders[tp])
		for need > 0 && len(unfilled) > 0 {
			if pos >= len(unfilled) {
				if !progressed {
					break
				}
				pos, progressed = 0, false
			}
			i := unfilled[pos]
			if !holds[i][tp] {
				holds[i][tp] = true
				holders[tp] = append(holders[tp], i)
				need--
				progressed = true
				if len(holds[i]) >= desired[i] {
					unfilled = append(unfilled[:pos], unfilled[pos+1:]...)
					continue
				}
			}
			pos++
		}
	}
	for i, mi := range idx {
		a := out[members[mi].id]
		for _, tp := range targets {
			if holds[i][tp] {
				a[tp.topic] = append(a[tp.topic], tp.partition)
			}
		}
	}
}

func ceilInt(f float64) int {
	n := int(f)
	if float64(n) < f {
		n++
	}
	return n
}

func sameTopicSet(a, b [][16]byte) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[[16]byte]bool{}
	for _, t := range a {
		set[t] = true
	}
	for _, t := range b {
		if !set[t] {
			return false
		}
	}
	return true
}
