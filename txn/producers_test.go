package txn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

func batch(pid int64, epoch int16, first, last int32, off int64) BatchInfo {
	return BatchInfo{ProducerID: pid, ProducerEpoch: epoch, FirstSequence: first, LastSequence: last, FirstOffset: off, LastOffset: off + int64(last-first)}
}

func TestProducerStates(t *testing.T) {
	type step struct {
		b       BatchInfo
		wantDup bool
		dupOff  int64
		wantErr error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown producer any sequence", []step{{b: batch(1, 0, 7, 9, 0)}}},
		{"in order", []step{{b: batch(1, 0, 0, 4, 0)}, {b: batch(1, 0, 5, 5, 5)}, {b: batch(1, 0, 6, 9, 6)}}},
		{"gap", []step{{b: batch(1, 0, 0, 4, 0)}, {b: batch(1, 0, 6, 6, 5), wantErr: ErrOutOfOrderSequence}}},
		{"duplicate of last", []step{{b: batch(1, 0, 0, 4, 0)}, {b: batch(1, 0, 0, 4, 99), wantDup: true, dupOff: 0}}},
		{"duplicate of fifth-last", []step{
			{b: batch(1, 0, 0, 0, 0)}, {b: batch(1, 0, 1, 1, 1)}, {b: batch(1, 0, 2, 2, 2)}, {b: batch(1, 0, 3, 3, 3)}, {b: batch(1, 0, 4, 4, 4)},
			{b: batch(1, 0, 0, 0, 50), wantDup: true, dupOff: 0},
		}},
		{"sixth-last is no longer a duplicate", []step{
			{b: batch(1, 0, 0, 0, 0)}, {b: batch(1, 0, 1, 1, 1)}, {b: batch(1, 0, 2, 2, 2)}, {b: batch(1, 0, 3, 3, 3)}, {b: batch(1, 0, 4, 4, 4)}, {b: batch(1, 0, 5, 5, 5)},
			{b: batch(1, 0, 0, 0, 50), wantErr: ErrOutOfOrderSequence},
		}},
		{"stale epoch", []step{{b: batch(1, 2, 0, 0, 0)}, {b: batch(1, 1, 1, 1, 1), wantErr: ErrInvalidProducerEpoch}}},
		{"new epoch starts at 0", []step{{b: batch(1, 0, 0, 9, 0)}, {b: batch(1, 1, 0, 0, 10)}, {b: batch(1, 1, 1, 1, 11)}}},
		{"new epoch not at 0", []step{{b: batch(1, 0, 0, 9, 0)}, {b: batch(1, 1, 3, 3, 10), wantErr: ErrOutOfOrderSequence}}},
		{"sequence wraps", []step{{b: batch(1, 0, 2147483646, 2147483647, 0)}, {b: batch(1, 0, 0, 0, 2)}}},
		{"producers independent", []step{{b: batch(1, 0, 0, 0, 0)}, {b: batch(2, 0, 0, 0, 1)}, {b: batch(1, 0, 1, 1, 2)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewProducerStates()
			for i, st := range tc.steps {
				dup, isDup, err := s.Check(st.b)
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d: err %v, want %v", i, err, st.wantErr)
				}
				if isDup != st.wantDup {
					t.Fatalf("step %d: dup %v, want %v", i, isDup, st.wantDup)
				}
				if isDup && dup.FirstOffset != st.dupOff {
					t.Fatalf("step %d: dup offset %d, want %d", i, dup.FirstOffset, st.dupOff)
				}
				if err == nil && !isDup {
					s.Record(st.b)
				}
			}
		})
	}
}

func TestProducerStatesExpire(t *testing.T) {
	s := NewProducerStates()
	b := batch(1, 0, 0, 0, 0)
	b.MaxTimestamp = 100
	s.Record(b)
	b = batch(2, 0, 0, 0, 1)
	b.MaxTimestamp = 300
	s.Record(b)
	if n := s.Expire(200); n != 1 || s.Len() != 1 {
		t.Fatalf("expired %d, left %d", n, s.Len())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	ps, pt := NewProducerStates(), NewPartitionTxns()
	for i := range 7 {
		ps.Record(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: int32(i * 10), LastSequence: int32(i*10 + 9), FirstOffset: int64(i * 10), LastOffset: int64(i*10 + 9), MaxTimestamp: int64(100 + i)})
	}
	ps.MarkEpoch(3, 5, -1, 42)
	ps.MarkEpoch(8, 1, 6, 43)
	pt.Begin(1, 60)
	pt.Begin(9, 10)
	pt.End(9, 20, false)
	pt.Begin(4, 30)
	b := EncodeSnapshot(nil, ps, pt)
	ps2, pt2, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ps.Snapshot(), ps2.Snapshot()) {
		t.Fatalf("producers: %+v, want %+v", ps2.Snapshot(), ps.Snapshot())
	}
	if !reflect.DeepEqual(pt.ongoing, pt2.ongoing) || !reflect.DeepEqual(pt.aborted, pt2.aborted) {
		t.Fatalf("txns: %+v %+v, want %+v %+v", pt2.ongoing, pt2.aborted, pt.ongoing, pt.aborted)
	}
	if err := ps2.CheckMarker(8, 1, 5, true); !errors.Is(err, ErrTransactionCoordinatorFenced) {
		t.Fatalf("coordinator epoch lost in the snapshot: %v", err)
	}
	// The retained batches survive, in order: the oldest retained one is
	// still a duplicate, the one before it is not.
	if _, isDup, _ := ps2.Check(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: 20, LastSequence: 29}); !isDup {
		t.Fatal("oldest retained batch not recognised after decode")
	}
	if _, isDup, _ := ps2.Check(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: 10, LastSequence: 19}); isDup {
		t.Fatal("batch beyond the retained five recognised after decode")
	}
	if dup, isDup, err := ps2.Check(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: 60, LastSequence: 69}); err != nil || !isDup || dup.FirstOffset != 60 {
		t.Fatalf("dup check after decode: %+v %v %v", dup, isDup, err)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, _, err := DecodeSnapshot(c); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("flipped byte %d: %v, want ErrBadSnapshot", i, err)
		}
	}
	for n := range len(b) {
		if _, _, err := DecodeSnapshot(b[:n]); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("truncated to %d: %v, want ErrBadSnapshot", n, err)
		}
	}
}

