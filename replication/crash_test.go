package replication

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// crashAt runs fn against a LogStorage whose file system crashes at its
// k-th operation (counted from when fn starts): that operation fails, and
// what a crash at that moment would leave is returned. done is true when
// fn finished before its k-th operation.
func crashAt(t *testing.T, k int, setup, fn func(*LogStorage) error) (after *vfs.MemFS, done bool) {
	t.Helper()
	mem := vfs.NewMem()
	var mu sync.Mutex
	count, counting := 0, false
	var clone *vfs.MemFS
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		if !counting || clone != nil {
			if clone != nil {
				return vfs.ErrInjected // crashed: nothing more happens
			}
			return nil
		}
		count++
		if count == k {
			clone = mem.CrashClone()
			return vfs.ErrInjected
		}
		return nil
	})
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	cfg.SegmentBytes = 600 // a few batches per segment: truncation crosses segments
	l, _, err := plog.Open(fs, partDir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: []uint64{1, 2, 3}, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(s); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	counting = true
	mu.Unlock()
	ferr := fn(s)
	mu.Lock()
	crashed := clone
	mu.Unlock()
	_ = l.Close()
	if crashed == nil {
		if ferr != nil {
			t.Fatalf("no crash injected, yet: %v", ferr)
		}
		return mem.CrashClone(), true
	}
	if ferr == nil {
		t.Fatalf("operation %d failed but the save reported success", k)
	}
	return crashed, false
}

func ents(term uint64, from, to uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, &raftpb.Entry{Term: new(term), Index: new(i), Type: raftpb.EntryNormal.Enum(), Data: recordBatch(fmt.Sprintf("t%d-i%d", term, i))})
	}
	return out
}

// A follower's Save that replaces a divergent suffix (entries 4-5 of term 1
// by 4-7 of term 2) and records a new term and vote, crashed at every file
// operation in turn: the reopened storage always opens, keeps the synced
// prefix, holds a contiguous log of the old or the new entries (never a
// mix), and has the new HardState only if it has all the new entries
// (they are written, and synced, before it).
func TestLogStorageCrashDuringSave(t *testing.T) {
	setup := func(s *LogStorage) error {
		return s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(3))}, ents(1, 1, 5), nil, true)
	}
	save := func(s *LogStorage) error {
		return s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(2)), Commit: new(uint64(3))}, ents(2, 4, 7), nil, true)
	}
	crashes, sawOld, sawTruncated, sawNew := 0, 0, 0, 0
	for k := 1; ; k++ {
		fs, done := crashAt(t, k, setup, save)
		l, _, err := plog.Open(fs, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
		if err != nil {
			t.Fatalf("crash at op %d: log does not open: %v", k, err)
		}
		s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
		if err != nil {
			t.Fatalf("crash at op %d: storage does not open: %v", k, err)
		}
		hs, _, _ := s.InitialState()
		last, _ := s.LastIndex()
		if last < 3 {
			t.Fatalf("crash at op %d: last index %d, the synced entries 1-3 are gone", k, last)
		}
		got, err := s.Entries(1, last+1, 1<<30)
		if err != nil {
			t.Fatalf("crash at op %d: Entries: %v", k, err)
		}
		var newTerm int
		for i, e := range got {
			want := fmt.Sprintf("t%d-i%d", e.GetTerm(), i+1)
			if e.GetIndex() != uint64(i+1) || entryValue(e.Data) != want {
				t.Fatalf("crash at op %d: index %d holds %q (term %d), want index %d %q", k, e.GetIndex(), entryValue(e.Data), e.GetTerm(), i+1, want)
			}
			if t2, _ := s.Term(e.GetIndex()); t2 != e.GetTerm() {
				t.Fatalf("crash at op %d: Term(%d) = %d, entry has %d", k, e.GetIndex(), t2, e.GetTerm())
			}
			if e.GetTerm() == 2 {
				newTerm++
			} else if newTerm > 0 || (e.GetIndex() > 3 && e.GetTerm() != 1) {
				t.Fatalf("crash at op %d: old entry %d after new ones", k, e.GetIndex())
			}
		}
		switch {
		case hs.GetTerm() == 2 && (hs.GetVote() != 2 || last != 7 || newTerm != 4):
			t.Fatalf("crash at op %d: new hard state %v with last index %d, %d new entries", k, hs, last, newTerm)
		case hs.GetTerm() != 1 && hs.GetTerm() != 2:
			t.Fatalf("crash at op %d: hard state %v", k, hs)
		case hs.GetTerm() == 1 && hs.GetVote() != 1:
			t.Fatalf("crash at op %d: hard state %v", k, hs)
		}
		// Raft, restarted, is sent the new entries again: the reopened
		// storage takes them whatever state the crash left.
		if err := s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(2)), Commit: new(uint64(3))}, ents(2, 4, 7), nil, true); err != nil {
			t.Fatalf("crash at op %d: redo the save: %v", k, err)
		}
		if e, err := s.Entries(4, 8, 1<<30); err != nil || len(e) != 4 || e[0].GetTerm() != 2 || entryValue(e[3].Data) != "t2-i7" {
			t.Fatalf("crash at op %d: after the redo, entries 4-7: %v, %v", k, e, err)
		}
		switch {
		case hs.GetTerm() == 2:
			sawNew++
		case newTerm == 0 && last == 5:
			sawOld++
		default:
			sawTruncated++ // cut, partly rewritten, or new entries without the new hard state
		}
		l.Close()
		if done {
			if hs.GetTerm() != 2 {
				t.Fatalf("completed save left hard state %v", hs)
			}
			t.Logf("crashed at each of %d file operations of the save: %d reopened as the old log, %d cut or partly rewritten, %d new; all consistent",
				crashes, sawOld, sawTruncated, sawNew)
			if sawOld == 0 || sawTruncated == 0 || sawNew == 0 {
				t.Fatal("the crash points did not cover the old, intermediate and new states")
			}
			return
		}
		crashes++
	}
}

