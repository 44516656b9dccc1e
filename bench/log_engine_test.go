package bench

// Log engine figures (README "Log engine"). Run with
//
//	go test ./bench -run '^$' -bench 'LogEngine' -benchtime 1x -v
//
// Every figure is reported next to this machine's sequential-write
// bandwidth measured in the same run by a dd-like loop (16 KiB write()s to a
// fresh file, then one fdatasync: "disk"; without the fdatasync:
// "pagecache"), because figures on a shared VM drift 2x between runs.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moldau/moldau/internal/batchtest"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
)

const mib = 1 << 20

// makeBenchBatch builds an uncompressed RecordBatch v2 of n records with
// values of size bytes.
func makeBenchBatch(n, size int) []byte {
	value := bytes.Repeat([]byte{'v'}, size)
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = value
	}
	return batchtest.New(time.Now().UnixMilli(), batchtest.Values(recs...)...).MustEncode()
}

// seqWrite is the dd-like ceiling: total bytes in 16 KiB writes to a fresh
// file, with one fdatasync at the end when sync is set. MiB/s.
func seqWrite(tb testing.TB, dir string, total int64, fsync bool) float64 {
	return seqWriteBlocks(tb, dir, total, fsync, 16<<10)
}

// seqWriteBlocks is seqWrite with block-byte write()s.
func seqWriteBlocks(tb testing.TB, dir string, total int64, fsync bool, block int) float64 {
	settle()
	f, err := os.Create(filepath.Join(dir, "dd"))
	if err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := bytes.Repeat([]byte{'d'}, block)
	start := time.Now()
	for n := int64(0); n < total; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			tb.Fatal(err)
		}
	}
	if fsync {
		if err := f.Sync(); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(total) / mib / time.Since(start).Seconds()
}

