package coordinator

import (
	"errors"
	"io"
	"log/slog"
	"testing"
)

// TestTxnOffsetsPendingUntilMarker: transactional offsets are written at
// once as transactional records, invisible until the commit marker,
// dropped by an abort; a coordinator loading the partition between
// TxnOffsetCommit and the marker (a restart, a failover) rebuilds them
// pending, and the marker then commits or drops them; a marker already in
// the log is applied by the replay itself.
func TestTxnOffsetsPendingUntilMarker(t *testing.T) {
	newC := func(l *memLog) *Coordinator {
		c := New(Config{Partitions: 4}, l, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(nil))
		for p := int32(0); p < 4; p++ {
			if err := c.Load(p); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	l := newMemLog()
	c := newC(l)
	tp := TopicPartition{"t", 0}
	fetch := func(c *Coordinator) int64 {
		t.Helper()
		got, err := c.FetchOffsets("g", []TopicPartition{tp})
		if err != nil {
			t.Fatal(err)
		}
		return got[0].Offset
	}
	commit := func(c *Coordinator, pid, off int64) {
		t.Helper()
		req := CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1, Metadata: "m"}}}
		for _, err := range c.TxnCommitOffsets(req, pid, 0, nil) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	marker := func(c *Coordinator, pid int64, ok bool) {
		l.writeMarker(c.PartitionFor("g"), pid, ok)
		c.CompleteTxnOffsets(c.PartitionFor("g"), pid, ok)
	}
	commit(c, 7, 10)
	if off := fetch(c); off != -1 || !c.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("before the marker: offset %d", off)
	}
	marker(c, 7, false)
	if off := fetch(c); off != -1 || c.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after an abort: offset %d", off)
	}

	// A restart between TxnOffsetCommit and the commit marker.
	commit(c, 7, 20)
	c2 := newC(l)
	if off := fetch(c2); off != -1 || !c2.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("reloaded before the marker: offset %d, pending %v", off, c2.HasPendingTxnOffsets("g", tp))
	}
	marker(c2, 7, true)
	if off := fetch(c2); off != 20 || c2.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after the commit: offset %d, want 20", off)
	}
	// A non-transactional commit later in the log than a transaction's
	// offset wins over it when that transaction commits, live and replayed.
	commit(c2, 8, 30)
	if errs := c2.CommitOffsets(CommitRequest{Group: "g", Generation: -1,
		Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 40, LeaderEpoch: -1}}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	marker(c2, 8, true)
	if off := fetch(c2); off != 40 {
		t.Fatalf("a later plain commit lost to an earlier transactional one: offset %d", off)
	}
	// Another restart: markers in the log are applied by the replay; an
	// undecided transaction stays pending and can still abort.
	commit(c2, 9, 50)
	c3 := newC(l)
	if off := fetch(c3); off != 40 || !c3.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after replay: offset %d, want 40 with 50 pending", off)
	}
	marker(c3, 9, false)
	if off := fetch(c3); off != 40 || c3.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after the replayed abort: offset %d, want 40", off)
	}
	c4 := newC(l)
	if off := fetch(c4); off != 40 || c4.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after the last replay: offset %d, want 40", off)
	}
	// A marker reaching a partition that is not loaded (leadership just
	// moved here) is left to the Load, which finds it in the log.
	p := c4.PartitionFor("g")
	commit(c4, 10, 60)
	c4.Unload(p)
	if c4.HasPendingTxnOffsets("g", tp) {
		t.Fatal("pending offsets kept after Unload")
	}
	marker(c4, 10, true)
	if err := c4.Load(p); err != nil {
		t.Fatal(err)
	}
	if off := fetch(c4); off != 60 || c4.HasPendingTxnOffsets("g", tp) {
		t.Fatalf("after a marker while unloaded and the Load: offset %d, want 60", off)
	}
	// A refused verification appends nothing and is passed back.
	errGone := errors.New("transaction ended")
	req := CommitRequest{Group: "g", Generation: -1, Offsets: []OffsetCommit{{Topic: "t", Partition: 0, Offset: 70, LeaderEpoch: -1}}}
	if errs := c4.TxnCommitOffsets(req, 11, 0, func() error { return errGone }); !errors.Is(errs[0], ErrTxnRefused) || !errors.Is(errs[0], errGone) {
		t.Fatalf("refused verification: %v", errs[0])
	}
	if c4.HasPendingTxnOffsets("g", tp) {
		t.Fatal("a refused TxnOffsetCommit left pending offsets")
	}
	if c5 := newC(l); c5.HasPendingTxnOffsets("g", tp) {
		t.Fatal("a refused TxnOffsetCommit was written")
	}
}
