package log

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// resetFixture builds a replicated log with several segments, epochs, a
// deleted prefix, producer snapshots, a cleaner checkpoint, a high-watermark
// checkpoint, a Raft HardState and a foreign file, everything durable, and
// returns it with its contents.
func resetFixture(t *testing.T, fs vfs.FS, dir string) (*Log, []byte) {
	t.Helper()
	l, _, err := Open(fs, dir, replicated(), testLogger(t))
	must(t, err)
	for i := range 60 {
		if _, err := l.AppendWithEpoch(makeBatch(3, int64(i), 200), int64(i), int32(i/20)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, l.DeleteRecordsBefore(5))
	must(t, l.WriteSnapshot(30, []byte("state@30")))
	must(t, l.WriteSnapshot(60, []byte("state@60")))
	must(t, writeCleanPoint(l, 40))
	must(t, l.SyncTo(l.EndOffset()))
	l.SetHighWatermark(90)
	must(t, l.CheckpointHighWatermark())
	must(t, SaveHardState(fs, dir, HardState{Term: 7, Vote: 2, Commit: 31}))
	_, err = writeFile(fs, filepath.Join(dir, "foreign"), []byte("keep me"), true, false)
	must(t, err)
	must(t, fs.SyncDir(dir))
	if l.Segments() < 3 {
		t.Fatalf("fixture has %d segments", l.Segments())
	}
	return l, readAll(t, l, l.LogStartOffset())
}

// logState is what a reopened log looks like from outside.
type logState struct {
	start, end, hw int64
	epochs         []EpochEntry
	data           []byte
	snapshots      []int64
}

func stateOf(t *testing.T, l *Log) logState {
	t.Helper()
	s := logState{start: l.LogStartOffset(), end: l.EndOffset(), hw: l.HighWatermark(), epochs: l.Epochs(),
		data: readAll(t, l, l.LogStartOffset())}
	offs, err := l.snapshotOffsets()
	must(t, err)
	s.snapshots = offs
	return s
}

func (s logState) String() string {
	return fmt.Sprintf("start %d end %d hw %d epochs %v snapshots %v, %d bytes", s.start, s.end, s.hw, s.epochs, s.snapshots, len(s.data))
}

func (s logState) equal(o logState) bool {
	return s.start == o.start && s.end == o.end && s.hw == o.hw && equalEpochs(s.epochs, o.epochs) &&
		bytes.Equal(s.data, o.data) && slices.Equal(s.snapshots, o.snapshots)
}

func emptyAt(start int64) logState { return logState{start: start, end: start, hw: start} }

// checkResetDir: after a reset to start the directory holds the empty
// segment, meta, and the files the log does not own.
func checkResetDir(t *testing.T, fs vfs.FS, dir string, start int64, extra ...string) {
	t.Helper()
	names, err := fs.ReadDir(dir)
	must(t, err)
	want := append([]string{segmentFileName(start, logSuffix), "foreign", metaFileName, HardStateFileName}, extra...)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("directory after reset: %v, want %v", names, want)
	}
}

func TestResetTo(t *testing.T) {
	for _, start := range []int64{0, 5, 70, 1000} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			mem := vfs.NewMem()
			dir := "/d/t-0"
			l, _ := resetFixture(t, mem, dir)
			t.Cleanup(func() { _ = l.Close() })
			must(t, l.ResetTo(start))
			if got := stateOf(t, l); !got.equal(emptyAt(start)) {
				t.Fatalf("after ResetTo(%d): %v", start, got)
			}
			if start > 0 {
				if _, err := l.Read(start-1, start+10, 1<<20, true, nil); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("read below the new start: %v", err)
				}
			}
			checkResetDir(t, mem, dir, start)
			// A crash right after the reset returned keeps it.
			crashed, _ := openLog(t, mem.CrashClone(), dir, replicated())
			if got := stateOf(t, crashed); !got.equal(emptyAt(start)) {
				t.Fatalf("crash after ResetTo(%d): %v", start, got)
			}
			// The log works on: appends at start, epochs, high watermark.
			if _, err := l.AppendWithEpoch(makeBatch(2, 0, 10), 0, 9); err != nil {
				t.Fatal(err)
			}
			if base := l.EndOffset() - 2; base != start {
				t.Fatalf("first batch after reset at %d", base)
			}
			if l.HighWatermark() != start {
				t.Fatalf("high watermark %d after an append", l.HighWatermark())
			}
			l.SetHighWatermark(start + 2)
			if got := l.Epochs(); !equalEpochs(got, []EpochEntry{{9, start}}) {
				t.Fatalf("epochs %v", got)
			}
			must(t, l.Close())
			l2, _ := openLog(t, mem, dir, replicated())
			if l2.LogStartOffset() != start || l2.EndOffset() != start+2 || l2.HighWatermark() != start+2 {
				t.Fatalf("reopened: start %d end %d hw %d", l2.LogStartOffset(), l2.EndOffset(), l2.HighWatermark())
			}
			if h, found, err := LoadHardState(mem, dir); err != nil || !found || h != (HardState{7, 2, 31}) {
				t.Fatalf("HardState after reset: %+v %v %v", h, found, err)
			}
		})
	}
}

