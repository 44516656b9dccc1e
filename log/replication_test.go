package log

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

func TestTruncateTo(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, smallSegments())
		batches := appendN(t, l, 60, 3, 200, 1000) // several segments
		segs := l.Segments()
		// Mid-batch: the whole batch holding offset 100 goes.
		end, err := l.TruncateTo(100)
		if err != nil || end != 99 || l.EndOffset() != 99 {
			t.Fatalf("TruncateTo(100) = %d, %v; end %d", end, err, l.EndOffset())
		}
		if l.Segments() >= segs {
			t.Fatalf("segments %d -> %d", segs, l.Segments())
		}
		want := concat(batches[:33])
		if got := readAll(t, l, 0); !bytes.Equal(got, want) {
			t.Fatal("prefix differs after truncation")
		}
		more := appendN(t, l, 5, 3, 200, 2000)
		if more[0].base != 99 {
			t.Fatalf("next append at %d", more[0].base)
		}
		want = append(want, concat(more)...)
		must(t, l.Close())
		l2, _ := openLog(t, v.fs, v.dir, smallSegments())
		if got := readAll(t, l2, 0); !bytes.Equal(got, want) {
			t.Fatal("reopen after truncation differs")
		}
		// Beyond the end: no-op. Below the start: error.
		if end, err := l2.TruncateTo(1 << 40); err != nil || end != l2.EndOffset() {
			t.Fatal("truncate beyond end")
		}
		must(t, l2.DeleteRecordsBefore(10))
		if _, err := l2.TruncateTo(5); err == nil {
			t.Fatal("truncate below log start accepted")
		}
		// To the start of a segment and to zero length of the active one.
		if end, err := l2.TruncateTo(l2.LogStartOffset() + 3); err != nil || end > l2.LogStartOffset()+3 {
			t.Fatalf("truncate near start: %d %v", end, err)
		}
	})
}

// TestTruncateCrashAtEveryStep: a crash before any file operation of
// TruncateTo recovers to a contiguous prefix of the original log that is at
// least the truncated prefix; once TruncateTo returns, exactly it.
func TestTruncateCrashAtEveryStep(t *testing.T) {
	for step := int64(1); ; step++ {
		mem := vfs.NewMem()
		var ops atomic.Int64
		var armed atomic.Bool
		fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
			if armed.Load() && ops.Add(1) >= step {
				return vfs.ErrInjected
			}
			return nil
		})
		l, _, err := Open(fs, "/d/t-0", smallSegments(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		batches := appendN(t, l, 60, 3, 200, 1000)
		must(t, l.SyncTo(l.EndOffset()))
		all := concat(batches)
		prefix := concat(batches[:20])
		armed.Store(true)
		_, terr := l.TruncateTo(60)
		armed.Store(false)
		l2, _, err := Open(mem.CrashClone(), "/d/t-0", smallSegments(), testLogger(t))
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		got := readAll(t, l2, 0)
		if !bytes.HasPrefix(all, got) || len(got) < len(prefix) {
			t.Fatalf("step %d: recovered %d bytes, not a prefix of at least %d", step, len(got), len(prefix))
		}
		if terr == nil && !bytes.Equal(got, prefix) {
			t.Fatalf("step %d: truncation returned but %d bytes recovered, want %d", step, len(got), len(prefix))
		}
		_ = l2.Close()
		if terr == nil {
			t.Logf("crashed before each of %d steps", step-1)
			return
		}
	}
}

func TestLeaderEpochs(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, smallSegments())
		app := func(epoch int32) int64 {
			base, err := l.AppendWithEpoch(makeBatch(2, 0, 10), 0, epoch)
			if err != nil {
				t.Fatal(err)
			}
			return base
		}
		app(0)
		app(0)
		s1 := app(1)
		app(1)
		s3 := app(3)
		app(3)
		want := []EpochEntry{{0, 0}, {1, s1}, {3, s3}}
		if got := l.Epochs(); !equalEpochs(got, want) {
			t.Fatalf("epochs %v, want %v", got, want)
		}
		if e, o := l.EndOffsetForEpoch(2); e != 1 || o != s3 {
			t.Fatalf("EndOffsetForEpoch(2) = %d, %d", e, o)
		}
		if e, o := l.EndOffsetForEpoch(3); e != 3 || o != l.EndOffset() {
			t.Fatalf("EndOffsetForEpoch(3) = %d, %d", e, o)
		}
		// Stale epochs never go backwards.
		app(2)
		if len(l.Epochs()) != 3 {
			t.Fatal("lower epoch added")
		}
		// High watermark.
		if l.HighWatermark() != l.EndOffset() {
			t.Fatal("default high watermark is not the end")
		}
		l.SetHighWatermark(s3 + 1)
		if l.HighWatermark() != s3+1 {
			t.Fatal("SetHighWatermark")
		}
		if _, err := l.TruncateTo(s3); err != nil {
			t.Fatal(err)
		}
		if got := l.Epochs(); !equalEpochs(got, want[:2]) || l.HighWatermark() != s3 {
			t.Fatalf("after truncation: epochs %v hw %d", got, l.HighWatermark())
		}
		must(t, l.Close())
		l2, _ := openLog(t, v.fs, v.dir, smallSegments())
		if got := l2.Epochs(); !equalEpochs(got, want[:2]) {
			t.Fatalf("reopened epochs %v", got)
		}
		if v.mem != nil {
			// A crash keeps the checkpoint consistent with the data.
			if _, err := l2.AppendWithEpoch(makeBatch(1, 0, 10), 0, 7); err != nil {
				t.Fatal(err)
			}
			l3, _ := openLog(t, v.mem.CrashClone(), v.dir, smallSegments())
			for _, e := range l3.Epochs() {
				if e.StartOffset >= l3.EndOffset() {
					t.Fatalf("epoch %v beyond recovered end %d", e, l3.EndOffset())
				}
			}
		}
	})
}

