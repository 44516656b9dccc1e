package share

import (
	"math/rand"
	"testing"
	"time"
)

// checkInvariants: spans sorted, contiguous, covering [start, end); no
// acked/archived head; acquired spans have an owner and a deadline.
func checkInvariants(t *testing.T, p *Partition, step int) {
	t.Helper()
	next := p.startOffset
	for i, s := range p.spans {
		if s.first != next || s.last < s.first {
			t.Fatalf("step %d: span %d [%d-%d] does not continue at %d: %s", step, i, s.first, s.last, next, p)
		}
		if i == 0 && (s.state == StateAcked || s.state == StateArchived) {
			t.Fatalf("step %d: done head: %s", step, p)
		}
		if (s.state == StateAcquired) != (s.member != "") || (s.state == StateAcquired) == s.deadline.IsZero() {
			t.Fatalf("step %d: span %d owner/deadline inconsistent: %s", step, i, p)
		}
		if s.count < 0 || (s.count > p.cfg.DeliveryCountLimit && s.state != StateArchived && s.state != StateAcked) {
			t.Fatalf("step %d: span %d delivery count %d over the limit while deliverable: %s", step, i, s.count, p)
		}
		next = s.last + 1
	}
	if next != p.endOffset {
		t.Fatalf("step %d: spans end at %d, end offset %d: %s", step, next, p.endOffset, p)
	}
}

// TestPartitionRandomOps drives random acquisitions, acknowledgements,
// releases, expiries and restarts over a log of random batches, checking
// the invariants after every step, and finally that a member accepting
// everything drains the partition (every record delivered, the SPSO at
// the log end).
func TestPartitionRandomOps(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		// The log: batches of 1-8 records, some skipped, some holes.
		var log []LogBatch
		off := int64(0)
		for range 200 {
			off += int64(rng.Intn(3) / 2) // a hole now and then
			n := int64(1 + rng.Intn(8))
			log = append(log, LogBatch{First: off, Last: off + n - 1, Skip: rng.Intn(15) == 0})
			off += n
		}
		logEnd := off
		read := func(from int64) []LogBatch {
			for i, b := range log {
				if b.Last >= from {
					return log[i:min(i+10, len(log))]
				}
			}
			return nil
		}
		cfg := Config{LockDuration: 100 * time.Millisecond, DeliveryCountLimit: 4, MaxRecordLocks: 60}
		p := New(cfg, 0)
		now := time.UnixMilli(0)
		members := []string{"a", "b", "c"}
		held := map[string][]Acquired{}
		for step := range 2000 {
			m := members[rng.Intn(len(members))]
			switch op := rng.Intn(10); {
			case op < 4:
				got, _ := p.Acquire(m, read(p.FetchOffset()), 1+rng.Intn(20), rng.Intn(2) == 0, now)
				for _, a := range got {
					if a.DeliveryCount < 1 || a.DeliveryCount > cfg.DeliveryCountLimit {
						t.Fatalf("seed %d step %d: acquired %v at delivery count %d", seed, step, a, a.DeliveryCount)
					}
				}
				held[m] = append(held[m], got...)
			case op < 7 && len(held[m]) > 0:
				i := rng.Intn(len(held[m]))
				a := held[m][i]
				held[m] = append(held[m][:i], held[m][i+1:]...)
				types := make([]int8, a.Last-a.First+1)
				for j := range types {
					types[j] = int8(1 + rng.Intn(3))
				}
				// The lock may have expired: then the ack fails as a whole.
				_ = p.Acknowledge(m, []AckBatch{{First: a.First, Last: a.Last, Types: types}}, now)
			case op < 8:
				p.ReleaseMember(m)
				held[m] = nil
			case op < 9:
				now = now.Add(time.Duration(rng.Intn(80)) * time.Millisecond)
				p.Expire(now)
			default:
				p = FromState(cfg, p.State())
				held = map[string][]Acquired{}
			}
			checkInvariants(t, p, step)
		}
		// Drain: one member accepts everything it gets.
		for range 10000 {
			now = now.Add(time.Second)
			p.Expire(now)
			got, _ := p.Acquire("z", read(p.FetchOffset()), 100, false, now)
			if len(got) == 0 && p.FetchOffset() >= logEnd {
				break
			}
			var acks []AckBatch
			for _, a := range got {
				acks = append(acks, AckBatch{First: a.First, Last: a.Last, Types: []int8{AckAccept}})
			}
			if err := p.Acknowledge("z", acks, now); err != nil {
				t.Fatalf("seed %d: drain ack: %v", seed, err)
			}
			checkInvariants(t, p, -1)
		}
		if p.startOffset != logEnd || p.endOffset != logEnd {
			t.Fatalf("seed %d: drained to %s, want spso=speo=%d", seed, p, logEnd)
		}
	}
}

// TestMergeBatches: Write's merge overwrites covered offsets and drops
// what lies before the start offset.
func TestMergeBatches(t *testing.T) {
	old := []StateBatch{{0, 9, StateAvailable, 1}, {10, 19, StateAcked, 1}}
	got := MergeBatches(old, []StateBatch{{5, 12, StateArchived, 2}}, 3)
	want := []StateBatch{{3, 4, StateAvailable, 1}, {5, 12, StateArchived, 2}, {13, 19, StateAcked, 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
