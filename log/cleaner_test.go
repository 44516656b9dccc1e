package log

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/internal/batchtest"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/log/vfs"
)

type kv struct {
	key, value []byte // nil value: tombstone
}

// kvBatch is a batch of keyed records at timestamps ts, ts+1, ... of
// producerID (at epoch 0, sequence 0; -1: none) with attributes attrs (a
// codec and flags).
func kvBatch(recs []kv, ts int64, attrs int16, producerID int64) batchtest.Batch {
	b := batchtest.Batch{Attributes: attrs, BaseTimestamp: ts, ProducerID: producerID}
	for i, r := range recs {
		b.Records = append(b.Records, batchtest.Record{Key: r.key, Value: r.value, TimestampDelta: int64(i)})
	}
	return b
}

// makeKVBatch builds a batch of keyed records compressed with codec.
func makeKVBatch(t testing.TB, recs []kv, ts int64, codec int, xerial bool, producerID int64) []byte {
	t.Helper()
	b := kvBatch(recs, ts, int16(codec), producerID)
	b.Xerial = xerial
	raw, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func compactConfig() Config {
	c := smallSegments()
	c.SegmentBytes = 4 << 10
	c.Compact = true
	c.RetentionMs, c.RetentionBytes = -1, -1
	c.DeleteRetentionMs = 1000
	c.MaxCompactionLagMs = math.MaxInt64
	return c
}

type seen struct {
	offset int64
	value  []byte
}

// latestPerKey reads the whole log and returns, per key, the last value seen
// and all offsets seen; it checks CRCs and strictly increasing offsets.
func latestPerKey(t testing.TB, l *Log) (map[string]seen, int) {
	t.Helper()
	b := readAll(t, l, l.LogStartOffset())
	out := map[string]seen{}
	n := 0
	prev := int64(-1)
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil || int(h.Length) > len(b) || !verifyCRC(b[:h.Length]) {
			t.Fatalf("bad batch after cleaning: %v", err)
		}
		if h.BaseOffset <= prev {
			t.Fatalf("offsets not increasing: %d after %d", h.BaseOffset, prev)
		}
		prev = h.LastOffset()
		err = records.ForEach(b[:h.Length], records.DefaultMaxDecompressed, func(r records.Record) error {
			out[string(r.Key)] = seen{h.BaseOffset + int64(r.OffsetDelta), bytes.Clone(r.Value)}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		b = b[h.Length:]
	}
	return out, n
}

// writeKeys appends rounds of updates to nkeys keys; the last round of key
// 0 is a tombstone. It returns the expected latest value per key.
func writeKeys(t testing.TB, l *Log, rounds, nkeys int, codec int, xerial bool, ts int64) map[string][]byte {
	want := map[string][]byte{}
	for r := range rounds {
		var recs []kv
		for k := range nkeys {
			key := fmt.Appendf(nil, "key-%d", k)
			val := fmt.Appendf(nil, "round-%d-%s", r, bytes.Repeat([]byte{'x'}, 40))
			if r == rounds-1 && k == 0 {
				val = nil
			}
			recs = append(recs, kv{key, val})
			want[string(key)] = val
		}
		if _, err := l.Append(makeKVBatch(t, recs, ts, codec, xerial, -1), ts); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SyncTo(l.EndOffset()); err != nil { // only durable data is cleaned
		t.Fatal(err)
	}
	return want
}

func TestCompaction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		codec  int
		xerial bool
	}{{"none", 0, false}, {"gzip", 1, false}, {"snappy", 2, false}, {"snappy-xerial", 2, true}, {"lz4", 3, false}, {"zstd", 4, false}} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, v variant) {
				l, _ := openLog(t, v.fs, v.dir, compactConfig())
				const now = 1_000_000
				want := writeKeys(t, l, 30, 8, tc.codec, tc.xerial, now)
				// Roll so the last round is in a closed segment... and an
				// active segment with one more key.
				end := l.EndOffset()
				sizeBefore := l.Size()
				c := NewCleaner(1 << 20)
				st, err := l.Compact(now, c)
				if err != nil {
					t.Fatal(err)
				}
				if !st.Cleaned || st.SegmentsCleaned == 0 || st.RecordsRemoved == 0 {
					t.Fatalf("nothing cleaned: %+v", st)
				}
				if l.EndOffset() != end || l.Size() >= sizeBefore {
					t.Fatalf("end %d (want %d), size %d -> %d", l.EndOffset(), end, sizeBefore, l.Size())
				}
				got, _ := latestPerKey(t, l)
				for k, w := range want {
					if g, ok := got[k]; !ok || !bytes.Equal(g.value, w) {
						t.Fatalf("key %s: got %q, want %q", k, got[k].value, w)
					}
				}
				// Codec kept: every non-empty batch still has tc.codec.
				b := readAll(t, l, 0)
				for len(b) > 0 {
					h, _ := ParseBatchHeader(b)
					if h.RecordCount > 0 && h.Compression() != tc.codec {
						t.Fatalf("batch at %d recompressed with %d, want %d", h.BaseOffset, h.Compression(), tc.codec)
					}
					if tc.xerial && h.RecordCount > 0 && !records.IsXerial(b[BatchHeaderSize:h.Length]) {
						t.Fatal("xerial framing lost")
					}
					b = b[h.Length:]
				}
				// A second round right away has nothing dirty.
				if st, err := l.Compact(now, c); err != nil || st.Cleaned {
					t.Fatalf("second round: %+v %v", st, err)
				}
				// Clean reopen agrees, then later the tombstone goes.
				must(t, l.Close())
				l2, _ := openLog(t, v.fs, v.dir, compactConfig())
				got2, _ := latestPerKey(t, l2)
				if len(got2) != len(got) {
					t.Fatalf("reopen: %d keys, want %d", len(got2), len(got))
				}
				writeKeys(t, l2, 3, 8, tc.codec, tc.xerial, now+5000) // new dirty data
				if _, err := l2.Compact(now+5000, c); err != nil {
					t.Fatal(err)
				}
				got3, _ := latestPerKey(t, l2)
				if l2.EndOffset() != end+24 {
					t.Fatalf("end moved to %d", l2.EndOffset())
				}
				_ = got3
			})
		})
	}
}

