package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// legacyEntryBatch is how logs written before phantoms existed stored an
// entry: data as is, raft's empty entry and conf changes as control
// batches (entrycodec.go's file comment).
func legacyEntryBatch(e *raftpb.Entry) ([]byte, error) {
	control := func(typ int16, value []byte) []byte {
		var key [4]byte
		binary.BigEndian.PutUint16(key[2:], uint16(typ))
		b := records.NewBuilder(nil, records.BatchOptions{
			BaseTimestamp: -1, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Control: true,
		})
		b.Add(-1, key[:], value)
		return b.Build()
	}
	switch {
	case e.GetType() == raftpb.EntryNormal && len(e.Data) == 0:
		value := make([]byte, 9)
		binary.BigEndian.PutUint64(value[1:], e.GetTerm())
		return control(controlLeaderChange, value), nil
	case e.GetType() == raftpb.EntryConfChange || e.GetType() == raftpb.EntryConfChangeV2:
		value := append([]byte(confChangeMagic), confChangeVersion, byte(e.GetType()))
		return control(controlKRaftVoters, append(value, e.Data...)), nil
	}
	return entryBatch(e)
}

// phantomBytes returns group g's phantom file on node id (nil if none).
func (c *cluster) phantomBytes(id, g uint64) []byte {
	c.t.Helper()
	return readFileOr(c.t, c.fss[id], fmt.Sprintf("data/t-%d/%s", g, phantomFile))
}

func readFileOr(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && n > 0 {
		t.Fatal(err)
	}
	return b
}

// indexMap is what a storage says about each of its indexes.
type indexMap struct {
	first, last uint64
	rows        []string
}

func storageMap(t *testing.T, s *LogStorage) indexMap {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	m := indexMap{first: first, last: last}
	if last < first {
		return m
	}
	ents, err := s.Entries(first, last+1, 1<<30)
	if err != nil || uint64(len(ents)) != last-first+1 {
		t.Fatalf("Entries [%d, %d]: %d, %v", first, last, len(ents), err)
	}
	for i := first; i <= last; i++ {
		base, err1 := s.BaseOffset(i)
		end, err2 := s.EndOffset(i)
		term, err3 := s.Term(i)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		e := ents[i-first]
		if e.GetIndex() != i || e.GetTerm() != term {
			t.Fatalf("entry %d: index %d term %d, Term(%d) = %d", i, e.GetIndex(), e.GetTerm(), i, term)
		}
		m.rows = append(m.rows, fmt.Sprintf("%d: [%d, %d) term %d %v %q", i, base, end, term, e.GetType(), entryValue(e.Data)))
	}
	return m
}

// A new group's first data entry is at offset 0: the leader's empty
// entry before it is a phantom.
func TestPhantomFirstDataAtOffsetZero(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	if err := c.propose(1, 1, "first"); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("logs identical", 10, func() bool { return c.converged(1) })
	for _, id := range c.ids {
		st := c.storages[[2]uint64{id, 1}].(*LogStorage)
		if base, err := st.BaseOffset(2); err != nil || base != 0 {
			t.Fatalf("node %d: index 2 (the first data entry) at offset %d, %v; want 0", id, base, err)
		}
		if b, e := func() (int64, int64) { b, _ := st.BaseOffset(1); e, _ := st.EndOffset(1); return b, e }(); b != 0 || e != 0 {
			t.Fatalf("node %d: the empty entry at [%d, %d), want [0, 0)", id, b, e)
		}
		var bases []int64
		_ = c.logs[[2]uint64{id, 1}].ScanHeaders(0, func(h plog.BatchHeader) error {
			bases = append(bases, h.BaseOffset)
			return nil
		})
		if !slices.Equal(bases, []int64{0}) {
			t.Fatalf("node %d: batches at %v, want one at 0", id, bases)
		}
		if got := c.values(id, 1); !slices.Equal(got, []string{"first"}) {
			t.Fatalf("node %d applied %v", id, got)
		}
	}
}

