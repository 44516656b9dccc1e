package records

// A RecordReader walks the records of one batch from a streaming
// decompressor, so that a reader that stops early (ListOffsets by timestamp
// or MAX_TIMESTAMP: the first record at or after a timestamp) never
// materialises the decompressed records section. A batch compressed
// 10,000:1 (a "decompression bomb": 7 KB of zstd that decodes to 64 MiB)
// then costs one decompression window, not its decoded size, and the
// windows of all open RecordReaders together are bounded by
// StreamMemoryBudget.
//
// Memory per open reader, and its weight in the budget:
//
//	none    0: the caller's io.Reader and a 16 KiB read buffer
//	gzip    a deflate window (32 KiB) and its tables: charged 256 KiB
//	lz4     two blocks of the frame's block size (at most 4 MiB each;
//	        8 MiB for the legacy frame): charged 17 MiB
//	zstd    the window the first frame declares (64 KiB from franz-go,
//	        2 MiB from the Java client at its default level), refused for
//	        every frame above it and above ZstdMaxWindow (8 MiB: the default
//	        of the Go encoder and of zstd levels <= 19), plus two blocks and
//	        the block buffers: charged window + 2 x 128 KiB + 512 KiB
//	snappy  raw (unframed, as non-Java clients write): one block holding
//	        the whole records section, whose decoded length its header
//	        states (at most max); xerial-framed (the Java client): the
//	        largest block's decoded length, blocks decoded one at a time
//	        (into a pooled buffer). Charged that length; the compressed
//	        input is read into memory too (it is at most the batch). Snappy
//	        expands at most ~21 times (64 bytes from a 3-byte copy), so a
//	        raw snappy batch decodes to at most ~21 x max.message.bytes.
//
// Records themselves are not buffered by NextMeta (it skips their keys,
// values and headers); Next holds one record at a time.

import (
	"bufio"
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

// StreamMemoryBudget bounds the decompression memory of all open
// RecordReaders of the process together (see the weights above). A reader
// whose weight would exceed what is free waits in NewRecordReader until
// enough readers are closed (first come, first served); a weight larger
// than the whole budget is charged as the whole budget, so one such reader
// runs alone.
const StreamMemoryBudget = DefaultMaxDecompressed

// ZstdMaxWindow is the largest zstd window a RecordReader accepts: frames
// that declare a larger one (zstd --ultra levels, long-distance mode, or a
// single-segment frame whose content is larger) fail with a decompression
// error, as a batch over the bound does.
const ZstdMaxWindow = 8 << 20

const (
	streamBufferSize = 16 << 10
	gzipWeight       = 256 << 10
	lz4Weight        = 17 << 20
	// metaPeek covers a record's attributes and its two leading varints.
	metaPeek = 1 + 2*binary.MaxVarintLen64
)

// RecordMeta is what NextMeta decodes of a record: its attributes and
// deltas, not its key, value or headers.
type RecordMeta struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
}

// RecordReader reads the records section of one batch record by record
// from an io.Reader, decompressing as it goes. It is used by one goroutine
// and must be closed (Close returns its decompressor and its share of
// StreamMemoryBudget); a goroutine must not hold two open RecordReaders at
// once (the second could wait for the first forever).
type RecordReader struct {
	br     *bufio.Reader
	count  int32
	i      int32
	max    int64
	total  int64 // decompressed bytes consumed so far
	weight int64
	err    error
	buf    []byte // Next's record
	done   func() // returns the decompressor to its pool
	closed bool
}

