package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// smallSegments rolls often and keeps at most two sealed segment files
// open, so every test also exercises the file cache.
func smallSegments() Config {
	c := DefaultConfig()
	c.SegmentBytes = 16 << 10
	c.IndexIntervalBytes = 1024
	c.Files = NewFileCache(2)
	return c
}

// openUnmanaged opens a log the test will abandon (simulating a crash).
func openUnmanaged(t *testing.T, v variant, cfg Config) *Log {
	t.Helper()
	l, _, err := Open(v.fs, v.dir, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAppendReadRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, rep := openLog(t, v.fs, v.dir, smallSegments())
		if rep.EndOffset != 0 || l.EndOffset() != 0 || l.LogStartOffset() != 0 {
			t.Fatalf("fresh log: %+v", rep)
		}
		if b := readAll(t, l, 0); len(b) != 0 {
			t.Fatalf("empty log read %d bytes", len(b))
		}
		var want []appended
		next := int64(0)
		for i := range 200 {
			recs := 1 + i%5
			b := makeBatch(recs, 1000+int64(i), 100)
			base, err := l.Append(b, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if base != next {
				t.Fatalf("batch %d: base %d, want %d", i, base, next)
			}
			if got := int64(binaryBase(b)); got != base {
				t.Fatalf("Append did not rewrite baseOffset in place: %d", got)
			}
			next += int64(recs)
			want = append(want, appended{base: base, bytes: bytes.Clone(b)})
		}
		if l.EndOffset() != next {
			t.Fatalf("EndOffset %d, want %d", l.EndOffset(), next)
		}
		if l.Segments() < 2 {
			t.Fatalf("expected rolled segments, have %d", l.Segments())
		}
		all := readAll(t, l, 0)
		if !bytes.Equal(all, concat(want)) {
			t.Fatal("read bytes differ from appended bytes")
		}
		var total int64
		for _, a := range want {
			total += int64(len(a.bytes))
		}
		if l.Size() != total {
			t.Fatalf("Size %d, want %d", l.Size(), total)
		}
		// Every offset reads from the batch containing it.
		for i, a := range want {
			last := a.base + int64(binaryDelta(a.bytes))
			for off := a.base; off <= last; off++ {
				got, err := l.Read(off, next, 1<<20, true, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, concat(want[i:])) {
					t.Fatalf("Read(%d): wrong bytes", off)
				}
			}
		}
		// Appending into a caller's buffer keeps its prefix.
		got, err := l.Read(0, next, 1, true, []byte("prefix"))
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want[0].bytes...)) {
			t.Fatalf("Read into buf: %v", err)
		}
		if got, err := l.Read(next, next, 1<<20, true, nil); err != nil || len(got) != 0 {
			t.Fatalf("Read(end) = %d bytes, %v", len(got), err)
		}
		if _, err := l.Read(next+1, next+2, 1<<20, true, nil); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(end+1): %v", err)
		}
		if _, err := l.Read(-1, next, 1<<20, true, nil); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(-1): %v", err)
		}
	})
}

func binaryBase(b []byte) int64  { h, _ := ParseBatchHeader(b); return h.BaseOffset }
func binaryDelta(b []byte) int32 { h, _ := ParseBatchHeader(b); return h.LastOffsetDelta }

