package log

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

func replicated() Config {
	c := smallSegments()
	c.Replicated = true
	return c
}

// TestHighWatermarkSingleNode: a single-node log's high watermark follows
// its end, writes no checkpoint and reads none.
func TestHighWatermarkSingleNode(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	var syncs atomic.Int64
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		if op == vfs.OpSync || op == vfs.OpSyncDir {
			syncs.Add(1)
		}
		return nil
	})
	l, _ := openLog(t, fs, dir, smallSegments())
	syncs.Store(0)
	appendN(t, l, 10, 2, 10, 0)
	if l.HighWatermark() != l.EndOffset() {
		t.Fatalf("high watermark %d, end %d", l.HighWatermark(), l.EndOffset())
	}
	must(t, l.CheckpointHighWatermark())
	if n := syncs.Load(); n != 0 { // appends never fsync, not even for a new epoch
		t.Fatalf("%d syncs for 10 appends and a checkpoint", n)
	}
	must(t, l.Close())
	if _, err := mem.Stat(filepath.Join(dir, hwFileName)); err == nil {
		t.Fatal("single-node log wrote a high watermark checkpoint")
	}
	// Even a checkpoint left in the directory is not read.
	must(t, replaceFile(mem, dir, hwFileTemp, hwFileName, encodeHighWatermark(3)))
	l2, _ := openLog(t, mem, dir, smallSegments())
	if l2.HighWatermark() != 20 {
		t.Fatalf("reopened single-node high watermark %d, want 20", l2.HighWatermark())
	}
}

// TestHighWatermarkCheckpoint: a replicated log's high watermark is what
// replication set, checkpointed on demand and at close, and recovered at
// open; appends cost no extra fsync.
func TestHighWatermarkCheckpoint(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	var syncs atomic.Int64
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		if op == vfs.OpSync || op == vfs.OpSyncDir {
			syncs.Add(1)
		}
		return nil
	})
	l, _ := openLog(t, fs, dir, replicated())
	syncs.Store(0)
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("new replicated log: high watermark %d", hw)
	}
	appendN(t, l, 10, 2, 10, 0) // end 20
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before replication set it", hw)
	}
	if n := syncs.Load(); n != 0 { // appends never fsync, not even for a new epoch
		t.Fatalf("%d syncs for 10 appends", n)
	}
	l.SetHighWatermark(8)
	l.SetHighWatermark(6) // never backwards
	if hw := l.HighWatermark(); hw != 8 {
		t.Fatalf("high watermark %d, want 8", hw)
	}
	must(t, l.SyncTo(l.EndOffset()))
	must(t, l.CheckpointHighWatermark())
	before := syncs.Load()
	must(t, l.CheckpointHighWatermark()) // unchanged: no write
	if syncs.Load() != before {
		t.Fatal("an unchanged high watermark was written again")
	}
	l.SetHighWatermark(14)

	// A crash now recovers the checkpointed 8, not 14 and not the end.
	crashed, _ := openLog(t, mem.CrashClone(), dir, replicated())
	if crashed.EndOffset() != 20 || crashed.HighWatermark() != 8 {
		t.Fatalf("after a crash: end %d, high watermark %d; want 20, 8", crashed.EndOffset(), crashed.HighWatermark())
	}
	if b, err := crashed.Read(0, crashed.HighWatermark(), 1<<20, true, nil); err != nil || len(checkBatches(t, b)) != 4 {
		t.Fatalf("read below the recovered high watermark: %v", err)
	}
	crashed.SetHighWatermark(20)
	if crashed.HighWatermark() != 20 {
		t.Fatal("replication cannot move the recovered high watermark")
	}

	// Close checkpoints: the reopened log has 14.
	must(t, l.Close())
	l2, _ := openLog(t, mem, dir, replicated())
	if l2.HighWatermark() != 14 {
		t.Fatalf("after close: high watermark %d, want 14", l2.HighWatermark())
	}
	// The recovered high watermark is at least the log start.
	must(t, l2.DeleteRecordsBefore(16))
	must(t, l2.Close())
	l3, _ := openLog(t, mem, dir, replicated())
	if l3.HighWatermark() != 16 {
		t.Fatalf("high watermark %d below the log start 16", l3.HighWatermark())
	}
}

// TestHighWatermarkCheckpointAboveRecoveredEnd: when a crash loses records
// below the checkpointed high watermark, Open lowers the high watermark and
// the checkpoint to the recovered end, so records appended later do not
// become visible through the stale checkpoint after another crash.
func TestHighWatermarkCheckpointAboveRecoveredEnd(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, replicated())
	appendN(t, l, 5, 2, 10, 0)
	must(t, l.SyncTo(l.EndOffset())) // 10 durable
	appendN(t, l, 5, 2, 10, 0)       // 20, not synced
	l.SetHighWatermark(18)
	must(t, l.CheckpointHighWatermark())

	crash1 := mem.CrashClone()
	l2, _ := openLog(t, crash1, dir, replicated())
	if l2.EndOffset() != 10 || l2.HighWatermark() != 10 {
		t.Fatalf("end %d, high watermark %d; want 10, 10", l2.EndOffset(), l2.HighWatermark())
	}
	appendN(t, l2, 5, 2, 10, 0) // uncommitted 10..20
	must(t, l2.SyncTo(l2.EndOffset()))
	l3, _ := openLog(t, crash1.CrashClone(), dir, replicated())
	if l3.EndOffset() != 20 || l3.HighWatermark() != 10 {
		t.Fatalf("second crash: end %d, high watermark %d; want 20, 10", l3.EndOffset(), l3.HighWatermark())
	}
}

