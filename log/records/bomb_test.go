package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

// TestDecompressBombAllocations: Decompress of a bomb (32 MiB of zeros, a
// few KiB to 128 KiB compressed) with a bound of 1 MiB fails with
// ErrTooLarge having allocated about twice the bound plus the decoder's
// state, not the decompressed size; readBounded's buffer doubles up to the
// bound and never past it.
func TestDecompressBombAllocations(t *testing.T) {
	const bound = 1 << 20
	zeros := make([]byte, 32<<20)
	for _, tc := range []struct {
		name  string
		codec int
		limit uint64
	}{
		{"gzip", CodecGzip, 3 * bound},
		{"lz4", CodecLZ4, 3*bound + 9<<20},   // + two 4 MiB blocks of the frame
		{"zstd", CodecZstd, 3*bound + 9<<20}, // + the window (8 MiB)
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compress(tc.codec, nil, zeros, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decompress(tc.codec, nil, c, bound); !errors.Is(err, ErrTooLarge) { // warm the pools
				t.Fatalf("warm-up: %v", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Decompress(tc.codec, nil, c, bound)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte %s bomb of 32 MiB, bound 1 MiB: %d KiB allocated", len(c), tc.name, alloc>>10)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err %v, want ErrTooLarge", err)
			}
			if alloc > tc.limit {
				t.Fatalf("allocated %d bytes, limit %d", alloc, tc.limit)
			}
		})
	}
	// Exactly the bound is accepted, one byte more is not.
	for _, codec := range []int{CodecGzip, CodecLZ4, CodecZstd} {
		c, _ := Compress(codec, nil, zeros[:bound], false)
		if out, err := Decompress(codec, []byte("x"), c, bound); err != nil || len(out) != bound+1 || !bytes.Equal(out[1:], zeros[:bound]) {
			t.Fatalf("codec %d: exactly the bound: %d bytes, %v", codec, len(out), err)
		}
		c, _ = Compress(codec, nil, zeros[:bound+1], false)
		if _, err := Decompress(codec, []byte("x"), c, bound); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("codec %d: one byte past the bound: %v", codec, err)
		}
	}
}

// TestRecordReaderDeclaredLength: a record that declares a length within
// the bound (60 MiB of 64 MiB) but whose bytes are not there costs the
// bytes that are, not the declared length: Next grows its buffer as the
// record arrives.
func TestRecordReaderDeclaredLength(t *testing.T) {
	section := binary.AppendVarint(nil, 60<<20)
	section = append(section, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0)
	for _, codec := range []int{CodecNone, CodecZstd} {
		c, err := Compress(codec, nil, section, false)
		if err != nil {
			t.Fatal(err)
		}
		read := func() error {
			rr, err := NewRecordReader(codec, bytes.NewReader(c), 1, DefaultMaxDecompressed)
			if err != nil {
				return err
			}
			defer rr.Close()
			var r Record
			if rr.Next(&r) {
				t.Fatalf("codec %d: a record of 60 MiB from %d bytes", codec, len(c))
			}
			return rr.Err()
		}
		_ = read() // warm the decoder pool
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err = read()
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("codec %d: %v; %d KiB allocated", codec, err, alloc>>10)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("codec %d: err %v, want ErrMalformed", codec, err)
		}
		if alloc > 1<<20 {
			t.Fatalf("codec %d: a record declaring 60 MiB allocated %d bytes", codec, alloc)
		}
	}
}

// TestHugeRecordFieldLengths: a record's key, value, header count, header
// key and header value lengths that its bytes do not back are malformed,
// found without allocating (the iterator never allocates).
func TestHugeRecordFieldLengths(t *testing.T) {
	record := func(fields ...[]byte) []byte {
		var body []byte
		for _, f := range fields {
			body = append(body, f...)
		}
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}
	v := func(n int64) []byte { return binary.AppendVarint(nil, n) }
	head := []byte{0, 0, 0} // attributes, timestamp delta, offset delta
	for name, rec := range map[string][]byte{
		"key 2^31":              record(head, v(1<<31), []byte("k")),
		"value 2^62":            record(head, v(-1), v(1<<62), []byte("v")),
		"header count 2^31-1":   record(head, v(-1), v(-1), v(1<<31-1), v(1), []byte("h")),
		"header key 2^40":       record(head, v(-1), v(-1), v(1), v(1<<40), []byte("h")),
		"header value 2^40":     record(head, v(-1), v(-1), v(1), v(1), []byte("h"), v(1<<40)),
		"negative key length":   record(head, v(-7), []byte("k")),
		"varint of 11 bytes":    record(head, bytes.Repeat([]byte{0xff}, 10), []byte{1}),
		"record length 2^62":    append(v(1<<62), head...),
		"negative header count": record(head, v(-1), v(-1), v(-5)),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		it := NewIterator(rec, 1)
		_, ok := it.Next()
		runtime.ReadMemStats(&after)
		if ok || !errors.Is(it.Err(), ErrMalformed) {
			t.Errorf("%s: ok %v, err %v; want ErrMalformed", name, ok, it.Err())
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<10 {
			t.Errorf("%s: %d bytes allocated", name, alloc)
		}
	}
}
