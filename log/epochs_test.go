package log

import (
	"path/filepath"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// TestEndOffsetFor walks every rule of Kafka's
// LeaderEpochFileCache.endOffsetFor, with gaps between epochs.
func TestEndOffsetFor(t *testing.T) {
	gappy := []EpochEntry{{1, 10}, {3, 20}, {7, 35}}
	cases := []struct {
		name       string
		entries    []EpochEntry
		requested  int32
		end        int64
		wantEpoch  int32
		wantOffset int64
	}{
		{"empty cache", nil, 0, 0, -1, -1},
		{"empty cache, later epoch", nil, 5, 9, -1, -1},
		{"empty cache, undefined", nil, -1, 9, -1, -1},
		{"undefined epoch", gappy, -1, 50, -1, -1},
		{"latest epoch: log end", gappy, 7, 50, 7, 50},
		{"above latest", gappy, 8, 50, -1, -1},
		{"far above latest", gappy, 1 << 30, 50, -1, -1},
		{"below earliest: first start", gappy, 0, 50, 0, 10},
		{"below earliest, negative", gappy, -2, 50, -2, 10},
		{"earliest: next start", gappy, 1, 50, 1, 20},
		{"gap after earliest", gappy, 2, 50, 1, 20},
		{"middle epoch", gappy, 3, 50, 3, 35},
		{"gap before latest", gappy, 4, 50, 3, 35},
		{"gap before latest, top", gappy, 6, 50, 3, 35},
		{"single epoch, latest", []EpochEntry{{0, 0}}, 0, 6, 0, 6},
		{"single epoch, later", []EpochEntry{{0, 0}}, 1, 6, -1, -1},
		{"single epoch, below", []EpochEntry{{0, 4}}, -3, 6, -3, 4},
		{"latest empty epoch", []EpochEntry{{0, 0}, {2, 6}}, 2, 6, 2, 6},
		{"before an empty latest epoch", []EpochEntry{{0, 0}, {2, 6}}, 1, 6, 0, 6},
	}
	for _, c := range cases {
		e, o := endOffsetFor(c.entries, c.requested, c.end)
		if e != c.wantEpoch || o != c.wantOffset {
			t.Errorf("%s: endOffsetFor(%v, %d, %d) = (%d, %d), want (%d, %d)",
				c.name, c.entries, c.requested, c.end, e, o, c.wantEpoch, c.wantOffset)
		}
	}
}

// TestEpochsFrom is Kafka's truncateFromStart: exclusive of an entry that
// starts at the new log start, the last entry at or below it is kept and
// moved up to it.
func TestEpochsFrom(t *testing.T) {
	gappy := []EpochEntry{{1, 10}, {3, 20}, {7, 35}}
	cases := []struct {
		start int64
		want  []EpochEntry
	}{
		{0, gappy},
		{10, gappy},
		{15, []EpochEntry{{1, 15}, {3, 20}, {7, 35}}},
		{20, []EpochEntry{{3, 20}, {7, 35}}},
		{25, []EpochEntry{{3, 25}, {7, 35}}},
		{100, []EpochEntry{{7, 100}}},
	}
	for _, c := range cases {
		if got := epochsFrom(gappy, c.start); !equalEpochs(got, c.want) {
			t.Errorf("epochsFrom(%d) = %v, want %v", c.start, got, c.want)
		}
	}
	if gappy[0] != (EpochEntry{1, 10}) {
		t.Fatal("epochsFrom changed its input")
	}
	if got := epochsFrom(nil, 5); len(got) != 0 {
		t.Fatalf("epochsFrom(nil) = %v", got)
	}
}

// TestEndOffsetForEpochLog: the Log answers from its cache, over the log
// start and end; AssignEpoch makes an empty partition answer for the
// leader's epoch and costs no write until a batch follows it.
func TestEndOffsetForEpochLog(t *testing.T) {
	mem := vfs.NewMem()
	dir := "/d/t-0"
	l, _ := openLog(t, mem, dir, smallSegments())
	if e, o := l.EndOffsetForEpoch(0); e != -1 || o != -1 {
		t.Fatalf("empty cache: (%d, %d)", e, o)
	}
	must(t, l.AssignEpoch(0))
	if e, o := l.EndOffsetForEpoch(0); e != 0 || o != 0 {
		t.Fatalf("assigned epoch 0 on an empty log: (%d, %d), want (0, 0)", e, o)
	}
	epochFile := filepath.Join(dir, epochFileName)
	if _, err := mem.Stat(epochFile); err == nil {
		t.Fatal("AssignEpoch wrote the checkpoint before any batch")
	}
	if err := l.AssignEpoch(-1); err == nil {
		t.Fatal("negative epoch accepted")
	}
	// Batches appended without an epoch (-1) still make the entry durable,
	// with the next sync (the append path never fsyncs).
	b := makeBatch(2, 0, 10)
	putU32(b[offLeaderEpoch:], 0xffffffff)
	if _, err := l.Append(b, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat(epochFile); err == nil {
		t.Fatal("Append wrote the checkpoint")
	}
	must(t, l.SyncTo(l.EndOffset()))
	if got, err := readWholeFile(mem, epochFile); err != nil || string(got) != "0\n1\n0 0\n" {
		t.Fatalf("checkpoint %q, %v", got, err)
	}
	appendN(t, l, 4, 2, 10, 0) // epoch 0, end 10
	end0 := l.EndOffset()
	must(t, l.SyncTo(end0))

	// Epoch 2 assigned at 10, then replaced by 3 before anything is in it.
	must(t, l.AssignEpoch(2))
	if e, o := l.EndOffsetForEpoch(1); e != 0 || o != end0 {
		t.Fatalf("epoch 1 (gap): (%d, %d), want (0, %d)", e, o, end0)
	}
	must(t, l.AssignEpoch(3))
	must(t, l.AssignEpoch(1)) // below the latest: ignored
	if got, want := l.Epochs(), []EpochEntry{{0, 0}, {3, end0}}; !equalEpochs(got, want) {
		t.Fatalf("epochs %v, want %v", got, want)
	}
	// A crash before a batch of epoch 3 loses only that entry.
	crashed, _ := openLog(t, mem.CrashClone(), dir, smallSegments())
	if got, want := crashed.Epochs(), []EpochEntry{{0, 0}}; !equalEpochs(got, want) {
		t.Fatalf("after a crash: epochs %v, want %v", got, want)
	}
	if _, err := l.AppendWithEpoch(makeBatch(1, 0, 10), 0, 3); err != nil {
		t.Fatal(err)
	}
	if e, o := l.EndOffsetForEpoch(3); e != 3 || o != l.EndOffset() {
		t.Fatalf("latest: (%d, %d)", e, o)
	}
	if e, o := l.EndOffsetForEpoch(2); e != 0 || o != end0 {
		t.Fatalf("gap: (%d, %d)", e, o)
	}
	if e, o := l.EndOffsetForEpoch(4); e != -1 || o != -1 {
		t.Fatalf("above latest: (%d, %d)", e, o)
	}
	// The log start moving up moves the earliest entry's start with it.
	must(t, l.DeleteRecordsBefore(4))
	if e, o := l.EndOffsetForEpoch(-5); e != -5 || o != 4 {
		t.Fatalf("below earliest after DeleteRecords: (%d, %d), want (-5, 4)", e, o)
	}
	must(t, l.DeleteRecordsBefore(end0+1))
	if got, want := l.Epochs(), []EpochEntry{{3, end0 + 1}}; !equalEpochs(got, want) {
		t.Fatalf("epochs after the log start passed epoch 3's start: %v, want %v", got, want)
	}
	if e, o := l.EndOffsetForEpoch(0); e != 0 || o != end0+1 {
		t.Fatalf("epoch 0 wholly deleted: (%d, %d), want (0, %d)", e, o, end0+1)
	}
	must(t, l.Close())
	l2, _ := openLog(t, mem, dir, smallSegments())
	if got, want := l2.Epochs(), []EpochEntry{{3, end0 + 1}}; !equalEpochs(got, want) {
		t.Fatalf("reopened epochs %v, want %v", got, want)
	}
	// A truncation removes the assigned entry with the data after it.
	if _, err := l2.AppendWithEpoch(makeBatch(2, 0, 10), 0, 3); err != nil {
		t.Fatal(err)
	}
	must(t, l2.AssignEpoch(5))
	if _, err := l2.TruncateTo(end0 + 1); err != nil {
		t.Fatal(err)
	}
	if got, want := l2.Epochs(), []EpochEntry{{3, end0 + 1}}; !equalEpochs(got, want) {
		t.Fatalf("epochs after truncation %v, want %v", got, want)
	}
}
