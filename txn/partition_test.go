package txn

import (
	"reflect"
	"testing"
)

func TestPartitionTxnsLSOAndAborted(t *testing.T) {
	s := NewPartitionTxns()
	if _, ok := s.FirstUnstable(); ok {
		t.Fatal("empty partition has an unstable offset")
	}
	// Producer 1 writes at 0 and 2, producer 2 at 1 and 3.
	s.Begin(1, 0)
	s.Begin(2, 1)
	s.Begin(1, 2)
	s.Begin(2, 3)
	if off, ok := s.FirstUnstable(); !ok || off != 0 {
		t.Fatalf("first unstable %d %v, want 0", off, ok)
	}
	if off, _ := s.Ongoing(1); off != 0 {
		t.Fatalf("producer 1 ongoing from %d, want 0", off)
	}
	// Producer 1 commits at 4: producer 2's transaction holds the LSO at 1.
	s.End(1, 4, true)
	if off, ok := s.FirstUnstable(); !ok || off != 1 {
		t.Fatalf("first unstable %d %v, want 1", off, ok)
	}
	// Producer 2 aborts at 5.
	s.End(2, 5, false)
	if _, ok := s.FirstUnstable(); ok {
		t.Fatal("no transaction is open")
	}
	// A marker with nothing open closes nothing.
	s.End(3, 6, false)
	s.Begin(1, 7)
	s.End(1, 8, false)
	want := []AbortedTxn{{2, 1, 5}, {1, 7, 8}}
	if got := s.Aborted(0, 100); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted %v, want %v", got, want)
	}
	// Overlap: marker at or after from, first offset before to.
	if got := s.Aborted(6, 100); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("aborted from 6: %v", got)
	}
	if got := s.Aborted(0, 7); !reflect.DeepEqual(got, want[:1]) {
		t.Fatalf("aborted below 7: %v", got)
	}
	if got := s.Aborted(9, 100); len(got) != 0 {
		t.Fatalf("aborted from 9: %v", got)
	}
	s.TrimBefore(6)
	if got := s.Aborted(0, 100); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("after trim: %v", got)
	}
	s.Forget()
	if got := s.Aborted(0, 100); len(got) != 0 {
		t.Fatalf("after forget: %v", got)
	}
}

func TestPartitionForJavaHash(t *testing.T) {
	// Java's String.hashCode: "txn-1" is 110810510; the second is
	// negative (-1133101249), so its absolute value is taken.
	for id, want := range map[string]int32{"": 0, "txn-1": 10, "a": 97 % 50, "transactional-id-for-the-etl-job": 49} {
		if got := PartitionFor(id, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestMarkEpochFencesOlderBatches(t *testing.T) {
	s := NewProducerStates()
	s.Record(BatchInfo{ProducerID: 7, ProducerEpoch: 0, FirstSequence: 0, LastSequence: 4})
	s.MarkEpoch(7, 1, -1, 0)
	if _, _, err := s.Check(BatchInfo{ProducerID: 7, ProducerEpoch: 0, FirstSequence: 5, LastSequence: 5}); err != ErrInvalidProducerEpoch {
		t.Fatalf("batch of the fenced epoch: %v", err)
	}
	if _, _, err := s.Check(BatchInfo{ProducerID: 7, ProducerEpoch: 1, FirstSequence: 0, LastSequence: 0}); err != nil {
		t.Fatalf("first batch of the marker's epoch: %v", err)
	}
	if _, _, err := s.Check(BatchInfo{ProducerID: 7, ProducerEpoch: 2, FirstSequence: 0, LastSequence: 0}); err != nil {
		t.Fatalf("first batch of a newer epoch: %v", err)
	}
}