// Three leader changes with data between them: the data offsets are
// 0..n-1 with no gap, the phantoms carry the terms (Term, the term table),
// replicas hold byte-identical logs and phantom files, and a restart
// (clean, or a crash of the file system) rebuilds the same index → offset
// map and terms.
func TestPhantomOffsetsContiguousAcrossLeaderChanges(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	n := 0
	propose := func(leader uint64, k int) {
		for range k {
			if err := c.propose(leader, 1, fmt.Sprintf("v%d", n)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	propose(1, 3)
	leader := uint64(1)
	for _, next := range []uint64{2, 3, 1} {
		c.tickUntil("caught up", 20, func() bool { return c.converged(1) })
		if err := c.nodes[leader].TransferLeadership(1, next); err != nil {
			t.Fatal(err)
		}
		c.tickUntil(fmt.Sprintf("node %d leads", next), 50, func() bool {
			st := c.status(next, 1)
			return st.IsLeader && st.Applied == st.LastIndex
		})
		leader = next
		propose(leader, 2)
	}
	c.tickUntil("logs and phantoms identical", 20, func() bool { return c.converged(1) && c.status(3, 1).Applied == c.status(1, 1).LastIndex })
	term := c.status(1, 1).Term
	if term < 4 {
		t.Fatalf("term %d after three leader changes", term)
	}
	// Offsets: one record per batch, 0..n-1.
	var bases []int64
	if err := c.logs[[2]uint64{1, 1}].ScanHeaders(0, func(h plog.BatchHeader) error {
		bases = append(bases, h.BaseOffset)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, b := range bases {
		if b != int64(i) {
			t.Fatalf("data batches at %v, want 0..%d", bases, n-1)
		}
	}
	if len(bases) != n {
		t.Fatalf("%d batches, want %d", len(bases), n)
	}
	st := c.storages[[2]uint64{1, 1}].(*LogStorage)
	before := storageMap(t, st)
	if before.last != uint64(n)+4 { // four empty entries: one per term
		t.Fatalf("last index %d, want %d data entries and 4 empty ones", before.last, n)
	}
	var phantomTerms []uint64
	for i := before.first; i <= before.last; i++ {
		if p := st.phantomAtLocked(i); p != nil {
			phantomTerms = append(phantomTerms, p.term)
			if tm, _ := st.Term(i); tm != p.term {
				t.Fatalf("Term(%d) = %d, the phantom's is %d", i, tm, p.term)
			}
		}
	}
	if len(phantomTerms) != 4 || !slices.IsSorted(phantomTerms) || phantomTerms[3] != term {
		t.Fatalf("phantom terms %v, want 4 ascending up to %d", phantomTerms, term)
	}
	if len(c.phantomBytes(1, 1)) == 0 {
		t.Fatal("no phantom file")
	}
	for _, id := range c.ids {
		if m := storageMap(t, c.storages[[2]uint64{id, 1}].(*LogStorage)); !slices.Equal(m.rows, before.rows) {
			t.Fatalf("node %d's map differs:\n%v\nnode 1's:\n%v", id, m.rows, before.rows)
		}
	}
	for i, crash := range []bool{false, true} {
		id := uint64(2 + i)
		c.reopen(id, crash)
		m := storageMap(t, c.storages[[2]uint64{id, 1}].(*LogStorage))
		if !slices.Equal(m.rows, before.rows) {
			t.Fatalf("node %d reopened (crash %v):\n%v\nwant:\n%v", id, crash, m.rows, before.rows)
		}
	}
	propose(leader, 1)
	c.tickUntil("restarted nodes caught up", 50, func() bool { return c.converged(1) && len(c.values(2, 1)) == n && len(c.values(3, 1)) == n }, 1)
}

// newPhantomStorage opens a LogStorage over a fresh MemFS, segments of a
// few batches.
func newPhantomStorage(t *testing.T) (*vfs.MemFS, *plog.Log, *LogStorage) {
	t.Helper()
	fs := vfs.NewMem()
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, s := reopenPhantomStorage(t, fs)
	return fs, l, s
}

func reopenPhantomStorage(t *testing.T, fs vfs.FS) (*plog.Log, *LogStorage) {
	t.Helper()
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	cfg.SegmentBytes = 600
	l, _, err := plog.Open(fs, partDir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: []uint64{1, 2, 3}, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	return l, s
}

// mixed returns entries from..to of term, data except at the indexes in
// empty (raft's empty entry) and conf (a conf change).
func mixed(term, from, to uint64, empty, conf []uint64) []*raftpb.Entry {
	cc, _ := proto.Marshal(&raftpb.ConfChangeV2{Changes: []*raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(4))}}})
	var out []*raftpb.Entry
	for i := from; i <= to; i++ {
		e := &raftpb.Entry{Term: new(term), Index: new(i), Type: raftpb.EntryNormal.Enum()}
		switch {
		case slices.Contains(empty, i):
		case slices.Contains(conf, i):
			e.Type, e.Data = raftpb.EntryConfChangeV2.Enum(), cc
		default:
			e.Data = recordBatch(fmt.Sprintf("t%d-i%d", term, i))
		}
		out = append(out, e)
	}
	return out
}

// checkEntries checks that s holds exactly want from index 1 (types, terms,
// data values), that the data batches sit at contiguous offsets from 0,
// and that reopening gives the same map.
func checkEntries(t *testing.T, fs vfs.FS, s *LogStorage, want []*raftpb.Entry) {
	t.Helper()
	last, _ := s.LastIndex()
	if last != uint64(len(want)) {
		t.Fatalf("last index %d, want %d", last, len(want))
	}
	got, err := s.Entries(1, last+1, 1<<30)
	if err != nil || len(got) != len(want) {
		t.Fatalf("Entries: %d, %v", len(got), err)
	}
	next := int64(0)
	for i, e := range got {
		w := want[i]
		if e.GetIndex() != uint64(i+1) || e.GetTerm() != w.GetTerm() || e.GetType() != w.GetType() ||
			(isPhantom(w) && !bytes.Equal(e.Data, w.Data)) || (!isPhantom(w) && entryValue(e.Data) != entryValue(w.Data)) {
			t.Fatalf("index %d: %v %d %q, want %v %d %q", i+1, e.GetType(), e.GetTerm(), entryValue(e.Data), w.GetType(), w.GetTerm(), entryValue(w.Data))
		}
		base, _ := s.BaseOffset(uint64(i + 1))
		end, _ := s.EndOffset(uint64(i + 1))
		if base != next || (isPhantom(w) && end != base) || (!isPhantom(w) && end != base+1) {
			t.Fatalf("index %d at [%d, %d), want base %d", i+1, base, end, next)
		}
		next = end
	}
	m := storageMap(t, s)
	crashed := fs.(*vfs.MemFS).CrashClone()
	_, s2 := reopenPhantomStorage(t, crashed)
	if m2 := storageMap(t, s2); !slices.Equal(m.rows, m2.rows) {
		t.Fatalf("reopened:\n%v\nwant:\n%v", m2.rows, m.rows)
	}
}

// A divergent suffix replaced from a phantom, and from a batch: the log
// and the phantoms are both cut at the right place.
func TestPhantomDivergentSuffix(t *testing.T) {
	hs := func(term uint64) *raftpb.HardState {
		return &raftpb.HardState{Term: new(term), Vote: new(uint64(1)), Commit: new(uint64(2))}
	}
	// Term 1: 1 empty, 2-3 data, 4 conf change, 5 data, 6 empty, 7-8 data.
	old := mixed(1, 1, 8, []uint64{1, 6}, []uint64{4})
	for _, c := range []struct {
		name string
		from uint64 // first replaced index
		new  []*raftpb.Entry
	}{
		{"at a phantom", 4, mixed(2, 4, 7, []uint64{4}, nil)},
		{"at the empty entry", 6, mixed(2, 6, 9, []uint64{6}, []uint64{8})},
		{"at a batch", 5, mixed(2, 5, 8, []uint64{6}, nil)},
		{"at a batch before a phantom", 3, mixed(2, 3, 3, nil, nil)},
		{"at the first entry", 1, mixed(2, 1, 2, []uint64{1}, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, _, s := newPhantomStorage(t)
			if err := s.Save(hs(1), old, nil, true); err != nil {
				t.Fatal(err)
			}
			checkEntries(t, fs, s, old)
			if err := s.Save(hs(2), c.new, nil, true); err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(old[:c.from-1]), c.new...)
			checkEntries(t, fs, s, want)
			if tm, _ := s.Term(c.from); tm != 2 {
				t.Fatalf("Term(%d) = %d after the replace, want 2", c.from, tm)
			}
			if c.from > 1 {
				if tm, _ := s.Term(c.from - 1); tm != 1 {
					t.Fatalf("Term(%d) = %d, want 1", c.from-1, tm)
				}
			}
		})
	}
}

// A snapshot install drops every phantom of the old log; a compaction the
// ones at or below its index. Both survive a reopen.
func TestPhantomSnapshotAndCompact(t *testing.T) {
	t.Run("install", func(t *testing.T) {
		fs, l, s := newPhantomStorage(t)
		if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(3))}, mixed(1, 1, 6, []uint64{1, 5}, []uint64{3}), nil, true); err != nil {
			t.Fatal(err)
		}
		snap := &raftpb.Snapshot{Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 100}, Metadata: &raftpb.SnapshotMetadata{
			Index: new(uint64(50)), Term: new(uint64(3)), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
		}}
		if err := s.Save(nil, nil, snap, true); err != nil {
			t.Fatal(err)
		}
		if len(s.phantoms) != 0 || len(readFileOr(t, fs, filepath.Join(partDir, phantomFile))) != phantomHeaderSize {
			t.Fatalf("phantoms after the install: %v", s.phantoms)
		}
		// Phantom then data after the snapshot: the data at its log start.
		next := mixed(4, 51, 53, []uint64{51}, nil)
		if err := s.Save(&raftpb.HardState{Term: new(uint64(4)), Vote: new(uint64(1)), Commit: new(uint64(50))}, next, nil, true); err != nil {
			t.Fatal(err)
		}
		if base, _ := s.BaseOffset(52); base != 100 || l.EndOffset() != 102 {
			t.Fatalf("index 52 at %d, log end %d; want 100 and 102", base, l.EndOffset())
		}
		m := storageMap(t, s)
		_, s2 := reopenPhantomStorage(t, fs.CrashClone())
		if m2 := storageMap(t, s2); m2.first != 51 || !slices.Equal(m.rows, m2.rows) {
			t.Fatalf("reopened: %v, want %v", m2, m)
		}
	})
	t.Run("compact", func(t *testing.T) {
		for _, to := range []uint64{3, 4, 5, 6} {
			fs, l, s := newPhantomStorage(t)
			// 1 empty, 2 data, 3 conf, 4 empty, 5 data, 6 data, 7 empty, 8 data
			ents := mixed(1, 1, 8, []uint64{1, 4, 7}, []uint64{3})
			if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(8))}, ents, nil, true); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveConfState(3, &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}); err != nil {
				t.Fatal(err)
			}
			l.SetHighWatermark(l.EndOffset())
			if err := s.CompactTo(to); err != nil {
				t.Fatal(err)
			}
			wantStart := map[uint64]int64{3: 1, 4: 1, 5: 2, 6: 3}[to]
			if first, _ := s.FirstIndex(); first != to+1 || l.LogStartOffset() != wantStart {
				t.Fatalf("CompactTo(%d): first index %d, log start %d; want %d, %d", to, first, l.LogStartOffset(), to+1, wantStart)
			}
			for _, p := range s.phantoms {
				if p.index <= to {
					t.Fatalf("CompactTo(%d) kept the phantom at %d", to, p.index)
				}
			}
			ps, _, torn, err := loadPhantoms(fs, partDir)
			if err != nil || torn || len(ps) != len(s.phantoms) {
				t.Fatalf("CompactTo(%d): file holds %d phantoms (%v, torn %v), memory %d", to, len(ps), err, torn, len(s.phantoms))
			}
			m := storageMap(t, s)
			_, s2 := reopenPhantomStorage(t, fs.CrashClone())
			if m2 := storageMap(t, s2); !slices.Equal(m.rows, m2.rows) {
				t.Fatalf("CompactTo(%d) reopened:\n%v\nwant:\n%v", to, m2.rows, m.rows)
			}
			if tm, _ := s2.Term(to); tm != 1 {
				t.Fatalf("CompactTo(%d): term below the start %d", to, tm)
			}
		}
	})
}