// TestResetToSingleNode: on a log whose high watermark follows the end, it
// goes on following it.
func TestResetToSingleNode(t *testing.T) {
	l, _ := openLog(t, vfs.NewMem(), "/d/t-0", smallSegments())
	appendN(t, l, 20, 2, 100, 0)
	must(t, l.ResetTo(500))
	appendN(t, l, 2, 2, 100, 0)
	if l.LogStartOffset() != 500 || l.EndOffset() != 504 || l.HighWatermark() != 504 {
		t.Fatalf("start %d end %d hw %d", l.LogStartOffset(), l.EndOffset(), l.HighWatermark())
	}
	if err := l.ResetTo(-1); err == nil {
		t.Fatal("negative reset accepted")
	}
}

// TestResetToCrashAtEveryStep crashes before each file operation of
// ResetTo, and then before each file operation of the Open that finishes
// an interrupted reset: every recovery is the old log or the new empty one,
// the new one once ResetTo returned, and never a mix. It runs with resets
// below, inside and beyond the old log, and under two crash models: the
// in-memory FS's own (a directory change survives only once its directory
// is synced) and an eager one (every directory change is durable at once,
// as if the OS had synced it), so that every prefix of the operations is
// a possible crash state.
func TestResetToCrashAtEveryStep(t *testing.T) {
	for _, start := range []int64{0, 70, 1000} {
		for _, eager := range []bool{false, true} {
			t.Run(fmt.Sprintf("start=%d/eager=%v", start, eager), func(t *testing.T) {
				resetCrashAtEveryStep(t, start, eager)
			})
		}
	}
}

func resetCrashAtEveryStep(t *testing.T, start int64, eager bool) {
	dir := "/d/t-0"
	newSeen := false
	for step := int64(1); ; step++ {
		mem := vfs.NewMem()
		var ops atomic.Int64
		var armed atomic.Bool
		fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
			if !armed.Load() {
				return nil
			}
			if eager {
				_ = mem.SyncDir(dir)
			}
			if ops.Add(1) >= step {
				return vfs.ErrInjected
			}
			return nil
		})
		l, _ := resetFixture(t, fs, dir)
		old := stateOf(t, l)
		armed.Store(true)
		rerr := l.ResetTo(start)
		armed.Store(false)
		if rerr != nil {
			if _, err := l.Append(makeBatch(1, 0, 1), 0); err == nil {
				t.Fatalf("step %d: append accepted after a failed reset", step)
			}
		}
		crashed := mem.CrashClone()
		isNew := recoverReset(t, crashed.CrashClone(), dir, old, start, step, rerr == nil)
		newSeen = newSeen || isNew
		if isNew {
			// The recovery that finishes the reset crashes too.
			for inner := int64(1); ; inner++ {
				again := crashed.CrashClone()
				var innerOps atomic.Int64
				innerFS := vfs.NewErrorFS(again, func(op vfs.Op, path string) error {
					if eager {
						_ = again.SyncDir(dir)
					}
					if innerOps.Add(1) >= inner {
						return vfs.ErrInjected
					}
					return nil
				})
				l2, _, err := Open(innerFS, dir, replicated(), testLogger(t))
				if err == nil {
					_ = l2.Close()
				}
				recoverReset(t, again.CrashClone(), dir, old, start, step, true)
				if err == nil {
					break
				}
			}
		}
		_ = l.Close()
		if rerr == nil {
			t.Logf("crashed before each of %d steps", step-1)
			break
		}
	}
	if !newSeen {
		t.Fatal("no crash point recovered the new log")
	}
}

