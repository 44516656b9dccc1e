package replication

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// checkTailCache fails the test unless every index the tail cache holds is
// one the storage holds, with the bytes the log holds there (read with the
// cache bypassed) or, for a phantom, as a phantom.
func checkTailCache(t *testing.T, s *LogStorage) {
	t.Helper()
	s.mu.Lock()
	c := s.tail
	first, last := s.first, s.lastLocked()
	var phantomAt = map[uint64]bool{}
	for _, p := range s.phantoms {
		phantomAt[p.index] = true
	}
	s.mu.Unlock()
	if len(c.ents) == 0 {
		return
	}
	if c.first < first || c.last() > last {
		t.Fatalf("tail cache holds [%d, %d], the storage [%d, %d]", c.first, c.last(), first, last)
	}
	size := 0
	for k, b := range c.ents {
		idx := c.first + uint64(k)
		size += len(b)
		if b == nil {
			if !phantomAt[idx] {
				t.Fatalf("tail cache: index %d cached as a phantom, not one in the storage", idx)
			}
			continue
		}
		s.mu.Lock()
		saved := s.tail
		s.tail = tailCache{}
		s.mu.Unlock()
		ents, err := s.Entries(idx, idx+1, 1<<30)
		s.mu.Lock()
		s.tail = saved
		s.mu.Unlock()
		if err != nil || len(ents) != 1 || !bytes.Equal(ents[0].Data, b) {
			t.Fatalf("tail cache: index %d differs from the log (%v)", idx, err)
		}
	}
	if size != c.size {
		t.Fatalf("tail cache size %d, holds %d bytes", c.size, size)
	}
}

func openTestLogStorage(t *testing.T, cacheBytes int) (*plog.Log, *LogStorage) {
	t.Helper()
	fs := vfs.NewMem()
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	l, _, err := plog.Open(fs, partDir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: []uint64{1, 2, 3}, TailCacheBytes: cacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	return l, s
}

func dataEntry(term, index uint64, v string) *raftpb.Entry {
	return &raftpb.Entry{Term: new(term), Index: new(index), Type: raftpb.EntryNormal.Enum(), Data: recordBatch(v)}
}

func emptyEntry(term, index uint64) *raftpb.Entry {
	return &raftpb.Entry{Term: new(term), Index: new(index), Type: raftpb.EntryNormal.Enum()}
}

// entryValues reads [lo, hi) through Entries and returns each entry's
// record value ("" for a phantom).
func entryValues(t *testing.T, s *LogStorage, lo, hi uint64) []string {
	t.Helper()
	ents, err := s.Entries(lo, hi, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, entryValue(e.Data))
	}
	return out
}

// The tail cache serves what the log holds, and every change of what an
// index holds — a divergent suffix replaced, a snapshot install, a
// compaction — reaches it: after each, the cache matches the log
// (checkTailCache) and Entries answers the new contents.
func TestTailCacheInvalidation(t *testing.T) {
	_, s := openTestLogStorage(t, 0)
	hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(0))}
	ents := []*raftpb.Entry{emptyEntry(1, 1), dataEntry(1, 2, "a"), dataEntry(1, 3, "b"), dataEntry(1, 4, "c"), dataEntry(1, 5, "d")}
	if err := s.Save(hs, ents, nil, true); err != nil {
		t.Fatal(err)
	}
	checkTailCache(t, s)
	if !s.tail.covers(1, 6) {
		t.Fatal("the entries just appended are not cached")
	}
	if got := fmt.Sprint(entryValues(t, s, 1, 6)); got != "[ a b c d]" {
		t.Fatalf("entries %s", got)
	}

	// A new leader replaces indexes 3.. with one entry of term 2.
	hs2 := &raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(2)), Commit: new(uint64(2))}
	if err := s.Save(hs2, []*raftpb.Entry{dataEntry(2, 3, "B")}, nil, true); err != nil {
		t.Fatal(err)
	}
	checkTailCache(t, s)
	if got := fmt.Sprint(entryValues(t, s, 1, 4)); got != "[ a B]" {
		t.Fatalf("after the divergent suffix was replaced: entries %s, want [ a B]", got)
	}
	// Compaction: nothing below the new first index stays.
	if err := s.Save(hs2, []*raftpb.Entry{dataEntry(2, 4, "C"), dataEntry(2, 5, "D")}, nil, true); err != nil {
		t.Fatal(err)
	}
	s.log.SetHighWatermark(s.log.EndOffset())
	if err := s.CompactTo(3); err != nil {
		t.Fatal(err)
	}
	checkTailCache(t, s)
	if got := fmt.Sprint(entryValues(t, s, 4, 6)); got != "[C D]" {
		t.Fatalf("after compaction: entries %s", got)
	}

	// A snapshot install far ahead empties it; entries after it are
	// cached again.
	snap := &raftpb.Snapshot{Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 100}, Metadata: &raftpb.SnapshotMetadata{
		Index: new(uint64(5)), Term: new(uint64(3)), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
	}}
	if err := s.Save(nil, nil, snap, true); err != nil {
		t.Fatal(err)
	}
	checkTailCache(t, s)
	if len(s.tail.ents) != 0 {
		t.Fatalf("a snapshot install left [%d, %d] cached", s.tail.first, s.tail.last())
	}
	if err := s.Save(nil, []*raftpb.Entry{dataEntry(3, 6, "E"), emptyEntry(4, 7), dataEntry(4, 8, "F")}, nil, true); err != nil {
		t.Fatal(err)
	}
	checkTailCache(t, s)
	if got := fmt.Sprint(entryValues(t, s, 6, 9)); got != "[E  F]" {
		t.Fatalf("after the install: entries %s", got)
	}
}

