package log

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/moldau/moldau/log/records"
)

// overBoundBomb is a zstd batch of null records (length 6, no key, no value)
// that decompresses to 8 GiB, far above the cleaner's bound
// (records.DefaultMaxDecompressed), in about 800 KB: 585 zstd frames of
// 14 MiB each. Its header claims n records (the section holds more), few
// enough for the cleaner's offset map, so that the cleaner decodes it.
func overBoundBomb(t testing.TB, baseTS int64, n int) []byte {
	t.Helper()
	chunk := bytes.Repeat([]byte{12, 0, 0, 0, 1, 1, 0}, 1<<21)
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := e.EncodeAll(chunk, nil)
	_ = e.Close()
	const frames = 585
	b := make([]byte, BatchHeaderSize)
	b = append(b, bytes.Repeat(frame, frames)...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-batchLengthOverhead))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(records.CodecZstd))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(baseTS))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(baseTS))
	binary.BigEndian.PutUint64(b[offProducerID:], ^uint64(0))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(b[offBaseSequence:], 0xffffffff)
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(n))
	records.SetCRC(b)
	return b
}

// TestCompactionKeepsBombBatch: a compacted partition can hold a batch that
// decompresses beyond the cleaner's bound (stored before the topic became
// compacted, or before max.message.bytes was lowered, or by a leader with
// other limits). The cleaner stops decoding it at the bound, keeps it
// unchanged, and cleans the records around it; the round allocates a
// bounded amount, not the batch's decompressed size: the batch is decoded
// twice (the offset map, then the rewrite), each time into a buffer that
// doubles up to the bound, so about four times the bound (267 MiB here).
func TestCompactionKeepsBombBatch(t *testing.T) {
	v := variants(t)[0]
	l, _ := openLog(t, v.fs, v.dir, compactConfig())
	const now = 1_000_000
	writeKeys(t, l, 10, 8, records.CodecNone, false, now)
	bomb := overBoundBomb(t, now, 1000)
	if _, err := l.Append(bomb, now); err != nil {
		t.Fatal(err)
	}
	want := writeKeys(t, l, 10, 8, records.CodecNone, false, now)
	var st CompactStats
	var err error
	alloc := heapAllocated(func() { st, err = l.Compact(now, NewCleaner(1<<20)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-byte bomb (8 GiB of records): cleaning round allocated %d MiB, removed %d records", len(bomb), alloc>>20, st.RecordsRemoved)
	if !st.Cleaned || st.RecordsRemoved == 0 {
		t.Fatalf("nothing cleaned: %+v", st)
	}
	if limit := uint64(5 * records.DefaultMaxDecompressed); alloc > limit {
		t.Fatalf("cleaning allocated %d bytes, more than %d", alloc, limit)
	}
	b := readAll(t, l, 0)
	kept := false
	got := map[string][]byte{}
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.Compression() == records.CodecZstd {
			kept = kept || bytes.Equal(b[BatchHeaderSize:h.Length], bomb[BatchHeaderSize:])
		} else if err := records.ForEach(b[:h.Length], records.DefaultMaxDecompressed, func(r records.Record) error {
			got[string(r.Key)] = bytes.Clone(r.Value)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		b = b[h.Length:]
	}
	if !kept {
		t.Fatal("the bomb batch was not kept unchanged")
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, w) {
			t.Fatalf("key %s: got %q, want %q", k, g, w)
		}
	}
}