func TestReadLimits(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, smallSegments())
		want := appendN(t, l, 60, 2, 500, 0) // ~1.1 KiB batches, several segments
		size := len(want[0].bytes)
		end := l.EndOffset()

		got, err := l.Read(0, end, size-1, false, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("maxBytes below first batch without minOne: %d bytes, %v", len(got), err)
		}
		got, err = l.Read(0, end, size-1, true, nil)
		if err != nil || !bytes.Equal(got, want[0].bytes) {
			t.Fatalf("minOne: %d bytes, %v", len(got), err)
		}
		got, _ = l.Read(0, end, 0, true, nil)
		if !bytes.Equal(got, want[0].bytes) {
			t.Fatalf("minOne with maxBytes 0: %d bytes", len(got))
		}
		got, _ = l.Read(2, end, 3*size-1, true, nil)
		if !bytes.Equal(got, concat(want[1:3])) {
			t.Fatalf("maxBytes 3*size-1: %d bytes", len(got))
		}
		got, _ = l.Read(2, end, 3*size, false, nil)
		if !bytes.Equal(got, concat(want[1:4])) {
			t.Fatalf("maxBytes 3*size: %d bytes", len(got))
		}
		// maxOffset stops before a batch whose base is >= it.
		got, _ = l.Read(0, 7, 1<<20, true, nil)
		if !bytes.Equal(got, concat(want[:4])) { // bases 0,2,4,6
			t.Fatalf("maxOffset 7: %d bytes", len(got))
		}
		got, _ = l.Read(0, 5, 1<<20, true, nil) // 5 is inside the batch at 4
		if !bytes.Equal(got, concat(want[:3])) {
			t.Fatalf("maxOffset 5: %d bytes", len(got))
		}
		got, _ = l.Read(0, 6, 1<<20, true, nil)
		if !bytes.Equal(got, concat(want[:3])) {
			t.Fatalf("maxOffset 6: %d bytes", len(got))
		}
		// Reads span segments and stop exactly at maxBytes.
		for _, n := range []int{1, 5, 13, 29, 59} {
			got, _ = l.Read(0, end, n*size, false, nil)
			if !bytes.Equal(got, concat(want[:n])) {
				t.Fatalf("%d batches: got %d bytes", n, len(got))
			}
		}
	})
}

func TestSegmentRollBySizeAndTime(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		l, _ := openLog(t, v.fs, v.dir, cfg)
		appendN(t, l, 40, 1, 1000, 0)
		names, _ := v.fs.ReadDir(v.dir)
		var segs []string
		for _, n := range names {
			if _, ok := parseSegmentName(n); ok {
				segs = append(segs, n)
			}
		}
		if len(segs) != l.Segments() || len(segs) < 3 || segs[0] != "00000000000000000000.log" {
			t.Fatalf("segments on disk: %v (log says %d)", segs, l.Segments())
		}
		// Every segment but the active one is within SegmentBytes.
		for _, n := range segs[:len(segs)-1] {
			fi, err := v.fs.Stat(filepath.Join(v.dir, n))
			if err != nil || fi.Size() > cfg.SegmentBytes {
				t.Fatalf("%s: %v, %v", n, fi, err)
			}
		}
		// A batch bigger than SegmentBytes goes alone in a fresh segment.
		before := l.Segments()
		big := makeBatch(1, 0, int(cfg.SegmentBytes))
		if _, err := l.Append(big, 0); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 1, 1, 10, 0)
		if l.Segments() != before+2 {
			t.Fatalf("big batch: %d segments, want %d", l.Segments(), before+2)
		}
		// Time-based roll.
		cfg.SegmentMs = 1000
		l.SetConfig(cfg)
		n := l.Segments()
		if _, err := l.Append(makeBatch(1, 0, 10), 500); err != nil {
			t.Fatal(err)
		}
		if l.Segments() != n {
			t.Fatal("rolled too early")
		}
		if _, err := l.Append(makeBatch(1, 0, 10), 5000); err != nil {
			t.Fatal(err)
		}
		if l.Segments() != n+1 {
			t.Fatal("did not roll by time")
		}
		checkBatches(t, readAll(t, l, 0))
	})
}

// countingFS counts reads of segment data files.
func countingFS(inner vfs.FS, reads *atomic.Int64) vfs.FS {
	return vfs.NewErrorFS(inner, func(op vfs.Op, path string) error {
		if op == vfs.OpRead && filepath.Ext(path) == logSuffix {
			reads.Add(1)
		}
		return nil
	})
}

func TestReopenAfterCleanClose(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 1 << 20
		l, _, err := Open(v.fs, v.dir, cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		want := appendN(t, l, 3000, 1, 1000, 0) // ~3 MiB over 3+ segments
		end := l.EndOffset()
		segs := l.Segments()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(makeBatch(1, 0, 1), 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v", err)
		}
		var reads atomic.Int64
		l2, rep := openLog(t, countingFS(v.fs, &reads), v.dir, cfg)
		if !rep.Clean || rep.TruncatedFrom != -1 || rep.RebuiltIndexes != 0 || rep.Segments != segs {
			t.Fatalf("report after clean close: %+v", rep)
		}
		if l2.EndOffset() != end {
			t.Fatalf("EndOffset %d, want %d", l2.EndOffset(), end)
		}
		// No rescan: a couple of reads per segment (index spot check, tail).
		if n := reads.Load(); n > int64(3*segs) {
			t.Fatalf("clean reopen did %d segment reads for %d segments", n, segs)
		}
		if !bytes.Equal(readAll(t, l2, 0), concat(want)) {
			t.Fatal("data differs after reopen")
		}
		more := appendN(t, l2, 10, 1, 1000, 0)
		if more[0].base != end {
			t.Fatalf("append after reopen at %d, want %d", more[0].base, end)
		}
	})
}

