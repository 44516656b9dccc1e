package broker

import (
	"bytes"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
)

// TestReviewSnapshotWriterStopsAtDelete: the background producer-state
// snapshot writer must not outlive deleteLog. Interleaving:
//
//  1. a flush (a produce reply's Wait) is in its fsync, holding the log's
//     syncMu;
//  2. the topic is deleted: deleteLog waits for the snapshot writer (none
//     runs), then log.Close waits for syncMu;
//  3. a produce that found the partition before the deletion appends and
//     rolls a segment: a snapshot is queued and a writer starts, passes
//     WriteSnapshot's closed check and is about to create its file;
//  4. the flush ends, Close and RemoveAll run, deleteLog returns;
//  5. the topic is re-created under the same name (same directory);
//  6. the old writer goes on and writes the deleted topic's producer state
//     into the new topic's directory, where the next open loads it once
//     the new log reaches its offset.
//
// deleteLog (and closeLog) must hold appendMu across waiting for the writer
// and closing the log, so that no append queues a snapshot in between.
func TestReviewSnapshotWriterStopsAtDelete(t *testing.T) {
	const dir = "/data/t-0"
	var blockSeg, blockSnap atomic.Bool
	segBlocked, snapBlocked := make(chan struct{}, 1), make(chan struct{}, 1)
	releaseSeg, releaseSnap := make(chan struct{}), make(chan struct{})
	fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
		switch {
		case op == vfs.OpSync && strings.HasSuffix(path, ".log") && blockSeg.CompareAndSwap(true, false):
			segBlocked <- struct{}{}
			<-releaseSeg
		case op == vfs.OpOpen && strings.HasSuffix(path, ".snapshot.tmp") && blockSnap.CompareAndSwap(true, false):
			snapBlocked <- struct{}{}
			<-releaseSnap
		}
		return nil
	})
	snapReleased := false
	defer func() {
		if !snapReleased {
			close(releaseSnap)
		}
	}()
	within := func(ch <-chan struct{}, what string) bool {
		t.Helper()
		select {
		case <-ch:
			return true
		case <-time.After(10 * time.Second):
			t.Errorf("timed out waiting for %s", what)
			return false
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	l, _, err := plog.Open(fs, dir, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	p := newPartition(&topic{name: "t"}, 0, l, soloLeadership(0))
	ok := func() error { return nil }
	var seq int32
	app := func() error {
		_, err := p.appendBatch(producerBatch(1, 0, seq, 5, false), 1000, ok)
		if err == nil {
			seq += 5
		}
		return err
	}
	if err := app(); err != nil {
		t.Fatal(err)
	}

	// 1.
	blockSeg.Store(true)
	synced := make(chan struct{})
	go func() { _ = p.syncAll(); close(synced) }()
	if !within(segBlocked, "the flush's fsync") {
		close(releaseSeg)
		t.FailNow()
	}
	// 2.
	deleted := make(chan struct{})
	go func() { _ = p.deleteLog(); close(deleted) }()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("log.(*Log).Close(")) {
		if time.Now().After(deadline) {
			close(releaseSeg)
			t.Fatal("deleteLog never reached log.Close")
		}
		runtime.Gosched()
	}
	// 3. (Only possible if deleteLog does not hold appendMu here.)
	wroteSnapshot := false
	if p.appendMu.TryLock() {
		p.appendMu.Unlock()
		blockSnap.Store(true)
		for segs := p.segments(); p.segments() == segs; {
			if err := app(); err != nil {
				t.Fatalf("append before the close: %v", err)
			}
		}
		wroteSnapshot = within(snapBlocked, "the roll snapshot's writer")
	}
	// 4.
	close(releaseSeg)
	within(synced, "the flush")
	within(deleted, "deleteLog")
	p.snapMu.Lock()
	running := p.snapIdle != nil
	p.snapMu.Unlock()
	if running {
		t.Errorf("a producer-state snapshot writer is still running after deleteLog returned")
	}
	if err := app(); err == nil {
		t.Errorf("append after deleteLog succeeded")
	}
	// 5.
	l2, _, err := plog.Open(fs, dir, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	// 6.
	close(releaseSnap)
	snapReleased = true
	p.waitSnapshots()
	names, err := fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".snapshot") {
			t.Errorf("the deleted partition's snapshot writer wrote %s into the re-created partition's directory", n)
		}
	}
	t.Logf("roll snapshot queued between deleteLog's wait and log.Close: %v", wroteSnapshot)
}
