package replication

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// keyedBatch is a batch of nkeys records, key k%d = round r.
func keyedBatch(r, nkeys int) []byte {
	b := records.NewBuilder(nil, records.NoProducer(1000))
	for k := range nkeys {
		b.Add(1000, fmt.Appendf(nil, "k%d", k), fmt.Appendf(nil, "r%d-%s", r, bytes.Repeat([]byte{'v'}, 30)))
	}
	return b.Build()
}

// compactLogConfig is a replicated log's config with compaction on, with
// segments of segmentBytes.
func compactLogConfig(segmentBytes int64) plog.Config {
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	cfg.SegmentBytes = segmentBytes
	cfg.Compact = true
	cfg.MinCleanableDirtyRatio = 0
	cfg.MinCompactionLagMs = 0
	cfg.MaxCompactionLagMs = math.MaxInt64
	cfg.DeleteRetentionMs = math.MaxInt64 / 2
	return cfg
}

// offsetMapOf is the storage's index -> (base, end offset, term) map.
func offsetMapOf(t *testing.T, s *LogStorage) [][3]int64 {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	var out [][3]int64
	for i := first; i <= last; i++ {
		b, err1 := s.BaseOffset(i)
		e, err2 := s.EndOffset(i)
		term, err3 := s.Term(i)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("index %d: %v %v %v", i, err1, err2, err3)
		}
		out = append(out, [3]int64{b, e, int64(term)})
	}
	return out
}