// A torn phantom record (a crash while appending it) is dropped at open
// and the file rewritten, so that later appends follow whole records; a
// phantom whose batches before it were lost is dropped with everything
// after it.
func TestPhantomTornAndGap(t *testing.T) {
	t.Run("torn", func(t *testing.T) {
		fs, _, s := newPhantomStorage(t)
		ents := mixed(1, 1, 3, []uint64{1, 3}, nil)
		if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(1))}, ents, nil, true); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(partDir, phantomFile)
		whole := readFileOr(t, fs, path)
		for cut := len(whole) - 1; cut > len(whole)-phantomFixedSize-4; cut -= 7 {
			crashed := fs.CrashClone()
			f, err := crashed.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(int64(cut)); err != nil {
				t.Fatal(err)
			}
			_ = f.Sync()
			f.Close()
			_, s2 := reopenPhantomStorage(t, crashed)
			if last, _ := s2.LastIndex(); last != 2 {
				t.Fatalf("torn at %d: last index %d, want 2 (the torn empty entry dropped)", cut, last)
			}
			if got := readFileOr(t, crashed, path); len(got) >= cut {
				t.Fatalf("torn at %d: file of %d bytes, not rewritten", cut, len(got))
			}
			// Raft re-sends it; it appends cleanly.
			if err := s2.Save(nil, ents[2:], nil, true); err != nil {
				t.Fatal(err)
			}
			checkEntries(t, crashed, s2, ents)
		}
		// A flipped byte in the last record: the same.
		crashed := fs.CrashClone()
		bad := bytes.Clone(whole)
		bad[len(bad)-5] ^= 0xff
		if err := savePhantoms(crashed, partDir, nil); err != nil {
			t.Fatal(err)
		}
		f, _ := crashed.OpenFile(path, os.O_RDWR|os.O_TRUNC, 0)
		_, _ = f.Write(bad)
		_ = f.Sync()
		f.Close()
		_, s3 := reopenPhantomStorage(t, crashed)
		if last, _ := s3.LastIndex(); last != 2 {
			t.Fatalf("damaged last record: last index %d, want 2", last)
		}
	})
	t.Run("gap", func(t *testing.T) {
		fs, l, s := newPhantomStorage(t)
		if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(1))}, mixed(1, 1, 4, []uint64{1}, nil), nil, true); err != nil {
			t.Fatal(err)
		}
		// Phantoms at 6 and 7, after a batch 5 the crash will lose: the
		// phantom file is synced, the log's tail is not.
		crashed := fs.CrashClone()
		ps := append(slices.Clone(s.phantoms),
			phantom{index: 6, term: 2, offset: 4}, phantom{index: 7, term: 2, offset: 4, typ: raftpb.EntryConfChangeV2, data: []byte{1}})
		if err := savePhantoms(crashed, partDir, ps); err != nil {
			t.Fatal(err)
		}
		_ = l
		_, s2 := reopenPhantomStorage(t, crashed)
		if last, _ := s2.LastIndex(); last != 4 {
			t.Fatalf("last index %d, want 4: the phantoms past the lost batch dropped", last)
		}
		if got, _, _, _ := loadPhantoms(crashed, partDir); len(got) != 1 {
			t.Fatalf("file keeps %d phantoms, want 1", len(got))
		}
		if err := s2.Save(nil, mixed(2, 5, 7, []uint64{6}, nil), nil, true); err != nil {
			t.Fatal(err)
		}
		checkEntries(t, crashed, s2, append(mixed(1, 1, 4, []uint64{1}, nil), mixed(2, 5, 7, []uint64{6}, nil)...))
	})
}

