package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

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

// recordProblem is why one record of a produced batch was refused.
type recordProblem uint8

const (
	recordNoKey       recordProblem = iota // no key on a compacted topic: INVALID_RECORD
	recordOffsetDelta                      // offset delta is not its index: INVALID_RECORD
	recordTimestamp                        // timestamp out of bounds: INVALID_TIMESTAMP
	recordSchemaID                         // no registered schema id (schemavalidate.go): INVALID_RECORD
)

// recordError is one refused record of a batch (KIP-467).
type recordError struct {
	index   int32 // position in the batch (Kafka's batchIndex)
	problem recordProblem
	value   int64  // recordTimestamp: the timestamp; recordOffsetDelta: the delta
	offset  int64  // recordTimestamp: the record's offset as sent (base + delta)
	msg     string // recordSchemaID: what is wrong with the record
}

// recordsError refuses a whole batch because of some of its records, listing
// every one of them, as Kafka's LogValidator does (RecordValidationException).
// It wraps errInvalidTimestamp if any record's timestamp is out of bounds,
// else errInvalidRecord.
type recordsError struct {
	err     error
	records []recordError // the first maxRecordErrors of them
	total   int           // every refused record
	// the timestamp bounds in force (for the messages)
	now, beforeMax, afterMax int64
}

func (e *recordsError) Error() string {
	return fmt.Sprintf("%v: %d of the batch's records refused (the first at batch index %d: %s)",
		e.err, e.total, e.records[0].index, e.recordMessage(e.records[0], "the partition"))
}

func (e *recordsError) Unwrap() error { return e.err }

// kafkaMessages renders Kafka's texts for partition tp (as "topic-N"): the
// partition's error message and each record's, in e.records order.
func (e *recordsError) kafkaMessages(tp string) (string, []string) {
	msgs := make([]string, len(e.records))
	for i, r := range e.records {
		msgs[i] = e.recordMessage(r, "topic partition "+tp)
	}
	if errors.Is(e.err, errInvalidTimestamp) {
		return "One or more records have been rejected due to invalid timestamp", msgs
	}
	var b strings.Builder
	fmt.Fprintf(&b, "One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [", e.total)
	for i := range min(3, len(msgs)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "RecordError(batchIndex=%d, message='%s')", e.records[i].index, msgs[i])
	}
	b.WriteString("]")
	return b.String(), msgs
}

func (e *recordsError) recordMessage(r recordError, where string) string {
	switch r.problem {
	case recordNoKey:
		return "Compacted topic cannot accept message without key in " + where
	case recordSchemaID:
		return r.msg + " in " + where
	case recordOffsetDelta:
		return "Record at batch index " + strconv.Itoa(int(r.index)) + " has offset delta " +
			strconv.FormatInt(r.value, 10) + " in " + where
	default:
		return fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
			r.value, r.offset, e.now-e.beforeMax, e.now+e.afterMax)
	}
}

// maxRecordErrors caps the refused records a batch's answer lists. Kafka
// lists them all, but a compressed batch of a few hundred bytes can hold
// millions of refused records (decompressed up to max.message.bytes,
// which a topic may set high): listing each cost about 700 bytes of
// memory and 80 of response (TestReviewRecordErrorsBounded). A client fails
// the records past the cap with the batch's other-records error instead.
const maxRecordErrors = 10_000

// recordChecker applies the per-record rules of a topic to one batch and
// collects the records that break them (the first maxRecordErrors; all are
// counted). It allocates only for a refused record.
type recordChecker struct {
	s          *config.TopicSettings
	now        int64
	baseOffset int64 // as the client sent it (for the timestamp message)
	logAppend  bool  // the topic's timestamp type: timestamps are not checked
	refused    []recordError
	total      int  // refused records, listed or not
	anyTs      bool // a timestamp was refused
}

// check checks the record at index i, with absolute timestamp ts.
func (c *recordChecker) check(i int32, r *records.Record, ts int64) {
	switch {
	case r.OffsetDelta != i:
		c.refuse(recordError{index: i, problem: recordOffsetDelta, value: int64(r.OffsetDelta)})
	case c.s.Compact && r.Key == nil:
		c.refuse(recordError{index: i, problem: recordNoKey})
	case !c.timestampOK(ts):
		c.refuse(recordError{index: i, problem: recordTimestamp, value: ts, offset: c.baseOffset + int64(r.OffsetDelta)})
		c.anyTs = true
	}
}