// latestValues reads the log from its start and returns the last value
// of each key.
func latestValues(t *testing.T, l *plog.Log) map[string]string {
	t.Helper()
	b, err := l.Read(l.LogStartOffset(), l.EndOffset(), 1<<30, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for len(b) > 0 {
		h, err := plog.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() {
			err := records.ForEach(b[:h.Length], records.DefaultMaxDecompressed, func(r records.Record) error {
				out[string(r.Key)] = string(r.Value)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		b = b[h.Length:]
	}
	return out
}

// Compaction on a replicated log, in a three-node group: the leader's
// cleaned log keeps every index's offsets and term (the index -> offset map
// is the same before and after, and after a reopen); a follower that was
// away catches up from the cleaned log (Entries reads the cleaned batches,
// emptied ones included) and ends with the same map, the same latest value
// per key, and fewer bytes than a replica that never cleaned. Replicas are
// not byte-identical after a clean, and need not be.
func TestCompactReplicatedLog(t *testing.T) {
	c := newLogCluster(t, 3, true)
	c.elect(1, 1)
	c.net.Isolate(3)
	for r := range 60 {
		if err := c.nodes[1].Propose(t.Context(), 1, keyedBatch(r, 5)); err != nil {
			t.Fatal(err)
		}
	}
	c.tickUntil("node 2 caught up", 20, func() bool { return c.logs[[2]uint64{2, 1}].EndOffset() == 300 }, 1, 2)
	st := func(id uint64) *LogStorage { return c.storages[[2]uint64{id, 1}].(*LogStorage) }
	leader := c.logs[[2]uint64{1, 1}]
	before := offsetMapOf(t, st(1))
	leader.SetHighWatermark(leader.EndOffset()) // as the broker's apply does
	leader.SetConfig(compactLogConfig(4 << 10))
	size := leader.Size()
	cs, err := leader.Compact(1000, plog.NewCleaner(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if !cs.Cleaned || cs.RecordsRemoved == 0 || leader.Size() >= size {
		t.Fatalf("nothing cleaned: %+v, %d -> %d bytes", cs, size, leader.Size())
	}
	if after := offsetMapOf(t, st(1)); !slices.Equal(before, after) {
		t.Fatalf("index map changed by the clean:\n%v\n%v", before, after)
	}
	want := latestValues(t, c.logs[[2]uint64{2, 1}])
	if got := latestValues(t, leader); !mapsEqual(got, want) {
		t.Fatalf("latest values after the clean %v, want %v", got, want)
	}
	// Node 3 catches up from the cleaned log.
	c.net.Heal()
	if err := c.nodes[1].Propose(t.Context(), 1, keyedBatch(60, 5)); err != nil {
		t.Fatal(err)
	}
	c.tickUntil("node 3 caught up", 80, func() bool { return c.logs[[2]uint64{3, 1}].EndOffset() == 305 }, 1)
	m1, m3 := offsetMapOf(t, st(1)), offsetMapOf(t, st(3))
	if !slices.Equal(m1, m3) {
		t.Fatalf("node 3's index map differs from the leader's:\n%v\n%v", m3, m1)
	}
	if got, want := latestValues(t, c.logs[[2]uint64{3, 1}]), latestValues(t, c.logs[[2]uint64{2, 1}]); !mapsEqual(got, want) {
		t.Fatalf("node 3 latest values %v, want %v", got, want)
	}
	if s3, s2 := c.logs[[2]uint64{3, 1}].Size(), c.logs[[2]uint64{2, 1}].Size(); s3 >= s2 {
		t.Fatalf("node 3 holds %d bytes, node 2 (never cleaned) %d: the cleaned batches were not what it got", s3, s2)
	}
	// Node 2 cleans on its own: the same map again.
	l2 := c.logs[[2]uint64{2, 1}]
	l2.SetHighWatermark(l2.EndOffset())
	l2.SetConfig(compactLogConfig(4 << 10))
	if _, err := l2.Compact(1000, plog.NewCleaner(1<<20)); err != nil {
		t.Fatal(err)
	}
	if m2 := offsetMapOf(t, st(2)); !slices.Equal(m1, m2) {
		t.Fatal("node 2's index map changed by its own clean")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A clean of a replicated log crashed at each of its file operations: the
// reopened storage always opens with every index at its old offsets and
// term (the cleaned or the old segments, never a mix that moves an
// offset), the latest value of every key, and Entries reads every index;
// a clean run again after the crash completes with the same map.
func TestLogStorageCrashDuringClean(t *testing.T) {
	const n = 40
	var es []*raftpb.Entry
	for i := uint64(1); i <= n; i++ {
		es = append(es, &raftpb.Entry{Term: new(uint64(1 + i/15)), Index: new(i), Type: raftpb.EntryNormal.Enum(), Data: keyedBatch(int(i), 4)})
	}
	var wantMap [][3]int64
	var wantValues map[string]string
	setup := func(s *LogStorage) error {
		if err := s.Save(&raftpb.HardState{Term: new(uint64(3)), Vote: new(uint64(1)), Commit: new(uint64(n))}, es, nil, true); err != nil {
			return err
		}
		s.log.SetHighWatermark(s.log.EndOffset())
		s.log.SetConfig(compactLogConfig(600))
		wantMap = offsetMapOf(t, s)
		wantValues = latestValues(t, s.log)
		return nil
	}
	clean := func(s *LogStorage) error {
		st, err := s.log.Compact(1000, plog.NewCleaner(1<<20))
		if err == nil && !st.Cleaned {
			return fmt.Errorf("nothing cleaned")
		}
		return err
	}
	crashes := 0
	for k := 1; ; k++ {
		fs, done := crashCleanAt(t, k, setup, clean)
		cfg := compactLogConfig(600)
		l, _, err := plog.Open(fs, partDir, cfg, nil)
		if err != nil {
			t.Fatalf("crash at op %d: log does not open: %v", k, err)
		}
		s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Logger: quietLogger})
		if err != nil {
			t.Fatalf("crash at op %d: storage does not open: %v", k, err)
		}
		if got := offsetMapOf(t, s); !slices.Equal(got, wantMap) {
			t.Fatalf("crash at op %d: index map\n%v\nwant\n%v", k, got, wantMap)
		}
		l.SetHighWatermark(l.EndOffset())
		if got := latestValues(t, l); !mapsEqual(got, wantValues) {
			t.Fatalf("crash at op %d: latest values %v, want %v", k, got, wantValues)
		}
		got, err := s.Entries(1, n+1, 1<<30)
		if err != nil || len(got) != n {
			t.Fatalf("crash at op %d: Entries: %d, %v", k, len(got), err)
		}
		for i, e := range got {
			if e.GetIndex() != uint64(i+1) || e.GetTerm() != es[i].GetTerm() {
				t.Fatalf("crash at op %d: entry %d: index %d term %d", k, i+1, e.GetIndex(), e.GetTerm())
			}
		}
		// Clean again after the crash: completes, same map.
		if _, err := l.Compact(1000, plog.NewCleaner(1<<20)); err != nil {
			t.Fatalf("crash at op %d: clean after the crash: %v", k, err)
		}
		if got := offsetMapOf(t, s); !slices.Equal(got, wantMap) {
			t.Fatalf("crash at op %d: index map after the second clean differs", k)
		}
		l.Close()
		if done {
			t.Logf("crashed at each of %d file operations of the clean: every reopened storage kept the index map and the latest values", crashes)
			if crashes < 5 {
				t.Fatalf("only %d crash points", crashes)
			}
			return
		}
		crashes++
	}
}

// crashCleanAt is crashAt for a clean: the cleaner goes on past a failed
// write of its checkpoint or of a cleaned segment's index files (they are
// rebuilt), so a crash there may leave the clean reporting success.
func crashCleanAt(t *testing.T, k int, setup, fn func(*LogStorage) error) (after *vfs.MemFS, done bool) {
	t.Helper()
	mem := vfs.NewMem()
	var mu sync.Mutex
	count, counting := 0, false
	var clone *vfs.MemFS
	fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		if clone != nil {
			return vfs.ErrInjected // crashed: nothing more happens
		}
		if !counting {
			return nil
		}
		if count++; count == k {
			clone = mem.CrashClone()
			return vfs.ErrInjected
		}
		return nil
	})
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, _, err := plog.Open(fs, partDir, compactLogConfig(600), nil)
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
	return crashed, false
}