func openUnmanagedFS(t *testing.T, fs vfs.FS, dir string, cfg Config) *Log {
	t.Helper()
	l, _, err := Open(fs, dir, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestUncleanReopenAgrees(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l := openUnmanaged(t, v, smallSegments())
		want := appendN(t, l, 100, 3, 200, 0)
		// No Close: the meta file says unclean.
		l2, rep := openLog(t, v.fs, v.dir, smallSegments())
		if rep.Clean || rep.TruncatedFrom != -1 || rep.DroppedBytes != 0 {
			t.Fatalf("report: %+v", rep)
		}
		if !bytes.Equal(readAll(t, l2, 0), concat(want)) {
			t.Fatal("data differs")
		}
	})
}

func TestCrashLosesOnlyUnsynced(t *testing.T) {
	for _, roll := range []bool{false, true} {
		t.Run(fmt.Sprintf("roll=%v", roll), func(t *testing.T) {
			mem := vfs.NewMem()
			cfg := smallSegments()
			l, _, err := Open(mem, "/d/t-0", cfg, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			want := appendN(t, l, 10, 2, 300, 0)
			if err := l.SyncTo(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			synced := l.EndOffset()
			n := 3
			if roll {
				n = 60 // several new segments, never synced
			}
			appendN(t, l, n, 2, 300, 0)

			crashed := mem.CrashClone()
			l2, rep := openLog(t, crashed, "/d/t-0", cfg)
			if l2.EndOffset() != synced {
				t.Fatalf("after crash EndOffset %d, want synced %d (report %+v)", l2.EndOffset(), synced, rep)
			}
			if !bytes.Equal(readAll(t, l2, 0), concat(want)) {
				t.Fatal("synced prefix differs")
			}
			if rep.Clean {
				t.Fatal("crash reported as clean")
			}

			// With SyncTo, everything survives.
			if err := l.SyncTo(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
			all := readAll(t, l, 0)
			end := l.EndOffset()
			mem.Crash()
			if _, err := l.Append(makeBatch(1, 0, 1), 0); err == nil {
				t.Fatal("append through a pre-crash handle succeeded")
			}
			l3, _ := openLog(t, mem, "/d/t-0", cfg)
			if l3.EndOffset() != end || !bytes.Equal(readAll(t, l3, 0), all) {
				t.Fatalf("after synced crash: end %d want %d", l3.EndOffset(), end)
			}
		})
	}
}

func TestTornTail(t *testing.T) {
	damages := []struct {
		name string
		// damage returns the file position recovery should truncate at.
		damage    func(t *testing.T, f vfs.File, lastPos, size int64) int64
		dropsLast bool
		zeroTail  bool // only zeros beyond the data: trimmed, not reported as damage
	}{
		{"truncated mid-batch", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			must(t, f.Truncate(lastPos+(size-lastPos)/2))
			return lastPos
		}, true, false},
		{"truncated mid-header", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			must(t, f.Truncate(lastPos+20))
			return lastPos
		}, true, false},
		{"garbage appended", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			_, err := f.Write(bytes.Repeat([]byte{0xAB}, 100))
			must(t, err)
			return size
		}, false, false},
		{"zeros appended", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			_, err := f.Write(make([]byte, 4096))
			must(t, err)
			return size
		}, false, true},
		{"zeros over a torn batch", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			must(t, f.Truncate(lastPos+30))
			_, err := f.Write(make([]byte, 4096))
			must(t, err)
			return lastPos
		}, true, false},
		{"bit flip in last batch", func(t *testing.T, f vfs.File, lastPos, size int64) int64 {
			b := fileBytes(t, f)
			b[size-3] ^= 0x10
			must(t, f.Truncate(0))
			_, err := f.Write(b)
			must(t, err)
			return lastPos
		}, true, false},
	}
	for _, d := range damages {
		for _, clean := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/clean=%v", d.name, clean), func(t *testing.T) {
				forEach(t, func(t *testing.T, v variant) {
					cfg := DefaultConfig()
					cfg.IndexIntervalBytes = 512
					l := openUnmanaged(t, v, cfg)
					want := appendN(t, l, 20, 2, 200, 0)
					if clean {
						must(t, l.Close())
					}
					f := segmentFile(t, v.fs, v.dir, 0)
					size, _ := f.Size()
					lastPos := size - int64(len(want[len(want)-1].bytes))
					cut := d.damage(t, f, lastPos, size)
					now, _ := f.Size()

					l2, rep := openLog(t, v.fs, v.dir, cfg)
					keep := want
					if d.dropsLast {
						keep = want[:len(want)-1]
					}
					wantEnd := keep[len(keep)-1].base + 2
					if d.zeroTail {
						if rep.Corruption != nil || rep.DroppedBytes != 0 || rep.TruncatedFrom != -1 || rep.ZeroTailBytes != now-cut {
							t.Fatalf("zero tail reported as %+v, want ZeroTailBytes %d and no damage", rep, now-cut)
						}
					} else {
						if rep.Corruption == nil || rep.Corruption.Offset != cut {
							t.Fatalf("corruption %+v, want at %d", rep.Corruption, cut)
						}
						if rep.DroppedBytes != now-cut {
							t.Fatalf("DroppedBytes %d, want %d", rep.DroppedBytes, now-cut)
						}
						if rep.TruncatedFrom != wantEnd {
							t.Fatalf("TruncatedFrom %d, want %d", rep.TruncatedFrom, wantEnd)
						}
					}
					if l2.EndOffset() != wantEnd {
						t.Fatalf("EndOffset %d, want %d", l2.EndOffset(), wantEnd)
					}
					if !bytes.Equal(readAll(t, l2, 0), concat(keep)) {
						t.Fatal("kept data differs")
					}
					if sz, _ := f.Size(); sz != cut {
						t.Fatalf("file size %d after recovery, want %d", sz, cut)
					}
					// The log continues where it was cut.
					more := appendN(t, l2, 1, 1, 10, 0)
					if more[0].base != wantEnd {
						t.Fatalf("next base %d, want %d", more[0].base, wantEnd)
					}
				})
			})
		}
	}
}