// refuse counts a refused record and lists it while fewer than
// maxRecordErrors are.
func (c *recordChecker) refuse(e recordError) {
	c.total++
	if len(c.refused) < maxRecordErrors {
		c.refused = append(c.refused, e)
	}
}

// timestampOK applies message.timestamp.before/after.max.ms as Kafka does
// (CreateTime only; -1 is "no timestamp"; the differences wrap like Java's).
func (c *recordChecker) timestampOK(ts int64) bool {
	if c.logAppend || ts == -1 {
		return true
	}
	diff := c.now - ts
	return diff <= c.s.TimestampBeforeMaxMs && -diff <= c.s.TimestampAfterMaxMs
}

// err is the batch's error, nil if no record was refused.
func (c *recordChecker) err() error {
	if len(c.refused) == 0 {
		return nil
	}
	e := &recordsError{err: errInvalidRecord, records: c.refused, total: c.total, now: c.now,
		beforeMax: c.s.TimestampBeforeMaxMs, afterMax: c.s.TimestampAfterMaxMs}
	if c.anyTs {
		e.err = errInvalidTimestamp
	}
	return e
}

// validateBatch checks one partition's produced records as Kafka's
// LogValidator does for magic 2: exactly one whole batch, a good CRC, counts
// and offset deltas that agree, no client-written control batch, the size
// limit, then every record: its offset delta, on compacted topics a key, and
// its timestamp within the topic's bounds. Records that break those rules
// are all listed in a *recordsError (KIP-467's per-record errors).
//
// A compressed batch is decompressed (bounded) and its records checked when
// the topic is compacted, when message.timestamp.before.max.ms is set, or
// when its header's base or max timestamp is out of bounds; otherwise its
// header timestamps stand for its records (the records lie between them
// unless a client wrote a dishonest header). An uncompressed batch's records
// are always walked, without allocating.
//
// With LogAppendTime the batch's max timestamp is set to now and its CRC
// recomputed, in place; with CreateTime an uncompressed batch's max
// timestamp is set to its records' largest. The partition leader epoch is
// not touched: the log stamps it on append.
func validateBatch(raw []byte, s *config.TopicSettings, now int64) (validatedBatch, error) {
	var v validatedBatch
	if len(raw) < records.HeaderSize {
		return v, fmt.Errorf("%w: %d bytes is shorter than a batch header", errCorruptMessage, len(raw))
	}
	if raw[records.OffMagic] != records.Magic {
		return v, fmt.Errorf("%w: magic %d (only record batch v2 is accepted)", errInvalidRecord, raw[records.OffMagic])
	}
	length := int64(int32(binary.BigEndian.Uint32(raw[records.OffBatchLength:])))
	total := length + records.LengthOverhead
	switch {
	case length < records.HeaderSize-records.LengthOverhead:
		return v, fmt.Errorf("%w: batch length %d", errCorruptMessage, length)
	case total > int64(len(raw)):
		return v, fmt.Errorf("%w: batch length %d exceeds the %d bytes sent", errCorruptMessage, length, len(raw))
	case total < int64(len(raw)):
		return v, fmt.Errorf("%w: more than one record batch in one partition's produce data", errInvalidRecord)
	}
	if int64(len(raw)) > s.MaxMessageBytes {
		return v, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", errMessageTooLarge, len(raw), s.MaxMessageBytes)
	}
	if !records.ValidCRC(raw) {
		return v, fmt.Errorf("%w: CRC mismatch", errCorruptMessage)
	}
	attrs := int16(binary.BigEndian.Uint16(raw[records.OffAttributes:]))
	if attrs&records.AttrControl != 0 {
		return v, fmt.Errorf("%w: clients may not write control batches", errInvalidRecord)
	}
	v.transactional = attrs&records.AttrTransactional != 0
	codec := attrs & records.AttrCompressionMask
	if codec > records.CodecZstd {
		return v, fmt.Errorf("%w: unknown compression codec %d", errInvalidRecord, codec)
	}
	v.raw = raw
	v.lastOffsetDelta = int32(binary.BigEndian.Uint32(raw[records.OffLastOffsetDelta:]))
	v.recordCount = int32(binary.BigEndian.Uint32(raw[records.OffRecordCount:]))
	v.producerID = int64(binary.BigEndian.Uint64(raw[records.OffProducerID:]))
	v.producerEpoch = int16(binary.BigEndian.Uint16(raw[records.OffProducerEpoch:]))
	v.baseSequence = int32(binary.BigEndian.Uint32(raw[records.OffBaseSequence:]))
	baseTs := int64(binary.BigEndian.Uint64(raw[records.OffBaseTimestamp:]))
	v.maxTimestamp = int64(binary.BigEndian.Uint64(raw[records.OffMaxTimestamp:]))
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
	c := recordChecker{s: s, now: now, logAppend: logAppend,
		baseOffset: int64(binary.BigEndian.Uint64(raw[records.OffBaseOffset:]))}
	if codec == records.CodecNone {
		it, err := records.BatchRecords(raw)
		if err != nil {
			return v, fmt.Errorf("%w: %w", errCorruptMessage, err)
		}
		maxTs := int64(-1)
		var r records.Record
		for i := int32(0); it.NextInto(&r); i++ {
			ts := baseTs + r.TimestampDelta
			c.check(i, &r, ts)
			maxTs = max(maxTs, ts)
		}
		if err := it.Err(); err != nil {
			return v, fmt.Errorf("%w: %w", errCorruptMessage, err)
		}
		if err := c.err(); err != nil {
			return v, err
		}
		if !logAppend && (maxTs != v.maxTimestamp || attrs&records.AttrLogAppendTime != 0) {
			// Kafka rewrites a v2 batch's max timestamp (and type) to
			// what its records say; so do we.
			attrs &^= records.AttrLogAppendTime
			binary.BigEndian.PutUint16(raw[records.OffAttributes:], uint16(attrs))
			binary.BigEndian.PutUint64(raw[records.OffMaxTimestamp:], uint64(maxTs))
			records.SetCRC(raw)
			v.maxTimestamp = maxTs
		}
	} else if s.Compact || s.TimestampBeforeMaxMs != math.MaxInt64 || !c.timestampOK(baseTs) || !c.timestampOK(v.maxTimestamp) {
		// Kafka decompresses every batch; Moldau only when a record might
		// be refused.
		if err := checkCompressed(&c, raw, int(codec), v.recordCount, baseTs, s.MaxMessageBytes); err != nil {
			return v, err
		}
		if err := c.err(); err != nil {
			return v, err
		}
	}
	if logAppend {
		binary.BigEndian.PutUint16(raw[records.OffAttributes:], uint16(attrs|records.AttrLogAppendTime))
		binary.BigEndian.PutUint64(raw[records.OffMaxTimestamp:], uint64(now))
		records.SetCRC(raw)
		v.maxTimestamp = now
		v.logAppendTime = true
	}
	return v, nil
}

