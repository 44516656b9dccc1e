package log

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/moldau/moldau/log/records"
)

// replHeader is what a replicated log must keep of every batch through a
// clean: its place (base, last offset) and term (leader epoch).
type replHeader struct {
	base, last int64
	epoch      int32
	control    bool
}

func replHeaders(t testing.TB, l *Log) []replHeader {
	t.Helper()
	var out []replHeader
	err := l.ScanHeaders(l.LogStartOffset(), func(h BatchHeader) error {
		out = append(out, replHeader{h.BaseOffset, h.LastOffset(), h.LeaderEpoch, h.IsControl()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompactionReplicatedKeepsEveryBatch: on a replicated log the cleaner
// keeps every batch (emptied ones as headers) with its offsets and leader
// epoch, keeps transaction markers whole, and neither maps nor removes
// anything at or above the high watermark; the latest value of every key
// below it survives, and the log shrinks.
func TestCompactionReplicatedKeepsEveryBatch(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := compactConfig()
		cfg.Replicated = true
		l, _ := openLog(t, v.fs, v.dir, cfg)
		const now = 1_000_000
		want := map[string][]byte{}
		epoch := int32(1)
		for r := range 60 {
			if r%20 == 19 {
				epoch++ // a leader change every 20 batches
			}
			var recs []kv
			for k := range 6 {
				key := fmt.Appendf(nil, "key-%d", k)
				val := fmt.Appendf(nil, "round-%d-%s", r, bytes.Repeat([]byte{'x'}, 40))
				recs = append(recs, kv{key, val})
			}
			if _, err := l.AppendWithEpoch(makeKVBatch(t, recs, now, 0, false, -1), now, epoch); err != nil {
				t.Fatal(err)
			}
			if r == 30 {
				// A committed (aborted-free) transaction marker in the middle.
				if _, err := l.AppendWithEpoch(controlBatch(t, 7, true, now), now, epoch); err != nil {
					t.Fatal(err)
				}
			}
			if r < 50 {
				for _, rec := range recs {
					want[string(rec.key)] = rec.value
				}
			}
		}
		must(t, l.SyncTo(l.EndOffset()))
		// The high watermark stops at batch 50 (+1 for the marker): the
		// ten batches after it are uncommitted.
		hs := replHeaders(t, l)
		hw := hs[51].base
		l.SetHighWatermark(hw)
		sizeBefore := l.Size()
		st, err := l.Compact(now, NewCleaner(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned || st.RecordsRemoved == 0 || st.MapEnd > hw {
			t.Fatalf("round %+v (hw %d)", st, hw)
		}
		after := replHeaders(t, l)
		if len(after) != len(hs) {
			t.Fatalf("%d batches after the clean, %d before: a replicated log must keep every batch", len(after), len(hs))
		}
		for i := range hs {
			if after[i] != hs[i] {
				t.Fatalf("batch %d: %+v after the clean, %+v before", i, after[i], hs[i])
			}
		}
		if l.Size() >= sizeBefore {
			t.Fatalf("size %d -> %d", sizeBefore, l.Size())
		}
		// Below the high watermark: the latest value per key as of then;
		// every record at or above it is still there (6 per batch).
		l.SetHighWatermark(l.EndOffset())
		b := readAll(t, l, 0)
		got := map[string][]byte{}
		above := 0
		for len(b) > 0 {
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.IsControl() && h.RecordCount != 1 {
				t.Fatalf("marker at %d has %d records", h.BaseOffset, h.RecordCount)
			}
			if !h.IsControl() {
				forEachRecord(t, b[:h.Length], func(key, value []byte, off int64) {
					if off >= hw {
						above++
					} else {
						got[string(key)] = value
					}
				})
			}
			b = b[h.Length:]
		}
		if above != 60 {
			t.Fatalf("%d records above the high watermark after the clean, want 60", above)
		}
		for k, w := range want {
			if !bytes.Equal(got[k], w) {
				t.Fatalf("key %s: %q, want %q", k, got[k], w)
			}
		}
		// Reopened (recovery scans the cleaned segments): same batches.
		must(t, l.Close())
		l2, _ := openLog(t, v.fs, v.dir, cfg)
		again := replHeaders(t, l2)
		if len(again) != len(hs) || again[len(again)-1] != hs[len(hs)-1] {
			t.Fatalf("after reopen: %d batches, last %+v", len(again), again[len(again)-1])
		}
	})
}

func forEachRecord(t testing.TB, batch []byte, fn func(key, value []byte, off int64)) {
	t.Helper()
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := records.ForEach(batch, records.DefaultMaxDecompressed, func(r records.Record) error {
		fn(r.Key, r.Value, h.BaseOffset+int64(r.OffsetDelta))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