func TestCompactionTombstoneRetention(t *testing.T) {
	mem := vfs.NewMem()
	cfg := compactConfig()
	l, _ := openLog(t, mem, "/d/t-0", cfg)
	const now = 1_000_000
	writeKeys(t, l, 20, 4, 0, false, now) // key-0's last value is a tombstone
	c := NewCleaner(1 << 20)
	tombstone := func() bool {
		got, _ := latestPerKey(t, l)
		s, ok := got["key-0"]
		return ok && s.value == nil
	}
	// updates writes rounds of keys 1..3 only, at ts.
	updates := func(ts int64) {
		for r := range 20 {
			var recs []kv
			for k := 1; k < 4; k++ {
				recs = append(recs, kv{fmt.Appendf(nil, "key-%d", k), fmt.Appendf(nil, "late-%d-%s", r, bytes.Repeat([]byte{'y'}, 40))})
			}
			if _, err := l.Append(makeKVBatch(t, recs, ts, 0, false, -1), ts); err != nil {
				t.Fatal(err)
			}
		}
		must(t, l.SyncTo(l.EndOffset()))
	}
	for round, tc := range []struct {
		ts   int64
		kept bool
	}{
		{now, true},                            // no clean section yet: kept
		{now + cfg.DeleteRetentionMs/2, true},  // clean head not delete.retention.ms past it
		{now + 3*cfg.DeleteRetentionMs, true},  // the head moves past the horizon...
		{now + 4*cfg.DeleteRetentionMs, false}, // ...and the next round drops it
	} {
		if round > 0 {
			updates(tc.ts)
		}
		if _, err := l.Compact(tc.ts, c); err != nil {
			t.Fatal(err)
		}
		if tombstone() != tc.kept {
			t.Fatalf("round %d: tombstone kept=%v, want %v", round, !tc.kept, tc.kept)
		}
	}
}

