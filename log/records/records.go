// Package records decodes and re-encodes the records inside a Kafka
// RecordBatch v2: a bounded iterator over the record encoding, and the
// batch compression codecs (gzip, snappy raw and xerial-framed, lz4 frames,
// zstd) with a bound on decompressed size.
//
// It is used by the log cleaner (to drop superseded records) and by the
// broker's produce validation (keyless records on compacted topics). It does
// no I/O and keeps no state; every function is safe for concurrent use.
package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codecs, as in the batch attributes' low three bits.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

// DefaultMaxDecompressed bounds the decompressed records of one batch
// (Kafka's max.message.bytes applies to the compressed batch; a
// decompression bomb is bounded here).
const DefaultMaxDecompressed = 64 << 20

// Errors.
var (
	ErrMalformed       = errors.New("records: malformed record")
	ErrTooLarge        = errors.New("records: decompressed records exceed the bound")
	ErrUnknownCodec    = errors.New("records: unknown compression codec")
	errMalformedXerial = errors.New("records: malformed xerial snappy framing")
)

// Record is one decoded record. Key and Value alias the iterator's input;
// a nil Key or Value is a null one (an empty one is non-nil). Raw is the
// whole encoding, length prefix included, so a record can be copied
// unchanged into a rewritten batch that keeps the base offset and base
// timestamp.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        int32
	Raw            []byte
}

// Iterator walks an uncompressed records section. It never reads beyond
// its input and never allocates.
type Iterator struct {
	b     []byte
	count int32
	i     int32
	err   error
}

// NewIterator iterates the records section b, which holds count records.
func NewIterator(b []byte, count int32) *Iterator {
	return &Iterator{b: b, count: count}
}

// Next returns the next record, or false at the end or on error (see Err).
func (it *Iterator) Next() (Record, bool) {
	if it.err != nil {
		return Record{}, false
	}
	if it.i >= it.count {
		if len(it.b) != 0 {
			it.err = fmt.Errorf("%w: %d trailing bytes after %d records", ErrMalformed, len(it.b), it.count)
		}
		return Record{}, false
	}
	r, rest, err := parseRecord(it.b)
	if err != nil {
		it.err = err
		return Record{}, false
	}
	it.b = rest
	it.i++
	return r, true
}

// Err returns the first decoding error.
func (it *Iterator) Err() error { return it.err }

func parseRecord(b []byte) (Record, []byte, error) {
	length, n := binary.Varint(b)
	if n <= 0 || length < 1 || length > int64(len(b)-n) {
		return Record{}, nil, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	raw := b[:n+int(length)]
	body := b[n : n+int(length)]
	rest := b[n+int(length):]
	r := Record{Raw: raw, Attributes: int8(body[0])}
	p := body[1:]
	var ok bool
	var v int64
	if r.TimestampDelta, p, ok = varint(p); !ok {
		return r, nil, fmt.Errorf("%w: timestamp delta", ErrMalformed)
	}
	if v, p, ok = varint(p); !ok || v < 0 || v > 1<<31-1 {
		return r, nil, fmt.Errorf("%w: offset delta", ErrMalformed)
	}
	r.OffsetDelta = int32(v)
	if r.Key, p, ok = bytesField(p); !ok {
		return r, nil, fmt.Errorf("%w: key", ErrMalformed)
	}
	if r.Value, p, ok = bytesField(p); !ok {
		return r, nil, fmt.Errorf("%w: value", ErrMalformed)
	}
	if v, p, ok = varint(p); !ok || v < 0 || v > int64(len(p)) {
		return r, nil, fmt.Errorf("%w: header count", ErrMalformed)
	}
	r.Headers = int32(v)
	for range r.Headers {
		if _, p, ok = bytesField(p); !ok {
			return r, nil, fmt.Errorf("%w: header key", ErrMalformed)
		}
		if _, p, ok = bytesField(p); !ok {
			return r, nil, fmt.Errorf("%w: header value", ErrMalformed)
		}
	}
	if len(p) != 0 {
		return r, nil, fmt.Errorf("%w: %d bytes left inside a record", ErrMalformed, len(p))
	}
	return r, rest, nil
}

func varint(b []byte) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

// bytesField reads a varint length and that many bytes; -1 is null (nil).
func bytesField(b []byte) ([]byte, []byte, bool) {
	l, b, ok := varint(b)
	if !ok || l < -1 || l > int64(len(b)) {
		return nil, nil, false
	}
	if l == -1 {
		return nil, b, true
	}
	return b[:l:l], b[l:], true
}

// Decompress appends the decompressed form of src, compressed with codec, to
// dst. It fails with ErrTooLarge rather than produce more than max bytes.
// Snappy input may be raw (as non-Java clients write) or xerial-framed (as
// the Java client writes).
func Decompress(codec int, dst, src []byte, max int) ([]byte, error) {
	switch codec {
	case CodecNone:
		if len(src) > max {
			return nil, ErrTooLarge
		}
		return append(dst, src...), nil
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("records: gzip: %w", err)
		}
		return readBounded(dst, r, max)
	case CodecSnappy:
		if len(src) >= 16 && bytes.HasPrefix(src, xerialMagic) {
			return xerialDecode(dst, src[16:], max)
		}
		return snappyBlock(dst, src, len(dst)+max)
	case CodecLZ4:
		return readBounded(dst, lz4.NewReader(bytes.NewReader(src)), max)
	case CodecZstd:
		d := zstdDecoders.Get().(*zstd.Decoder)
		defer zstdDecoders.Put(d)
		r := io.Reader(bytes.NewReader(src))
		if err := d.Reset(r); err != nil {
			return nil, fmt.Errorf("records: zstd: %w", err)
		}
		out, err := readBounded(dst, d, max)
		_ = d.Reset(nil)
		return out, err
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
}

var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(DefaultMaxDecompressed+1))
	if err != nil {
		panic(err)
	}
	return d
}}