func openBenchLog(tb testing.TB, dir string) *plog.Log {
	l, _, err := plog.Open(vfs.OS, dir, plog.DefaultConfig(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// appendThroughput appends total bytes of copies of batch from writers
// goroutines spread over logs logs. With sync, each writer waits for its
// batch to be durable before the next (fsync per batch, group-committed by
// SyncTo, or through the broker-wide syncer when shared is non-nil); without
// sync, one fdatasync at the end is included. MiB/s.
func appendThroughput(tb testing.TB, dir string, batch []byte, total int64, logs, writers int, fsync bool, shared *groupSyncer) float64 {
	ls := make([]*plog.Log, logs)
	for i := range ls {
		ls[i] = openBenchLog(tb, filepath.Join(dir, fmt.Sprintf("p-%d", i)))
	}
	defer func() {
		for _, l := range ls {
			_ = l.Delete()
		}
	}()
	per := total / int64(len(batch)) / int64(writers)
	settle()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[w%logs]
			b := bytes.Clone(batch)
			for range per {
				base, err := l.Append(b, time.Now().UnixMilli())
				if err != nil {
					tb.Error(err)
					return
				}
				if !fsync {
					continue
				}
				if shared != nil {
					err = shared.sync(l, base+1)
				} else {
					err = l.SyncTo(base + 1)
				}
				if err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range ls {
		if err := l.SyncTo(l.EndOffset()); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(per*int64(writers)*int64(len(batch))) / mib / time.Since(start).Seconds()
}

// groupSyncer is the broker-wide alternative to per-partition SyncTo: one
// goroutine collects every partition that needs a sync, fsyncs each once
// and wakes all of their waiters.
type groupSyncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	want    map[*plog.Log]int64
	round   int64 // completed rounds
	running bool
	stop    bool
	errs    map[*plog.Log]error
}

func newGroupSyncer() *groupSyncer {
	g := &groupSyncer{want: map[*plog.Log]int64{}, errs: map[*plog.Log]error{}}
	g.cond = sync.NewCond(&g.mu)
	go g.loop()
	return g
}

func (g *groupSyncer) sync(l *plog.Log, offset int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if offset > g.want[l] {
		g.want[l] = offset
	}
	g.cond.Broadcast()
	for l.DurableOffset() < offset && g.errs[l] == nil {
		g.cond.Wait()
	}
	return g.errs[l]
}

func (g *groupSyncer) loop() {
	g.mu.Lock()
	for {
		for len(g.want) == 0 && !g.stop {
			g.cond.Wait()
		}
		if g.stop {
			g.mu.Unlock()
			return
		}
		work := g.want
		g.want = map[*plog.Log]int64{}
		g.mu.Unlock()
		errs := map[*plog.Log]error{}
		for l, o := range work {
			if err := l.SyncTo(o); err != nil {
				errs[l] = err
			}
		}
		g.mu.Lock()
		for l, err := range errs {
			g.errs[l] = err
		}
		g.cond.Broadcast()
	}
}

func (g *groupSyncer) close() {
	g.mu.Lock()
	g.stop = true
	g.cond.Broadcast()
	g.mu.Unlock()
}

func readThroughput(tb testing.TB, dir string, total int64) float64 {
	l := openBenchLog(tb, dir)
	defer l.Delete()
	batch := makeBenchBatch(16, 1024)
	for n := int64(0); n < total; n += int64(len(batch)) {
		if _, err := l.Append(batch, time.Now().UnixMilli()); err != nil {
			tb.Fatal(err)
		}
	}
	buf := make([]byte, 0, 2*mib)
	start := time.Now()
	var read int64
	for off := int64(0); off < l.EndOffset(); {
		var err error
		buf, err = l.Read(off, l.EndOffset(), mib, true, buf[:0])
		if err != nil {
			tb.Fatal(err)
		}
		read += int64(len(buf))
		// Continue after the last batch returned.
		last := buf
		var h plog.BatchHeader
		for len(last) > 0 {
			h, _ = plog.ParseBatchHeader(last)
			last = last[h.Length:]
		}
		off = h.NextOffset()
	}
	return float64(read) / mib / time.Since(start).Seconds()
}

func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return -1
}

func openFDs() int {
	es, _ := os.ReadDir("/proc/self/fd")
	return len(es)
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// BenchmarkLogEngine prints every figure once (use -benchtime 1x).
// MOLDAU_BENCH_MIB (default 1024) sets the bytes per append run,
// MOLDAU_BENCH_RECOVERY_MIB (default 3072) the data recovered after a
// simulated kill -9.
func BenchmarkLogEngine(b *testing.B) {
	dir := b.TempDir()
	total := envInt("MOLDAU_BENCH_MIB", 1024) * mib
	report := func(name string, v, ceiling float64) {
		b.Logf("%-52s %8.0f MiB/s  %5.0f%% of disk", name, v, 100*v/ceiling)
	}
	for range b.N {
		big := makeBenchBatch(16, 1024)   // 1 KiB records, ~16.6 KiB batches
		small := makeBenchBatch(140, 100) // 100 B records, ~16 KiB batches
		// Interleave the ceiling with the runs it judges; medians of 3.
		var pcs, disks, unaligned, bigs, smalls []float64
		for range 3 {
			pcs = append(pcs, seqWrite(b, dir, total, false))
			disks = append(disks, seqWrite(b, dir, total, true))
			unaligned = append(unaligned, seqWriteBlocks(b, dir, total, true, len(big)))
			bigs = append(bigs, appendThroughput(b, dir, big, total, 1, 1, false, nil))
			smalls = append(smalls, appendThroughput(b, dir, small, total, 1, 1, false, nil))
		}
		pc, disk := median(pcs), median(disks)
		b.Logf("ceiling: dd-like 16 KiB writes: page cache %.0f MiB/s, disk (with final fdatasync) %.0f MiB/s (medians of %v, %v)", pc, disk, round(pcs), round(disks))
		b.Logf("same loop with %d-byte (one batch, page-unaligned) writes + fdatasync: %.0f MiB/s (%v)", len(big), median(unaligned), round(unaligned))
		report("append 1 KiB records, 16 KiB batches, no fsync", median(bigs), disk)
		report("append 100 B records, 16 KiB batches, no fsync", median(smalls), disk)
		report("append 1 KiB/16 KiB, fsync per batch, 1 writer", appendThroughput(b, dir, big, total/8, 1, 1, true, nil), disk)
		report("append 1 KiB/16 KiB, fsync per batch, 16 writers 1 log", appendThroughput(b, dir, big, total/2, 1, 16, true, nil), disk)
		report("append 100 B/16 KiB, fsync per batch, 16 writers 1 log", appendThroughput(b, dir, small, total/2, 1, 16, true, nil), disk)
		report("16 logs x 1 writer, fsync/batch, per-log SyncTo", appendThroughput(b, dir, big, total/2, 16, 16, true, nil), disk)
		g := newGroupSyncer()
		report("16 logs x 1 writer, fsync/batch, broker-wide syncer", appendThroughput(b, dir, big, total/2, 16, 16, true, g), disk)
		g.close()
		report("16 logs x 4 writers, fsync/batch, per-log SyncTo", appendThroughput(b, dir, big, total/2, 16, 64, true, nil), disk)
		g = newGroupSyncer()
		report("16 logs x 4 writers, fsync/batch, broker-wide syncer", appendThroughput(b, dir, big, total/2, 16, 64, true, g), disk)
		g.close()
		b.Logf("%-52s %8.0f MiB/s", "read 1 MiB fetches from page cache", readThroughput(b, filepath.Join(dir, "read"), total))
		recoveryFigures(b, dir, 3072)
		partitionFigures(b, dir)
	}
}

// settle writes back every dirty page (sync(2)) so that one run's
// writeback does not throttle the next.
func settle() { syscall.Sync() }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func round(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x)
	}
	return out
}

// BenchmarkLogRecovery is the recovery figure alone, from 10 GiB by
// default (MOLDAU_BENCH_RECOVERY_MIB).
func BenchmarkLogRecovery(b *testing.B) {
	for range b.N {
		recoveryFigures(b, b.TempDir(), 10240)
	}
}

// recoveryFigures writes MOLDAU_BENCH_RECOVERY_MIB in 1 GiB segments, then
// abandons the log without Close (what kill -9 leaves: files in the page
// cache, meta marked unclean) and times Open.
func recoveryFigures(b *testing.B, dir string, defMiB int64) {
	// Just short of a whole number of 1 GiB segments, so that the last
	// segment (which an unclean restart scans and CRC-checks) is nearly full.
	total := envInt("MOLDAU_BENCH_RECOVERY_MIB", defMiB)*mib - 64*mib
	d := filepath.Join(dir, "recover")
	l := openBenchLog(b, d)
	batch := makeBenchBatch(16, 1024)
	for n := int64(0); n < total; n += int64(len(batch)) {
		if _, err := l.Append(batch, time.Now().UnixMilli()); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.SyncTo(l.EndOffset()); err != nil {
		b.Fatal(err)
	}
	// No Close: the meta file still says "unclean".
	start := time.Now()
	l2, rep, err := plog.Open(vfs.OS, d, plog.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	unclean := time.Since(start)
	// Again from a cold page cache (what a power loss leaves), where
	// dropping caches is allowed (root): l2 is abandoned too.
	cold := "not measured (dropping the page cache needs root)"
	if dropCaches() {
		start = time.Now()
		l2, _, err = plog.Open(vfs.OS, d, plog.DefaultConfig(), nil)
		if err != nil {
			b.Fatal(err)
		}
		cold = time.Since(start).Round(time.Millisecond).String()
	}
	if err := l2.Close(); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	l3, _, err := plog.Open(vfs.OS, d, plog.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	clean := time.Since(start)
	_ = l3.Delete()
	b.Logf("recovery of %d MiB in %d segments: after kill -9 %v (scans and CRC-checks the last segment, %d MiB), the same from a cold page cache %s, after clean shutdown %v",
		total/mib, rep.Segments, unclean.Round(time.Millisecond), (total%(plog.DefaultSegmentBytes))/mib, cold, clean.Round(time.Microsecond))
}

// dropCaches writes back and drops the page cache; false if not allowed.
func dropCaches() bool {
	settle()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o644) == nil
}

// partitionFigures opens MOLDAU_BENCH_PARTITIONS (default 10000) logs with
// one small batch each and reports the RSS and open files they cost.
func partitionFigures(b *testing.B, dir string) {
	n := int(envInt("MOLDAU_BENCH_PARTITIONS", 10000))
	runtime.GC()
	rss0, fd0 := rssKiB(), openFDs()
	ls := make([]*plog.Log, n)
	batch := makeBenchBatch(1, 100)
	start := time.Now()
	for i := range ls {
		l, _, err := plog.Open(vfs.OS, filepath.Join(dir, "parts", fmt.Sprintf("t-%d", i)), plog.DefaultConfig(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(bytes.Clone(batch), time.Now().UnixMilli()); err != nil {
			b.Fatal(err)
		}
		ls[i] = l
	}
	opened := time.Since(start)
	runtime.GC()
	rss1, fd1 := rssKiB(), openFDs()
	b.Logf("%d partitions: opened in %v, RSS +%d MiB (%.1f KiB each), open files +%d",
		n, opened.Round(time.Millisecond), (rss1-rss0)/1024, float64(rss1-rss0)/float64(n), fd1-fd0)
	for _, l := range ls {
		_ = l.Close()
	}
	_ = os.RemoveAll(filepath.Join(dir, "parts"))
}

// BenchmarkLogCompaction cleans MOLDAU_BENCH_COMPACT_MIB (default 512) of
// 1 KiB keyed updates over 100,000 keys in 64 MiB segments with a 32 MiB
// offset map (the broker's), and reports the cleaning rate.
func BenchmarkLogCompaction(b *testing.B) {
	total := envInt("MOLDAU_BENCH_COMPACT_MIB", 512) * mib
	for range b.N {
		dir := filepath.Join(b.TempDir(), "compact-0")
		cfg := plog.DefaultConfig()
		cfg.SegmentBytes = 64 << 20
		cfg.Compact = true
		cfg.DeleteRetentionMs = 86400000
		cfg.MaxCompactionLagMs = 1 << 62
		cfg.MinCleanableDirtyRatio = 0.5
		l, _, err := plog.Open(vfs.OS, dir, cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		value := bytes.Repeat([]byte{'c'}, 1000)
		now := time.Now().UnixMilli()
		key := 0
		for n := int64(0); n < total; {
			recs := make([]batchtest.Record, 16)
			for i := range recs {
				recs[i] = batchtest.Record{Key: fmt.Appendf(nil, "key-%06d", (key*7919)%100000), Value: value}
				key++
			}
			batch := batchtest.New(now, recs...).MustEncode()
			if _, err := l.Append(batch, now); err != nil {
				b.Fatal(err)
			}
			n += int64(len(batch))
		}
		before := l.Size()
		if err := l.SyncTo(l.EndOffset()); err != nil {
			b.Fatal(err)
		}
		c := plog.NewCleaner(32 << 20)
		start := time.Now()
		st, err := l.Compact(now, c)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.Logf("compaction: %d MiB in %d segments cleaned in %v (%.0f MiB/s), %d records removed, log %d -> %d MiB",
			st.BytesBefore/mib, st.SegmentsCleaned, el.Round(time.Millisecond), float64(st.BytesBefore)/mib/el.Seconds(),
			st.RecordsRemoved, before/mib, l.Size()/mib)
		_ = l.Delete()
	}
}