// NewRecordReader starts reading the records section src (the bytes after
// the batch header, as compressed with codec) of a batch of count records.
// At most max decompressed bytes are read; more fail with ErrTooLarge. It
// waits for its weight in StreamMemoryBudget. src should not be a
// *bytes.Reader or *bytes.Buffer of compressed data: zstd decodes those
// whole (NewRecordReader hides them behind another io.Reader).
func NewRecordReader(codec int, src io.Reader, count int32, max int) (*RecordReader, error) {
	if count < 0 {
		return nil, fmt.Errorf("%w: negative record count", ErrMalformed)
	}
	rr := &RecordReader{count: count, max: int64(max)}
	if codec == CodecSnappy {
		dec, err := rr.snappy(src)
		if err != nil {
			rr.Close()
			return nil, err
		}
		rr.br = bufio.NewReaderSize(dec, streamBufferSize)
		return rr, nil
	}
	src = plainReader{src}
	var dec io.Reader
	switch codec {
	case CodecNone:
		dec = src
	case CodecGzip:
		rr.acquire(gzipWeight)
		z, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if z == nil {
			z, err = gzip.NewReader(src)
		} else {
			err = z.Reset(src)
		}
		if err != nil {
			rr.Close()
			return nil, fmt.Errorf("records: gzip: %w", err)
		}
		rr.done = func() { gzipReaders.Put(z) }
		dec = z
	case CodecLZ4:
		rr.acquire(lz4Weight)
		z, _ := lz4Readers.Get().(*lz4.Reader)
		if z == nil {
			z = lz4.NewReader(src)
		} else {
			z.Reset(src)
		}
		rr.done = func() { z.Reset(nil); lz4Readers.Put(z) }
		dec = z
	case CodecZstd:
		zb := bufio.NewReaderSize(src, 4<<10)
		window := zstdWindow(zb)
		rr.acquire(zstdWeight(window))
		d := zstdStreamDecoders.Get().(*zstd.Decoder)
		// The window charged is the most any frame of the stream may use.
		if err := d.ResetWithOptions(plainReader{zb}, zstd.WithDecoderMaxWindow(window)); err != nil {
			zstdStreamDecoders.Put(d)
			rr.Close()
			return nil, fmt.Errorf("records: zstd: %w", err)
		}
		rr.done = func() { _ = d.Reset(nil); zstdStreamDecoders.Put(d) }
		dec = d
	default:
		return nil, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
	}
	rr.br = bufio.NewReaderSize(dec, streamBufferSize)
	return rr, nil
}

// snappy reads the compressed input, charges the largest block it will
// decode, and returns a reader over the decoded blocks.
func (rr *RecordReader) snappy(src io.Reader) (io.Reader, error) {
	var in []byte
	var err error
	if s, ok := src.(interface{ Size() int64 }); ok && s.Size() <= rr.max {
		// An io.SectionReader: read it into a buffer of its size.
		in = make([]byte, s.Size())
		_, err = io.ReadFull(src, in)
	} else {
		in, err = io.ReadAll(io.LimitReader(src, rr.max+1))
	}
	if err != nil {
		return nil, fmt.Errorf("records: snappy: %w", err)
	}
	var blocks [][]byte
	if IsXerial(in) {
		for p := in[16:]; len(p) > 0; {
			if len(p) < 4 {
				return nil, errMalformedXerial
			}
			size := int32(binary.BigEndian.Uint32(p))
			if p = p[4:]; size < 0 || int(size) > len(p) {
				return nil, errMalformedXerial
			}
			blocks, p = append(blocks, p[:size]), p[size:]
		}
	} else {
		blocks = [][]byte{in}
	}
	largest, sum := 0, int64(0)
	for _, b := range blocks {
		l, err := s2.DecodedLen(b)
		if err != nil {
			return nil, fmt.Errorf("records: snappy: %w", err)
		}
		if sum += int64(l); sum > rr.max {
			return nil, ErrTooLarge
		}
		largest = max(largest, l)
	}
	rr.acquire(int64(largest))
	buf, _ := snappyBuffers.Get().(*[]byte)
	if buf == nil || cap(*buf) < largest {
		b := make([]byte, largest)
		buf = &b
	}
	rr.done = func() { snappyBuffers.Put(buf) }
	return &snappyBlocks{blocks: blocks, buf: (*buf)[:cap(*buf)]}, nil
}

