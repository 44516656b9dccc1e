package log

import (
	"bytes"
	"testing"
)

// TestReadRangesSurviveCompactionSwap: ranges taken before the cleaner
// swaps cleaned segments in still read the bytes they covered (the old
// files stay open while pinned), on every file system; ranges taken after
// read the cleaned log.
func TestReadRangesSurviveCompactionSwap(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, compactConfig())
		const now = 1_000_000
		writeKeys(t, l, 30, 8, 0, false, now)
		end := l.EndOffset()
		want, err := l.Read(0, end, 1<<30, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ranges, release, err := l.ReadRanges(0, end, 1<<30, true)
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.Compact(now, NewCleaner(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if !st.Cleaned || st.SegmentsCleaned == 0 {
			t.Fatalf("nothing cleaned: %+v", st)
		}
		var got []byte
		for _, r := range ranges {
			b := make([]byte, r.Len)
			if _, err := r.File.ReadAt(b, r.Pos); err != nil {
				t.Fatalf("pinned range unreadable after the swap: %v", err)
			}
			got = append(got, b...)
		}
		release()
		if !bytes.Equal(got, want) {
			t.Fatalf("pinned ranges hold %d bytes that differ from the %d read before compaction", len(got), len(want))
		}
		after, err := l.Read(0, end, 1<<30, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) >= len(want) {
			t.Fatalf("compaction did not shrink the log: %d -> %d bytes", len(want), len(after))
		}
		ranges, release, err = l.ReadRanges(0, end, 1<<30, true)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		got = got[:0]
		for _, r := range ranges {
			b := make([]byte, r.Len)
			if _, err := r.File.ReadAt(b, r.Pos); err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, after) {
			t.Fatal("ranges after compaction differ from Read")
		}
	})
}