var zstdEncoders = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	return e
}}

func readBounded(dst []byte, r io.Reader, max int) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	n, err := buf.ReadFrom(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("records: decompress: %w", err)
	}
	if n > int64(max) {
		return nil, ErrTooLarge
	}
	return buf.Bytes(), nil
}

// snappyBlock appends one raw snappy block, failing if dst would grow past
// limit bytes.
func snappyBlock(dst, src []byte, limit int) ([]byte, error) {
	l, err := s2.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("records: snappy: %w", err)
	}
	if l > limit-len(dst) {
		return nil, ErrTooLarge
	}
	dst = slices.Grow(dst, l)
	out, err := s2.Decode(dst[len(dst):len(dst)+l], src)
	if err != nil {
		return nil, fmt.Errorf("records: snappy: %w", err)
	}
	return append(dst, out...), nil
}

// xerialMagic starts the Java client's snappy framing; 8 bytes of version
// follow, then blocks of (int32 length, raw snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var xerialHeader = append(slices.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)

const xerialBlockSize = 32 << 10

func xerialDecode(dst, src []byte, max int) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errMalformedXerial
		}
		size := int32(binary.BigEndian.Uint32(src))
		src = src[4:]
		if size < 0 || int(size) > len(src) {
			return nil, errMalformedXerial
		}
		var err error
		if dst, err = snappyBlock(dst, src[:size], start+max); err != nil {
			return nil, err
		}
		src = src[size:]
	}
	return dst, nil
}

// IsXerial reports whether snappy-compressed src uses the xerial framing.
func IsXerial(src []byte) bool { return len(src) >= 16 && bytes.HasPrefix(src, xerialMagic) }

// Compress appends src compressed with codec to dst. For snappy, xerial
// selects the Java framing (use it when the input batch had it).
func Compress(codec int, dst, src []byte, xerial bool) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		buf := bytes.NewBuffer(dst)
		w := gzip.NewWriter(buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		if !xerial {
			return append(dst, s2.EncodeSnappy(nil, src)...), nil
		}
		dst = append(dst, xerialHeader...)
		for len(src) > 0 {
			n := min(xerialBlockSize, len(src))
			block := s2.EncodeSnappy(nil, src[:n])
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(block)))
			dst = append(dst, block...)
			src = src[n:]
		}
		return dst, nil
	case CodecLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CodecZstd:
		e := zstdEncoders.Get().(*zstd.Encoder)
		defer zstdEncoders.Put(e)
		return e.EncodeAll(src, dst), nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
}

// batch header layout (see log/FORMAT.md).
const (
	headerSize     = 61
	offAttributes  = 21
	offRecordCount = 57
)

// ForEach calls fn for every record of a whole RecordBatch v2, decompressing
// the records (at most max bytes) if needed. It checks that the batch holds
// exactly its record count. Record slices are valid only during fn.
func ForEach(batch []byte, max int, fn func(Record) error) error {
	if len(batch) < headerSize {
		return fmt.Errorf("%w: short batch", ErrMalformed)
	}
	codec := int(binary.BigEndian.Uint16(batch[offAttributes:]) & 7)
	count := int32(binary.BigEndian.Uint32(batch[offRecordCount:]))
	if count < 0 {
		return fmt.Errorf("%w: negative record count", ErrMalformed)
	}
	body := batch[headerSize:]
	if codec != CodecNone {
		var err error
		if body, err = Decompress(codec, nil, body, max); err != nil {
			return err
		}
	}
	it := NewIterator(body, count)
	for {
		r, ok := it.Next()
		if !ok {
			break
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return it.Err()
}