// A snapshot install crashed at every file operation: the reopened storage
// is the old log or the installed empty one, never a mix and never
// unopenable.
func TestLogStorageCrashDuringSnapshotInstall(t *testing.T) {
	setup := func(s *LogStorage) error {
		return s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(5))}, ents(1, 1, 5), nil, true)
	}
	install := func(s *LogStorage) error {
		snap := &raftpb.Snapshot{Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 100}, Metadata: &raftpb.SnapshotMetadata{
			Index: new(uint64(50)), Term: new(uint64(3)), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
		}}
		return s.Save(nil, nil, snap, true)
	}
	crashes, sawOld, sawInstalled := 0, 0, 0
	for k := 1; ; k++ {
		fs, done := crashAt(t, k, setup, install)
		l, _, err := plog.Open(fs, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
		if err != nil {
			t.Fatalf("crash at op %d: log does not open: %v", k, err)
		}
		s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
		if errors.Is(err, ErrNoAnchor) || err != nil {
			t.Fatalf("crash at op %d: storage does not open: %v", k, err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		term, _ := s.Term(first - 1)
		old := first == 1 && last == 5 && l.LogStartOffset() == 0
		installed := first == 51 && last == 50 && term == 3 && l.LogStartOffset() == 100 && l.EndOffset() == 100
		if !old && !installed {
			t.Fatalf("crash at op %d: first %d last %d term(first-1) %d log [%d, %d): neither the old log nor the snapshot",
				k, first, last, term, l.LogStartOffset(), l.EndOffset())
		}
		if old {
			sawOld++
		} else {
			sawInstalled++
			// The reopened install takes entries and survives the next
			// crash (its anchor is no longer valid only while empty).
			e := ents(3, 51, 51)
			if err := s.Save(&raftpb.HardState{Term: new(uint64(3)), Vote: new(uint64(1)), Commit: new(uint64(50))}, e, nil, true); err != nil {
				t.Fatalf("crash at op %d: append after the install: %v", k, err)
			}
			again := fs.CrashClone()
			l2, _, err := plog.Open(again, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := OpenLogStorage(LogStorageConfig{Log: l2, FS: again, Logger: quietLogger})
			if err != nil {
				t.Fatalf("crash at op %d, then an append and a crash: %v", k, err)
			}
			if first, _ := s2.FirstIndex(); first != 51 {
				t.Fatalf("crash at op %d, then an append and a crash: first index %d", k, first)
			}
			if last, _ := s2.LastIndex(); last != 51 {
				t.Fatalf("crash at op %d, then an append and a crash: last index %d", k, last)
			}
			l2.Close()
		}
		l.Close()
		if done {
			if !installed {
				t.Fatal("completed install left the old log")
			}
			t.Logf("crashed at each of %d file operations of the install: %d reopened as the old log, %d as the snapshot",
				crashes, sawOld, sawInstalled-1)
			if sawOld == 0 || sawInstalled < 2 {
				t.Fatal("the crash points did not cover both outcomes")
			}
			return
		}
		crashes++
	}
}

// CompactTo crashed at every file operation: the reopened storage opens
// (its log start matches an anchor) and starts at the old or the new
// first index, with the term below it right.
func TestLogStorageCrashDuringCompact(t *testing.T) {
	setup := func(s *LogStorage) error {
		if err := s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(uint64(5))}, ents(1, 1, 5), nil, true); err != nil {
			return err
		}
		if err := s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(10))}, ents(2, 6, 10), nil, true); err != nil {
			return err
		}
		s.log.SetHighWatermark(s.log.EndOffset())
		return nil
	}
	compact := func(s *LogStorage) error { return s.CompactTo(7) }
	crashes, sawOld, sawNew := 0, 0, 0
	for k := 1; ; k++ {
		fs, done := crashAt(t, k, setup, compact)
		l, _, err := plog.Open(fs, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
		if err != nil {
			t.Fatalf("crash at op %d: log does not open: %v", k, err)
		}
		s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
		if err != nil {
			t.Fatalf("crash at op %d: storage does not open: %v", k, err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		prev, _ := s.Term(first - 1)
		switch {
		case first == 1 && prev == 0 && l.LogStartOffset() == 0:
			sawOld++
		case first == 8 && prev == 2 && l.LogStartOffset() == 7:
			sawNew++
		default:
			t.Fatalf("crash at op %d: first index %d (term below %d), log start %d", k, first, prev, l.LogStartOffset())
		}
		if last != 10 {
			t.Fatalf("crash at op %d: last index %d, want 10", k, last)
		}
		if e, err := s.Entries(first, last+1, 1<<30); err != nil || len(e) != int(last-first+1) {
			t.Fatalf("crash at op %d: Entries [%d, %d]: %d, %v", k, first, last, len(e), err)
		}
		// The reopened storage takes entries and compacts again, and
		// survives the next crash.
		if err := s.Save(nil, ents(2, 11, 11), nil, true); err != nil {
			t.Fatalf("crash at op %d: append after reopening: %v", k, err)
		}
		s.log.SetHighWatermark(s.log.EndOffset())
		if err := s.CompactTo(9); err != nil {
			t.Fatalf("crash at op %d: compact after reopening: %v", k, err)
		}
		again := fs.CrashClone()
		l2, _, err := plog.Open(again, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := OpenLogStorage(LogStorageConfig{Log: l2, FS: again, Logger: quietLogger})
		if err != nil {
			t.Fatalf("crash at op %d, then an append, a compaction and a crash: %v", k, err)
		}
		if f2, _ := s2.FirstIndex(); f2 != 10 {
			t.Fatalf("crash at op %d, then a compaction to 9 and a crash: first index %d", k, f2)
		}
		l2.Close()
		l.Close()
		if done {
			if first != 8 {
				t.Fatal("completed compaction left the old start")
			}
			t.Logf("crashed at each of %d file operations of the compaction: %d reopened at the old start, %d at the new", crashes, sawOld, sawNew-1)
			if sawOld == 0 || sawNew < 2 {
				t.Fatal("the crash points did not cover both outcomes")
			}
			return
		}
		crashes++
	}
}

// sameEntry reports whether e (read back) is w (as saved): type, term, and
// the data (a batch by its record's value).
func sameEntry(e, w *raftpb.Entry) bool {
	if e.GetIndex() != w.GetIndex() || e.GetTerm() != w.GetTerm() || e.GetType() != w.GetType() {
		return false
	}
	if isPhantom(w) {
		return bytes.Equal(e.Data, w.Data)
	}
	return entryValue(e.Data) == entryValue(w.Data)
}

// checkOffsets checks that the data entries of [first, last] sit at
// contiguous offsets from the log start, phantoms at the next batch's.
func checkOffsets(s *LogStorage, l *plog.Log, ents []*raftpb.Entry) error {
	next := l.LogStartOffset()
	for _, e := range ents {
		base, err1 := s.BaseOffset(e.GetIndex())
		end, err2 := s.EndOffset(e.GetIndex())
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if base != next || (isPhantom(e) && end != base) || (!isPhantom(e) && end != base+1) {
			return fmt.Errorf("index %d at [%d, %d), want base %d", e.GetIndex(), base, end, next)
		}
		next = end
	}
	if next != l.EndOffset() {
		return fmt.Errorf("entries end at %d, the log at %d", next, l.EndOffset())
	}
	return nil
}

// A Save that replaces a divergent suffix holding phantoms with entries
// holding phantoms, cut at a phantom and at a batch, crashed at each of
// its file operations (the log's cut, the phantom file's rewrite, the
// phantom appends and their fsyncs before the next batch, the batches,
// the syncs, the HardState): every reopened storage holds the synced
// prefix, then old entries or new ones (never a mix, never a phantom off
// its index), data at contiguous offsets; the new HardState only with
// every new entry; and the redone Save gives the new log.
func TestLogStorageCrashDuringPhantomSave(t *testing.T) {
	// Term 1: 1 empty, 2-3 data, 4 conf change, 5-6 data, 7 empty, 8 data.
	old := mixed(1, 1, 8, []uint64{1, 7}, []uint64{4})
	for _, c := range []struct {
		name string
		new  []*raftpb.Entry
	}{
		// 4 empty, 5-6 data, 7 conf change, 8-9 data.
		{"cut at a phantom", mixed(2, 4, 9, []uint64{4}, []uint64{7})},
		// 3 empty, 4 data, 5 conf change, 6 data, 7 empty.
		{"cut at a batch", mixed(2, 3, 7, []uint64{3, 7}, []uint64{5})},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := c.new[0].GetIndex()
			want := append(slices.Clone(old[:cut-1]), c.new...)
			setup := func(s *LogStorage) error {
				return s.Save(&raftpb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(cut - 1)}, old, nil, true)
			}
			newHS := &raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(2)), Commit: new(cut - 1)}
			save := func(s *LogStorage) error { return s.Save(newHS, c.new, nil, true) }
			crashes, sawOld, sawMid, sawNew := 0, 0, 0, 0
			for k := 1; ; k++ {
				fs, done := crashAt(t, k, setup, save)
				l, _, err := plog.Open(fs, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
				if err != nil {
					t.Fatalf("crash at op %d: log does not open: %v", k, err)
				}
				s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
				if err != nil {
					t.Fatalf("crash at op %d: storage does not open: %v", k, err)
				}
				hs, _, _ := s.InitialState()
				last, _ := s.LastIndex()
				if last < cut-1 {
					t.Fatalf("crash at op %d: last index %d, the synced prefix 1-%d is gone", k, last, cut-1)
				}
				got, err := s.Entries(1, last+1, 1<<30)
				if err != nil || uint64(len(got)) != last {
					t.Fatalf("crash at op %d: Entries: %d, %v", k, len(got), err)
				}
				newCount := 0
				for i, e := range got {
					switch {
					case i < len(old) && sameEntry(e, old[i]) && newCount == 0:
					case i < len(want) && sameEntry(e, want[i]) && uint64(i+1) >= cut:
						newCount++
					default:
						t.Fatalf("crash at op %d: index %d holds %v term %d %q: neither the old entry nor the new one in order", k, i+1, e.GetType(), e.GetTerm(), entryValue(e.Data))
					}
					if tm, _ := s.Term(e.GetIndex()); tm != e.GetTerm() {
						t.Fatalf("crash at op %d: Term(%d) = %d, entry has %d", k, e.GetIndex(), tm, e.GetTerm())
					}
				}
				if err := checkOffsets(s, l, got); err != nil {
					t.Fatalf("crash at op %d: %v", k, err)
				}
				if hs.GetTerm() == 2 && (hs.GetVote() != 2 || last != uint64(len(want)) || newCount != len(c.new)) {
					t.Fatalf("crash at op %d: new hard state %v with last index %d, %d new entries", k, hs, last, newCount)
				}
				switch {
				case hs.GetTerm() == 2:
					sawNew++
				case newCount == 0 && last == uint64(len(old)):
					sawOld++
				default:
					sawMid++
				}
				// Raft, restarted, sends the new entries again.
				if err := s.Save(newHS, c.new, nil, true); err != nil {
					t.Fatalf("crash at op %d: redo the save: %v", k, err)
				}
				got, err = s.Entries(1, uint64(len(want))+1, 1<<30)
				if err != nil || len(got) != len(want) {
					t.Fatalf("crash at op %d: after the redo: %d entries, %v", k, len(got), err)
				}
				for i := range want {
					if !sameEntry(got[i], want[i]) {
						t.Fatalf("crash at op %d: after the redo, index %d: %v", k, i+1, got[i])
					}
				}
				if err := checkOffsets(s, l, got); err != nil {
					t.Fatalf("crash at op %d: after the redo: %v", k, err)
				}
				l.Close()
				if done {
					if hs.GetTerm() != 2 {
						t.Fatalf("completed save left hard state %v", hs)
					}
					t.Logf("crashed at each of %d file operations of the save: %d reopened as the old log, %d cut or partly rewritten, %d new; all consistent",
						crashes, sawOld, sawMid, sawNew)
					if sawOld == 0 || sawMid == 0 || sawNew == 0 {
						t.Fatal("the crash points did not cover the old, intermediate and new states")
					}
					return
				}
				crashes++
			}
		})
	}
}

