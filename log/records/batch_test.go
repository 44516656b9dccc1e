package records

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type testRec struct {
	ts         int64
	key, value []byte
	headers    []RecordHeader
}

// checkBatch decodes batch with the iterator and, independently, with
// franz-go's kmsg, and compares both with what was built.
func checkBatch(t *testing.T, batch []byte, o BatchOptions, recs []testRec) {
	t.Helper()
	if !ValidCRC(batch) {
		t.Fatal("bad CRC")
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(batch); err != nil {
		t.Fatalf("kmsg cannot read the batch: %v", err)
	}
	maxTs := int64(-1)
	for _, r := range recs {
		maxTs = max(maxTs, r.ts)
	}
	var wantAttrs int16
	if o.Transactional {
		wantAttrs |= AttrTransactional
	}
	if o.Control {
		wantAttrs |= AttrControl
	}
	if rb.Magic != 2 || rb.PartitionLeaderEpoch != -1 || rb.FirstOffset != 0 || rb.Attributes != wantAttrs ||
		rb.LastOffsetDelta != int32(len(recs)-1) || rb.NumRecords != int32(len(recs)) ||
		rb.FirstTimestamp != o.BaseTimestamp || rb.MaxTimestamp != maxTs ||
		rb.ProducerID != o.ProducerID || rb.ProducerEpoch != o.ProducerEpoch || rb.FirstSequence != o.BaseSequence ||
		int(rb.Length)+LengthOverhead != len(batch) {
		t.Fatalf("header %+v for options %+v and %d records", rb, o, len(recs))
	}
	it, err := BatchRecords(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range recs {
		r, ok := it.Next()
		if !ok {
			t.Fatalf("record %d: %v", i, it.Err())
		}
		if r.OffsetDelta != int32(i) || o.BaseTimestamp+r.TimestampDelta != want.ts ||
			!bytes.Equal(r.Key, want.key) || (r.Key == nil) != (want.key == nil) ||
			!bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) ||
			int(r.Headers) != len(want.headers) {
			t.Fatalf("record %d decoded as %+v, want %+v", i, r, want)
		}
		j := 0
		r.EachHeader(func(k, v []byte) {
			h := want.headers[j]
			if string(k) != h.Key || !bytes.Equal(v, h.Value) || (v == nil) != (h.Value == nil) {
				t.Fatalf("record %d header %d: %q=%q, want %+v", i, j, k, v, h)
			}
			j++
		})
	}
	if _, ok := it.Next(); ok || it.Err() != nil {
		t.Fatalf("after the last record: %v", it.Err())
	}
}

func TestBuilder(t *testing.T) {
	recs := []testRec{
		{ts: 1000, key: []byte("k"), value: []byte("v")},
		{ts: 999, key: nil, value: nil},
		{ts: 5000, key: []byte{}, value: bytes.Repeat([]byte("x"), 300),
			headers: []RecordHeader{{"a", []byte("1")}, {"", nil}, {"b", []byte{}}}},
	}
	for _, o := range []BatchOptions{
		NoProducer(1000),
		{BaseTimestamp: 1000, ProducerID: 7, ProducerEpoch: 3, BaseSequence: 42, Transactional: true},
	} {
		b := NewBuilder(nil, o)
		for _, r := range recs {
			b.Add(r.ts, r.key, r.value, r.headers...)
		}
		checkBatch(t, b.Build(), o, recs)
	}
}

func TestControlBatch(t *testing.T) {
	batch := ControlBatch(9, 4, ControlCommit, 17, 1234)
	o := BatchOptions{BaseTimestamp: 1234, ProducerID: 9, ProducerEpoch: 4, BaseSequence: -1, Transactional: true, Control: true}
	value := []byte{0, 0, 0, 0, 0, 17}
	checkBatch(t, batch, o, []testRec{{ts: 1234, key: []byte{0, 0, 0, 1}, value: value}})
	it, _ := BatchRecords(batch)
	r, _ := it.Next()
	if typ, err := ControlType(r.Key); err != nil || typ != ControlCommit {
		t.Fatalf("ControlType %d, %v", typ, err)
	}
	if _, err := ControlType([]byte{0, 0, 1}); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := ControlType([]byte{0xff, 0xff, 0, 1}); err == nil {
		t.Fatal("negative version accepted")
	}
	// A compressed batch is not iterated by BatchRecords.
	binary.BigEndian.PutUint16(batch[OffAttributes:], AttrControl|CodecGzip)
	if _, err := BatchRecords(batch); err == nil {
		t.Fatal("BatchRecords of a compressed batch")
	}
}

// FuzzBuilder: whatever records are built, the iterator (and kmsg) read
// back exactly them, and ForEach agrees with the iterator.
func FuzzBuilder(f *testing.F) {
	f.Add(int64(1000), []byte("k"), []byte("v"), "h", []byte("hv"), uint8(3), int64(-5), true)
	f.Add(int64(-1), []byte(nil), []byte(nil), "", []byte(nil), uint8(1), int64(1<<40), false)
	f.Fuzz(func(t *testing.T, base int64, key, value []byte, hk string, hv []byte, n uint8, step int64, txn bool) {
		n = n%20 + 1
		o := BatchOptions{BaseTimestamp: base, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Transactional: txn}
		if txn {
			o.ProducerID, o.ProducerEpoch, o.BaseSequence = 1, 0, 0
		}
		var recs []testRec
		b := NewBuilder(nil, o)
		for i := range int(n) {
			r := testRec{ts: base + int64(i)*step, key: key, value: value}
			if i%2 == 1 {
				r.key, r.headers = nil, []RecordHeader{{hk, hv}}
			}
			recs = append(recs, r)
			b.Add(r.ts, r.key, r.value, r.headers...)
		}
		batch := b.Build()
		checkBatch(t, batch, o, recs)
		i := 0
		if err := ForEach(batch, DefaultMaxDecompressed, func(r Record) error {
			if r.OffsetDelta != int32(i) {
				t.Fatalf("ForEach record %d has offset delta %d", i, r.OffsetDelta)
			}
			i++
			return nil
		}); err != nil || i != int(n) {
			t.Fatalf("ForEach: %d records, %v", i, err)
		}
	})
}

// FuzzIteratorReparse: any bytes decode to records or an error, never a panic or
// a read past the input; a decoded record's Raw re-parses to the same
// record.
func FuzzIteratorReparse(f *testing.F) {
	f.Add(sample(3), int32(3))
	f.Add([]byte{0x02, 0x00}, int32(1))
	f.Fuzz(func(t *testing.T, b []byte, count int32) {
		it := NewIterator(b, count%64)
		for {
			r, ok := it.Next()
			if !ok {
				break
			}
			again, ok := NewIterator(r.Raw, 1).Next()
			if !ok || again.OffsetDelta != r.OffsetDelta || !bytes.Equal(again.Key, r.Key) || !bytes.Equal(again.Value, r.Value) {
				t.Fatalf("Raw does not re-parse to the record: %+v vs %+v", again, r)
			}
			r.EachHeader(func(_, _ []byte) {})
		}
	})
}
