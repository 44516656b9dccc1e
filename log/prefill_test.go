package log

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// Zero-fill ahead (vfs.EnablePrefill) on the OS FS: the active segment's
// file runs ahead of its data; rolled and cleanly closed segments end at
// their data; after a crash the zero tail is cut without reporting damage.
func TestPrefillSegmentFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2 << 20
	l, _, err := Open(vfs.OS, dir, cfg, testLogger(t))
	must(t, err)
	// ~16 KiB batches: filled ahead once a segment holds 1 MiB.
	want := appendN(t, l, 200, 16, 1000, 0)
	if l.Segments() < 2 {
		t.Fatalf("segments %d, want a roll", l.Segments())
	}
	// Every sealed segment ends at its data; the active one runs ahead.
	var sealed, total int64
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		base, ok := parseSegmentName(n.Name())
		if !ok {
			continue
		}
		fi, _ := n.Info()
		total += fi.Size()
		if base != l.active.base {
			sealed += fi.Size()
			continue
		}
		if fi.Size() <= l.active.size || fi.Size()%prefillChunk != 0 {
			t.Fatalf("active segment file %d bytes for %d of data, want zeros to a %d multiple", fi.Size(), l.active.size, prefillChunk)
		}
	}
	if sealed+l.active.size != l.Size() {
		t.Fatalf("sealed files %d + active data %d != log size %d", sealed, l.active.size, l.Size())
	}
	if !bytes.Equal(readAll(t, l, 0), concat(want)) {
		t.Fatal("read back differs")
	}

	// kill -9: abandon the log; the zeros stay.
	l2, rep, err := Open(vfs.OS, dir, cfg, testLogger(t))
	must(t, err)
	if rep.Corruption != nil || rep.DroppedBytes != 0 || rep.TruncatedFrom != -1 || rep.ZeroTailBytes <= 0 {
		t.Fatalf("after crash: %+v, want only a zero tail cut", rep)
	}
	if l2.EndOffset() != l.EndOffset() || !bytes.Equal(readAll(t, l2, 0), concat(want)) {
		t.Fatal("data after crash recovery differs")
	}
	more := appendN(t, l2, 10, 16, 1000, 0)
	must(t, l2.Close())
	fi, err := os.Stat(filepath.Join(dir, segmentFileName(l2.active.base, logSuffix)))
	must(t, err)
	if fi.Size() != l2.active.size {
		t.Fatalf("after clean close the active file is %d bytes for %d of data", fi.Size(), l2.active.size)
	}
	l3, rep := openLog(t, vfs.OS, dir, cfg)
	if !rep.Clean || rep.ZeroTailBytes != 0 || rep.RebuiltIndexes != 0 {
		t.Fatalf("clean reopen: %+v", rep)
	}
	if !bytes.Equal(readAll(t, l3, 0), append(concat(want), concat(more)...)) {
		t.Fatal("data after clean reopen differs")
	}
	// Truncation of the active segment keeps filling ahead from the cut.
	cut := more[5].base
	_, err = l3.TruncateTo(cut)
	must(t, err)
	again := appendN(t, l3, 5, 16, 1000, 0)
	if again[0].base != cut {
		t.Fatalf("after truncation the next base is %d, want %d", again[0].base, cut)
	}
	if !bytes.Equal(readAll(t, l3, 0), append(append(concat(want), concat(more[:5])...), concat(again)...)) {
		t.Fatal("data after truncation differs")
	}
}

// A sealed segment left with zeros after its data (a crash before the
// roll's trim reached the disk) keeps every later segment.
func TestZeroTailInSealedSegmentKeepsLaterSegments(t *testing.T) {
	forEach(t, func(t *testing.T, v variant) {
		cfg := smallSegments()
		want, segs, f := crashAfterRoll(t, v, cfg)
		_, err := f.Write(make([]byte, 10000))
		must(t, err)
		must(t, f.Close())
		l2, rep := openLog(t, v.fs, v.dir, cfg)
		if rep.Corruption != nil || rep.DroppedSegments != 0 || rep.ZeroTailBytes != 10000 || l2.Segments() != segs {
			t.Fatalf("report %+v, segments %d want %d", rep, l2.Segments(), segs)
		}
		if !bytes.Equal(readAll(t, l2, 0), concat(want)) {
			t.Fatal("data differs")
		}
	})
}
