package log

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moldau/moldau/log/vfs"
)

// blockingReads wraps fs so that, while armed, the first ReadAt of a .log
// file blocks until released; entered is signalled when it blocks.
type blockingReads struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *blockingReads) fs(inner vfs.FS) vfs.FS {
	return vfs.NewErrorFS(inner, func(op vfs.Op, path string) error {
		if op == vfs.OpRead && len(path) > 4 && path[len(path)-4:] == ".log" && b.armed.CompareAndSwap(true, false) {
			b.entered <- struct{}{}
			<-b.release
		}
		return nil
	})
}

// TestAppendsProceedWhileReadBlocked holds a reader inside ReadAt and checks
// that appends, syncs, retention (deleting the very segment being read) and
// other readers all complete meanwhile, and that the blocked read then
// returns the bytes it pinned.
func TestAppendsProceedWhileReadBlocked(t *testing.T) {
	mem := vfs.NewMem()
	br := &blockingReads{entered: make(chan struct{}), release: make(chan struct{})}
	cfg := smallSegments()
	l, _ := openLog(t, br.fs(mem), "/data/t-0", cfg)
	appendN(t, l, 40, 4, 100, 1000) // several segments
	full := readAll(t, l, 0)
	checkBatches(t, full)

	br.armed.Store(true)
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		b, err := l.Read(0, l.EndOffset(), 1<<20, true, nil)
		got <- result{b, err}
	}()
	select {
	case <-br.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("reader never reached ReadAt")
	}

	progress := make(chan error, 1)
	go func() {
		for i := range 200 {
			b := makeBatch(4, int64(5000+i), 100)
			if _, err := l.Append(b, int64(5000+i)); err != nil {
				progress <- err
				return
			}
		}
		if err := l.SyncTo(l.EndOffset()); err != nil {
			progress <- err
			return
		}
		// Another reader is not held up behind the writer either.
		if _, err := l.Read(l.EndOffset()-1, l.EndOffset(), 1<<20, true, nil); err != nil {
			progress <- err
			return
		}
		// Delete the segments the blocked reader is reading.
		progress <- l.DeleteRecordsBefore(l.EndOffset() - 1)
	}()
	select {
	case err := <-progress:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("appends blocked behind a reader stuck in ReadAt")
	}
	if l.LogStartOffset() == 0 || l.Segments() > 2 {
		t.Fatalf("retention did not delete: start %d, %d segments", l.LogStartOffset(), l.Segments())
	}
	close(br.release)
	r := <-got
	if r.err != nil {
		t.Fatalf("blocked read: %v", r.err)
	}
	if len(r.b) == 0 || !bytes.Equal(r.b, full[:len(r.b)]) {
		t.Fatalf("blocked read returned %d bytes, not the pinned segment's data", len(r.b))
	}
	checkBatches(t, r.b)
}