// A log written before phantoms existed (raft's empty entries and conf
// changes as LEADER_CHANGE and KRAFT_VOTERS control batches) opens and
// reads back as before; new empty entries after it are phantoms.
func TestPhantomReadsLegacyControlBatches(t *testing.T) {
	fs, l, _ := newPhantomStorage(t)
	old := mixed(1, 1, 4, []uint64{1}, []uint64{3})
	for _, e := range old {
		b, err := legacyEntryBatch(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendWithEpoch(b, 1000, 1); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l2, s := reopenPhantomStorage(t, fs)
	got, err := s.Entries(1, 5, 1<<30)
	if err != nil || len(got) != 4 {
		t.Fatalf("Entries: %d, %v", len(got), err)
	}
	for i, e := range got {
		if e.GetType() != old[i].GetType() || (isPhantom(old[i]) && !bytes.Equal(e.Data, old[i].Data)) {
			t.Fatalf("index %d: %v %x, want %v", i+1, e.GetType(), e.Data, old[i].GetType())
		}
	}
	if err := s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(4))}, mixed(2, 5, 6, []uint64{5}, nil), nil, true); err != nil {
		t.Fatal(err)
	}
	if base, _ := s.BaseOffset(6); base != 4 || l2.EndOffset() != 5 {
		t.Fatalf("index 6 at %d, log end %d: want 4 and 5 (the empty entry 5 a phantom)", base, l2.EndOffset())
	}
}

