package broker

import "testing"

// A wait for a leadership change (awaitProposal's acks=all wait,
// ElectLeaders) is woken by setLead only: not by the entries applied
// (notify), which used to wake every waiting produce of the partition on
// each commit.
func TestPartitionLeadWatch(t *testing.T) {
	p := newPartition(&topic{name: "t"}, 0, nil, &leadership{leader: 1, epoch: 3, local: true})
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	l, moved := p.leadWatch()
	if l.epoch != 3 || closed(moved) {
		t.Fatalf("leadership %+v, changed %v", l, closed(moved))
	}
	if _, again := p.leadWatch(); again != moved {
		t.Fatal("two watches of one leadership got different channels")
	}
	p.notify() // an applied entry
	if closed(moved) {
		t.Fatal("an applied entry woke a leadership wait")
	}
	p.setLead(&leadership{leader: 2, epoch: 4})
	if !closed(moved) {
		t.Fatal("a new leadership did not wake the wait")
	}
	l, next := p.leadWatch()
	if l.leader != 2 || l.epoch != 4 || closed(next) {
		t.Fatalf("after the change: %+v, next channel closed %v", l, closed(next))
	}
	p.setLead(&leadership{leader: 2, epoch: 4, isr: []int32{2}}) // the same leader and epoch, a new ISR
	if !closed(next) {
		t.Fatal("an ISR change did not wake the wait")
	}
}
