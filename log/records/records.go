// Package records is Moldau's one RecordBatch v2 codec: the header layout
// and attribute bits (batch.go), a Builder for the batches the broker writes
// itself, a bounded iterator over the record encoding, and the batch
// compression codecs (gzip, snappy raw and xerial-framed, lz4 frames, zstd)
// with a bound on decompressed size, and a RecordReader that streams the
// records of a compressed batch without materialising them (stream.go).
//
// It is used by the log (header parsing, the cleaner, timestamp lookups), by
// the broker's produce validation and by the internal topics and
// transaction markers. It does no I/O of its own (a RecordReader reads the
// io.Reader it is given); its only state is pools of decompressors and the
// process-wide StreamMemoryBudget. Every function is safe for concurrent
// use (a Builder, an Iterator or a RecordReader is used by one goroutine).
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
	headerData     []byte // the encoded headers, after their count
}

// EachHeader calls fn with every header of r; key and value alias the
// record (a nil value is a null one).
func (r Record) EachHeader(fn func(key, value []byte)) {
	p := r.headerData
	for range r.Headers {
		var k, v []byte
		k, p, _ = bytesField(p)
		v, p, _ = bytesField(p)
		fn(k, v)
	}
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
	var r Record
	ok := it.NextInto(&r)
	return r, ok
}

// NextInto is Next decoding into *r, which the caller may reuse from one
// record to the next (no copy of the Record: the produce path's loop).
func (it *Iterator) NextInto(r *Record) bool {
	if it.err != nil {
		return false
	}
	if it.i >= it.count {
		if len(it.b) != 0 {
			it.err = fmt.Errorf("%w: %d trailing bytes after %d records", ErrMalformed, len(it.b), it.count)
		}
		return false
	}
	rest, err := parseRecord(it.b, r)
	if err != nil {
		it.err = err
		return false
	}
	it.b = rest
	it.i++
	return true
}

// Err returns the first decoding error.
func (it *Iterator) Err() error { return it.err }

// parseRecord decodes the record at the start of b into r and returns the
// bytes after it. Positions, not reslicing, keep the hot loop cheap (every
// produced uncompressed batch is walked with it).
func parseRecord(b []byte, r *Record) ([]byte, error) {
	length, i := varintAt(b, 0)
	if i <= 0 || length < 1 || length > int64(len(b)-i) {
		return nil, fmt.Errorf("%w: bad length", ErrMalformed)
	}
	end := i + int(length)
	rest := b[end:]
	p := b[:end]
	r.Raw = p
	r.Attributes = int8(p[i])
	i++
	if r.TimestampDelta, i = varintAt(p, i); i <= 0 {
		return nil, fmt.Errorf("%w: timestamp delta", ErrMalformed)
	}
	var v int64
	if v, i = varintAt(p, i); i <= 0 || v < 0 || v > 1<<31-1 {
		return nil, fmt.Errorf("%w: offset delta", ErrMalformed)
	}
	r.OffsetDelta = int32(v)
	if r.Key, i = bytesAt(p, i); i <= 0 {
		return nil, fmt.Errorf("%w: key", ErrMalformed)
	}
	if r.Value, i = bytesAt(p, i); i <= 0 {
		return nil, fmt.Errorf("%w: value", ErrMalformed)
	}
	if v, i = varintAt(p, i); i <= 0 || v < 0 || v > int64(end-i) {
		return nil, fmt.Errorf("%w: header count", ErrMalformed)
	}
	r.Headers = int32(v)
	r.headerData = p[i:]
	for range r.Headers {
		if _, i = bytesAt(p, i); i <= 0 {
			return nil, fmt.Errorf("%w: header key", ErrMalformed)
		}
		if _, i = bytesAt(p, i); i <= 0 {
			return nil, fmt.Errorf("%w: header value", ErrMalformed)
		}
	}
	if i != end {
		return nil, fmt.Errorf("%w: %d bytes left inside a record", ErrMalformed, end-i)
	}
	return rest, nil
}