func TestPhantomCodec(t *testing.T) {
	ps := []phantom{
		{index: 1, term: 1, offset: 0},
		{index: 9, term: 2, offset: 7, typ: raftpb.EntryConfChangeV2, data: []byte("cc")},
	}
	b := encodePhantoms(ps)
	got, torn, err := decodePhantoms(b)
	if err != nil || torn || len(got) != 2 || got[1].index != 9 || got[1].offset != 7 || string(got[1].data) != "cc" || got[1].typ != raftpb.EntryConfChangeV2 {
		t.Fatalf("round trip: %+v, torn %v, %v", got, torn, err)
	}
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 1
		got, torn, err := decodePhantoms(bad)
		switch {
		case i < phantomHeaderSize:
			if !errors.Is(err, ErrCorruptPhantoms) {
				t.Fatalf("header byte %d flipped: %v", i, err)
			}
		case !torn || len(got) == 2:
			t.Fatalf("byte %d flipped: %d records, torn %v, %v", i, len(got), torn, err)
		}
	}
}

// Entries keeps to maxSize across phantoms and batches (at least one
// entry).
func TestPhantomEntriesMaxSize(t *testing.T) {
	_, _, s := newPhantomStorage(t)
	ents := mixed(1, 1, 6, []uint64{1, 3, 4}, nil) // p b p p b b
	if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(6))}, ents, nil, true); err != nil {
		t.Fatal(err)
	}
	batch := uint64(len(ents[1].Data))
	for _, c := range []struct {
		lo, hi, max uint64
		want        int
	}{
		{1, 7, 1, 1}, {2, 7, 1, 1}, {3, 7, 1, 1}, {1, 7, 1 << 20, 6},
		{2, 7, batch + 40, 3}, // the batch and both phantoms, not the next batch
		{3, 7, batch + 40, 3},
		{5, 7, 2*batch + 10, 2},
	} {
		got, err := s.Entries(c.lo, c.hi, c.max)
		if err != nil || len(got) != c.want {
			t.Fatalf("Entries(%d, %d, %d): %d entries, %v; want %d", c.lo, c.hi, c.max, len(got), err, c.want)
		}
		for i, e := range got {
			if !sameEntry(e, ents[c.lo-1+uint64(i)]) {
				t.Fatalf("Entries(%d, %d, %d)[%d] = %v", c.lo, c.hi, c.max, i, e)
			}
		}
	}
}

