package log

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moldau/moldau/log/vfs"
)

// BenchmarkFirstAppendFreshPartitions measures what a producer spraying a
// topic just created pays on the append path: 2,000 partition logs are
// opened on the OS file system (untimed), each is assigned leader epoch 0
// at its end as the broker does at partition open (AssignEpoch), and then
// one 1 KiB batch with that epoch is appended to each (timed). The first
// append of an epoch used to write the leader-epoch checkpoint durably
// (two fsyncs and a rename) under appendMu; now it only updates the cache.
// Reported: ns per first append, the slowest one, and (outside the
// benchmark's clock) ns per first SyncTo, the acks=all reply's wait.
//
//	go test ./log/ -run '^$' -bench FirstAppendFreshPartitions -benchtime 1x -count 3
func BenchmarkFirstAppendFreshPartitions(b *testing.B) {
	const partitions = 2000
	batch := makeBatch(1, 0, 1024-BatchHeaderSize-12)
	var total, syncTotal time.Duration
	var slowest []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		root := b.TempDir()
		logs := make([]*Log, partitions)
		for p := range logs {
			l, _, err := Open(vfs.OS, filepath.Join(root, fmt.Sprintf("fresh-%d-%d", i, p)), DefaultConfig(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.AssignEpoch(0); err != nil {
				b.Fatal(err)
			}
			logs[p] = l
		}
		var worst time.Duration
		b.StartTimer()
		t0 := time.Now()
		for _, l := range logs {
			t := time.Now()
			if _, err := l.AppendWithEpoch(slices.Clone(batch), 0, 0); err != nil {
				b.Fatal(err)
			}
			worst = max(worst, time.Since(t))
		}
		total += time.Since(t0)
		b.StopTimer()
		slowest = append(slowest, worst)
		// The reply's wait (acks=all): the first sync of each log, which
		// now also writes the checkpoint.
		t1 := time.Now()
		for _, l := range logs {
			if err := l.SyncTo(l.EndOffset()); err != nil {
				b.Fatal(err)
			}
		}
		syncTotal += time.Since(t1)
		for _, l := range logs {
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	if n := len(slowest); n > 0 {
		b.ReportMetric(float64(total.Nanoseconds())/float64(n*partitions), "ns/first-append")
		b.ReportMetric(float64(slices.Max(slowest).Microseconds()), "max-µs")
		b.ReportMetric(float64(syncTotal.Nanoseconds())/float64(n*partitions), "ns/first-sync")
		b.ReportMetric(0, "ns/op")
	}
}
