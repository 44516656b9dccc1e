package coordinator

import (
	"io"
	"log/slog"
	"testing"
)

// TestTxnOffsetsPendingUntilMarker: transactional offsets are invisible until
// the commit marker, dropped by an abort, and survive a restart through
// PendingTxnOffsets / RestoreTxnOffsets.
func TestTxnOffsetsPendingUntilMarker(t *testing.T) {
	newC := func(l *memLog) *Coordinator {
		c := New(Config{Partitions: 4}, l, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
		c.MarkLoaded()
		return c
	}
	l := newMemLog()
	c := newC(l)
	tp := TopicPartition{"t", 0}
	fetch := func(c *Coordinator) int64 {
		got, err := c.FetchOffsets("g", []TopicPartition{tp})
		if err != nil {
			t.Fatal(err)
		}
		return got[0].Offset
	}
	commit := func(pid, off int64) {
		req := CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1, Metadata: "m"}}}
		for _, err := range c.TxnCommitOffsets(req, pid) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	p := c.PartitionFor("g")
	commit(7, 10)
	if off := fetch(c); off != -1 || !c.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("before the marker: offset %d", off)
	}
	if err := c.CompleteTxnOffsets(p, 7, false); err != nil {
		t.Fatal(err)
	}
	if off := fetch(c); off != -1 || c.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after an abort: offset %d", off)
	}
	commit(7, 20)
	stash := c.PendingTxnOffsets(p, 7)
	if stash == nil || c.PendingTxnOffsets(p, 8) != nil {
		t.Fatal("no stash for the pending offsets")
	}
	// A restart: a new coordinator over the same log, offsets restored.
	c2 := newC(l)
	if err := c2.Load(p); err != nil {
		t.Fatal(err)
	}
	if err := c2.RestoreTxnOffsets(p, 7, stash); err != nil {
		t.Fatal(err)
	}
	if err := c2.CompleteTxnOffsets(p, 7, true); err != nil {
		t.Fatal(err)
	}
	if off := fetch(c2); off != 20 {
		t.Fatalf("after the commit: offset %d, want 20", off)
	}
	// Durable: a third coordinator replays it.
	c3 := newC(l)
	if err := c3.Load(p); err != nil {
		t.Fatal(err)
	}
	if off := fetch(c3); off != 20 {
		t.Fatalf("after replay: offset %d, want 20", off)
	}
	if err := c3.RestoreTxnOffsets(p, 7, []byte{0, 0, 0, 9}); err == nil {
		t.Fatal("a malformed stash was accepted")
	}
}
