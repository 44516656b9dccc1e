package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// AppendRecord appends one record's encoding (test helper).
func appendRecord(b []byte, offsetDelta int, key, value []byte) []byte {
	var rec []byte
	rec = append(rec, 0)
	rec = binary.AppendVarint(rec, int64(offsetDelta))
	rec = binary.AppendVarint(rec, int64(offsetDelta))
	for _, f := range [][]byte{key, value} {
		if f == nil {
			rec = binary.AppendVarint(rec, -1)
		} else {
			rec = binary.AppendVarint(rec, int64(len(f)))
			rec = append(rec, f...)
		}
	}
	rec = binary.AppendVarint(rec, 1)
	rec = binary.AppendVarint(rec, 1)
	rec = append(rec, 'h')
	rec = binary.AppendVarint(rec, -1)
	b = binary.AppendVarint(b, int64(len(rec)))
	return append(b, rec...)
}

func sample(n int) []byte {
	var b []byte
	for i := range n {
		var key []byte
		if i%3 != 0 {
			key = fmt.Appendf(nil, "k%d", i%7)
		}
		var value []byte
		if i%5 != 0 {
			value = bytes.Repeat([]byte{byte('a' + i%26)}, i*10)
		}
		b = appendRecord(b, i, key, value)
	}
	return b
}

func TestIterator(t *testing.T) {
	b := sample(50)
	it := NewIterator(b, 50)
	n := 0
	for {
		r, ok := it.Next()
		if !ok {
			break
		}
		if int(r.OffsetDelta) != n || (n%3 == 0) != (r.Key == nil) || (n%5 == 0) != (r.Value == nil) || r.Headers != 1 {
			t.Fatalf("record %d decoded as %+v", n, r)
		}
		n++
	}
	if it.Err() != nil || n != 50 {
		t.Fatalf("n=%d err=%v", n, it.Err())
	}
	if it := NewIterator(b, 49); func() bool {
		for {
			if _, ok := it.Next(); !ok {
				return it.Err() == nil
			}
		}
	}() {
		t.Fatal("trailing bytes not reported")
	}
	for cut := range len(b) {
		it := NewIterator(b[:cut], 50)
		for {
			if _, ok := it.Next(); !ok {
				break
			}
		}
		if it.Err() == nil {
			t.Fatalf("truncation at %d not reported", cut)
		}
	}
}

func TestCodecsRoundTrip(t *testing.T) {
	src := sample(200)
	for _, tc := range []struct {
		codec  int
		xerial bool
	}{{CodecNone, false}, {CodecGzip, false}, {CodecSnappy, false}, {CodecSnappy, true}, {CodecLZ4, false}, {CodecZstd, false}} {
		t.Run(fmt.Sprint(tc.codec, tc.xerial), func(t *testing.T) {
			c, err := Compress(tc.codec, nil, src, tc.xerial)
			if err != nil {
				t.Fatal(err)
			}
			if tc.codec == CodecSnappy && IsXerial(c) != tc.xerial {
				t.Fatal("xerial framing not as asked")
			}
			d, err := Decompress(tc.codec, nil, c, DefaultMaxDecompressed)
			if err != nil || !bytes.Equal(d, src) {
				t.Fatalf("round trip: %v", err)
			}
			if _, err := Decompress(tc.codec, nil, c, len(src)-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("bound not enforced: %v", err)
			}
		})
	}
}

func TestBomb(t *testing.T) {
	zeros := make([]byte, 8<<20)
	for _, codec := range []int{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		c, _ := Compress(codec, nil, zeros, false)
		if _, err := Decompress(codec, nil, c, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("codec %d: %v", codec, err)
		}
	}
}

func FuzzIterator(f *testing.F) {
	f.Add(sample(5), int32(5))
	f.Add([]byte{}, int32(0))
	f.Fuzz(func(t *testing.T, b []byte, count int32) {
		if count > 1<<16 {
			count = 1 << 16
		}
		it := NewIterator(b, count)
		for {
			r, ok := it.Next()
			if !ok {
				break
			}
			if len(r.Raw) == 0 || len(r.Raw) > len(b) {
				t.Fatal("raw out of bounds")
			}
		}
	})
}

func FuzzDecompress(f *testing.F) {
	for codec := range 5 {
		c, _ := Compress(codec, nil, sample(5), false)
		f.Add(codec, c)
	}
	c, _ := Compress(CodecSnappy, nil, sample(5), true)
	f.Add(CodecSnappy, c)
	f.Fuzz(func(t *testing.T, codec int, b []byte) {
		out, err := Decompress(codec&7, nil, b, 1<<20)
		if err == nil && len(out) > 1<<20 {
			t.Fatal("bound exceeded")
		}
	})
}
