package replication

import (
	"errors"
	"fmt"
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