// The cache holds at most its byte bound, dropping the oldest entries;
// reads beyond it come from the log, and maxSize is honoured the same way
// from the cache as from the log.
func TestTailCacheBoundAndLimits(t *testing.T) {
	one := len(recordBatch("v00"))
	_, s := openTestLogStorage(t, 3*one)
	_, plain := openTestLogStorage(t, -1)
	hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(0))}
	ents := []*raftpb.Entry{emptyEntry(1, 1)}
	for i := range 10 {
		ents = append(ents, dataEntry(1, uint64(i+2), fmt.Sprintf("v%02d", i)))
	}
	for _, st := range []*LogStorage{s, plain} {
		if err := st.Save(hs, ents, nil, true); err != nil {
			t.Fatal(err)
		}
	}
	checkTailCache(t, s)
	if s.tail.size > 3*one || len(s.tail.ents) != 3 || s.tail.first != 9 {
		t.Fatalf("cache holds %d bytes in [%d, %d], want the last 3 entries within %d", s.tail.size, s.tail.first, s.tail.last(), 3*one)
	}
	if len(plain.tail.ents) != 0 {
		t.Fatal("a disabled cache holds entries")
	}
	for _, r := range [][3]uint64{{1, 12, 1 << 30}, {9, 12, 1 << 30}, {9, 12, uint64(2 * one)}, {9, 12, 1}, {10, 11, 0}, {5, 12, uint64(6 * one)}, {8, 12, uint64(2 * one)}} {
		got, err := s.Entries(r[0], r[1], r[2])
		want, err2 := plain.Entries(r[0], r[1], r[2])
		if err != nil || err2 != nil || len(got) != len(want) {
			t.Fatalf("Entries%v: %d entries (%v), the log gives %d (%v)", r, len(got), err, len(want), err2)
		}
		for i := range got {
			if !bytes.Equal(got[i].Data, want[i].Data) || got[i].GetIndex() != want[i].GetIndex() || got[i].GetTerm() != want[i].GetTerm() {
				t.Fatalf("Entries%v: entry %d differs from the log's", r, i)
			}
		}
	}
}

// truncateFrom and dropBelow keep the run contiguous and the size exact.
func TestTailCacheOps(t *testing.T) {
	c := tailCache{maxBytes: 100}
	for i := uint64(1); i <= 5; i++ {
		c.add(i, bytes.Repeat([]byte{byte(i)}, 10))
	}
	c.add(6, nil)
	if !c.covers(1, 7) || c.size != 50 {
		t.Fatalf("holds [%d, %d], %d bytes", c.first, c.last(), c.size)
	}
	c.truncateFrom(4)
	if !c.covers(1, 4) || c.covers(4, 5) || c.size != 30 {
		t.Fatalf("after truncateFrom(4): [%d, %d], %d bytes", c.first, c.last(), c.size)
	}
	c.dropBelow(3)
	if !c.covers(3, 4) || c.covers(2, 3) || c.size != 10 {
		t.Fatalf("after dropBelow(3): [%d, %d], %d bytes", c.first, c.last(), c.size)
	}
	c.add(7, []byte{1}) // not the next index: starts over
	if !c.covers(7, 8) || c.covers(3, 4) || c.size != 1 {
		t.Fatalf("after a gap: [%d, %d], %d bytes", c.first, c.last(), c.size)
	}
	c.truncateFrom(7)
	if len(c.ents) != 0 || c.size != 0 {
		t.Fatalf("after truncating everything: %d entries, %d bytes", len(c.ents), c.size)
	}
	c.add(1, make([]byte, 101)) // larger than the bound: not cached
	if len(c.ents) != 0 {
		t.Fatal("an entry above the bound was cached")
	}
}

// Storages sharing a budget hold at most its bytes together; a storage
// that is no longer reachable gives its bytes back.
func TestTailCacheBudget(t *testing.T) {
	one := len(recordBatch("v00"))
	budget := NewTailCacheBudget(int64(3 * one))
	open := func() *LogStorage {
		fs := vfs.NewMem()
		if err := fs.MkdirAll(partDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := plog.DefaultConfig()
		cfg.Replicated = true
		l, _, err := plog.Open(fs, partDir, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: []uint64{1}, TailBudget: budget})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fill := func(s *LogStorage, n int) {
		t.Helper()
		hs := &raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(0))}
		var ents []*raftpb.Entry
		for i := range n {
			ents = append(ents, dataEntry(1, uint64(i+1), fmt.Sprintf("v%02d", i)))
		}
		if err := s.Save(hs, ents, nil, true); err != nil {
			t.Fatal(err)
		}
		checkTailCache(t, s)
	}
	a, b := open(), open()
	fill(a, 2)
	fill(b, 2)
	if budget.Used() > int64(3*one) || a.tail.size+b.tail.size != int(budget.Used()) {
		t.Fatalf("budget used %d (a %d, b %d), bound %d", budget.Used(), a.tail.size, b.tail.size, 3*one)
	}
	if got := fmt.Sprint(entryValues(t, b, 1, 3)); got != "[v00 v01]" {
		t.Fatalf("b's entries %s", got) // the part not cached comes from the log
	}
	held := int64(a.tail.size)
	a = nil
	deadline := time.Now().Add(10 * time.Second)
	for budget.Used() != int64(b.tail.size) {
		if time.Now().After(deadline) {
			t.Fatalf("budget used %d after the storage holding %d bytes went, b holds %d", budget.Used(), held, b.tail.size)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
