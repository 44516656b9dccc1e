package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/moldau/moldau/log/vfs"
)

func FuzzParseBatchHeader(f *testing.F) {
	f.Add(makeBatch(2, 5, 10))
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatchHeader(b)
		if err == nil && (h.Length < BatchHeaderSize || h.LastOffsetDelta < 0) {
			t.Fatalf("accepted bad header %+v", h)
		}
	})
}

// FuzzRecover opens a log whose only segment (and index files) hold fuzz
// bytes. Open must not panic; if it succeeds, everything it kept must read
// back as valid batches.
func FuzzRecover(f *testing.F) {
	good := concat(appendedBatches(5))
	f.Add(good, []byte{}, false)
	f.Add(good[:len(good)-7], []byte{0, 0, 0, 1, 0, 0, 0, 80}, true)
	f.Add(append(bytes.Clone(good), 0xff, 0, 0), []byte{0, 0, 0, 2, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, segment, index []byte, clean bool) {
		mem := vfs.NewMem()
		dir := "/p-0"
		must(t, mem.MkdirAll(dir, 0o755))
		write := func(name string, b []byte) {
			_, err := writeFile(mem, filepath.Join(dir, name), b, true, false)
			must(t, err)
		}
		write(segmentFileName(0, logSuffix), segment)
		write(segmentFileName(0, indexSuffix), index)
		write(segmentFileName(0, timeIndexSuffix), index)
		write(metaFileName, encodeMeta(meta{clean: clean}))
		must(t, mem.SyncDir(dir))

		l, _, err := Open(mem, dir, Config{IndexIntervalBytes: 64}, nil)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			return
		}
		defer l.Close()
		b, err := l.Read(l.LogStartOffset(), l.EndOffset(), 1<<30, true, nil)
		if err != nil {
			t.Fatalf("Read after recovery: %v", err)
		}
		checkBatchesGaps(t, b, true)
		if _, err := l.Append(makeBatch(1, 0, 1), 0); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		l.OffsetForTimestamp(3)
	})
}

// appendedBatches returns n batches with consecutive offsets.
func appendedBatches(n int) []appended {
	var out []appended
	next := int64(0)
	for i := range n {
		b := makeBatch(1+i%3, int64(i), 20)
		putU64(b, uint64(next))
		out = append(out, appended{base: next, bytes: b})
		next += int64(1 + i%3)
	}
	return out
}