func equalEpochs(a, b []EpochEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzDecodeEpochs(f *testing.F) {
	f.Add(encodeEpochs([]EpochEntry{{0, 0}, {3, 100}}))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEpochs(b)
		if err == nil {
			if e2, err := decodeEpochs(encodeEpochs(e)); err != nil || !equalEpochs(e, e2) {
				t.Fatal("round trip")
			}
		}
	})
}

func TestRollByIndexSize(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 100
	cfg.SegmentIndexBytes = 4 * offsetEntrySize
	l, _ := openLog(t, vfs.NewMem(), "/d/t-0", cfg)
	appendN(t, l, 40, 1, 200, 0)
	if l.Segments() < 5 {
		t.Fatalf("%d segments: segment.index.bytes did not roll", l.Segments())
	}
	checkBatches(t, readAll(t, l, 0))
}

// TestFileCacheBoundsOpenFiles: logs sharing a cache keep at most its
// capacity of sealed segment files open (plus each active segment), and
// reads reopen evicted files transparently.
func TestFileCacheBoundsOpenFiles(t *testing.T) {
	mem := vfs.NewMem()
	var open atomic.Int64
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		if strings.HasSuffix(path, ".log") {
			switch op {
			case vfs.OpOpen:
				open.Add(1)
			case vfs.OpClose:
				open.Add(-1)
			}
		}
		return nil
	})
	cache := NewFileCache(4)
	cfg := smallSegments()
	cfg.Files = cache
	var logs []*Log
	var want [][]byte
	for i := range 3 {
		l, _ := openLog(t, fs, fmt.Sprintf("/d/t-%d", i), cfg)
		want = append(want, concat(appendN(t, l, 100, 2, 300, 0)))
		logs = append(logs, l)
	}
	check := func(when string) {
		t.Helper()
		if n := open.Load(); n > 4+3 {
			t.Fatalf("%s: %d segment files open, cache capacity 4 + 3 active", when, n)
		}
	}
	check("after appends")
	for round := range 3 {
		for i, l := range logs {
			if !bytes.Equal(readAll(t, l, 0), want[i]) {
				t.Fatalf("round %d log %d: data differs", round, i)
			}
			check("after reads")
		}
	}
	// Indexes are dropped with their files: at most the cache's capacity
	// of sealed segments hold an index in memory.
	loaded := 0
	for _, l := range logs {
		l.mu.RLock()
		for _, seg := range l.segments {
			seg.fileMu.Lock()
			if seg.sealed && seg.sealedIndex != nil {
				loaded++
			}
			seg.fileMu.Unlock()
		}
		l.mu.RUnlock()
	}
	if loaded > 4 {
		t.Fatalf("%d sealed segments hold their index in memory, cache capacity 4", loaded)
	}
	// Evicted segments whose index files are gone are rebuilt by a scan.
	names, _ := mem.ReadDir("/d/t-0")
	for _, n := range names {
		if strings.HasSuffix(n, ".index") || strings.HasSuffix(n, ".timeindex") {
			must(t, mem.Remove("/d/t-0/"+n))
		}
	}
	for range 2 {
		if !bytes.Equal(readAll(t, logs[0], 0), want[0]) {
			t.Fatal("data differs after index files were removed")
		}
		if o, _, ok := logs[0].OffsetForTimestamp(50); !ok || o > 100 {
			t.Fatalf("OffsetForTimestamp after index rebuild: %d %v", o, ok)
		}
	}
	for _, l := range logs {
		must(t, l.SyncTo(l.EndOffset()))
		must(t, l.Close())
	}
	// Reopen: recovery opens each segment, then hands sealed ones to the
	// cache.
	for i := range 3 {
		l, _ := openLog(t, fs, fmt.Sprintf("/d/t-%d", i), cfg)
		check("after reopen")
		if !bytes.Equal(readAll(t, l, 0), want[i]) {
			t.Fatal("data differs after reopen")
		}
	}
	check("at end")
}

func TestSegmentJitter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	cfg.SegmentJitterMs = 900
	rolls := map[int64]bool{}
	for i := range 20 {
		l, _ := openLog(t, vfs.NewMem(), fmt.Sprintf("/d/t-%d", i), cfg)
		appendN(t, l, 1, 1, 10, 0)
		for now := int64(0); now <= 1000; now += 50 {
			if _, err := l.Append(makeBatch(1, now, 10), now); err != nil {
				t.Fatal(err)
			}
			if l.Segments() > 1 {
				rolls[now] = true
				break
			}
		}
		if l.Segments() == 1 {
			t.Fatal("never rolled within segment.ms")
		}
	}
	if len(rolls) < 3 {
		t.Fatalf("20 partitions rolled at only %d distinct times", len(rolls))
	}
}
