package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
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

// bombBatch is a batch compressed with codec (xerial framing for snappy if
// xerial) whose records decompress to about 63 MiB (the per-batch bound is
// records.DefaultMaxDecompressed): records i = 0, 1, ... with timestamp
// baseTS+i and a 4 KiB value of zeros. It returns the batch and its record
// count.
func bombBatch(t testing.TB, codec int, xerial bool, baseTS int64) ([]byte, int) {
	t.Helper()
	value := make([]byte, 4<<10)
	var body []byte
	n := 0
	for len(body) < records.DefaultMaxDecompressed-1<<20 {
		var rec []byte
		rec = append(rec, 0)
		rec = binary.AppendVarint(rec, int64(n))
		rec = binary.AppendVarint(rec, int64(n))
		rec = binary.AppendVarint(rec, -1)
		rec = binary.AppendVarint(rec, int64(len(value)))
		rec = append(rec, value...)
		rec = binary.AppendVarint(rec, 0)
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
		n++
	}
	b, err := records.Compress(codec, make([]byte, BatchHeaderSize), body, xerial)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-batchLengthOverhead))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(codec))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(baseTS))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(baseTS+int64(n-1)))
	binary.BigEndian.PutUint64(b[offProducerID:], math.MaxUint64)
	binary.BigEndian.PutUint16(b[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
	binary.BigEndian.PutUint32(b[offCRC:], BatchCRC(b))
	return b, n
}

// heapAllocated returns the bytes f allocates on the heap (TotalAlloc,
// all goroutines).
func heapAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestTimestampLookupsOnBombBatch: a compressed batch that decodes to
// ~63 MiB (a decompression bomb: 90 KiB of zstd, 484 KiB of gzip) behind
// an ordinary one. OffsetForTimestamp for its fourth record and
// MaxTimestamp (its last record) answer as for any batch, and each lookup
// allocates about one decompression window (zstd: the encoder's 8 MiB;
// lz4: two 4 MiB blocks), not the decoded size (before the streaming
// reader: 128-136 MiB per lookup). Raw snappy must decode its one block
// whole: its decoded length, once.
func TestTimestampLookupsOnBombBatch(t *testing.T) {
	const MiB = 1 << 20
	for _, tc := range []struct {
		name   string
		codec  int
		xerial bool
		limit  uint64 // bytes a lookup may allocate
	}{
		{"gzip", records.CodecGzip, false, 2 * MiB},
		{"lz4", records.CodecLZ4, false, 12 * MiB},
		{"zstd", records.CodecZstd, false, 12 * MiB},
		{"snappy-xerial", records.CodecSnappy, true, 8 * MiB},
		{"snappy", records.CodecSnappy, false, 72 * MiB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := variants(t)[0]
			cfg := DefaultConfig()
			cfg.Files = NewFileCache(2)
			l, _ := openLog(t, v.fs, v.dir, cfg)
			must2(t, l, timedKVBatch(t, tc.codec, -1, 1000, []string{"a", "b"}, []int64{0, 5}))
			b, n := bombBatch(t, tc.codec, tc.xerial, 2000)
			must2(t, l, b)
			var off, ts int64
			var found bool
			a := heapAllocated(func() { off, ts, found = l.OffsetForTimestamp(2003) })
			if !found || off != 2+3 || ts != 2003 {
				t.Fatalf("OffsetForTimestamp(2003) = %d, %d, %v; want 5, 2003, true", off, ts, found)
			}
			t.Logf("%s: batch of %d KiB: OffsetForTimestamp allocated %.1f MiB", tc.name, len(b)>>10, float64(a)/MiB)
			if a > tc.limit {
				t.Errorf("OffsetForTimestamp allocated %d bytes, want <= %d", a, tc.limit)
			}
			a = heapAllocated(func() { ts, off = l.MaxTimestamp() })
			if want := int64(2 + n - 1); off != want || ts != 2000+int64(n-1) {
				t.Fatalf("MaxTimestamp = %d, %d; want %d, %d", ts, off, 2000+n-1, want)
			}
			t.Logf("%s: MaxTimestamp (last of %d records) allocated %.1f MiB", tc.name, n, float64(a)/MiB)
			if a > tc.limit {
				t.Errorf("MaxTimestamp allocated %d bytes, want <= %d", a, tc.limit)
			}
			// The earlier, ordinary batch still answers inside it.
			if off, ts, found := l.OffsetForTimestamp(1003); !found || off != 1 || ts != 1005 {
				t.Fatalf("OffsetForTimestamp(1003) = %d, %d, %v; want 1, 1005, true", off, ts, found)
			}
			// Concurrent lookups share the decompression budget and
			// the pooled decoders.
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					target := int64(2000 + 10*i)
					if off, ts, found := l.OffsetForTimestamp(target); !found || off != 2+10*int64(i) || ts != target {
						t.Errorf("concurrent OffsetForTimestamp(%d) = %d, %d, %v", target, off, ts, found)
					}
				})
			}
			wg.Wait()
		})
	}
}
