package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/records"
)

// Validation failures of a produced batch. errorCode maps them to Kafka's
// codes at the wire edge.
var (
	errCorruptMessage   = errors.New("broker: corrupt message")                                    // CORRUPT_MESSAGE
	errInvalidRecord    = errors.New("broker: invalid record")                                     // INVALID_RECORD
	errMessageTooLarge  = errors.New("broker: message too large")                                  // MESSAGE_TOO_LARGE
	errInvalidTimestamp = errors.New("broker: invalid timestamp")                                  // INVALID_TIMESTAMP
	errTransactional    = errors.New("broker: transactional batch outside an ongoing transaction") // INVALID_TXN_STATE
)

// RecordBatch v2 header offsets.
const (
	batchHeaderSize     = 61
	offBatchLength      = 8
	offLeaderEpoch      = 12
	offMagic            = 16
	offCRC              = 17
	offAttributes       = 21
	offLastOffsetDelta  = 23
	offBaseTimestamp    = 27
	offMaxTimestamp     = 35
	offProducerID       = 43
	offProducerEpoch    = 51
	offBaseSequence     = 53
	offRecordCount      = 57
	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// validatedBatch is one produced batch that passed validation, with the
// header fields the append path needs.
type validatedBatch struct {
	raw             []byte
	producerID      int64
	producerEpoch   int16
	baseSequence    int32
	lastOffsetDelta int32
	recordCount     int32
	maxTimestamp    int64
	logAppendTime   bool
	transactional   bool
}

// validateBatch checks one partition's produced records as Kafka's
// LogValidator does for magic 2: exactly one whole batch, a good CRC, counts
// and offset deltas that agree, no client-written control batch, the size
// limit, timestamps within the topic's bounds and, on compacted topics, a key
// on every record. Compressed batches are checked at the header (their
// records are stored as sent, never decompressed here). With LogAppendTime
// the batch's max timestamp is set to now and its CRC recomputed, in place.
func validateBatch(raw []byte, s *config.TopicSettings, now int64) (validatedBatch, error) {
	var v validatedBatch
	if len(raw) < batchHeaderSize {
		return v, fmt.Errorf("%w: %d bytes is shorter than a batch header", errCorruptMessage, len(raw))
	}
	if raw[offMagic] != 2 {
		return v, fmt.Errorf("%w: magic %d (only record batch v2 is accepted)", errInvalidRecord, raw[offMagic])
	}
	length := int64(int32(binary.BigEndian.Uint32(raw[offBatchLength:])))
	total := length + 12
	switch {
	case length < batchHeaderSize-12:
		return v, fmt.Errorf("%w: batch length %d", errCorruptMessage, length)
	case total > int64(len(raw)):
		return v, fmt.Errorf("%w: batch length %d exceeds the %d bytes sent", errCorruptMessage, length, len(raw))
	case total < int64(len(raw)):
		return v, fmt.Errorf("%w: more than one record batch in one partition's produce data", errInvalidRecord)
	}
	if int64(len(raw)) > s.MaxMessageBytes {
		return v, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", errMessageTooLarge, len(raw), s.MaxMessageBytes)
	}
	if crc32.Checksum(raw[offAttributes:], castagnoli) != binary.BigEndian.Uint32(raw[offCRC:]) {
		return v, fmt.Errorf("%w: CRC mismatch", errCorruptMessage)
	}
	attrs := int16(binary.BigEndian.Uint16(raw[offAttributes:]))
	if attrs&attrControl != 0 {
		return v, fmt.Errorf("%w: clients may not write control batches", errInvalidRecord)
	}
	v.transactional = attrs&attrTransactional != 0
	codec := attrs & attrCompressionMask
	if codec > 4 {
		return v, fmt.Errorf("%w: unknown compression codec %d", errInvalidRecord, codec)
	}
	v.raw = raw
	v.lastOffsetDelta = int32(binary.BigEndian.Uint32(raw[offLastOffsetDelta:]))
	v.recordCount = int32(binary.BigEndian.Uint32(raw[offRecordCount:]))
	v.producerID = int64(binary.BigEndian.Uint64(raw[offProducerID:]))
	v.producerEpoch = int16(binary.BigEndian.Uint16(raw[offProducerEpoch:]))
	v.baseSequence = int32(binary.BigEndian.Uint32(raw[offBaseSequence:]))
	baseTs := int64(binary.BigEndian.Uint64(raw[offBaseTimestamp:]))
	v.maxTimestamp = int64(binary.BigEndian.Uint64(raw[offMaxTimestamp:]))
	if v.recordCount <= 0 {
		return v, fmt.Errorf("%w: record count %d", errInvalidRecord, v.recordCount)
	}
	if v.lastOffsetDelta != v.recordCount-1 {
		return v, fmt.Errorf("%w: last offset delta %d does not match record count %d", errInvalidRecord, v.lastOffsetDelta, v.recordCount)
	}
	if v.transactional && v.producerID < 0 {
		return v, fmt.Errorf("%w: transactional batch without a producer id", errInvalidRecord)
	}
	if v.producerID >= 0 && (v.producerEpoch < 0 || v.baseSequence < 0) {
		return v, fmt.Errorf("%w: producer id %d with epoch %d and sequence %d", errInvalidRecord, v.producerID, v.producerEpoch, v.baseSequence)
	}
	logAppend := s.MessageTimestampType == "LogAppendTime"
	checkTs := func(ts int64) error {
		if logAppend || ts == -1 {
			return nil
		}
		if (s.TimestampBeforeMaxMs >= 0 && ts < now-s.TimestampBeforeMaxMs && now-s.TimestampBeforeMaxMs < now) ||
			(s.TimestampAfterMaxMs >= 0 && ts > now+s.TimestampAfterMaxMs && now+s.TimestampAfterMaxMs > now) {
			return fmt.Errorf("%w: timestamp %d is out of range for message.timestamp.before/after.max.ms", errInvalidTimestamp, ts)
		}
		return nil
	}
	compacted := s.Compact
	if codec == 0 {
		maxTs, err := walkRecords(raw[batchHeaderSize:], v.recordCount, baseTs, compacted, checkTs)
		if err != nil {
			return v, err
		}
		if !logAppend && (maxTs != v.maxTimestamp || attrs&attrLogAppendTime != 0) {
			// Kafka rewrites a v2 batch's max timestamp (and type) to
			// what its records say; so do we.
			attrs &^= attrLogAppendTime
			binary.BigEndian.PutUint16(raw[offAttributes:], uint16(attrs))
			binary.BigEndian.PutUint64(raw[offMaxTimestamp:], uint64(maxTs))
			binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
			v.maxTimestamp = maxTs
		}
	} else {
		if err := checkTs(baseTs); err != nil {
			return v, err
		}
		if err := checkTs(v.maxTimestamp); err != nil {
			return v, err
		}
		if compacted {
			// Kafka decompresses to check keys on compacted topics; the
			// decompressed size is bounded (records.DefaultMaxDecompressed).
			err := records.ForEach(raw, records.DefaultMaxDecompressed, func(r records.Record) error {
				if r.Key == nil {
					return fmt.Errorf("%w: record at offset delta %d has no key (compacted topic)", errInvalidRecord, r.OffsetDelta)
				}
				return nil
			})
			if err != nil && !errors.Is(err, errInvalidRecord) {
				err = fmt.Errorf("%w: %w", errInvalidRecord, err)
			}
			if err != nil {
				return v, err
			}
		}
	}
	if logAppend {
		binary.BigEndian.PutUint16(raw[offAttributes:], uint16(attrs|attrLogAppendTime))
		binary.BigEndian.PutUint64(raw[offMaxTimestamp:], uint64(now))
		binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
		v.maxTimestamp = now
		v.logAppendTime = true
	}
	return v, nil
}

// walkRecords walks uncompressed v2 records: every record must fit, carry
// offset delta i, and (on compacted topics) a key; each timestamp is checked.
// It returns the largest record timestamp.
func walkRecords(b []byte, count int32, baseTs int64, needKey bool, checkTs func(int64) error) (int64, error) {
	maxTs := int64(-1)
	for i := int32(0); i < count; i++ {
		length, n := binary.Varint(b)
		if n <= 0 || length < 0 || length > int64(len(b)-n) {
			return 0, fmt.Errorf("%w: record %d: bad length", errCorruptMessage, i)
		}
		rec := b[n : n+int(length)]
		b = b[n+int(length):]
		if len(rec) < 1 {
			return 0, fmt.Errorf("%w: record %d: empty", errCorruptMessage, i)
		}
		rec = rec[1:] // attributes
		tsDelta, n := binary.Varint(rec)
		if n <= 0 {
			return 0, fmt.Errorf("%w: record %d: bad timestamp delta", errCorruptMessage, i)
		}
		rec = rec[n:]
		offDelta, n := binary.Varint(rec)
		if n <= 0 {
			return 0, fmt.Errorf("%w: record %d: bad offset delta", errCorruptMessage, i)
		}
		if offDelta != int64(i) {
			return 0, fmt.Errorf("%w: record %d has offset delta %d", errInvalidRecord, i, offDelta)
		}
		rec = rec[n:]
		keyLen, n := binary.Varint(rec)
		if n <= 0 || keyLen < -1 || keyLen > int64(len(rec)-n) {
			return 0, fmt.Errorf("%w: record %d: bad key length", errCorruptMessage, i)
		}
		if needKey && keyLen < 0 {
			return 0, fmt.Errorf("%w: compacted topic cannot accept a record without a key", errInvalidRecord)
		}
		ts := baseTs + tsDelta
		if err := checkTs(ts); err != nil {
			return 0, err
		}
		maxTs = max(maxTs, ts)
	}
	if len(b) != 0 {
		return 0, fmt.Errorf("%w: %d bytes after the last record", errCorruptMessage, len(b))
	}
	return maxTs, nil
}