// crashAfterRoll appends 60 batches to a log of small segments (at least
// three), abandons it and removes the first segment's index files, as if
// the crash hit right after a roll. It returns what was appended, the
// segment count and the first segment's file, for the test to damage.
func crashAfterRoll(t *testing.T, v variant, cfg Config) ([]appended, int, vfs.File) {
	t.Helper()
	l := openUnmanaged(t, v, cfg)
	want := appendN(t, l, 60, 1, 1000, 0)
	segs := l.Segments()
	if segs < 3 {
		t.Fatalf("need 3 segments, have %d", segs)
	}
	for _, s := range []string{indexSuffix, timeIndexSuffix} {
		_ = v.fs.Remove(filepath.Join(v.dir, segmentFileName(0, s)))
	}
	return want, segs, segmentFile(t, v.fs, v.dir, 0)
}

func TestCorruptMiddleSegmentDropsLaterSegments(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		// Damage the first segment's last batch.
		_, segs, f := crashAfterRoll(t, v, cfg)
		size, _ := f.Size()
		must(t, f.Truncate(size-10))
		l2, rep := openLog(t, v.fs, v.dir, cfg)
		if l2.Segments() != 1 || rep.DroppedSegments != segs-1 || rep.TruncatedFrom < 0 || rep.RebuiltIndexes == 0 {
			t.Fatalf("report %+v, segments %d", rep, l2.Segments())
		}
		checkBatches(t, readAll(t, l2, 0))
		names, _ := v.fs.ReadDir(v.dir)
		for _, n := range names {
			if base, ok := parseSegmentName(n); ok && base != 0 {
				t.Fatalf("segment %s not deleted", n)
			}
		}
	})
}