func TestCompactionMinLagAndRatio(t *testing.T) {
	mem := vfs.NewMem()
	cfg := compactConfig()
	cfg.MinCompactionLagMs = 10_000
	l, _ := openLog(t, mem, "/d/t-0", cfg)
	const now = 1_000_000
	writeKeys(t, l, 20, 4, 0, false, now)
	c := NewCleaner(1 << 20)
	if st, _ := l.Compact(now+5000, c); st.Cleaned {
		t.Fatal("cleaned within min.compaction.lag.ms")
	}
	if st, _ := l.Compact(now+20_000, c); !st.Cleaned {
		t.Fatal("not cleaned after min.compaction.lag.ms")
	}
	cfg.MinCompactionLagMs = 0
	cfg.MinCleanableDirtyRatio = 1 // unreachable while a clean head exists
	l.SetConfig(cfg)
	writeKeys(t, l, 20, 4, 0, false, now)
	if st, _ := l.Compact(now+20_000, c); st.Cleaned {
		t.Fatal("cleaned below min.cleanable.dirty.ratio")
	}
	cfg.MaxCompactionLagMs = 1000
	l.SetConfig(cfg)
	if st, _ := l.Compact(now+20_000, c); !st.Cleaned {
		t.Fatal("not cleaned past max.compaction.lag.ms")
	}
}

// TestCompactionOnlyDurable: the cleaner makes what it cleans durable
// first, so a crash never leaves a cleaned segment whose dropped records
// were superseded only by lost ones.
func TestCompactionOnlyDurable(t *testing.T) {
	mem := vfs.NewMem()
	l, _ := openLog(t, mem, "/d/t-0", compactConfig())
	const now = 1_000_000
	writeKeys(t, l, 10, 4, 0, false, now)
	var want map[string][]byte
	for r := range 20 { // appended, never synced by the writer
		want = map[string][]byte{}
		var recs []kv
		for k := range 4 {
			key, val := fmt.Appendf(nil, "key-%d", k), fmt.Appendf(nil, "unsynced-%d-%s", r, bytes.Repeat([]byte{'z'}, 60))
			recs = append(recs, kv{key, val})
			want[string(key)] = val
		}
		if _, err := l.Append(makeKVBatch(t, recs, now, 0, false, -1), now); err != nil {
			t.Fatal(err)
		}
	}
	st, err := l.Compact(now, NewCleaner(1<<20))
	if err != nil || !st.Cleaned {
		t.Fatalf("%+v %v", st, err)
	}
	if l.DurableOffset() < st.MapEnd {
		t.Fatalf("cleaned up to %d beyond the durable offset %d", st.MapEnd, l.DurableOffset())
	}
	l2, _ := openLog(t, mem.CrashClone(), "/d/t-0", compactConfig())
	got, _ := latestPerKey(t, l2)
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("key %s lost after crash", k)
		}
	}
}

