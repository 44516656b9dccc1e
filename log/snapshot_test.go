package log

import (
	"errors"
	"fmt"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// TestSnapshots: the newest snapshot within the log is offered first, a
// rejected one falls back to the older, at most two are kept, and
// TruncateTo and a shorter log drop those past the end.
func TestSnapshots(t *testing.T) {
	fs := vfs.NewMem()
	l, _ := openLog(t, fs, "/data/topic-0", smallSegments())
	appendN(t, l, 40, 5, 100, 1000)
	end := l.EndOffset()
	for _, off := range []int64{10, 50, 100, end} {
		if err := l.WriteSnapshot(off, fmt.Appendf(nil, "state@%d", off)); err != nil {
			t.Fatal(err)
		}
	}
	if offs, _ := l.snapshotOffsets(); len(offs) != 2 || offs[0] != 100 || offs[1] != end {
		t.Fatalf("kept snapshots %v, want [100 %d]", offs, end)
	}
	var offered []int64
	reject := errors.New("corrupt")
	off, ok, err := l.LoadSnapshot(func(o int64, data []byte) error {
		offered = append(offered, o)
		if string(data) != fmt.Sprintf("state@%d", o) {
			t.Errorf("snapshot %d holds %q", o, data)
		}
		if o == end {
			return reject
		}
		return nil
	})
	if err != nil || !ok || off != 100 || len(offered) != 2 {
		t.Fatalf("load: %d %v %v, offered %v; want 100 after rejecting %d", off, ok, err, offered, end)
	}
	if _, err := l.TruncateTo(60); err != nil {
		t.Fatal(err)
	}
	if offs, _ := l.snapshotOffsets(); len(offs) != 0 {
		t.Fatalf("snapshots past the truncation point left: %v", offs)
	}
	if err := l.WriteSnapshot(50, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, ok, err = l.LoadSnapshot(func(o int64, _ []byte) error {
		if o != 50 {
			t.Errorf("offered %d", o)
		}
		return nil
	})
	if err != nil || !ok {
		t.Fatalf("load after truncation: %v %v", ok, err)
	}
}