// TestCloseWhileReadBlocked: Close does not close a file under a reader.
func TestCloseWhileReadBlocked(t *testing.T) {
	mem := vfs.NewMem()
	br := &blockingReads{entered: make(chan struct{}), release: make(chan struct{})}
	l, _, err := Open(br.fs(mem), "/data/t-0", smallSegments(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 10, 4, 100, 1000)
	want := readAll(t, l, 0)
	br.armed.Store(true)
	got := make(chan []byte, 1)
	go func() {
		b, err := l.Read(0, l.EndOffset(), 1<<20, true, nil)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	<-br.entered
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	close(br.release)
	b := <-got
	if !bytes.Equal(b, want[:len(b)]) || len(b) == 0 {
		t.Fatalf("read across Close returned %d bytes", len(b))
	}
}

func TestFlushPolicy(t *testing.T) {
	mem := vfs.NewMem()
	cfg := smallSegments()
	cfg.FlushMessages = 10
	l, _ := openLog(t, mem, "/data/t-0", cfg)
	// What a broker does after each append: sync when FlushDue says so.
	flush := func() {
		t.Helper()
		if l.FlushDue() {
			if err := l.SyncTo(l.EndOffset()); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(t, l, 2, 4, 10, 0) // 8 messages: not yet
	flush()
	if l.DurableOffset() != 0 {
		t.Fatalf("durable %d after 8 messages with flush.messages=10", l.DurableOffset())
	}
	appendN(t, l, 1, 4, 10, 0) // 12: due
	if !l.FlushDue() || l.DurableOffset() != 0 {
		t.Fatalf("after 12 messages: FlushDue %v, durable %d (want true, 0: Append does not sync)", l.FlushDue(), l.DurableOffset())
	}
	flush()
	if l.FlushDue() || l.DurableOffset() != 12 {
		t.Fatalf("durable %d after 12 messages", l.DurableOffset())
	}
	cfg.FlushMessages = 0
	cfg.FlushMs = 50
	l.SetConfig(cfg)
	appendN(t, l, 1, 1, 10, 0)
	now := time.Now().UnixMilli()
	if ok, err := l.FlushIfDue(now); ok || err != nil {
		t.Fatalf("FlushIfDue right after a sync: %v %v", ok, err)
	}
	if ok, err := l.FlushIfDue(now + 60); !ok || err != nil || l.DurableOffset() != 13 {
		t.Fatalf("FlushIfDue after flush.ms: %v %v durable %d", ok, err, l.DurableOffset())
	}
	// Only synced data survives a crash.
	appendN(t, l, 1, 1, 10, 0)
	l2, _ := openLog(t, mem.CrashClone(), "/data/t-0", cfg)
	if l2.EndOffset() != 13 {
		t.Fatalf("after crash end %d, want 13", l2.EndOffset())
	}
}

// TestReadRangesMatchesRead: the zero-copy ranges cover exactly the bytes
// Read returns, stay readable after retention deletes their segments, and
// are OS files on the OS file system.
func TestReadRangesMatchesRead(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		l, _ := openLog(t, v.fs, v.dir, smallSegments())
		appendN(t, l, 80, 3, 200, 0)
		end := l.EndOffset()
		for _, tc := range []struct {
			off, max int64
			bytes    int
			one      bool
		}{{17, end, 5000, true}, {100, 150, 1 << 20, false}, {5, end, 1, true}, {5, end, 1, false}, {end, end, 100, true}, {0, end, 1 << 30, true}} {
			want, err := l.Read(tc.off, tc.max, tc.bytes, tc.one, nil)
			if err != nil {
				t.Fatal(err)
			}
			ranges, release, err := l.ReadRanges(tc.off, tc.max, tc.bytes, tc.one)
			if err != nil {
				t.Fatal(err)
			}
			if tc.off == 0 {
				must(t, l.DeleteRecordsBefore(end-1)) // the ranges must outlive this
			}
			var got []byte
			for _, r := range ranges {
				b := make([]byte, r.Len)
				if _, err := r.File.ReadAt(b, r.Pos); err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
				if _, ok := r.OSFile(); ok != (v.mem == nil) {
					t.Fatal("OSFile availability")
				}
			}
			release()
			if !bytes.Equal(got, want) {
				t.Fatalf("%+v: ranges hold %d bytes, Read %d", tc, len(got), len(want))
			}
		}
	})
}

// Group commit: many writers each waiting for their own batch share fsyncs,
// every one returns with its batch durable, and a failed fsync reaches every
// waiter (none hangs).
func TestGroupCommit(t *testing.T) {
	var syncs atomic.Int64
	var failSyncs atomic.Bool
	fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, logSuffix) {
			syncs.Add(1)
			time.Sleep(200 * time.Microsecond) // a disk's flush
			if failSyncs.Load() {
				return errors.New("injected fsync failure")
			}
		}
		return nil
	})
	l, _ := openLog(t, fs, "/d/t-0", DefaultConfig())
	const writers, rounds = 16, 50
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				base, err := l.Append(makeBatch(1, 0, 100), 0)
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.SyncTo(base + 1); err != nil {
					t.Error(err)
					return
				}
				if d := l.DurableOffset(); d < base+1 {
					t.Errorf("SyncTo(%d) returned with durable offset %d", base+1, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := syncs.Load(); n >= writers*rounds/2 {
		t.Fatalf("%d fsyncs for %d batches: not shared", n, writers*rounds)
	}
	// Appends nobody waits for (acks=1) do not make a lone waiter's next
	// sync wait for more.
	appendN(t, l, 100, 1, 10, 0)
	must(t, l.SyncTo(l.EndOffset()))
	l.syncMu.Lock()
	group := l.lastGroup
	l.syncMu.Unlock()
	if group != 1 {
		t.Fatalf("after 100 appends and one waiter the next sync gathers %d", group)
	}

	failSyncs.Store(true)
	errs := make(chan error, writers)
	for range writers {
		go func() {
			base, err := l.Append(makeBatch(1, 0, 100), 0)
			if err == nil {
				err = l.SyncTo(base + 1)
			}
			errs <- err
		}()
	}
	for range writers {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("a writer saw its batch durable after a failed fsync")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a writer hangs after a failed fsync")
		}
	}
}

// SyncTo clamps its offset to the end offset, also when a TruncateTo
// lowered the end below it (found by review: it fsynced in a loop).
func TestSyncToBeyondEnd(t *testing.T) {
	l, _ := openLog(t, vfs.NewMem(), "/d/t-0", DefaultConfig())
	appendN(t, l, 5, 1, 10, 0)
	base, err := l.Append(makeBatch(1, 0, 10), 0)
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- l.SyncTo(l.EndOffset() + 10) }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SyncTo beyond the end offset does not return")
	}
	_, err = l.TruncateTo(2)
	must(t, err)
	go func() { done <- l.SyncTo(base + 1) }()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SyncTo past a truncated end does not return")
	}
}
