package records

// The RecordBatch v2 layout (log/FORMAT.md, Kafka's DefaultRecordBatch):
// the one definition of its header offsets and attribute bits, the CRC, a
// Builder for the batches Moldau writes itself (internal topics, transaction
// markers) and the control record's key and value.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// RecordBatch v2 header layout (big-endian). Offsets are from the start of
// the batch.
const (
	OffBaseOffset      = 0  // int64
	OffBatchLength     = 8  // int32: bytes after this field
	OffLeaderEpoch     = 12 // int32: partitionLeaderEpoch, outside the CRC
	OffMagic           = 16 // int8: 2
	OffCRC             = 17 // uint32: CRC-32C of everything from OffAttributes on
	OffAttributes      = 21 // int16
	OffLastOffsetDelta = 23 // int32
	OffBaseTimestamp   = 27 // int64
	OffMaxTimestamp    = 35 // int64
	OffProducerID      = 43 // int64
	OffProducerEpoch   = 51 // int16
	OffBaseSequence    = 53 // int32
	OffRecordCount     = 57 // int32

	// HeaderSize is the size of the header; the records follow it.
	HeaderSize = 61
	// LengthOverhead is the bytes up to and including batchLength: a
	// batch's size is its batchLength plus this.
	LengthOverhead = 12
	// Magic is the only record format version Moldau reads or writes.
	Magic = 2
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrLogAppendTime   = 0x08 // timestamp type: LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Control record types (Kafka's ControlRecordType), the second int16 of a
// control record's key.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC computes the CRC-32C of a whole batch as its crc field holds it (over
// the bytes from the attributes on).
func CRC(batch []byte) uint32 { return crc32.Checksum(batch[OffAttributes:], castagnoli) }

// SetCRC recomputes and stores a whole batch's CRC.
func SetCRC(batch []byte) { binary.BigEndian.PutUint32(batch[OffCRC:], CRC(batch)) }

// ValidCRC reports whether a whole batch's stored CRC matches its bytes.
func ValidCRC(batch []byte) bool { return binary.BigEndian.Uint32(batch[OffCRC:]) == CRC(batch) }

// RecordHeader is one record header. A nil Value is a null one.
type RecordHeader struct {
	Key   string
	Value []byte
}

// BatchOptions are the batch-level fields a Builder writes.
type BatchOptions struct {
	// BaseTimestamp is the first record's timestamp; the others are stored
	// as deltas from it.
	BaseTimestamp int64
	// ProducerID, ProducerEpoch and BaseSequence: -1, -1, -1 for a batch of
	// no producer (use NoProducer).
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Transactional bool
	Control       bool
}

// NoProducer is BatchOptions for a batch that has no producer id.
func NoProducer(baseTimestamp int64) BatchOptions {
	return BatchOptions{BaseTimestamp: baseTimestamp, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
}

// Builder encodes records into one uncompressed RecordBatch v2. It writes
// base offset 0 (the log assigns offsets) and partitionLeaderEpoch -1: the
// leader's epoch is stamped by the log append (plog.Log.AppendWithEpoch),
// the one place that knows it. The zero Builder is not usable; call
// NewBuilder. A Builder is not safe for concurrent use.
type Builder struct {
	buf   []byte
	opts  BatchOptions
	count int32
	maxTs int64
}

// NewBuilder starts a batch in dst[:0] (dst may be nil; its capacity is
// reused).
func NewBuilder(dst []byte, o BatchOptions) *Builder {
	b := &Builder{opts: o, maxTs: -1}
	b.buf = append(dst[:0], make([]byte, HeaderSize)...)
	return b
}

// Len is the number of records added.
func (b *Builder) Len() int { return int(b.count) }

// Add appends a record with the given timestamp (absolute; stored as a delta
// from BatchOptions.BaseTimestamp). A nil key or value is a null one.
func (b *Builder) Add(timestamp int64, key, value []byte, headers ...RecordHeader) {
	tsDelta := timestamp - b.opts.BaseTimestamp
	size := 1 + varintLen(tsDelta) + varintLen(int64(b.count)) +
		bytesLen(key) + bytesLen(value) + varintLen(int64(len(headers)))
	for _, h := range headers {
		size += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	p := binary.AppendVarint(b.buf, int64(size))
	p = append(p, 0) // record attributes: unused
	p = binary.AppendVarint(p, tsDelta)
	p = binary.AppendVarint(p, int64(b.count))
	p = appendBytes(p, key)
	p = appendBytes(p, value)
	p = binary.AppendVarint(p, int64(len(headers)))
	for _, h := range headers {
		p = binary.AppendVarint(p, int64(len(h.Key)))
		p = append(p, h.Key...)
		p = appendBytes(p, h.Value)
	}
	b.buf = p
	b.count++
	b.maxTs = max(b.maxTs, timestamp)
}

// Build finishes the header (lengths, counts, timestamps, producer fields,
// attributes, CRC) and returns the batch. It must have at least one record.
// The Builder must not be used afterwards.
func (b *Builder) Build() []byte {
	if b.count == 0 {
		panic("records: Build of an empty batch")
	}
	h := b.buf[:HeaderSize]
	binary.BigEndian.PutUint64(h[OffBaseOffset:], 0)
	binary.BigEndian.PutUint32(h[OffBatchLength:], uint32(len(b.buf)-LengthOverhead))
	binary.BigEndian.PutUint32(h[OffLeaderEpoch:], 0xffffffff) // -1: stamped on append
	h[OffMagic] = Magic
	var attrs uint16
	if b.opts.Transactional {
		attrs |= AttrTransactional
	}
	if b.opts.Control {
		attrs |= AttrControl
	}
	binary.BigEndian.PutUint16(h[OffAttributes:], attrs)
	binary.BigEndian.PutUint32(h[OffLastOffsetDelta:], uint32(b.count-1))
	binary.BigEndian.PutUint64(h[OffBaseTimestamp:], uint64(b.opts.BaseTimestamp))
	binary.BigEndian.PutUint64(h[OffMaxTimestamp:], uint64(b.maxTs))
	binary.BigEndian.PutUint64(h[OffProducerID:], uint64(b.opts.ProducerID))
	binary.BigEndian.PutUint16(h[OffProducerEpoch:], uint16(b.opts.ProducerEpoch))
	binary.BigEndian.PutUint32(h[OffBaseSequence:], uint32(b.opts.BaseSequence))
	binary.BigEndian.PutUint32(h[OffRecordCount:], uint32(b.count))
	SetCRC(b.buf)
	out := b.buf
	b.buf = nil
	return out
}

// ControlBatch encodes a transaction marker as Kafka writes one: attributes
// transactional|control, no sequence, one record whose key is
// [version int16 0, type int16] and whose value is [version int16 0,
// coordinator epoch int32].
func ControlBatch(producerID int64, producerEpoch int16, typ int16, coordinatorEpoch int32, now int64) []byte {
	var key [4]byte
	binary.BigEndian.PutUint16(key[2:], uint16(typ))
	var value [6]byte
	binary.BigEndian.PutUint32(value[2:], uint32(coordinatorEpoch))
	b := NewBuilder(make([]byte, 0, HeaderSize+24), BatchOptions{
		BaseTimestamp: now, ProducerID: producerID, ProducerEpoch: producerEpoch, BaseSequence: -1,
		Transactional: true, Control: true,
	})
	b.Add(now, key[:], value[:])
	return b.Build()
}

// ControlType decodes a control record's key: its type (ControlAbort,
// ControlCommit, or another Kafka type). As Kafka, it reads the type of a
// key version above 0 too, and refuses a negative version.
func ControlType(key []byte) (int16, error) {
	if len(key) < 4 {
		return 0, fmt.Errorf("%w: control record key of %d bytes", ErrMalformed, len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v < 0 {
		return 0, fmt.Errorf("%w: control record key version %d", ErrMalformed, v)
	}
	return int16(binary.BigEndian.Uint16(key[2:])), nil
}

// BatchRecords returns an iterator over the records of a whole, uncompressed
// batch (its header's record count; the records section must hold exactly
// that many). It does not check the CRC. A compressed batch gives an error:
// use ForEach.
func BatchRecords(batch []byte) (Iterator, error) {
	if len(batch) < HeaderSize {
		return Iterator{}, fmt.Errorf("%w: short batch", ErrMalformed)
	}
	if c := binary.BigEndian.Uint16(batch[OffAttributes:]) & AttrCompressionMask; c != CodecNone {
		return Iterator{}, fmt.Errorf("%w: compressed batch (codec %d)", ErrMalformed, c)
	}
	count := int32(binary.BigEndian.Uint32(batch[OffRecordCount:]))
	if count < 0 {
		return Iterator{}, fmt.Errorf("%w: negative record count", ErrMalformed)
	}
	return Iterator{b: batch[HeaderSize:], count: count}, nil
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63) // zig-zag
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// bytesLen is the encoded size of a nullable byte field.
func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