// varintAt reads the zig-zag varint at b[i:] and returns it and the
// position after it, or a position <= 0 if there is none (binary.Varint's
// rules). It is small enough to inline: every produced uncompressed batch
// is walked with it.
func varintAt(b []byte, i int) (int64, int) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if i >= len(b) {
			return 0, -1
		}
		c := b[i]
		i++
		if c < 0x80 {
			if shift == 63 && c > 1 {
				return 0, -1 // overflows 64 bits
			}
			u |= uint64(c) << shift
			return int64(u>>1) ^ -int64(u&1), i
		}
		u |= uint64(c&0x7f) << shift
	}
	return 0, -1
}

// bytesAt reads a varint length and that many bytes at b[i:]; -1 is null
// (nil). It returns the position after them, or <= 0 if malformed.
func bytesAt(b []byte, i int) ([]byte, int) {
	l, i := varintAt(b, i)
	if i <= 0 || l < -1 || l > int64(len(b)-i) {
		return nil, -1
	}
	if l == -1 {
		return nil, i
	}
	j := i + int(l)
	return b[i:j:j], j
}

// bytesField reads a varint length and that many bytes; -1 is null (nil).
func bytesField(b []byte) ([]byte, []byte, bool) {
	v, i := bytesAt(b, 0)
	if i <= 0 {
		return nil, nil, false
	}
	return v, b[i:], true
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
		z, _ := lz4Readers.Get().(*lz4.Reader)
		if z == nil {
			z = lz4.NewReader(bytes.NewReader(src))
		} else {
			z.Reset(bytes.NewReader(src))
		}
		out, err := readBounded(dst, z, max)
		z.Reset(nil)
		lz4Readers.Put(z)
		return out, err
	case CodecZstd:
		d := zstdDecoders.Get().(*zstd.Decoder)
		defer zstdDecoders.Put(d)
		// plainReader: given a *bytes.Reader, Reset decodes the whole
		// input up front (up to the decoder's 64 MiB), whatever max is.
		if err := d.Reset(plainReader{bytes.NewReader(src)}); err != nil {
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

// readBounded appends what r yields to dst, failing with ErrTooLarge past
// bound bytes. It grows dst itself, doubling up to bound bytes, and looks
// for a byte past the bound with a one-byte read, so that a bomb costs
// about twice the bound in allocations (bytes.Buffer.ReadFrom cost four
// times: its last growth, for the byte past the bound, doubled the whole
// buffer).
func readBounded(dst []byte, r io.Reader, bound int) ([]byte, error) {
	limit := len(dst) + bound
	var probe [1]byte
	for {
		buf := probe[:]
		if len(dst) < limit {
			if len(dst) == cap(dst) {
				grown := make([]byte, len(dst), min(max(2*cap(dst), 4<<10), limit))
				copy(grown, dst)
				dst = grown
			}
			buf = dst[len(dst):min(cap(dst), limit)]
		}
		n, err := r.Read(buf)
		if len(dst) >= limit && n > 0 {
			return nil, ErrTooLarge
		}
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return nil, fmt.Errorf("records: decompress: %w", err)
		}
	}
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

// ForEach calls fn for every record of a whole RecordBatch v2, decompressing
// the records (at most max bytes) if needed. It checks that the batch holds
// exactly its record count. Record slices are valid only during fn.
func ForEach(batch []byte, max int, fn func(Record) error) error {
	if len(batch) < HeaderSize {
		return fmt.Errorf("%w: short batch", ErrMalformed)
	}
	codec := int(binary.BigEndian.Uint16(batch[OffAttributes:]) & AttrCompressionMask)
	count := int32(binary.BigEndian.Uint32(batch[OffRecordCount:]))
	if count < 0 {
		return fmt.Errorf("%w: negative record count", ErrMalformed)
	}
	body := batch[HeaderSize:]
	if codec != CodecNone {
		var err error
		if body, err = Decompress(codec, nil, body, max); err != nil {
			return err
		}
	}
	it := Iterator{b: body, count: count}
	var r Record
	for it.NextInto(&r) {
		if err := fn(r); err != nil {
			return err
		}
	}
	return it.Err()
}
