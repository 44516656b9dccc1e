package replication

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// batch3 is a RecordBatch of three records (three offsets), so that a log
// start can fall inside it.
func batch3(v string) []byte {
	b := records.NewBuilder(nil, records.NoProducer(1000))
	for i := range 3 {
		b.Add(1000, nil, fmt.Appendf(nil, "%s.%d", v, i))
	}
	return b.Build()
}

func TestLogStartCodec(t *testing.T) {
	b := EncodeLogStart(12345)
	if off, ok := DecodeLogStart(b); !ok || off != 12345 {
		t.Fatalf("round trip: %d %v", off, ok)
	}
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x40
		if _, ok := DecodeLogStart(bad); ok {
			t.Fatalf("flipped byte %d still decodes", i)
		}
	}
	if !isPhantom(&raftpb.Entry{Type: raftpb.EntryNormal.Enum(), Data: b}) || isPhantom(&raftpb.Entry{Type: raftpb.EntryNormal.Enum(), Data: batch3("x")}) {
		t.Fatal("a log start entry is a phantom, a batch is not")
	}
}

// DeleteRecords through Raft: a log start entry moves the log start of
// every replica to an offset inside a batch — the one down at the time
// too, once it catches up — without moving any Raft index or Kafka offset
// and without deleting anything; the start survives a crash and restart
// of every node and a change of leader; retention's CompactBelow then
// drops whole batches below it and a snapshot carries it to a replica
// behind.
func TestLogStartReplicated(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	c.net.Isolate(3)
	for i := range 10 {
		if err := c.nodes[1].Propose(t.Context(), 1, batch3(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	st := func(id uint64) *LogStorage { return c.storages[[2]uint64{id, 1}].(*LogStorage) }
	lastBefore, _ := st(1).LastIndex()
	// 16 is the second record of batch 5 (offsets 15-17).
	if err := c.nodes[1].Propose(t.Context(), 1, EncodeLogStart(16)); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 2 applied the log start", 20, func() bool { return st(2).LogStartOffset() == 16 }, 1, 2)
	for _, id := range []uint64{1, 2} {
		l := c.logs[[2]uint64{id, 1}]
		first, _ := st(id).FirstIndex()
		last, _ := st(id).LastIndex()
		if st(id).LogStartOffset() != 16 || l.LogStartOffset() != 0 || first != 1 || last != lastBefore+1 || l.EndOffset() != 30 {
			t.Fatalf("node %d: log start %d (log's %d), indexes [%d, %d], end %d", id, st(id).LogStartOffset(), l.LogStartOffset(), first, last, l.EndOffset())
		}
		if vs := c.values(id, 1); len(vs) != 10 {
			t.Fatalf("node %d applied %v: the log start entry is not data", id, vs)
		}
	}
	if err := c.nodes[1].Propose(t.Context(), 1, batch3("after")); err != nil {
		t.Fatal(err)
	}
	// Node 3, away meanwhile, gets the entry with the log and applies it.
	c.net.Heal()
	c.tickUntil("node 3 caught up", 50, func() bool { return c.converged(1) && st(3).LogStartOffset() == 16 }, 1)
	// Crash and restart every node: the start is durable (raft-anchor).
	for _, id := range c.ids {
		c.reopen(id, true)
		if got := st(id).LogStartOffset(); got != 16 {
			t.Fatalf("node %d reopened: log start %d, want 16", id, got)
		}
	}
	// Node 3 leads now; the start holds and a later one moves it on.
	c.elect(3, 1)
	if err := c.nodes[3].Propose(t.Context(), 1, EncodeLogStart(20)); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("the new start applied everywhere", 30, func() bool {
		return st(1).LogStartOffset() == 20 && st(2).LogStartOffset() == 20 && st(3).LogStartOffset() == 20
	}, 3)
	// An older (lower) start applied again changes nothing.
	if got, err := st(1).ApplyLogStart(5); err != nil || got != 20 {
		t.Fatalf("ApplyLogStart(5) after 20: %d, %v", got, err)
	}
}

// Retention (CompactBelow) after a log start entry drops the batches
// wholly below the start (the log start moves to a batch boundary, the
// record start stays inside the batch); a replica behind the new first
// index installs the snapshot and then applies the log start entry, which
// is always above the compaction point (its offset, the log end when it
// was appended, is at or above the start it sets), so it ends with the
// same start.
func TestLogStartCarriedBySnapshot(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	c.net.Isolate(3)
	for i := range 10 {
		if err := c.nodes[1].Propose(t.Context(), 1, batch3(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	st := func(id uint64) *LogStorage { return c.storages[[2]uint64{id, 1}].(*LogStorage) }
	if err := c.nodes[1].Propose(t.Context(), 1, EncodeLogStart(16)); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 2 applied the log start", 20, func() bool { return st(2).LogStartOffset() == 16 }, 1, 2)
	for _, id := range []uint64{1, 2} {
		l := c.logs[[2]uint64{id, 1}]
		l.SetHighWatermark(l.EndOffset()) // as the broker's apply does
		start, err := st(id).CompactBelow(st(id).LogStartOffset())
		if err != nil {
			t.Fatal(err)
		}
		// Offset 16 is inside batch 5 (15-17): the log keeps it.
		if start != 15 || st(id).LogStartOffset() != 16 {
			t.Fatalf("node %d after CompactBelow: log start %d, record start %d", id, start, st(id).LogStartOffset())
		}
	}
	c.net.Heal()
	if err := c.nodes[1].Propose(t.Context(), 1, batch3("last")); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 3 installed the snapshot and caught up", 60, func() bool {
		l := c.logs[[2]uint64{3, 1}]
		return l.LogStartOffset() == 15 && l.EndOffset() == 33
	}, 1)
	if got := st(3).LogStartOffset(); got != 16 {
		t.Fatalf("node 3 after the snapshot: log start %d, want 16", got)
	}
	c.reopen(3, true)
	if got := st(3).LogStartOffset(); got != 16 {
		t.Fatalf("node 3 reopened after the snapshot: log start %d, want 16", got)
	}
}

// A log start entry committed but not applied before a crash is applied
// after the restart: AppliedIndex does not count it (it is redelivered).
func TestLogStartNotAppliedIsRedelivered(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, s := reopenPhantomStorage(t, fs)
	hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(3))}
	es := []*raftpb.Entry{
		{Term: new(uint64(1)), Index: new(uint64(1)), Type: raftpb.EntryNormal.Enum(), Data: batch3("a")},
		{Term: new(uint64(1)), Index: new(uint64(2)), Type: raftpb.EntryNormal.Enum(), Data: batch3("b")},
		{Term: new(uint64(1)), Index: new(uint64(3)), Type: raftpb.EntryNormal.Enum(), Data: EncodeLogStart(4)},
	}
	if err := s.Save(hs, es, nil, true); err != nil {
		t.Fatal(err)
	}
	s.log.SetHighWatermark(6)
	if got := s.AppliedIndex(); got != 2 {
		t.Fatalf("applied %d before the log start entry is applied, want 2", got)
	}
	if _, err := s.ApplyLogStart(4); err != nil {
		t.Fatal(err)
	}
	if got := s.AppliedIndex(); got != 3 {
		t.Fatalf("applied %d once it is applied, want 3", got)
	}
	ents, err := s.Entries(3, 4, 1<<20)
	if err != nil || len(ents) != 1 {
		t.Fatalf("Entries(3): %v %v", ents, err)
	}
	if off, ok := DecodeLogStart(ents[0].Data); !ok || off != 4 {
		t.Fatalf("index 3 reads back as %v", ents[0])
	}
	// Reopened: applied (persisted) and kept.
	_, s2 := reopenPhantomStorage(t, fs.CrashClone())
	if s2.LogStartOffset() != 4 {
		t.Fatalf("reopened: log start %d, want 4", s2.LogStartOffset())
	}
}

// A version 1 phantom file (written before log start entries) is read,
// and rewritten as version 2 before a log start entry is added to it;
// appending empty entries leaves it at version 1.
func TestLogStartUpgradesPhantomFile(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	empty := func(i uint64) *raftpb.Entry {
		return &raftpb.Entry{Term: new(uint64(1)), Index: new(i), Type: raftpb.EntryNormal.Enum()}
	}
	data := func(i uint64, d []byte) *raftpb.Entry {
		return &raftpb.Entry{Term: new(uint64(1)), Index: new(i), Type: raftpb.EntryNormal.Enum(), Data: d}
	}
	_, s := reopenPhantomStorage(t, fs)
	if err := s.Save(nil, []*raftpb.Entry{empty(1), data(2, batch3("a"))}, nil, true); err != nil {
		t.Fatal(err)
	}
	// Make it a version 1 file, as an older build wrote it.
	b := readPhantomFile(t, fs)
	b[4] = 1
	writePhantomFile(t, fs, b)
	_ = s.log.Close()
	_, s = reopenPhantomStorage(t, fs)
	if err := s.Save(nil, []*raftpb.Entry{empty(3)}, nil, true); err != nil {
		t.Fatal(err)
	}
	if v := readPhantomFile(t, fs)[4]; v != 1 {
		t.Fatalf("version %d after an empty entry, want 1 (no rewrite)", v)
	}
	if err := s.Save(nil, []*raftpb.Entry{data(4, EncodeLogStart(2))}, nil, true); err != nil {
		t.Fatal(err)
	}
	if v := readPhantomFile(t, fs)[4]; v != 2 {
		t.Fatalf("version %d after a log start entry, want 2", v)
	}
	_ = s.log.Close()
	_, s = reopenPhantomStorage(t, fs)
	es, err := s.Entries(1, 5, 1<<20)
	if err != nil || len(es) != 4 || len(es[0].Data) != 0 || len(es[2].Data) != 0 {
		t.Fatalf("entries after the rewrite: %v %v", es, err)
	}
	if off, ok := DecodeLogStart(es[3].Data); !ok || off != 2 {
		t.Fatalf("index 4: %v", es[3])
	}
}

func readPhantomFile(t *testing.T, fs vfs.FS) []byte {
	t.Helper()
	f, err := fs.OpenFile(partDir+"/"+phantomFile, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, _ := f.Size()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

func writePhantomFile(t *testing.T, fs vfs.FS, b []byte) {
	t.Helper()
	f, err := fs.OpenFile(partDir+"/"+phantomFile, os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