// recoverReset opens a crashed copy and checks it is the old log or the new
// empty one at start (the new one if mustBeNew). It reports which.
func recoverReset(t *testing.T, fs vfs.FS, dir string, old logState, start, step int64, mustBeNew bool) bool {
	t.Helper()
	l, _, err := Open(fs, dir, replicated(), testLogger(t))
	if err != nil {
		t.Fatalf("step %d: recovery failed: %v", step, err)
	}
	defer l.Close()
	got := stateOf(t, l)
	switch {
	case got.equal(emptyAt(start)):
		checkResetDir(t, fs, dir, start)
		return true
	case mustBeNew:
		t.Fatalf("step %d: ResetTo returned but recovered %v", step, got)
	case !got.equal(old):
		t.Fatalf("step %d: recovered neither the old log (%v) nor the new one: %v", step, old, got)
	}
	return false
}

// TestResetMarkerDamaged: Open refuses a log whose reset marker is
// unreadable instead of guessing.
func TestResetMarkerDamaged(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, smallSegments())
	appendN(t, l, 3, 1, 10, 0)
	must(t, l.Close())
	b := encodeResetMarker(50)
	b[6] ^= 0x40
	_, err := writeFile(mem, filepath.Join(dir, resetMarkerName), b, true, false)
	must(t, err)
	if _, _, err := Open(mem, dir, smallSegments(), testLogger(t)); !errors.Is(err, ErrCorruptResetMarker) {
		t.Fatalf("Open with a damaged reset marker: %v", err)
	}
}

func FuzzDecodeResetMarker(f *testing.F) {
	f.Add(encodeResetMarker(0))
	f.Add(encodeResetMarker(123456789))
	f.Add([]byte("MDRS\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		start, err := decodeResetMarker(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptResetMarker) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if start < 0 || !bytes.Equal(encodeResetMarker(start), b) {
			t.Fatalf("accepted %x as %d", b, start)
		}
	})
}

// TestResetToConcurrent runs ResetTo while an appender and readers work
// (for the race detector): reads return whole batches or an error, appends
// continue at the new start, and nothing panics or deadlocks.
func TestResetToConcurrent(t *testing.T) {
	l, _ := openLog(t, vfs.NewMem(), "/d/t-0", smallSegments())
	appendN(t, l, 60, 3, 200, 0)
	stop := make(chan struct{})
	done := make(chan error, 3)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := l.AppendWithEpoch(makeBatch(2, 0, 100), 0, 1); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				b, err := l.Read(l.LogStartOffset(), l.HighWatermark(), 64<<10, true, nil)
				for err == nil && len(b) > 0 {
					h, herr := ParseBatchHeader(b)
					if herr != nil || int(h.Length) > len(b) || !verifyCRC(b[:h.Length]) {
						done <- fmt.Errorf("read returned a damaged batch: %v", herr)
						return
					}
					b = b[h.Length:]
				}
			}
		}()
	}
	for _, start := range []int64{10_000, 5, 20_000} {
		must(t, l.ResetTo(start))
		if l.LogStartOffset() != start || l.EndOffset() < start {
			t.Fatalf("after ResetTo(%d): start %d end %d", start, l.LogStartOffset(), l.EndOffset())
		}
	}
	close(stop)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("during resets: %v", err)
		}
	}
	must(t, l.SyncTo(l.EndOffset()))
	b := readAll(t, l, l.LogStartOffset())
	if hs := checkBatches(t, b); len(hs) > 0 && hs[0].BaseOffset != 20_000 {
		t.Fatalf("first batch after the last reset at %d", hs[0].BaseOffset)
	}
}
