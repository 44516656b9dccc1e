// Package batchtest builds Kafka RecordBatch v2 bytes for tests: the one
// helper the log, broker, black-box and benchmark tests share instead of
// each hand-writing headers. It encodes through log/records (the Builder,
// Compress and the layout constants), adding only what a test needs beyond
// the production builder: a compressed batch, a chosen base offset and
// leader epoch (the Builder leaves those to the log), and records placed at
// timestamp deltas rather than absolute times.
package batchtest

import (
	"encoding/binary"
	"slices"

	"github.com/moldau/moldau/log/records"
)

// Record is one record of a batch.
type Record struct {
	Key, Value     []byte // nil is null (a null value is a tombstone)
	TimestampDelta int64  // milliseconds after the batch's BaseTimestamp
	Headers        []records.RecordHeader
}

// Batch describes a batch; New gives the values of a batch without a
// producer. Offset deltas are the records' positions, the last offset
// delta is len(Records)-1 and the max timestamp is BaseTimestamp plus the
// largest TimestampDelta.
type Batch struct {
	BaseOffset    int64
	LeaderEpoch   int32
	Attributes    int16 // a records.Codec* in the low bits, records.AttrTransactional, records.AttrControl
	Xerial        bool  // snappy with the Java (xerial) framing
	BaseTimestamp int64
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Records       []Record
}

// New is a batch of recs at ts with no producer (id, epoch and sequence -1).
func New(ts int64, recs ...Record) Batch {
	return Batch{BaseTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Records: recs}
}

// Values are records with null keys and the given values, all at the
// batch's base timestamp.
func Values(values ...[]byte) []Record {
	out := make([]Record, len(values))
	for i, v := range values {
		out[i] = Record{Value: v}
	}
	return out
}

// Repeat is n records of key (nil for null) and value, at timestamp
// deltas 0, 1, 2, ...
func Repeat(n int, key, value []byte) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Key: key, Value: value, TimestampDelta: int64(i)}
	}
	return out
}

// Encode returns the batch's bytes, CRC included. It fails only when
// compression fails.
func (b Batch) Encode() ([]byte, error) {
	bl := records.NewBuilder(nil, records.BatchOptions{
		BaseTimestamp: b.BaseTimestamp,
		ProducerID:    b.ProducerID,
		ProducerEpoch: b.ProducerEpoch,
		BaseSequence:  b.BaseSequence,
		Transactional: b.Attributes&records.AttrTransactional != 0,
		Control:       b.Attributes&records.AttrControl != 0,
	})
	maxDelta := int64(0)
	for _, r := range b.Records {
		bl.Add(b.BaseTimestamp+r.TimestampDelta, r.Key, r.Value, r.Headers...)
		maxDelta = max(maxDelta, r.TimestampDelta)
	}
	out := bl.Build()
	// The Builder's max timestamp is the largest record timestamp; a batch
	// whose records all precede the base keeps the base, as before.
	binary.BigEndian.PutUint64(out[records.OffMaxTimestamp:], uint64(b.BaseTimestamp+maxDelta))
	binary.BigEndian.PutUint64(out[records.OffBaseOffset:], uint64(b.BaseOffset))
	binary.BigEndian.PutUint32(out[records.OffLeaderEpoch:], uint32(b.LeaderEpoch))
	if codec := int(b.Attributes & records.AttrCompressionMask); codec != records.CodecNone {
		compressed, err := records.Compress(codec, slices.Clone(out[:records.HeaderSize]), out[records.HeaderSize:], b.Xerial)
		if err != nil {
			return nil, err
		}
		out = compressed
		binary.BigEndian.PutUint32(out[records.OffBatchLength:], uint32(len(out)-records.LengthOverhead))
	}
	binary.BigEndian.PutUint16(out[records.OffAttributes:], uint16(b.Attributes))
	records.SetCRC(out)
	return out, nil
}

// MustEncode is Encode for batches that cannot fail to encode (no codec,
// or a test that would stop anyway): it panics on a compression error.
func (b Batch) MustEncode() []byte {
	out, err := b.Encode()
	if err != nil {
		panic("batchtest: " + err.Error())
	}
	return out
}