// TestCheckMarkerCoordinatorEpoch: a marker from a coordinator epoch older
// than the producer's last marker's is refused; equal and newer pass and
// raise it; the producer epoch is checked only when asked.
func TestCheckMarkerCoordinatorEpoch(t *testing.T) {
	ps := NewProducerStates()
	if err := ps.CheckMarker(1, 0, 3, true); err != nil {
		t.Fatalf("unknown producer: %v", err)
	}
	ps.Record(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: 0, LastSequence: 0})
	if err := ps.CheckMarker(1, 2, -1, true); err != nil {
		t.Fatalf("no marker yet: %v", err)
	}
	ps.MarkEpoch(1, 2, 5, 10)
	for _, c := range []struct {
		epoch      int16
		coord      int32
		checkEpoch bool
		want       error
	}{
		{2, 5, true, nil},
		{2, 6, true, nil},
		{2, 4, true, ErrTransactionCoordinatorFenced},
		{1, 5, true, ErrInvalidProducerEpoch},
		{1, 5, false, nil},
	} {
		if err := ps.CheckMarker(1, c.epoch, c.coord, c.checkEpoch); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("CheckMarker(epoch %d, coordinator epoch %d, %v) = %v, want %v", c.epoch, c.coord, c.checkEpoch, err, c.want)
		}
	}
	ps.MarkEpoch(1, 2, 7, 11)
	ps.MarkEpoch(1, 2, 6, 12) // a replica applies in log order: never lowered
	if err := ps.CheckMarker(1, 2, 6, true); !errors.Is(err, ErrTransactionCoordinatorFenced) {
		t.Fatalf("after epoch 7: %v", err)
	}
}

// snapshotV1 encodes one producer (id 5, epoch 3, no batches) in the
// version 1 layout, which had no coordinator epoch.
func snapshotV1() []byte {
	b := []byte{1}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint64(b, 5)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint64(b, 77)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, 0) // ongoing
	b = binary.BigEndian.AppendUint32(b, 0) // aborted
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// TestDecodeSnapshotV1: a version 1 snapshot still loads, with no
// coordinator epoch for its producers.
func TestDecodeSnapshotV1(t *testing.T) {
	ps, _, err := DecodeSnapshot(snapshotV1())
	if err != nil {
		t.Fatal(err)
	}
	got := ps.Snapshot()
	if len(got) != 1 || got[0].ProducerID != 5 || got[0].Epoch != 3 || got[0].LastTimestamp != 77 || got[0].CoordinatorEpoch != NoCoordinatorEpoch {
		t.Fatalf("decoded %+v", got)
	}
}

// FuzzDecodeSnapshot: DecodeSnapshot refuses or decodes anything without
// panicking, and what it decodes encodes back to a snapshot that decodes
// to the same state.
func FuzzDecodeSnapshot(f *testing.F) {
	ps, pt := NewProducerStates(), NewPartitionTxns()
	ps.Record(BatchInfo{ProducerID: 1, ProducerEpoch: 2, FirstSequence: 0, LastSequence: 9, LastOffset: 9, MaxTimestamp: 5})
	ps.MarkEpoch(1, 2, 4, 6)
	pt.Begin(1, 0)
	pt.Begin(2, 3)
	pt.End(2, 4, false)
	f.Add(EncodeSnapshot(nil, ps, pt))
	f.Add(snapshotV1())
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, pt, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		ps2, pt2, err := DecodeSnapshot(EncodeSnapshot(nil, ps, pt))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ps.Snapshot(), ps2.Snapshot()) || !reflect.DeepEqual(pt.ongoing, pt2.ongoing) || !reflect.DeepEqual(pt.aborted, pt2.aborted) {
			t.Fatal("re-encoded snapshot decodes differently")
		}
	})
}