// snappyBuffers holds decoded-block buffers (*[]byte) for reuse: a raw
// snappy batch searched again and again is decoded into the same memory.

// snappyBlocks decodes raw snappy blocks one at a time into one buffer.
type snappyBlocks struct {
	blocks [][]byte
	buf    []byte
	out    []byte
}

func (s *snappyBlocks) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if len(s.blocks) == 0 {
			return 0, io.EOF
		}
		l, _ := s2.DecodedLen(s.blocks[0]) // checked in snappy
		out, err := s2.Decode(s.buf[:l], s.blocks[0])
		if err != nil {
			return 0, fmt.Errorf("records: snappy: %w", err)
		}
		s.out, s.blocks = out, s.blocks[1:]
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// zstdWindow is the window the first frame of the zstd stream in br
// declares (its content size if it is a single segment), at least 1 KiB and
// at most ZstdMaxWindow; ZstdMaxWindow if the header cannot be read (the
// decoder then fails).
func zstdWindow(br *bufio.Reader) uint64 {
	p, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(p) != nil || h.Skippable {
		return ZstdMaxWindow
	}
	w := h.WindowSize
	if h.SingleSegment {
		w = h.FrameContentSize
	}
	return min(max(w, zstd.MinWindowSize), ZstdMaxWindow)
}

// zstdWeight is the memory a zstd stream decoder holds for window: the
// window, two blocks of room ahead of it, and its block buffers.
func zstdWeight(window uint64) int64 {
	return int64(window) + 2*int64(min(window, 128<<10)) + 512<<10
}

// plainReader hides a reader's other methods (zstd's Reset decodes a
// *bytes.Reader whole).
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

var (
	snappyBuffers      sync.Pool
	gzipReaders        sync.Pool // *gzip.Reader
	lz4Readers         sync.Pool // *lz4.Reader
	zstdStreamDecoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(ZstdMaxWindow), zstd.WithDecoderMaxMemory(DefaultMaxDecompressed))
		if err != nil {
			panic(err)
		}
		return d
	}}
)

// errMissingRecords is the error of a section that ends before its count.
var errMissingRecords = fmt.Errorf("%w: fewer records than the batch's count", ErrMalformed)

// readLength reads the next record's length prefix and charges the record
// to the bound. It returns false (with rr.err set) at the end or on error.
func (rr *RecordReader) readLength() (int, bool) {
	if rr.err != nil || rr.closed {
		return 0, false
	}
	if rr.i >= rr.count {
		rr.checkEnd()
		return 0, false
	}
	p, err := rr.br.Peek(binary.MaxVarintLen64)
	if len(p) == 0 {
		rr.fail(err)
		return 0, false
	}
	length, n := varintAt(p, 0)
	if n <= 0 || length < 1 {
		if n <= 0 && err != nil {
			rr.fail(err) // the stream ended or failed inside the varint
		} else {
			rr.err = fmt.Errorf("%w: bad length", ErrMalformed)
		}
		return 0, false
	}
	if length > rr.max-rr.total-int64(n) {
		rr.err = ErrTooLarge
		return 0, false
	}
	rr.total += int64(n) + length
	_, _ = rr.br.Discard(n)
	rr.i++
	return int(length), true
}

// fail records a read error: the end of the stream before count records is
// a malformed section, anything else a decompression error.
func (rr *RecordReader) fail(err error) {
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		rr.err = errMissingRecords
	default:
		rr.err = fmt.Errorf("records: decompress: %w", err)
	}
}

// checkEnd, after the last record, checks that the section ends there.
func (rr *RecordReader) checkEnd() {
	p, err := rr.br.Peek(1)
	switch {
	case len(p) > 0:
		rr.err = fmt.Errorf("%w: trailing bytes after %d records", ErrMalformed, rr.count)
	case err != nil && err != io.EOF:
		rr.err = fmt.Errorf("records: decompress: %w", err)
	default:
		rr.err = io.EOF // ends the walk; Err reports nil
	}
}

