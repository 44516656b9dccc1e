package log

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/moldau/moldau/log/records"
)

// timedKVBatch builds a batch of producerID (-1: none) whose records have
// keys[i] and timestamp baseTS+deltas[i], compressed with codec; its
// MaxTimestamp is the largest.
func timedKVBatch(t testing.TB, codec int, producerID, baseTS int64, keys []string, deltas []int64) []byte {
	t.Helper()
	var body []byte
	maxTS := baseTS
	for i, k := range keys {
		var rec []byte
		rec = append(rec, 0)
		rec = binary.AppendVarint(rec, deltas[i])
		rec = binary.AppendVarint(rec, int64(i))
		rec = binary.AppendVarint(rec, int64(len(k)))
		rec = append(rec, k...)
		rec = binary.AppendVarint(rec, 3)
		rec = append(rec, "val"...)
		rec = binary.AppendVarint(rec, 0)
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
		maxTS = max(maxTS, baseTS+deltas[i])
	}
	b, err := records.Compress(codec, make([]byte, BatchHeaderSize), body, false)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-batchLengthOverhead))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(codec))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(len(keys)-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(baseTS))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTS))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(producerID))
	epoch, seq := uint16(0), uint32(0)
	if producerID < 0 {
		epoch, seq = 0xffff, 0xffffffff
	}
	binary.BigEndian.PutUint16(b[offProducerEpoch:], epoch)
	binary.BigEndian.PutUint32(b[offBaseSequence:], seq)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(len(keys)))
	binary.BigEndian.PutUint32(b[offCRC:], BatchCRC(b))
	return b
}

// TestMaxTimestampInsideBatch: batches of three records out of timestamp
// order (+100, +400, +250) over many segments, one batch near the end
// holding the largest timestamp twice; MaxTimestamp names its first record
// with it, and OffsetForTimestamp the first record in log order at or after
// a timestamp,
// with every codec, and again after a reopen (indexes from the files).
func TestMaxTimestampInsideBatch(t *testing.T) {
	for _, codec := range []int{records.CodecNone, records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		t.Run(fmt.Sprint("codec", codec), func(t *testing.T) {
			forEach(t, func(t *testing.T, v variant) {
				cfg := smallSegments()
				cfg.SegmentBytes, cfg.IndexIntervalBytes = 2<<10, 256
				l, _ := openLog(t, v.fs, v.dir, cfg)
				const batches, peak = 120, 100
				const peakTS = int64(1000*peak + 1e6)
				keys := []string{"a", "b", "c"}
				for i := range batches {
					base := int64(1000 * i)
					deltas := []int64{100, 400, 250}
					if i == peak {
						keys, deltas := []string{"a", "b", "c", "d"}, []int64{100, peakTS - base, 250, peakTS - base}
						must2(t, l, timedKVBatch(t, codec, -1, base, keys, deltas))
						continue
					}
					must2(t, l, timedKVBatch(t, codec, -1, base, keys, deltas))
				}
				if l.Segments() < 3 {
					t.Fatalf("%d segments", l.Segments())
				}
				// Batch i starts at 3i, except after the peak's four records.
				first := func(i int) int64 {
					if i > peak {
						return int64(3*i + 1)
					}
					return int64(3 * i)
				}
				check := func(when string, l *Log) {
					t.Helper()
					if ts, off := l.MaxTimestamp(); ts != peakTS || off != first(peak)+1 {
						t.Errorf("%s: MaxTimestamp = %d, %d; want %d, %d", when, ts, off, peakTS, first(peak)+1)
					}
					for _, c := range []struct{ ts, off, rts int64 }{
						{1000*70 + 101, first(70) + 1, 1000*70 + 400},
						{1000*70 + 260, first(70) + 1, 1000*70 + 400},
						{1000*70 + 401, first(71), 1000*71 + 100},
						{1000*10 + 100, first(10), 1000*10 + 100},
						// The peak batch comes first in the log.
						{1000*110 + 101, first(peak) + 1, peakTS},
						{peakTS + 1, -1, -1},
					} {
						off, rts, ok := l.OffsetForTimestamp(c.ts)
						if c.off < 0 {
							if ok {
								t.Errorf("%s: OffsetForTimestamp(%d) = %d, %d; want none", when, c.ts, off, rts)
							}
							continue
						}
						if !ok || off != c.off || rts != c.rts {
							t.Errorf("%s: OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", when, c.ts, off, rts, ok, c.off, c.rts)
						}
					}
				}
				check("open", l)
				must(t, l.Close())
				l2, _ := openLog(t, v.fs, v.dir, cfg)
				check("reopened", l2)
			})
		})
	}
}

func must2(t *testing.T, l *Log, b []byte) {
	t.Helper()
	if _, err := l.Append(b, 0); err != nil {
		t.Fatal(err)
	}
}

// TestMaxTimestampEmptyBatchAfterCompaction: the cleaner removes every
// record of a producer's only batch, which held the largest timestamp; the
// batch stays, empty, with its MaxTimestamp (as Kafka's
// MemoryRecords.filterTo writes it), so the max timestamp lookup finds no
// record in it and answers none, as Kafka's does
// (RecordBatch.offsetOfMaxTimestamp of an empty batch). A timestamp lookup
// passes over the empty batch to the next record.
func TestMaxTimestampEmptyBatchAfterCompaction(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := compactConfig()
		l, _ := openLog(t, v.fs, v.dir, cfg)
		must2(t, l, timedKVBatch(t, records.CodecNone, 5, 0, []string{"a", "b"}, []int64{0, 800})) // offsets 0–1
		must2(t, l, timedKVBatch(t, records.CodecNone, -1, 0, []string{"a", "b"}, []int64{100, 200}))
		for i := range 20 { // fill segments so that the two above are sealed and dirty
			must2(t, l, timedKVBatch(t, records.CodecNone, -1, 0, []string{fmt.Sprint("filler-", i, string(make([]byte, 400)))}, []int64{10}))
		}
		must(t, l.SyncTo(l.EndOffset()))
		if ts, off := l.MaxTimestamp(); ts != 800 || off != 1 {
			t.Fatalf("before cleaning: MaxTimestamp = %d, %d", ts, off)
		}
		if off, rts, ok := l.OffsetForTimestamp(150); !ok || off != 1 || rts != 800 {
			t.Fatalf("before cleaning: OffsetForTimestamp(150) = %d, %d, %v", off, rts, ok)
		}
		st, err := l.Compact(1e12, NewCleaner(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if st.RecordsRemoved < 2 {
			t.Fatalf("cleaner removed %d records: %+v", st.RecordsRemoved, st)
		}
		if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
			t.Errorf("after cleaning: MaxTimestamp = %d, %d; want none", ts, off)
		}
		if off, rts, ok := l.OffsetForTimestamp(150); !ok || off != 3 || rts != 200 {
			t.Errorf("after cleaning: OffsetForTimestamp(150) = %d, %d, %v; want 3, 200", off, rts, ok)
		}
	})
}