// TestCompactionSmallMap: a map smaller than the keys still makes
// progress, round by round, and never loses a latest value.
func TestCompactionSmallMap(t *testing.T) {
	mem := vfs.NewMem()
	l, _ := openLog(t, mem, "/d/t-0", compactConfig())
	const now = 1_000_000
	want := writeKeys(t, l, 10, 50, 0, false, now)
	c := NewCleaner(64 * mapSlotSize) // 57 keys
	for range 20 {
		if _, err := l.Compact(now, c); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := latestPerKey(t, l)
	for k, w := range want {
		if !bytes.Equal(got[k].value, w) {
			t.Fatalf("key %s: %q want %q", k, got[k].value, w)
		}
	}
}

// TestCompactionCrashAtEveryStep crashes the in-memory FS before each file
// operation of a cleaning round and checks that recovery gives the same
// logical log: the same end offset (everything was synced) and the same
// latest value per key.
func TestCompactionCrashAtEveryStep(t *testing.T) {
	const now = 1_000_000
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
		l, _, err := Open(fs, "/d/t-0", compactConfig(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		writeKeys(t, l, 30, 8, 0, false, now) // several segments
		if _, err := l.Compact(now, NewCleaner(1<<20)); err != nil {
			t.Fatal(err)
		}
		// A second round merges the shrunken segments into groups.
		want := writeKeys(t, l, 30, 8, 0, false, now)
		segsBefore := l.Segments()
		must(t, l.SyncTo(l.EndOffset()))
		end := l.EndOffset()
		armed.Store(true)
		_, cerr := l.Compact(now, NewCleaner(1<<20))
		armed.Store(false)
		crashed := mem.CrashClone()
		l2, rep, err := Open(crashed, "/d/t-0", compactConfig(), testLogger(t))
		if err != nil {
			t.Fatalf("step %d: reopen: %v", step, err)
		}
		if l2.EndOffset() != end || rep.TruncatedFrom >= 0 {
			t.Fatalf("step %d: end %d want %d, report %+v", step, l2.EndOffset(), end, rep)
		}
		got, _ := latestPerKey(t, l2)
		for k, w := range want {
			if !bytes.Equal(got[k].value, w) {
				t.Fatalf("step %d: key %s: %q want %q", step, k, got[k].value, w)
			}
		}
		names, _ := crashed.ReadDir("/d/t-0")
		for _, n := range names {
			if bytes.HasSuffix([]byte(n), []byte(".cleaned")) || bytes.HasSuffix([]byte(n), []byte(".swap")) {
				t.Fatalf("step %d: leftover %s", step, n)
			}
		}
		_ = l2.Close()
		if cerr == nil {
			if step < 5 {
				t.Fatal("the round never hit an injected failure")
			}
			if l.Segments() >= segsBefore-1 {
				t.Fatalf("segments %d -> %d: cleaned segments were not merged", segsBefore, l.Segments())
			}
			t.Logf("crashed at each of %d steps", step-1)
			return
		}
		if !errors.Is(cerr, vfs.ErrInjected) {
			t.Logf("step %d: %v", step, cerr)
		}
	}
}

// FuzzFilterBatch: the cleaner's batch rewrite never panics on arbitrary
// batch bytes, and whatever it writes is a valid batch whose records decode
// to its record count, with the original offsets kept.
func FuzzFilterBatch(f *testing.F) {
	f.Add(makeKVBatch(f, []kv{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}, {[]byte("a"), []byte("2")}}, 5, 0, false, -1), int64(1))
	f.Add(makeKVBatch(f, []kv{{[]byte("a"), []byte("1")}, {nil, []byte("x")}}, 5, 4, false, 7), int64(0))
	f.Add(makeKVBatch(f, []kv{{[]byte("a"), []byte("1")}}, 5, 2, true, -1), int64(3))
	f.Fuzz(func(t *testing.T, batch []byte, latestA int64) {
		h, err := ParseBatchHeader(batch)
		if err != nil || int(h.Length) != len(batch) {
			return
		}
		c := NewCleaner(1 << 12)
		c.MaxDecompressed = 1 << 20
		c.m.put([]byte("a"), latestA)
		out, removed, err := c.filterBatch(h, batch, 1<<40, latestA%2 == 0, nil)
		if err != nil || removed == 0 || len(out) == 0 {
			return
		}
		nh, err := ParseBatchHeader(out)
		if err != nil || int(nh.Length) != len(out) || !verifyCRC(out) {
			t.Fatalf("rewritten batch invalid: %v", err)
		}
		if nh.BaseOffset != h.BaseOffset || nh.LastOffsetDelta != h.LastOffsetDelta {
			t.Fatal("offsets changed")
		}
		n := int32(0)
		if err := records.ForEach(out, 1<<20, func(records.Record) error { n++; return nil }); err != nil || n != nh.RecordCount {
			t.Fatalf("rewritten records: %d of %d, %v", n, nh.RecordCount, err)
		}
	})
}

// controlBatch is a commit (or abort) marker of producerID, as the broker
// writes it: one control record, key version 0 and type 1 (commit) or 0.
func controlBatch(t testing.TB, producerID int64, commit bool, ts int64) []byte {
	key := []byte{0, 0, 0, 0}
	if commit {
		key[3] = 1
	}
	return kvBatch([]kv{{key, []byte{0, 0, 0, 0, 0, 0}}}, ts, AttrTransactional|AttrControl, producerID).MustEncode()
}

// TestCompactionTxnMarkers: aborted data goes in the first round; a marker
// stays while data of its transaction remains and until its segment is
// past the delete horizon, and then goes (Kafka's second pass); a marker of
// a transaction with surviving data stays, and so does each producer's
// last marker (its last batch, kept for its producer state as Kafka keeps
// an active producer's).
func TestCompactionTxnMarkers(t *testing.T) {
	const now = 1_000_000
	const pidA, pidB, pidC = 11, 12, 13
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0
	l, _ := openLog(t, vfs.NewMem(), "/data/topic-0", cfg)
	app := func(b []byte) int64 {
		t.Helper()
		off, err := l.Append(b, now)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	val := func(s string) []byte { return append([]byte(s), bytes.Repeat([]byte{'v'}, 60)...) }
	var shared, own []kv
	for k := range 6 {
		shared = append(shared, kv{fmt.Appendf(nil, "shared-%d", k), val("txn-committed")})
		own = append(own, kv{fmt.Appendf(nil, "own-%d", k), val("txn-kept")})
	}
	// A: a committed transaction whose keys are overwritten later, then
	// one whose key is not. B: an aborted transaction, then a committed
	// one. C: one committed transaction whose keys are not overwritten.
	app(txnBatch(t, shared, now, pidA))
	app(controlBatch(t, pidA, true, now))
	abortBase := app(txnBatch(t, []kv{{[]byte("aborted-key"), val("aborted")}}, now, pidB))
	abortEnd := l.EndOffset()
	app(controlBatch(t, pidB, false, now))
	app(txnBatch(t, own, now, pidC))
	app(controlBatch(t, pidC, true, now))
	app(txnBatch(t, []kv{{[]byte("a-last"), val("txn-kept")}}, now, pidA))
	app(controlBatch(t, pidA, true, now))
	app(txnBatch(t, []kv{{[]byte("b-last"), val("txn-kept")}}, now, pidB))
	app(controlBatch(t, pidB, true, now))
	for k := range shared {
		shared[k].value = val("plain")
	}
	app(makeKVBatch(t, shared, now, 0, false, -1))
	filler := func(ts int64, n int) {
		for r := range n {
			app(makeKVBatch(t, []kv{{fmt.Appendf(nil, "filler-%d", r%4), bytes.Repeat([]byte{'f'}, 300)}}, ts, 0, false, -1))
		}
	}
	filler(now, 30)
	tv := func() TxnView {
		return TxnView{StableEnd: l.EndOffset(), Aborted: func(p, off int64) bool {
			return p == pidB && off >= abortBase && off < abortEnd
		}}
	}
	type state struct {
		markers map[int64]string // C (commit) and A (abort) in offset order
		values  map[string]string
		aborted int
	}
	scan := func() state {
		t.Helper()
		st := state{markers: map[int64]string{}, values: map[string]string{}}
		b := readAll(t, l, l.LogStartOffset())
		checkBatchesGaps(t, b, true)
		for len(b) > 0 {
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			err = records.ForEach(b[:h.Length], records.DefaultMaxDecompressed, func(r records.Record) error {
				switch {
				case h.IsControl() && r.Key[3] == 1:
					st.markers[h.ProducerID] += "C"
				case h.IsControl():
					st.markers[h.ProducerID] += "A"
				case string(r.Key) == "aborted-key":
					st.aborted++
				default:
					st.values[string(r.Key)] = string(r.Value[:min(len(r.Value), 13)])
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			b = b[h.Length:]
		}
		return st
	}
	checkData := func(st state) {
		t.Helper()
		if st.aborted != 0 {
			t.Errorf("%d aborted records left", st.aborted)
		}
		for k := range 6 {
			if v := st.values[fmt.Sprintf("shared-%d", k)]; v != "plainvvvvvvvv" {
				t.Errorf("shared-%d = %q, want the plain value", k, v)
			}
			if v := st.values[fmt.Sprintf("own-%d", k)]; v != "txn-keptvvvvv" {
				t.Errorf("own-%d = %q, want the committed transactional value", k, v)
			}
		}
		for _, k := range []string{"a-last", "b-last"} {
			if v := st.values[k]; v != "txn-keptvvvvv" {
				t.Errorf("%s = %q, want the committed transactional value", k, v)
			}
		}
	}
	checkMarkers := func(when string, st state, want map[int64]string) {
		t.Helper()
		for pid, w := range want {
			if st.markers[pid] != w {
				t.Errorf("%s: markers of producer %d %q, want %q", when, pid, st.markers[pid], w)
			}
		}
	}

	if _, err := l.CompactTxn(now, NewCleaner(1<<20), tv()); err != nil {
		t.Fatal(err)
	}
	st := scan()
	checkData(st)
	checkMarkers("first round (not past the delete horizon)", st, map[int64]string{pidA: "CC", pidB: "AC", pidC: "C"})
	// Later rounds, with time moving past delete.retention.ms.
	for round := 1; round <= 4; round++ {
		ts := now + int64(round)*10*cfg.DeleteRetentionMs
		filler(ts, 30)
		if _, err := l.CompactTxn(ts, NewCleaner(1<<20), tv()); err != nil {
			t.Fatal(err)
		}
	}
	st = scan()
	checkData(st)
	checkMarkers("past the delete horizon", st, map[int64]string{pidA: "C", pidB: "C", pidC: "C"})
}