func TestDeleteRecordsBefore(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		l := openUnmanaged(t, v, cfg)
		want := appendN(t, l, 60, 1, 1000, 0)
		end := l.EndOffset()
		segs := l.Segments()
		if err := l.DeleteRecordsBefore(end + 1); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("beyond end: %v", err)
		}
		must(t, l.DeleteRecordsBefore(35))
		if l.LogStartOffset() != 35 || l.Segments() >= segs {
			t.Fatalf("start %d, segments %d (was %d)", l.LogStartOffset(), l.Segments(), segs)
		}
		if _, err := l.Read(34, end, 1<<20, true, nil); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read below start: %v", err)
		}
		if got := readAll(t, l, 35); !bytes.Equal(got, concat(want[35:])) {
			t.Fatal("data after start differs")
		}
		must(t, l.DeleteRecordsBefore(10)) // backwards is a no-op
		if l.LogStartOffset() != 35 {
			t.Fatal("log start moved backwards")
		}
		// Survives an unclean reopen...
		l2 := openUnmanagedFS(t, v.fs, v.dir, cfg)
		if l2.LogStartOffset() != 35 || l2.EndOffset() != end {
			t.Fatalf("unclean reopen: start %d end %d", l2.LogStartOffset(), l2.EndOffset())
		}
		// ...and a clean one, also when the start is the end.
		must(t, l2.DeleteRecordsBefore(end))
		must(t, l2.Close())
		l3, rep := openLog(t, v.fs, v.dir, cfg)
		if l3.LogStartOffset() != end || l3.EndOffset() != end || !rep.Clean {
			t.Fatalf("clean reopen: start %d end %d %+v", l3.LogStartOffset(), l3.EndOffset(), rep)
		}
		if got, err := l3.Read(end, end, 100, true, nil); err != nil || len(got) != 0 {
			t.Fatalf("Read at start=end: %v", err)
		}
	})
}

func TestRetention(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		l, _ := openLog(t, v.fs, v.dir, cfg)
		// Timestamps 0..59 (one record per batch, ts == offset).
		appendN(t, l, 60, 1, 1000, 0)
		segs := l.Segments()
		if n, err := l.EnforceRetention(1 << 40); err != nil || n != 0 {
			t.Fatalf("infinite retention deleted %d, %v", n, err)
		}
		if p := l.RetentionPoint(1 << 40); p != 0 {
			t.Fatalf("infinite retention: point %d, want 0", p)
		}
		// By bytes: keep at most ~2 segments' worth.
		cfg.RetentionBytes = 2 * cfg.SegmentBytes
		l.SetConfig(cfg)
		point := l.RetentionPoint(0)
		if point == 0 || l.LogStartOffset() != 0 {
			t.Fatalf("retention point %d (start %d): want a point past 0, nothing moved", point, l.LogStartOffset())
		}
		n, err := l.EnforceRetention(0)
		if err != nil || n == 0 {
			t.Fatalf("retention by bytes deleted %d, %v", n, err)
		}
		// Kafka semantics: delete a segment only if the log stays at or above
		// the limit without it.
		if l.Size() < cfg.RetentionBytes || l.Size() >= cfg.RetentionBytes+cfg.SegmentBytes || l.Segments() != segs-n {
			t.Fatalf("size %d, limit %d", l.Size(), cfg.RetentionBytes)
		}
		if l.LogStartOffset() == 0 {
			t.Fatal("log start did not move")
		}
		if l.LogStartOffset() != point {
			t.Fatalf("retention moved the start to %d, RetentionPoint said %d", l.LogStartOffset(), point)
		}
		cfg.RetentionMs = 10
		cfg.RetentionBytes = -1
		l.SetConfig(cfg)
		timePoint := l.RetentionPoint(1000)
		cfg.RetentionMs = -1
		cfg.RetentionBytes = 2 * cfg.SegmentBytes
		l.SetConfig(cfg)
		checkBatches(t, readAll(t, l, l.LogStartOffset()))
		// By time: everything older than now-retention goes, except the
		// active segment.
		cfg.RetentionBytes = -1
		cfg.RetentionMs = 10
		l.SetConfig(cfg)
		n, err = l.EnforceRetention(1000)
		if err != nil || l.Segments() != 1 {
			t.Fatalf("retention by time: deleted %d, %d segments left, %v", n, l.Segments(), err)
		}
		if l.LogStartOffset() != timePoint {
			t.Fatalf("retention by time moved the start to %d, RetentionPoint said %d", l.LogStartOffset(), timePoint)
		}
		if got := readAll(t, l, l.LogStartOffset()); len(checkBatches(t, got)) == 0 {
			t.Fatal("active segment emptied")
		}
		// Log start survives reopen.
		start := l.LogStartOffset()
		must(t, l.Close())
		l2, _ := openLog(t, v.fs, v.dir, cfg)
		if l2.LogStartOffset() != start {
			t.Fatalf("start %d after reopen, want %d", l2.LogStartOffset(), start)
		}
	})
}

