package log

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/moldau/moldau/internal/batchtest"
	"github.com/moldau/moldau/log/vfs"
)

// makeBatch builds a valid uncompressed RecordBatch v2 with n records whose
// timestamps are baseTS, baseTS+1, ... and values of valueSize bytes.
func makeBatch(n int, baseTS int64, valueSize int) []byte {
	return batchtest.New(baseTS, batchtest.Repeat(n, nil, bytes.Repeat([]byte{'v'}, valueSize))...).MustEncode()
}

// variant is one FS the conformance suite runs over.
type variant struct {
	name string
	fs   vfs.FS
	dir  string
	mem  *vfs.MemFS // nil for OS
}

func variants(t testing.TB) []variant {
	mem := vfs.NewMem()
	return []variant{
		{name: "os", fs: vfs.OS, dir: filepath.Join(t.TempDir(), "topic-0")},
		{name: "mem", fs: mem, dir: "/data/topic-0", mem: mem},
	}
}

// forEach runs fn as a subtest per FS variant.
func forEach(t *testing.T, fn func(t *testing.T, v variant)) {
	t.Helper()
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) { fn(t, v) })
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// openLog opens a log and closes it at cleanup (ignoring ErrClosed).
func openLog(t testing.TB, fs vfs.FS, dir string, cfg Config) (*Log, RecoveryReport) {
	t.Helper()
	l, rep, err := Open(fs, dir, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, rep
}

type appended struct {
	base  int64
	bytes []byte
}

// appendN appends count batches of recs records each and returns copies of
// what was written (with the assigned base offsets).
func appendN(t testing.TB, l *Log, count, recs, valueSize int, ts int64) []appended {
	t.Helper()
	out := make([]appended, 0, count)
	for i := range count {
		b := makeBatch(recs, ts+int64(i*recs), valueSize)
		base, err := l.Append(b, ts+int64(i*recs))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, appended{base: base, bytes: bytes.Clone(b)})
	}
	return out
}

func concat(batches []appended) []byte {
	var b []byte
	for _, a := range batches {
		b = append(b, a.bytes...)
	}
	return b
}

func readAll(t testing.TB, l *Log, from int64) []byte {
	t.Helper()
	b, err := l.Read(from, l.EndOffset(), 1<<30, true, nil)
	if err != nil {
		t.Fatalf("Read(%d): %v", from, err)
	}
	return b
}

// checkBatches parses b as consecutive batches, verifying CRCs and offset
// continuity, and returns their headers.
func checkBatches(t testing.TB, b []byte) []BatchHeader {
	t.Helper()
	return checkBatchesGaps(t, b, false)
}

// checkBatchesGaps is checkBatches that, with allowGaps, accepts gaps between
// batches as long as offsets increase: a compacted log has gaps, and a batch's
// base offset is not covered by its CRC, so recovery cannot tell a gap from a
// damaged base offset (nor can Kafka).
func checkBatchesGaps(t testing.TB, b []byte, allowGaps bool) []BatchHeader {
	t.Helper()
	var hs []BatchHeader
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			t.Fatalf("bad batch: %v", err)
		}
		if int(h.Length) > len(b) {
			t.Fatalf("batch of %d bytes truncated to %d", h.Length, len(b))
		}
		if !verifyCRC(b[:h.Length]) {
			t.Fatalf("CRC mismatch at offset %d", h.BaseOffset)
		}
		if n := len(hs); n > 0 && hs[n-1].NextOffset() != h.BaseOffset && (!allowGaps || h.BaseOffset < hs[n-1].NextOffset()) {
			t.Fatalf("offset gap: %d then %d", hs[n-1].NextOffset(), h.BaseOffset)
		}
		hs = append(hs, h)
		b = b[h.Length:]
	}
	return hs
}

// segmentFile opens a segment's data file for tampering.
func segmentFile(t testing.TB, fs vfs.FS, dir string, base int64) vfs.File {
	t.Helper()
	f, err := fs.OpenFile(filepath.Join(dir, segmentFileName(base, logSuffix)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func fileBytes(t testing.TB, f vfs.File) []byte {
	t.Helper()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func putU64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }
func putU32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
