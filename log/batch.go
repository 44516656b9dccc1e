package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/moldau/moldau/log/records"
)

// RecordBatch v2 header layout: log/records holds the one definition (see
// FORMAT.md); these are the log's short names for it.
const (
	offBaseOffset      = records.OffBaseOffset
	offBatchLength     = records.OffBatchLength
	offLeaderEpoch     = records.OffLeaderEpoch
	offMagic           = records.OffMagic
	offCRC             = records.OffCRC
	offAttributes      = records.OffAttributes
	offLastOffsetDelta = records.OffLastOffsetDelta
	offBaseTimestamp   = records.OffBaseTimestamp
	offMaxTimestamp    = records.OffMaxTimestamp
	offProducerID      = records.OffProducerID
	offProducerEpoch   = records.OffProducerEpoch
	offBaseSequence    = records.OffBaseSequence
	offRecordCount     = records.OffRecordCount

	// BatchHeaderSize is the size of a RecordBatch v2 header; the records
	// follow it.
	BatchHeaderSize = records.HeaderSize
	// batchLengthOverhead is the bytes before and including batchLength.
	batchLengthOverhead = records.LengthOverhead
	// maxBatchSize bounds a single batch (positions in index files are int32).
	maxBatchSize = 1<<31 - 1
)

// Attribute bits (records.Attr*).
const (
	AttrCompressionMask = records.AttrCompressionMask
	AttrTimestampType   = records.AttrLogAppendTime
	AttrTransactional   = records.AttrTransactional
	AttrControl         = records.AttrControl
)

// Errors.
var (
	// ErrOffsetOutOfRange is returned for offsets outside
	// [LogStartOffset, EndOffset].
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed is returned by operations on a closed Log.
	ErrClosed = errors.New("log: closed")
	// ErrCorrupt is matched (errors.Is) by every *CorruptionError.
	ErrCorrupt = errors.New("log: corrupt batch")
	// ErrInvalidBatch is returned by Append for a batch that is not a whole
	// RecordBatch v2.
	ErrInvalidBatch = errors.New("log: invalid record batch")
)

// CorruptionError describes damaged data found in a segment.
type CorruptionError struct {
	Segment string // segment file name
	Offset  int64  // file position of the damaged batch
	Err     error  // what was wrong
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("log: corrupt segment %s at position %d: %v", e.Segment, e.Offset, e.Err)
}

// Unwrap returns the underlying cause.
func (e *CorruptionError) Unwrap() error { return e.Err }

// Is reports true for ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// BatchHeader is the decoded fixed-size header of a RecordBatch v2.
type BatchHeader struct {
	BaseOffset      int64
	Length          int32 // whole batch in bytes (batchLength + 12)
	LeaderEpoch     int32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// LastOffset is the offset of the last record in the batch.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset after the batch.
func (h BatchHeader) NextOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) + 1 }

// Compression returns the codec bits of the attributes.
func (h BatchHeader) Compression() int { return int(h.Attributes & AttrCompressionMask) }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports the control attribute bit.
func (h BatchHeader) IsControl() bool { return h.Attributes&AttrControl != 0 }

// LogAppendTime reports whether the batch uses LogAppendTime timestamps.
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&AttrTimestampType != 0 }

var (
	errShortHeader = errors.New("short batch header")
	errBadMagic    = errors.New("magic is not 2")
	errBadLength   = errors.New("batch length out of bounds")
	errBadCRC      = errors.New("CRC-32C mismatch")
	errBadDelta    = errors.New("negative lastOffsetDelta")
	errBadOffset   = errors.New("batch offset out of sequence")
)

// ParseBatchHeader decodes the first BatchHeaderSize bytes of b. It checks
// the magic byte and that the length field covers at least a header, but not
// the CRC.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %w", ErrInvalidBatch, errShortHeader)
	}
	h := BatchHeader{
		BaseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		LeaderEpoch:     int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Attributes:      int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:   int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		RecordCount:     int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}
	length := int64(int32(binary.BigEndian.Uint32(b[offBatchLength:]))) + batchLengthOverhead
	if length < BatchHeaderSize || length > maxBatchSize {
		return h, fmt.Errorf("%w: %w", ErrInvalidBatch, errBadLength)
	}
	h.Length = int32(length)
	if b[offMagic] != 2 {
		return h, fmt.Errorf("%w: %w", ErrInvalidBatch, errBadMagic)
	}
	if h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: %w", ErrInvalidBatch, errBadDelta)
	}
	return h, nil
}

// castagnoli is the CRC-32C table of the log's own files (meta, cleaner
// checkpoint); batches use records.CRC.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchCRC computes the CRC-32C of a whole batch as stored in its crc field.
func BatchCRC(batch []byte) uint32 { return records.CRC(batch) }

// verifyCRC reports whether a whole batch's stored CRC matches its contents.
func verifyCRC(batch []byte) bool { return records.ValidCRC(batch) }