func TestTimestamps(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		l, _ := openLog(t, v.fs, v.dir, cfg)
		if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
			t.Fatalf("empty MaxTimestamp = %d, %d", ts, off)
		}
		if _, _, ok := l.OffsetForTimestamp(0); ok {
			t.Fatal("found a timestamp in an empty log")
		}
		// 50 batches of 4 records, record i has timestamp 1000+10*i.
		for i := range 50 {
			b := makeBatch(4, 0, 300)
			// Rewrite timestamps: base 1000+40*i, deltas 0..3 scaled by
			// makeBatch as 0..3, so records are 1000+40i+{0,1,2,3}.
			setTimestamps(b, 1000+40*int64(i))
			if _, err := l.Append(b, 0); err != nil {
				t.Fatal(err)
			}
		}
		ts, off := l.MaxTimestamp()
		if ts != 1000+40*49+3 || off != 199 {
			t.Fatalf("MaxTimestamp = %d, %d", ts, off)
		}
		cases := []struct{ ts, off, rts int64 }{
			{0, 0, 1000},
			{1000, 0, 1000},
			{1002, 2, 1002},
			{1004, 4, 1040}, // between batches: first record of the next batch
			{1000 + 40*30 + 1, 121, 1000 + 40*30 + 1},
			{1000 + 40*49 + 3, 199, 1000 + 40*49 + 3},
		}
		for _, c := range cases {
			off, rts, ok := l.OffsetForTimestamp(c.ts)
			if !ok || off != c.off || rts != c.rts {
				t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", c.ts, off, rts, ok, c.off, c.rts)
			}
		}
		if _, _, ok := l.OffsetForTimestamp(1000 + 40*49 + 4); ok {
			t.Error("found a timestamp beyond the max")
		}
		// After a clean reopen the indexes come from the files.
		must(t, l.Close())
		l2, _ := openLog(t, v.fs, v.dir, cfg)
		if ts2, off2 := l2.MaxTimestamp(); ts2 != ts || off2 != off {
			t.Fatalf("MaxTimestamp after reopen = %d, %d", ts2, off2)
		}
		for _, c := range cases {
			off, rts, ok := l2.OffsetForTimestamp(c.ts)
			if !ok || off != c.off || rts != c.rts {
				t.Errorf("after reopen OffsetForTimestamp(%d) = %d, %d, %v", c.ts, off, rts, ok)
			}
		}
		// The log start offset clamps the answer.
		must(t, l2.DeleteRecordsBefore(5))
		if off, _, _ := l2.OffsetForTimestamp(0); off != 5 {
			t.Fatalf("OffsetForTimestamp below start = %d", off)
		}
	})
}

// setTimestamps rewrites an uncompressed batch from makeBatch to start at
// baseTS and recomputes its CRC.
func setTimestamps(b []byte, baseTS int64) {
	h, _ := ParseBatchHeader(b)
	putU64(b[offBaseTimestamp:], uint64(baseTS))
	putU64(b[offMaxTimestamp:], uint64(baseTS+int64(h.LastOffsetDelta)))
	putU32(b[offCRC:], BatchCRC(b))
}

func TestScanHeaders(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, smallSegments())
		want := appendN(t, l, 1200, 2, 20, 0)
		var got []int64
		must(t, l.ScanHeaders(301, func(h BatchHeader) error {
			got = append(got, h.BaseOffset)
			return nil
		}))
		if len(got) != len(want)-150 || got[0] != 300 || got[len(got)-1] != want[len(want)-1].base {
			t.Fatalf("scanned %d headers from %d", len(got), got[0])
		}
		stop := errors.New("stop")
		if err := l.ScanHeaders(0, func(BatchHeader) error { return stop }); err != stop {
			t.Fatalf("ScanHeaders error: %v", err)
		}
	})
}