// NextMeta decodes the next record's attributes and deltas into *m and
// skips the rest of it (its key, value and headers are not checked). It
// returns false at the end of the section or on error (see Err); after the
// last record it checks that the section ends there.
func (rr *RecordReader) NextMeta(m *RecordMeta) bool {
	length, ok := rr.readLength()
	if !ok {
		return false
	}
	p, err := rr.br.Peek(min(length, metaPeek))
	if len(p) < min(length, metaPeek) {
		rr.fail(err)
		return false
	}
	m.Attributes = int8(p[0])
	i := 1
	if m.TimestampDelta, i = varintAt(p, i); i <= 0 {
		rr.err = fmt.Errorf("%w: timestamp delta", ErrMalformed)
		return false
	}
	var v int64
	if v, i = varintAt(p, i); i <= 0 || v < 0 || v > 1<<31-1 {
		rr.err = fmt.Errorf("%w: offset delta", ErrMalformed)
		return false
	}
	m.OffsetDelta = int32(v)
	if n, err := rr.br.Discard(length); n < length {
		rr.fail(err)
		return false
	}
	return true
}

// Next decodes the next record into *r, checking all of it. Its slices are
// valid until the next call of Next or NextMeta. It returns false at the
// end of the section or on error (see Err); after the last record it
// checks that the section ends there.
func (rr *RecordReader) Next(r *Record) bool {
	length, ok := rr.readLength()
	if !ok {
		return false
	}
	rr.buf = binary.AppendVarint(rr.buf[:0], int64(length))
	n := len(rr.buf) + length
	// The buffer grows as the record's bytes arrive, at most doubling:
	// a declared length is not trusted with an allocation (a few bytes
	// of zstd can declare a record of the whole bound and hold none).
	for len(rr.buf) < n {
		chunk := n - len(rr.buf)
		if cap(rr.buf) < n {
			chunk = min(chunk, max(len(rr.buf), streamBufferSize))
			rr.buf = slices.Grow(rr.buf, chunk)
		}
		m, err := io.ReadFull(rr.br, rr.buf[len(rr.buf):len(rr.buf)+chunk])
		rr.buf = rr.buf[:len(rr.buf)+m]
		if err != nil {
			rr.fail(err)
			return false
		}
	}
	if _, err := parseRecord(rr.buf, r); err != nil {
		rr.err = err
		return false
	}
	return true
}

// Err returns the first error of the walk: malformed records, ErrTooLarge,
// or a decompression error. It is nil at the end of a good section and
// while records remain.
func (rr *RecordReader) Err() error {
	if rr.err == io.EOF {
		return nil
	}
	return rr.err
}

// Close releases the decompressor and the reader's share of
// StreamMemoryBudget. It may be called more than once.
func (rr *RecordReader) Close() {
	if rr.closed {
		return
	}
	rr.closed = true
	if rr.done != nil {
		rr.done()
		rr.done = nil
	}
	rr.br = nil
	streamBudget.release(rr.weight)
	rr.weight = 0
}

func (rr *RecordReader) acquire(n int64) {
	n = min(n, StreamMemoryBudget)
	streamBudget.acquire(n)
	rr.weight += n
}

// streamBudget is StreamMemoryBudget's semaphore.
var streamBudget = newMemoryBudget(StreamMemoryBudget)

// memoryBudget is a weighted semaphore over bytes, served in arrival order
// (a large weight is not starved by small ones). Locking: mu guards free
// and waiters.
type memoryBudget struct {
	mu      sync.Mutex
	free    int64
	waiters []budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newMemoryBudget(size int64) *memoryBudget { return &memoryBudget{free: size} }

// acquire waits until n bytes are free and takes them. n must not exceed
// the budget's size.
func (b *memoryBudget) acquire(n int64) {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		return
	}
	w := budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	<-w.ready
}

// release returns n bytes and wakes the waiters, in order, that now fit.
func (b *memoryBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.free -= w.n
		close(w.ready)
	}
	b.mu.Unlock()
}