// TestHighWatermarkTruncateLowersCheckpoint: TruncateTo below the
// checkpointed high watermark rewrites the checkpoint before returning.
func TestHighWatermarkTruncateLowersCheckpoint(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, replicated())
	appendN(t, l, 10, 2, 10, 0)
	l.SetHighWatermark(16)
	must(t, l.SyncTo(l.EndOffset()))
	must(t, l.CheckpointHighWatermark())
	if _, err := l.TruncateTo(12); err != nil {
		t.Fatal(err)
	}
	if l.HighWatermark() != 12 {
		t.Fatalf("high watermark %d after truncation to 12", l.HighWatermark())
	}
	appendN(t, l, 5, 2, 10, 0) // uncommitted 12..22
	must(t, l.SyncTo(l.EndOffset()))
	crashed, _ := openLog(t, mem.CrashClone(), dir, replicated())
	if crashed.EndOffset() != 22 || crashed.HighWatermark() != 12 {
		t.Fatalf("after a crash: end %d, high watermark %d; want 22, 12", crashed.EndOffset(), crashed.HighWatermark())
	}
}

// TestHighWatermarkDamagedCheckpoint: a torn, corrupt, foreign-version or
// missing checkpoint starts the high watermark at the log start (never
// above the end).
func TestHighWatermarkDamagedCheckpoint(t *testing.T) {
	good := encodeHighWatermark(14)
	flipped := bytes.Clone(good)
	flipped[7] ^= 1
	version := bytes.Clone(good)
	version[4] = 9
	for name, content := range map[string][]byte{
		"torn":     good[:9],
		"empty":    {},
		"flipped":  flipped,
		"version":  version,
		"garbage":  []byte("0\n1\nt 0 14\n"),
		"too long": append(bytes.Clone(good), 0),
		"missing":  nil,
	} {
		t.Run(name, func(t *testing.T) {
			mem := vfs.NewMem()
			dir := "/d/t-0"
			l, _ := openLog(t, mem, dir, replicated())
			appendN(t, l, 10, 2, 10, 0)
			must(t, l.DeleteRecordsBefore(4))
			must(t, l.Close())
			path := filepath.Join(dir, hwFileName)
			if content == nil {
				_ = mem.Remove(path)
			} else {
				_, err := writeFile(mem, path, content, true, false)
				must(t, err)
			}
			l2, _ := openLog(t, mem, dir, replicated())
			if hw := l2.HighWatermark(); hw != 4 {
				t.Fatalf("high watermark %d, want the log start 4", hw)
			}
		})
	}
	if _, err := decodeHighWatermark(flipped); !errors.Is(err, ErrCorruptCheckpoint) {
		t.Fatalf("decode flipped: %v", err)
	}
}

// TestHighWatermarkCheckpointCrashAtEveryStep: a crash before any file
// operation of CheckpointHighWatermark recovers the old or the new high
// watermark, never more, never above the end.
func TestHighWatermarkCheckpointCrashAtEveryStep(t *testing.T) {
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
		dir := "/d/t-0"
		l, _, err := Open(fs, dir, replicated(), testLogger(t))
		must(t, err)
		appendN(t, l, 10, 2, 10, 0)
		must(t, l.SyncTo(l.EndOffset()))
		l.SetHighWatermark(6)
		must(t, l.CheckpointHighWatermark())
		l.SetHighWatermark(16)
		armed.Store(true)
		cerr := l.CheckpointHighWatermark()
		armed.Store(false)
		l2, _ := openLog(t, mem.CrashClone(), dir, replicated())
		hw := l2.HighWatermark()
		if hw != 6 && hw != 16 {
			t.Fatalf("step %d: recovered high watermark %d, want 6 or 16", step, hw)
		}
		if cerr == nil && hw != 16 {
			t.Fatalf("step %d: checkpoint returned but %d recovered", step, hw)
		}
		_ = l2.Close()
		if cerr == nil {
			t.Logf("crashed before each of %d steps", step-1)
			return
		}
	}
}

func FuzzDecodeHighWatermark(f *testing.F) {
	f.Add(encodeHighWatermark(0))
	f.Add(encodeHighWatermark(1 << 40))
	f.Add([]byte("MDHW"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hw, err := decodeHighWatermark(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if hw < 0 || !bytes.Equal(encodeHighWatermark(hw), b) {
			t.Fatalf("accepted %x as %d", b, hw)
		}
	})
}
