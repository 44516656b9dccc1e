package share

import (
	"errors"
	"testing"
	"time"
)

// TestAcknowledgeOverlappingBatches: a later batch must not undo an earlier
// one ([0-9 accept, 5-5 release] once reopened offset 5).
func TestAcknowledgeOverlappingBatches(t *testing.T) {
	now := time.UnixMilli(1000)
	for _, acks := range [][]AckBatch{
		{{First: 0, Last: 9, Types: []int8{AckAccept}}, {First: 5, Last: 5, Types: []int8{AckRelease}}},
		{{First: 5, Last: 9, Types: []int8{AckAccept}}, {First: 0, Last: 4, Types: []int8{AckRelease}}},
		{{First: 0, Last: 5, Types: []int8{AckAccept}}, {First: 5, Last: 9, Types: []int8{AckRelease}}},
	} {
		p := New(Config{LockDuration: time.Minute, DeliveryCountLimit: 5, MaxRecordLocks: 100}, 0)
		if got, _ := p.Acquire("m", []LogBatch{{First: 0, Last: 9}}, 0, false, now); len(got) != 1 {
			t.Fatalf("acquire: %v", got)
		}
		before := p.String()
		if err := p.Acknowledge("m", acks, now); !errors.Is(err, ErrInvalidAcknowledgement) {
			t.Fatalf("acks %v: err %v, want ErrInvalidAcknowledgement", acks, err)
		}
		if after := p.String(); after != before {
			t.Fatalf("acks %v changed state:\n%s\n%s", acks, before, after)
		}
	}
	// Ascending, adjacent batches are fine.
	p := New(Config{LockDuration: time.Minute, DeliveryCountLimit: 5, MaxRecordLocks: 100}, 0)
	p.Acquire("m", []LogBatch{{First: 0, Last: 9}}, 0, false, now)
	if err := p.Acknowledge("m", []AckBatch{{First: 0, Last: 4, Types: []int8{AckAccept}}, {First: 5, Last: 9, Types: []int8{AckRelease}}}, now); err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "spso=5 speo=10 [5-9 available n=1]" {
		t.Fatalf("state %s", got)
	}
}

// TestAckRangeOnlyAcquired: ackRange never touches a record no longer
// acquired by the member.
func TestAckRangeOnlyAcquired(t *testing.T) {
	now := time.UnixMilli(1000)
	p := New(Config{LockDuration: time.Minute, DeliveryCountLimit: 5, MaxRecordLocks: 100}, 0)
	p.Acquire("m", []LogBatch{{First: 0, Last: 9}}, 0, false, now)
	p.ackRange("m", 5, 5, AckAccept, now)
	p.ackRange("m", 0, 9, AckRelease, now)
	p.normalize()
	if got := p.String(); got != "spso=0 speo=10 [0-4 available n=1] [5-5 acked n=1] [6-9 available n=1]" {
		t.Fatalf("state %s", got)
	}
}
