package log

import (
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// The leader-epoch checkpoint is not fsynced on the append path; it is made
// durable by the next sync, before the data, and rebuilt from batch headers
// after an unclean shutdown (replication.go, maybeNewEpochLocked and
// rebuildEpochs). These tests crash the in-memory FS around each step.

// epochsFromBatches is the cache Kafka's rule gives for the log's batches
// (an entry at the first batch of each epoch above every earlier one).
func epochsFromBatches(t *testing.T, l *Log) []EpochEntry {
	t.Helper()
	var out []EpochEntry
	err := l.ScanHeaders(l.LogStartOffset(), func(h BatchHeader) error {
		if n := len(out); h.LeaderEpoch >= 0 && (n == 0 || h.LeaderEpoch > out[n-1].Epoch) {
			out = withEpoch(out, h.LeaderEpoch, h.BaseOffset)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkpointOn returns the leader-epoch checkpoint file's entries on fs.
func checkpointOn(t *testing.T, fs vfs.FS, dir string) []EpochEntry {
	t.Helper()
	b, err := readWholeFile(fs, filepath.Join(dir, epochFileName))
	if err != nil {
		return nil
	}
	entries, err := decodeEpochs(b)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// syncSegmentsBehindTheLog makes every segment file and the directory
// durable without the Log knowing: the kernel writing dirty pages back
// before a power loss, with the checkpoint (never written) not among them.
func syncSegmentsBehindTheLog(t *testing.T, mem *vfs.MemFS, dir string) {
	t.Helper()
	names, err := mem.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !strings.HasSuffix(name, logSuffix) {
			continue
		}
		f, err := mem.OpenFile(filepath.Join(dir, name), 0o2, 0) // O_RDWR
		if err != nil {
			t.Fatal(err)
		}
		must(t, f.Sync())
		must(t, f.Close())
	}
	must(t, mem.SyncDir(dir))
}

func appendEpoch(t *testing.T, l *Log, epoch int32, count int) int64 {
	t.Helper()
	first := int64(-1)
	for range count {
		base, err := l.AppendWithEpoch(makeBatch(3, 0, 300), 0, epoch)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 {
			first = base
		}
	}
	return first
}

// TestNewEpochAppendDoesNotFsync: neither AssignEpoch nor the appends that
// start new epochs (and roll segments) fsync anything; the next SyncTo
// writes the checkpoint before it syncs any segment.
func TestNewEpochAppendDoesNotFsync(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	var mu sync.Mutex
	var ops []string
	var syncs atomic.Int64
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		if op == vfs.OpSync || op == vfs.OpSyncDir {
			syncs.Add(1)
		}
		mu.Lock()
		ops = append(ops, op.String()+" "+filepath.Base(path))
		mu.Unlock()
		return nil
	})
	l, _ := openLog(t, fs, dir, smallSegments())
	syncs.Store(0)
	must(t, l.AssignEpoch(0))
	appendEpoch(t, l, 0, 3)
	s1 := appendEpoch(t, l, 1, 40) // rolls
	must(t, l.AssignEpoch(4))
	s4 := appendEpoch(t, l, 4, 3)
	if n := syncs.Load(); n != 0 {
		t.Fatalf("%d fsyncs on the append path", n)
	}
	if l.Segments() < 2 {
		t.Fatal("no roll")
	}
	if _, err := mem.Stat(filepath.Join(dir, epochFileName)); err == nil {
		t.Fatal("the append path wrote the checkpoint")
	}
	want := []EpochEntry{{0, 0}, {1, s1}, {4, s4}}
	if got := l.Epochs(); !equalEpochs(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	mu.Lock()
	ops = ops[:0]
	mu.Unlock()
	must(t, l.SyncTo(l.EndOffset()))
	mu.Lock()
	rename, firstSegSync := -1, -1
	for i, op := range ops {
		if op == "rename "+epochFileTemp && rename < 0 {
			rename = i
		}
		if strings.HasPrefix(op, "sync ") && strings.HasSuffix(op, logSuffix) && firstSegSync < 0 {
			firstSegSync = i
		}
	}
	mu.Unlock()
	if rename < 0 || firstSegSync < 0 || rename > firstSegSync {
		t.Fatalf("checkpoint renamed at op %d, first segment sync at op %d: %v", rename, firstSegSync, ops)
	}
	if got := checkpointOn(t, mem.CrashClone(), dir); !equalEpochs(got, want) {
		t.Fatalf("durable checkpoint %v, want %v", got, want)
	}
	// Nothing new: the next sync leaves the checkpoint alone.
	appendEpoch(t, l, 4, 1)
	mu.Lock()
	ops = ops[:0]
	mu.Unlock()
	must(t, l.SyncTo(l.EndOffset()))
	mu.Lock()
	defer mu.Unlock()
	for _, op := range ops {
		if strings.Contains(op, epochFileName) {
			t.Fatalf("unchanged cache rewritten: %v", ops)
		}
	}
}

// TestEpochCrashBeforeSync (a): a new epoch appended and never synced is
// lost with its batches; the cache matches the surviving batches.
func TestEpochCrashBeforeSync(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, smallSegments())
	must(t, l.AssignEpoch(0))
	appendEpoch(t, l, 0, 3)
	must(t, l.SyncTo(l.EndOffset()))
	end0 := l.EndOffset()
	appendEpoch(t, l, 1, 30) // rolls: the epoch starts in a sealed segment
	appendEpoch(t, l, 2, 2)
	l2, rep := openLog(t, mem.CrashClone(), dir, smallSegments())
	if rep.Clean || l2.EndOffset() != end0 {
		t.Fatalf("recovered end %d, want %d (%+v)", l2.EndOffset(), end0, rep)
	}
	want := []EpochEntry{{0, 0}}
	if got := l2.Epochs(); !equalEpochs(got, want) || !equalEpochs(epochsFromBatches(t, l2), want) {
		t.Fatalf("epochs %v, from batches %v, want %v", got, epochsFromBatches(t, l2), want)
	}
}

// TestEpochSyncedThenCrash (b): after SyncTo the checkpoint holds the new
// epoch, with no rebuild needed.
func TestEpochSyncedThenCrash(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, smallSegments())
	must(t, l.AssignEpoch(0))
	appendEpoch(t, l, 0, 3)
	s1 := appendEpoch(t, l, 1, 2)
	must(t, l.SyncTo(l.EndOffset()))
	crashed := mem.CrashClone()
	want := []EpochEntry{{0, 0}, {1, s1}}
	if got := checkpointOn(t, crashed, dir); !equalEpochs(got, want) {
		t.Fatalf("checkpoint %v, want %v", got, want)
	}
	l2, _ := openLog(t, crashed, dir, smallSegments())
	if got := l2.Epochs(); !equalEpochs(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
}

// TestEpochRebuiltFromSurvivingBatches (c): batches of a new epoch reach the
// disk without a sync of the log (page cache written back, or kept by a
// kill -9) while the checkpoint does not; Open rebuilds the entry from the
// batch headers, and Close makes it durable.
func TestEpochRebuiltFromSurvivingBatches(t *testing.T) {
	t.Run("power loss after writeback", func(t *testing.T) {
		mem := vfs.NewMem()
		dir := "/d/t-0"
		l, _ := openLog(t, mem, dir, smallSegments())
		must(t, l.AssignEpoch(0))
		appendEpoch(t, l, 0, 3)
		must(t, l.SyncTo(l.EndOffset()))
		s1 := appendEpoch(t, l, 1, 2)
		syncSegmentsBehindTheLog(t, mem, dir)
		crashed := mem.CrashClone()
		if got := checkpointOn(t, crashed, dir); !equalEpochs(got, []EpochEntry{{0, 0}}) {
			t.Fatalf("checkpoint %v: the test meant it to lack epoch 1", got)
		}
		l2, rep := openLog(t, crashed, dir, smallSegments())
		want := []EpochEntry{{0, 0}, {1, s1}}
		if got := l2.Epochs(); rep.Clean || !equalEpochs(got, want) {
			t.Fatalf("rebuilt epochs %v, want %v", got, want)
		}
		must(t, l2.Close())
		if got := checkpointOn(t, crashed, dir); !equalEpochs(got, want) {
			t.Fatalf("checkpoint after close %v, want %v", got, want)
		}
	})
	t.Run("kill -9", func(t *testing.T) {
		mem := vfs.NewMem()
		dir := "/d/t-0"
		l, _, err := Open(mem, dir, smallSegments(), testLogger(t)) // abandoned
		must(t, err)
		s0 := appendEpoch(t, l, 3, 2) // no entry before: rebuilt from nothing
		s5 := appendEpoch(t, l, 5, 2)
		l2, rep := openLog(t, mem, dir, smallSegments())
		want := []EpochEntry{{3, s0}, {5, s5}}
		if got := l2.Epochs(); rep.Clean || !equalEpochs(got, want) {
			t.Fatalf("rebuilt epochs %v, want %v", got, want)
		}
	})
}

// TestEpochRollCrash (d): an epoch change next to a roll, crashed at each
// stage: never synced, written back behind the log (the new epoch starting
// in a sealed, never-synced segment, another in the last one), and synced.
func TestEpochRollCrash(t *testing.T) {
	setup := func(t *testing.T) (*vfs.MemFS, *Log, int64, int64, int64) {
		mem := vfs.NewMem()
		l, _ := openLog(t, mem, "/d/t-0", smallSegments())
		must(t, l.AssignEpoch(0))
		appendEpoch(t, l, 0, 20)
		must(t, l.SyncTo(l.EndOffset()))
		end0 := l.EndOffset()
		segs := l.Segments()
		s1 := appendEpoch(t, l, 1, 40)
		s2 := appendEpoch(t, l, 2, 3)
		if l.Segments() < segs+2 {
			t.Fatalf("segments %d -> %d: epoch 1 does not span a roll", segs, l.Segments())
		}
		return mem, l, end0, s1, s2
	}
	t.Run("unsynced", func(t *testing.T) {
		mem, _, end0, _, _ := setup(t)
		l2, _ := openLog(t, mem.CrashClone(), "/d/t-0", smallSegments())
		if got, want := l2.Epochs(), []EpochEntry{{0, 0}}; l2.EndOffset() != end0 || !equalEpochs(got, want) {
			t.Fatalf("end %d epochs %v, want %d %v", l2.EndOffset(), got, end0, want)
		}
	})
	t.Run("written back", func(t *testing.T) {
		mem, l, _, s1, s2 := setup(t)
		syncSegmentsBehindTheLog(t, mem, "/d/t-0")
		l2, _ := openLog(t, mem.CrashClone(), "/d/t-0", smallSegments())
		want := []EpochEntry{{0, 0}, {1, s1}, {2, s2}}
		if l2.EndOffset() != l.EndOffset() || !equalEpochs(l2.Epochs(), want) || !equalEpochs(epochsFromBatches(t, l2), want) {
			t.Fatalf("end %d epochs %v, want %d %v", l2.EndOffset(), l2.Epochs(), l.EndOffset(), want)
		}
	})
	t.Run("synced", func(t *testing.T) {
		mem, l, _, s1, s2 := setup(t)
		must(t, l.SyncTo(l.EndOffset()))
		crashed := mem.CrashClone()
		want := []EpochEntry{{0, 0}, {1, s1}, {2, s2}}
		if got := checkpointOn(t, crashed, "/d/t-0"); !equalEpochs(got, want) {
			t.Fatalf("checkpoint %v, want %v", got, want)
		}
		l2, _ := openLog(t, crashed, "/d/t-0", smallSegments())
		if !equalEpochs(l2.Epochs(), want) {
			t.Fatalf("epochs %v, want %v", l2.Epochs(), want)
		}
	})
}

// TestEpochSyncCrashAtEveryStep: a crash at any file operation of the first
// SyncTo after new epochs (data written back or not) recovers a cache that
// matches the surviving batches exactly.
func TestEpochSyncCrashAtEveryStep(t *testing.T) {
	for _, writeback := range []bool{false, true} {
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
			must(t, err)
			must(t, l.AssignEpoch(0))
			appendEpoch(t, l, 0, 20)
			appendEpoch(t, l, 1, 30)
			appendEpoch(t, l, 2, 3)
			armed.Store(true)
			serr := l.SyncTo(l.EndOffset())
			armed.Store(false)
			if writeback {
				syncSegmentsBehindTheLog(t, mem, "/d/t-0")
			}
			l2, _, err := Open(mem.CrashClone(), "/d/t-0", smallSegments(), testLogger(t))
			must(t, err)
			if got, want := l2.Epochs(), epochsFromBatches(t, l2); !equalEpochs(got, want) {
				t.Fatalf("writeback %v, crash at op %d: epochs %v, batches say %v", writeback, step, got, want)
			}
			must(t, l2.Close())
			if serr == nil {
				break
			}
		}
	}
}

// TestEpochRebuildSkipsDamagedTrustedRegion: recovery trusts a sealed
// segment's index and verifies only its tail; a damaged header before the
// last index entry ends the rebuild's walk of that segment with a warning,
// Open succeeds, and later segments are still walked.
func TestEpochRebuildSkipsDamagedTrustedRegion(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _, err := Open(mem, dir, smallSegments(), testLogger(t)) // abandoned: kill -9
	must(t, err)
	appendEpoch(t, l, 1, 20) // segment 0 and on
	if l.Segments() < 2 {
		t.Fatal("no roll")
	}
	rolled := l.segments[1].base
	s7 := appendEpoch(t, l, 7, 2) // in the last segment
	// Damage the magic byte of segment 0's first batch.
	path := filepath.Join(dir, segmentFileName(0, logSuffix))
	f, err := mem.OpenFile(path, 0o2, 0) // O_RDWR
	must(t, err)
	b := fileBytes(t, f)
	b[offMagic] = 9
	must(t, f.Truncate(0))
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	must(t, f.Close())
	l2, rep := openLog(t, mem, dir, smallSegments())
	if rep.TruncatedFrom >= 0 || l2.EndOffset() != l.EndOffset() {
		t.Fatalf("recovery dropped data: %+v", rep)
	}
	// Epoch 1's first batch in segment 0 is unreadable; its entry starts at
	// the next segment, the first place the rebuild could read it.
	want := []EpochEntry{{1, rolled}, {7, s7}}
	if got := l2.Epochs(); !equalEpochs(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
}