func TestConcurrentReadersAndAppender(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		cfg.SegmentBytes = 64 << 10
		l, _ := openLog(t, v.fs, v.dir, cfg)
		const batches = 1500
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			for i := range batches {
				b := makeBatch(1+i%3, int64(i), 50+i%200)
				if _, err := l.Append(b, int64(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for r := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(r), 1))
				var buf []byte
				for {
					select {
					case <-done:
						return
					default:
					}
					end := l.EndOffset()
					off := int64(0)
					if end > 0 {
						off = rng.Int64N(end + 1)
					}
					var err error
					buf, err = l.Read(off, end+1000, 1+rng.IntN(32<<10), rng.IntN(2) == 0, buf[:0])
					if err != nil {
						t.Error(err)
						return
					}
					hs := checkBatches(t, buf)
					if len(hs) > 0 && (hs[0].BaseOffset > off || hs[0].LastOffset() < off) {
						t.Errorf("Read(%d) began with batch %d..%d", off, hs[0].BaseOffset, hs[0].LastOffset())
						return
					}
					if r == 0 {
						if err := l.SyncTo(l.EndOffset()); err != nil {
							t.Error(err)
							return
						}
					}
					if r == 1 {
						l.OffsetForTimestamp(rng.Int64N(batches))
						l.MaxTimestamp()
						l.Size()
					}
				}
			}()
		}
		wg.Wait()
		if l.DurableOffset() > l.EndOffset() {
			t.Fatal("durable beyond end")
		}
		checkBatches(t, readAll(t, l, 0))
	})
}

func TestErrorInjection(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		var failSync, failWrite atomic.Bool
		efs := vfs.NewErrorFS(v.fs, func(op vfs.Op, path string) error {
			if op == vfs.OpSync && failSync.Load() && filepath.Ext(path) == logSuffix {
				return vfs.ErrInjected
			}
			if op == vfs.OpWrite && failWrite.Load() && filepath.Ext(path) == logSuffix {
				return vfs.ErrInjected
			}
			return nil
		})
		cfg := smallSegments()
		l, _, err := Open(efs, v.dir, cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		want := appendN(t, l, 5, 1, 100, 0)

		failWrite.Store(true)
		if _, err := l.Append(makeBatch(1, 0, 100), 0); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("Append with failing write: %v", err)
		}
		failWrite.Store(false)
		want = append(want, appendN(t, l, 1, 1, 100, 0)...)
		if want[len(want)-1].base != 5 {
			t.Fatalf("failed append consumed offsets: %d", want[len(want)-1].base)
		}

		failSync.Store(true)
		if err := l.SyncTo(l.EndOffset()); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("SyncTo with failing fsync: %v", err)
		}
		failSync.Store(false)
		// The log refuses further writes until reopened.
		if _, err := l.Append(makeBatch(1, 0, 100), 0); err == nil {
			t.Fatal("Append after failed fsync succeeded")
		}
		if err := l.SyncTo(l.EndOffset()); err == nil {
			t.Fatal("SyncTo after failed fsync succeeded")
		}
		if got := readAll(t, l, 0); !bytes.Equal(got, concat(want)) {
			t.Fatal("reads broken by a failed fsync")
		}
		if err := l.Close(); err == nil {
			t.Fatal("Close of a failed log reported success")
		}
		l2, rep := openLog(t, v.fs, v.dir, cfg)
		if rep.Clean || !bytes.Equal(readAll(t, l2, 0), concat(want)) {
			t.Fatalf("reopen after failure: %+v", rep)
		}
	})
}

func TestDelete(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l := openUnmanaged(t, v, smallSegments())
		appendN(t, l, 10, 1, 100, 0)
		must(t, l.Delete())
		if _, err := v.fs.Stat(v.dir); err == nil {
			t.Fatal("directory still exists")
		}
		if _, err := l.Read(0, 1, 100, true, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Delete: %v", err)
		}
	})
}

func TestParseBatchHeader(t *testing.T) {
	b := makeBatch(3, 77, 10)
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if int(h.Length) != len(b) || h.LastOffsetDelta != 2 || h.RecordCount != 3 || h.BaseTimestamp != 77 ||
		h.MaxTimestamp != 79 || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 {
		t.Fatalf("%+v", h)
	}
	if !verifyCRC(b) {
		t.Fatal("helper batch has a bad CRC")
	}
	if _, err := ParseBatchHeader(b[:60]); !errors.Is(err, ErrInvalidBatch) {
		t.Fatal(err)
	}
	b[offMagic] = 1
	if _, err := ParseBatchHeader(b); !errors.Is(err, ErrInvalidBatch) {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
