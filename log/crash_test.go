package log

import (
	"bytes"
	"os"
	"sync/atomic"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

// crashWorkload appends (rolling small segments and writing their index
// files), syncs every few batches, runs retention and DeleteRecords, and
// finally closes (index files, clean meta). It stops at the first error, as
// a crashed process would. It returns every appended batch by base offset
// and the end offset of the last SyncTo that succeeded.
func crashWorkload(t *testing.T, fs vfs.FS) (map[int64][]byte, int64) {
	cfg := smallSegments()
	cfg.RetentionBytes = 40 << 10
	l, _, err := Open(fs, "/d/t-0", cfg, testLogger(t))
	if err != nil {
		return nil, 0
	}
	batches := map[int64][]byte{}
	synced := int64(0)
	for i := range 120 {
		b := makeBatch(1+i%3, int64(i), 300)
		base, err := l.Append(b, int64(i))
		if err != nil {
			return batches, synced
		}
		batches[base] = bytes.Clone(b)
		if i%7 == 6 {
			end := l.EndOffset()
			if l.SyncTo(end) != nil {
				return batches, synced
			}
			synced = end
		}
		if i == 60 {
			if _, err := l.EnforceRetention(int64(i)); err != nil {
				return batches, synced
			}
		}
		if i == 90 {
			if l.DeleteRecordsBefore(l.LogStartOffset()+5) != nil {
				return batches, synced
			}
		}
	}
	end := l.EndOffset()
	if l.Close() == nil {
		synced = end
	}
	return batches, synced
}

// TestCrashAtEveryStep crashes before each file operation of crashWorkload
// (append, index write, roll, retention delete, meta write, close) and
// checks that recovery yields a contiguous run of exactly the appended
// batches that includes everything synced.
func TestCrashAtEveryStep(t *testing.T) {
	for step := int64(1); ; step++ {
		mem := vfs.NewMem()
		var ops atomic.Int64
		fs := vfs.NewErrorFS(mem, func(op vfs.Op, path string) error {
			if ops.Add(1) >= step {
				return vfs.ErrInjected
			}
			return nil
		})
		batches, synced := crashWorkload(t, fs)
		crashed := mem.CrashClone()
		l, rep, err := Open(crashed, "/d/t-0", smallSegments(), testLogger(t))
		if err != nil {
			t.Fatalf("step %d: recovery failed: %v", step, err)
		}
		if l.EndOffset() < synced {
			t.Fatalf("step %d: recovered end %d below synced %d (report %+v)", step, l.EndOffset(), synced, rep)
		}
		got := readAll(t, l, l.LogStartOffset())
		hs := checkBatches(t, got)
		for _, h := range hs {
			want, ok := batches[h.BaseOffset]
			if !ok || !bytes.Equal(want, got[:h.Length]) {
				t.Fatalf("step %d: batch at %d was not appended as recovered", step, h.BaseOffset)
			}
			got = got[h.Length:]
		}
		if n := len(hs); n > 0 && hs[n-1].NextOffset() != l.EndOffset() {
			t.Fatalf("step %d: end %d after last batch %d", step, l.EndOffset(), hs[n-1].NextOffset())
		}
		_ = l.Close()
		if ops.Load() < step {
			t.Logf("crashed before each of %d file operations", step-1)
			return
		}
	}
}

// FuzzDecodeIndexes: the index decoders never panic and accept only
// monotonic, in-bounds entries.
func FuzzDecodeIndexes(f *testing.F) {
	f.Add(encodeOffsetIndex([]offsetEntry{{1, 0}, {5, 100}}), int64(200))
	f.Add(encodeTimeIndex([]timeEntry{{10, 1}, {20, 5}}), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		if e, err := decodeOffsetIndex(b, size); err == nil {
			for i, x := range e {
				if int64(x.pos) >= size || (i > 0 && (x.rel <= e[i-1].rel || x.pos <= e[i-1].pos)) {
					t.Fatal("accepted a bad offset index")
				}
			}
			if !bytes.Equal(encodeOffsetIndex(e), b) {
				t.Fatal("offset index round trip")
			}
		}
		if e, err := decodeTimeIndex(b); err == nil && !bytes.Equal(encodeTimeIndex(e), b) {
			t.Fatal("time index round trip")
		}
	})
}

// FuzzSegmentRead reads arbitrary segment bytes through the read path with
// an arbitrary (validated) index: errors are fine, panics and out-of-range
// results are not.
func FuzzSegmentRead(f *testing.F) {
	good := concat(appendedBatches(6))
	f.Add(good, []byte{}, int64(3), int64(100), 4096)
	f.Add(good[:len(good)-9], encodeOffsetIndex([]offsetEntry{{2, 0}}), int64(0), int64(5), 10)
	f.Fuzz(func(t *testing.T, data, index []byte, offset, maxOffset int64, maxBytes int) {
		mem := vfs.NewMem()
		_, err := writeFile(mem, "/s.log", data, true, false)
		must(t, err)
		file, err := mem.OpenFile("/s.log", os.O_RDONLY, 0)
		must(t, err)
		defer file.Close()
		entries, err := decodeOffsetIndex(index, int64(len(data)))
		if err != nil {
			entries = nil
		}
		s := newSegment("/", 0, file)
		v := segmentView{seg: s, file: file, size: int64(len(data)), index: entries}
		buf, n, _, err := v.read(offset, maxOffset, maxBytes%(1<<20), true, 64, nil)
		if err == nil && (n != len(buf) || n > len(data)) {
			t.Fatalf("read returned %d bytes, buffer %d, segment %d", n, len(buf), len(data))
		}
	})
}