// checkCompressed walks the records of the compressed batch raw with c.
// They are streamed (records.RecordReader): one record and the codec's
// window are in memory at a time, and the windows of every open reader are
// bounded together by records.StreamMemoryBudget. max.message.bytes bounds
// the decompressed batch (header and records) as it bounds the compressed
// one, so a decompression bomb costs at most max.message.bytes of decoding
// and is refused with MESSAGE_TOO_LARGE without being held (the Java
// producer answers that error by splitting the batch and sending it again).
func checkCompressed(c *recordChecker, raw []byte, codec int, count int32, baseTs, maxMessageBytes int64) error {
	limit := min(max(maxMessageBytes-records.HeaderSize, 0), math.MaxInt32)
	rr, err := records.NewRecordReader(codec, bytes.NewReader(raw[records.HeaderSize:]), count, int(limit))
	if err == nil {
		var r records.Record
		for i := int32(0); rr.Next(&r); i++ {
			c.check(i, &r, baseTs+r.TimestampDelta)
		}
		err = rr.Err()
		rr.Close()
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, records.ErrTooLarge):
		return fmt.Errorf("%w: the batch decompresses to more than max.message.bytes %d", errMessageTooLarge, maxMessageBytes)
	default:
		return fmt.Errorf("%w: %w", errInvalidRecord, err)
	}
}
