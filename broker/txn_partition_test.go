package broker

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/batchtest"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/txn"
)

// producerBatch is a validated batch of n records of pid at seq.
func producerBatch(pid int64, epoch int16, seq int32, n int, transactional bool) *validatedBatch {
	b := batchtest.Batch{BaseTimestamp: 1000, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		Records: batchtest.Repeat(n, []byte("k"), []byte(strings.Repeat("v", 100)))}
	if transactional {
		b.Attributes = records.AttrTransactional
	}
	return &validatedBatch{raw: b.MustEncode(), producerID: pid, producerEpoch: epoch, baseSequence: seq, lastOffsetDelta: int32(n - 1),
		recordCount: int32(n), maxTimestamp: 1000 + int64(n-1), transactional: transactional}
}

type partitionState struct {
	Producers     []txn.ProducerSnapshot
	Aborted       []txn.AbortedTxn
	FirstUnstable int64
}

func stateOf(p *partition) partitionState {
	return partitionState{p.producers.Snapshot(), p.txns.Aborted(0, math.MaxInt64), p.firstUnstable.Load()}
}

// TestProducerSnapshots: a partition reopened from its snapshots (written at
// segment rolls and at close; the newest corrupt; or none) has the state a
// full scan of its log gives, and still recognises a retried batch.
func TestProducerSnapshots(t *testing.T) {
	defer func(v int64) { snapshotMinLogBytes = v }(snapshotMinLogBytes)
	snapshotMinLogBytes = 0
	fs := vfs.NewMem()
	const dir = "/data/t-0"
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *partition {
		t.Helper()
		l, _, err := plog.Open(fs, dir, cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		p := newPartition(&topic{name: "t"}, 0, l, soloLeadership(0))
		if err := p.rebuildProducers(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	snapshots := func() []string {
		names, _ := fs.ReadDir(dir)
		var out []string
		for _, n := range names {
			if strings.HasSuffix(n, ".snapshot") {
				out = append(out, n)
			}
		}
		return out
	}
	ok := func() error { return nil }
	p := open()
	seq := map[int64]int32{}
	app := func(pid int64, transactional bool) {
		t.Helper()
		if _, err := p.appendBatch(producerBatch(pid, 0, seq[pid], 5, transactional), 1000, ok); err != nil {
			t.Fatal(err)
		}
		seq[pid] += 5
	}
	for round := range 40 {
		app(1, false)
		app(2, true)
		if _, err := p.writeMarker(2, 0, round%3 != 0, 1000); err != nil {
			t.Fatal(err)
		}
	}
	app(3, true) // left open
	app(1, false)
	want := stateOf(p)
	p.waitSnapshots() // roll snapshots are written in the background
	if len(snapshots()) == 0 {
		t.Fatal("no snapshot written at segment rolls")
	}
	if len(want.Aborted) != 14 || want.FirstUnstable < 0 {
		t.Fatalf("unexpected state before reopen: %+v", want)
	}
	check := func(what string, p *partition) {
		t.Helper()
		if got := stateOf(p); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: state %+v, want %+v", what, got, want)
		}
		last := producerBatch(1, 0, seq[1]-5, 5, false)
		if res, err := p.appendBatch(last, 1000, ok); err != nil || !res.duplicate {
			t.Fatalf("%s: retried last batch: %+v %v, want a duplicate", what, res, err)
		}
	}

	// 1. Crash-like close (no close snapshot): roll snapshots plus replay.
	p.closeLog()
	p = open()
	check("from a roll snapshot", p)
	// A small log gets no snapshot at close.
	snapshotMinLogBytes = p.log.Size() + 1
	before := snapshots()
	p.snapshotAtClose()
	if after := snapshots(); !reflect.DeepEqual(before, after) {
		t.Fatalf("snapshot written at close of a small log: %v -> %v", before, after)
	}
	snapshotMinLogBytes = 0
	// 2. Clean close: the snapshot at the end, nothing replayed.
	p.snapshotAtClose()
	end := p.log.EndOffset()
	p.closeLog()
	if s := snapshots(); s[len(s)-1] != fmt.Sprintf("%020d.snapshot", end) {
		t.Fatalf("snapshots %v: none at the end %d", s, end)
	}
	p = open()
	check("from the close snapshot", p)
	p.closeLog()
	// 3. The newest snapshot corrupt: the older one is used.
	s := snapshots()
	f, err := fs.OpenFile(dir+"/"+s[len(s)-1], 0x1 /* O_WRONLY */, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("garbage")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p = open()
	check("with the newest snapshot corrupt", p)
	p.closeLog()
	// 4. No snapshot: a full scan.
	for _, n := range snapshots() {
		if err := fs.Remove(dir + "/" + n); err != nil {
			t.Fatal(err)
		}
	}
	p = open()
	check("from a full scan", p)
	p.closeLog()
}

// TestProducerSnapshotsCrash: roll snapshots are durable before the log
// data below them (acks=1 appends are not synced); after a crash drops
// that data, the snapshots past the recovered end are discarded, even once
// new appends have grown the log past their offsets again, and the state
// equals a full scan's.
func TestProducerSnapshotsCrash(t *testing.T) {
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	const dir = "/data/t-0"
	open := func(fs vfs.FS, dropSnapshots bool) *partition {
		t.Helper()
		if dropSnapshots {
			names, _ := fs.ReadDir(dir)
			for _, n := range names {
				if strings.HasSuffix(n, ".snapshot") {
					if err := fs.Remove(dir + "/" + n); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		l, _, err := plog.Open(fs, dir, cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		p := newPartition(&topic{name: "t"}, 0, l, soloLeadership(0))
		if err := p.rebuildProducers(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := func() error { return nil }
	seq := map[int64]int32{}
	app := func(p *partition, pid int64, epoch int16) {
		t.Helper()
		if _, err := p.appendBatch(producerBatch(pid, epoch, seq[pid], 5, false), 1000, ok); err != nil {
			t.Fatal(err)
		}
		seq[pid] += 5
	}
	fs := vfs.NewMem()
	p := open(fs, false)
	for range 10 {
		app(p, 1, 0)
	}
	if err := p.log.SyncTo(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	synced := p.log.EndOffset()
	for range 60 {
		app(p, 1, 0)
		app(p, 2, 0) // a producer only the lost data knows
	}
	p.waitSnapshots() // the background writer has fsynced the roll snapshots
	crashed := fs.CrashClone()
	p.closeLog()
	var maxSnap int64 = -1
	names, _ := crashed.ReadDir(dir)
	for _, n := range names {
		var off int64
		if _, err := fmt.Sscanf(n, "%020d.snapshot", &off); err == nil {
			maxSnap = max(maxSnap, off)
		}
	}
	if maxSnap <= synced {
		t.Fatalf("no snapshot past the synced end %d survived the crash (newest %d): nothing to test", synced, maxSnap)
	}

	cfg.SegmentBytes = 1 << 20 // no roll (and roll snapshot) from here on
	p = open(crashed, false)
	end := p.log.EndOffset()
	if end != synced {
		t.Fatalf("recovered end %d, want the synced %d (the test needs unsynced data lost)", end, synced)
	}
	full := open(crashed.CrashClone(), true)
	if got, want := stateOf(p), stateOf(full); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the crash: state %+v, want the full scan's %+v", got, want)
	}
	full.closeLog()
	// Grow the log past the lost snapshots' offsets under a new epoch
	// (their state would carry the old one) and reopen.
	seq[1] = 0
	for p.log.EndOffset() <= maxSnap {
		app(p, 1, 1)
	}
	if err := p.log.SyncTo(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	p2fs := crashed.CrashClone()
	p.closeLog()
	p = open(p2fs, false)
	full = open(p2fs.CrashClone(), true)
	if got, want := stateOf(p), stateOf(full); !reflect.DeepEqual(got, want) {
		t.Fatalf("after regrowth: state %+v, want the full scan's %+v", got, want)
	}
	p.closeLog()
	full.closeLog()
}

// TestRollSnapshotOffAppendPath: the producer-state snapshot of a segment
// roll is written (and fsynced) by a background writer: an append that
// rolls returns while that fsync is blocked, the appends after it do too,
// and the snapshot lands once the fsync is released. Closing the log waits
// for the writer.
func TestRollSnapshotOffAppendPath(t *testing.T) {
	release := make(chan struct{})
	var blocked atomic.Int32
	fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, ".snapshot.tmp") {
			blocked.Add(1)
			<-release
		}
		return nil
	})
	cfg := plog.DefaultConfig()
	cfg.SegmentBytes = 4 << 10
	l, _, err := plog.Open(fs, "/data/t-0", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := newPartition(&topic{name: "t"}, 0, l, soloLeadership(0))
	ok := func() error { return nil }
	appended := make(chan error, 1)
	go func() {
		var seq int32
		for p.log.Segments() < 4 { // three rolls, each with a snapshot due
			if _, err := p.appendBatch(producerBatch(1, 0, seq, 5, false), 1000, ok); err != nil {
				appended <- err
				return
			}
			seq += 5
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("appends blocked behind a roll snapshot's fsync")
	}
	deadline := time.Now().Add(10 * time.Second)
	for blocked.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot write started")
		}
		runtime.Gosched()
	}
	names, _ := fs.ReadDir("/data/t-0")
	for _, n := range names {
		if strings.HasSuffix(n, ".snapshot") {
			t.Fatalf("snapshot %s complete while its fsync is blocked", n)
		}
	}
	close(release)
	p.waitSnapshots()
	var snaps []string
	names, _ = fs.ReadDir("/data/t-0")
	for _, n := range names {
		if strings.HasSuffix(n, ".snapshot") {
			snaps = append(snaps, n)
		}
	}
	// The first roll's snapshot, then the newest queued meanwhile (the
	// ones in between collapse into it).
	if len(snaps) == 0 || snaps[len(snaps)-1] != fmt.Sprintf("%020d.snapshot", p.snapOffset) {
		t.Fatalf("snapshots %v, want the newest at %d", snaps, p.snapOffset)
	}
	if err := p.closeLog(); err != nil {
		t.Fatal(err)
	}
}
