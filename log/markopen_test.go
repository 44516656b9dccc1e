package log

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// TestIdleCleanReopenWritesNothing: a log opened after a clean shutdown and
// closed without a change performs no write, rename, sync or truncate, and
// is still recovered as clean afterwards.
func TestIdleCleanReopenWritesNothing(t *testing.T) {
	mem := vfs.NewMem()
	l, _ := openLog(t, mem, "/d/t-0", smallSegments())
	appendN(t, l, 30, 2, 200, 1)
	want := readAll(t, l, 0)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var mutations atomic.Int64
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		switch op {
		case vfs.OpWrite, vfs.OpRename, vfs.OpSync, vfs.OpSyncDir, vfs.OpTruncate, vfs.OpRemove, vfs.OpRemoveAll:
			mutations.Add(1)
			t.Errorf("idle clean reopen: %v %s", op, path)
		}
		return nil
	})
	for range 3 {
		l, rep := openLog(t, fs, "/d/t-0", smallSegments())
		if !rep.Clean {
			t.Fatalf("reopen not clean: %+v", rep)
		}
		if got := readAll(t, l, 0); !bytes.Equal(got, want) {
			t.Fatal("data changed across idle reopen")
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if mutations.Load() != 0 {
		t.Fatalf("%d mutating file operations", mutations.Load())
	}
}

// TestCrashAfterCleanReopenAtEveryStep: after a clean shutdown the log is
// reopened (meta still "clean"), then changed by appends, a roll, retention,
// DeleteRecords and truncation; a crash before any file operation of that
// second life must still be recovered (a scan, not trusted as clean) to a
// contiguous run of appended batches including everything synced.
func TestCrashAfterCleanReopenAtEveryStep(t *testing.T) {
	for step := int64(1); ; step++ {
		mem := vfs.NewMem()
		cfg := smallSegments()
		cfg.RetentionBytes = 40 << 10
		batches := map[int64][]byte{}
		first, _ := openLog(t, mem, "/d/t-0", cfg)
		for _, a := range appendN(t, first, 20, 2, 300, 1) {
			batches[a.base] = a.bytes
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		synced := int64(0)
		changed, closed := false, false
		var ops atomic.Int64
		fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
			if ops.Add(1) >= step {
				return vfs.ErrInjected
			}
			return nil
		})
		func() {
			l, _, err := Open(fs, "/d/t-0", cfg, testLogger(t))
			if err != nil {
				return
			}
			synced = l.EndOffset() // everything before was closed cleanly
			for i := range 60 {
				b := makeBatch(1+i%3, int64(100+i), 300)
				base, err := l.Append(b, int64(100+i))
				if err != nil {
					return
				}
				batches[base] = bytes.Clone(b)
				changed = true
				if i%7 == 6 {
					end := l.EndOffset()
					if l.SyncTo(end) != nil {
						return
					}
					synced = end
				}
				if i == 20 {
					if _, err := l.EnforceRetention(int64(100 + i)); err != nil {
						return
					}
				}
				if i == 40 && l.DeleteRecordsBefore(l.LogStartOffset()+3) != nil {
					return
				}
			}
			end := l.EndOffset()
			if l.Close() == nil {
				synced, closed = end, true
			}
		}()
		crashed := mem.CrashClone()
		l, rep, err := Open(crashed, "/d/t-0", cfg, testLogger(t))
		if err != nil {
			t.Fatalf("step %d: recovery failed: %v", step, err)
		}
		if l.EndOffset() < synced {
			t.Fatalf("step %d: recovered end %d below synced %d (report %+v)", step, l.EndOffset(), synced, rep)
		}
		if changed && !closed && rep.Clean {
			t.Fatalf("step %d: the log was changed after its clean reopen, then crashed, yet recovered as clean", step)
		}
		got := readAll(t, l, l.LogStartOffset())
		hs := checkBatches(t, got)
		for _, h := range hs {
			want, ok := batches[h.BaseOffset]
			if !ok || !bytes.Equal(want, got[:h.Length]) {
				t.Fatalf("step %d: batch at %d was not appended as recovered (report %+v)", step, h.BaseOffset, rep)
			}
			got = got[h.Length:]
		}
		if n := len(hs); n > 0 && hs[n-1].NextOffset() != l.EndOffset() {
			t.Fatalf("step %d: end %d after last batch %d", step, l.EndOffset(), hs[n-1].NextOffset())
		}
		_ = l.Close()
		if ops.Load() < step {
			t.Logf("crashed before each of %d file operations", step-1)
			return
		}
	}
}