// A snapshot install and a CompactTo over a log with phantoms, crashed at
// each file operation: the reopened storage is the old state (phantoms
// intact) or the new one (no phantom below the new start, none at all
// after an install), and it takes entries afterwards.
func TestLogStorageCrashPhantomsInstallAndCompact(t *testing.T) {
	// 1 empty, 2 data, 3 conf change, 4-5 data, 6 empty, 7-10 data.
	ents := append(mixed(1, 1, 5, []uint64{1}, []uint64{3}), mixed(2, 6, 10, []uint64{6}, nil)...)
	setup := func(s *LogStorage) error {
		if err := s.Save(&raftpb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(10))}, ents, nil, true); err != nil {
			return err
		}
		if err := s.SaveConfState(3, &raftpb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}); err != nil {
			return err
		}
		s.log.SetHighWatermark(s.log.EndOffset())
		return nil
	}
	install := func(s *LogStorage) error {
		return s.Save(nil, nil, &raftpb.Snapshot{Data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 100}, Metadata: &raftpb.SnapshotMetadata{
			Index: new(uint64(50)), Term: new(uint64(3)), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}},
		}}, true)
	}
	for _, c := range []struct {
		name string
		op   func(*LogStorage) error
		// the new state: first index, log start, phantoms kept
		first    uint64
		start    int64
		phantoms int
	}{
		{"install", install, 51, 100, 0},
		{"compact to before a phantom", func(s *LogStorage) error { return s.CompactTo(5) }, 6, 3, 1},
		{"compact past a phantom", func(s *LogStorage) error { return s.CompactTo(6) }, 7, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			crashes, sawOld, sawNew := 0, 0, 0
			for k := 1; ; k++ {
				fs, done := crashAt(t, k, setup, c.op)
				l, _, err := plog.Open(fs, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
				if err != nil {
					t.Fatalf("crash at op %d: log does not open: %v", k, err)
				}
				s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
				if err != nil {
					t.Fatalf("crash at op %d: storage does not open: %v", k, err)
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				wantLast := uint64(10)
				if c.first > 11 {
					wantLast = c.first - 1
				}
				switch {
				case first == 1 && last == 10 && l.LogStartOffset() == 0 && len(s.phantoms) == 3:
					sawOld++
				case first == c.first && last == wantLast && l.LogStartOffset() == c.start && len(s.phantoms) == c.phantoms:
					sawNew++
				default:
					t.Fatalf("crash at op %d: first %d last %d log [%d, %d) %d phantoms: neither the old state nor the new",
						k, first, last, l.LogStartOffset(), l.EndOffset(), len(s.phantoms))
				}
				if last >= first {
					got, err := s.Entries(first, last+1, 1<<30)
					if err != nil || uint64(len(got)) != last-first+1 {
						t.Fatalf("crash at op %d: Entries: %d, %v", k, len(got), err)
					}
					for _, e := range got {
						if !sameEntry(e, ents[e.GetIndex()-1]) {
							t.Fatalf("crash at op %d: index %d holds %v", k, e.GetIndex(), e)
						}
					}
					if err := checkOffsets(s, l, got); err != nil {
						t.Fatalf("crash at op %d: %v", k, err)
					}
				}
				// It takes a phantom and a batch, and a crash after that
				// reopens the same.
				term, _ := s.Term(last)
				more := mixed(max(term, 3), last+1, last+2, []uint64{last + 1}, nil)
				if err := s.Save(&raftpb.HardState{Term: new(max(term, 3)), Vote: new(uint64(1)), Commit: new(first - 1)}, more, nil, true); err != nil {
					t.Fatalf("crash at op %d: append after reopening: %v", k, err)
				}
				m := storageMap(t, s)
				again := fs.CrashClone()
				l2, _, err := plog.Open(again, partDir, plog.Config{Replicated: true, SegmentBytes: 600}, nil)
				if err != nil {
					t.Fatal(err)
				}
				s2, err := OpenLogStorage(LogStorageConfig{Log: l2, FS: again, Logger: quietLogger})
				if err != nil {
					t.Fatalf("crash at op %d, then an append and a crash: %v", k, err)
				}
				if m2 := storageMap(t, s2); !slices.Equal(m.rows, m2.rows) {
					t.Fatalf("crash at op %d, then an append and a crash:\n%v\nwant:\n%v", k, m2.rows, m.rows)
				}
				l2.Close()
				l.Close()
				if done {
					if first != c.first {
						t.Fatal("the completed operation left the old state")
					}
					t.Logf("crashed at each of %d file operations: %d reopened as the old state, %d as the new", crashes, sawOld, sawNew-1)
					if sawOld == 0 || sawNew < 2 {
						t.Fatal("the crash points did not cover both outcomes")
					}
					return
				}
				crashes++
			}
		})
	}
}