// The applied index at open (the high watermark's) counts the phantoms at
// the high watermark's offset only as far as they are known to be
// committed and applied: a new leader's empty entry appended after the
// last committed batch is not reported committed on the high watermark's
// word alone (raft panics if a committed entry is replaced later).
func TestPhantomAppliedIndexAtHighWatermark(t *testing.T) {
	fs, l, s := newPhantomStorage(t)
	if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(0))}, mixed(1, 1, 3, []uint64{1}, nil), nil, true); err != nil {
		t.Fatal(err)
	}
	// Term 2's empty entry, not known committed (the HardState says 3).
	if err := s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(2)), Commit: new(uint64(3))}, mixed(2, 4, 4, []uint64{4}, nil), nil, true); err != nil {
		t.Fatal(err)
	}
	reopen := func() *LogStorage {
		t.Helper()
		l.SetHighWatermark(l.EndOffset()) // the batches 2-3 committed and applied
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		var s2 *LogStorage
		l, s2 = reopenPhantomStorage(t, fs)
		return s2
	}
	s = reopen()
	hs, _, _ := s.InitialState()
	if got := s.AppliedIndex(); got != 3 || hs.GetCommit() != 3 {
		t.Fatalf("applied %d, commit %d: want 3 and 3 (the empty entry of term 2 is not known committed)", got, hs.GetCommit())
	}
	// A later HardState commits it.
	if err := s.Save(&raftpb.HardState{Term: new(uint64(3)), Vote: new(uint64(1)), Commit: new(uint64(4))}, nil, nil, true); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	if got := s.AppliedIndex(); got != 4 {
		t.Fatalf("applied %d, want 4 (the HardState commits the empty entry)", got)
	}
	// A conf change applied (saved) counts, with its configuration.
	if err := s.Save(nil, mixed(3, 5, 5, nil, []uint64{5}), nil, true); err != nil {
		t.Fatal(err)
	}
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	if err := s.SaveConfState(5, cs); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	_, gotCS, _ := s.InitialState()
	if got := s.AppliedIndex(); got != 5 || !proto.Equal(gotCS, cs) {
		t.Fatalf("applied %d, configuration %v: want 5 and %v", got, gotCS, cs)
	}
	// One not saved does not.
	if err := s.Save(nil, mixed(3, 6, 6, nil, []uint64{6}), nil, true); err != nil {
		t.Fatal(err)
	}
	s = reopen()
	if got := s.AppliedIndex(); got != 5 {
		t.Fatalf("applied %d, want 5 (the conf change at 6 was not applied)", got)
	}
}

// What decodes from any bytes re-encodes to a prefix of them (the whole
// records), and a torn tail is reported only when bytes are left over.
func FuzzDecodePhantoms(f *testing.F) {
	f.Add(encodePhantoms([]phantom{{index: 1, term: 1}, {index: 2, term: 1, offset: 3, typ: raftpb.EntryConfChange, data: []byte("x")}}))
	f.Add([]byte(phantomMagic + "\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, torn, err := decodePhantoms(b)
		if err != nil {
			return
		}
		again := encodePhantoms(ps)
		again[4] = b[4] // a version 1 file re-encodes as version 2
		if !bytes.HasPrefix(b, again) {
			t.Fatalf("%d records re-encode to bytes that are not a prefix of the input", len(ps))
		}
		if torn != (len(again) < len(b)) {
			t.Fatalf("torn %v with %d of %d bytes decoded", torn, len(again), len(b))
		}
	})
}
