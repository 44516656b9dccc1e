package replication

import (
	"fmt"
	"testing"

	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"go.etcd.io/raft/v3"
)

// CompactTo runs on the broker's retention goroutine while the
// group's worker reads Entries for a lagging follower. Entries checked lo
// against the first index under the lock, then read the log without it: a
// compaction in between made log.Read fail with ErrOffsetOutOfRange, which
// Entries returned wrapped — and etcd raft panics on any Entries error but
// ErrCompacted and ErrUnavailable (log.go, raftLog.slice), taking the
// broker process down. It must answer raft.ErrCompacted (raft then sends
// a snapshot).
func TestLogStorageEntriesRacingCompactTo(t *testing.T) {
	for round := range 3 {
		entriesRacingCompactTo(t, round)
	}
}

func entriesRacingCompactTo(t *testing.T, round int) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll(partDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := plog.DefaultConfig()
	cfg.Replicated = true
	cfg.SegmentBytes = 2 << 10
	l, _, err := plog.Open(fs, partDir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := OpenLogStorage(LogStorageConfig{Log: l, FS: fs, Voters: []uint64{1}, UnsafeNoSync: true, Now: func() int64 { return 1000 }, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500
	if err := s.Save(nil, ents(1, 1, n), nil, false); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(l.EndOffset())
	done := make(chan error, 1)
	go func() {
		for i := uint64(1); i < n; i++ {
			if err := s.CompactTo(i); err != nil {
				done <- fmt.Errorf("CompactTo(%d): %w", i, err)
				return
			}
		}
		done <- nil
	}()
	for reads := 0; ; reads++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("round %d: %d reads", round, reads)
			return
		default:
		}
		lo, _ := s.FirstIndex()
		if _, err := s.Entries(lo, lo+1, 1); err != nil && err != raft.ErrCompacted { // raft compares with ==
			<-done
			t.Fatalf("Entries(%d, %d) during compaction: %v; raft panics on anything but ErrCompacted", lo, lo+1, err)
		}
	}
}
