// Package batchtest builds Kafka RecordBatch v2 bytes for tests: the one
// encoder the log, broker, black-box and benchmark tests share instead of
// each hand-writing headers. It encodes exactly what it is given (no
// validation), so a test can also build what a producer should not send.
//
// Layout (Kafka's DefaultRecordBatch, big-endian): baseOffset int64,
// batchLength int32 (bytes after this field), partitionLeaderEpoch int32,
// magic int8 (2), crc uint32 (CRC-32C of everything after it), attributes
// int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64,
// producerId int64, producerEpoch int16, baseSequence int32, recordCount
// int32, then the records, compressed as a whole when the attributes name
// a codec. A record: length varint, attributes int8, timestampDelta
// varlong, offsetDelta varint, key and value (varint length, -1 for null,
// then the bytes), header count varint, headers.
package batchtest

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/moldau/moldau/log/records"
)

// Attribute bits.
const (
	AttrCodecMask     = 0x07
	AttrTransactional = 0x10
	AttrControl       = 0x20
)

// HeaderSize is the size of the batch header before the records.
const HeaderSize = 61

// Header is a record header.
type Header struct{ Key, Value []byte }

// Record is one record of a batch.
type Record struct {
	Key, Value     []byte // nil is null (a null value is a tombstone)
	TimestampDelta int64  // milliseconds after the batch's BaseTimestamp
	Headers        []Header
}

// Batch describes a batch; New gives the values of a batch without a
// producer. Offset deltas are the records' positions, the last offset
// delta is len(Records)-1 and the max timestamp is BaseTimestamp plus the
// largest TimestampDelta.
type Batch struct {
	BaseOffset    int64
	LeaderEpoch   int32
	Attributes    int16 // a records.Codec* in the low bits, AttrTransactional, AttrControl
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

// Values are records with null keys and the given values, at timestamp
// deltas 0, 1, 2, ... when spread, all 0 otherwise.
func Values(spread bool, values ...[]byte) []Record {
	out := make([]Record, len(values))
	for i, v := range values {
		out[i] = Record{Value: v}
		if spread {
			out[i].TimestampDelta = int64(i)
		}
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

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}

// appendRecords appends the records' encodings to dst.
func appendRecords(dst []byte, recs []Record) []byte {
	var rec []byte
	for i, r := range recs {
		rec = append(rec[:0], 0) // attributes
		rec = binary.AppendVarint(rec, r.TimestampDelta)
		rec = binary.AppendVarint(rec, int64(i))
		rec = appendBytes(rec, r.Key)
		rec = appendBytes(rec, r.Value)
		rec = binary.AppendVarint(rec, int64(len(r.Headers)))
		for _, h := range r.Headers {
			rec = appendBytes(rec, h.Key)
			rec = appendBytes(rec, h.Value)
		}
		dst = binary.AppendVarint(dst, int64(len(rec)))
		dst = append(dst, rec...)
	}
	return dst
}

// Encode returns the batch's bytes with its length and CRC filled in. It
// fails only when compression fails.
func (b Batch) Encode() ([]byte, error) {
	maxDelta := int64(0)
	for _, r := range b.Records {
		maxDelta = max(maxDelta, r.TimestampDelta)
	}
	out := make([]byte, 0, HeaderSize+64*len(b.Records))
	out = binary.BigEndian.AppendUint64(out, uint64(b.BaseOffset))
	out = binary.BigEndian.AppendUint32(out, 0) // batchLength, below
	out = binary.BigEndian.AppendUint32(out, uint32(b.LeaderEpoch))
	out = append(out, 2)                        // magic
	out = binary.BigEndian.AppendUint32(out, 0) // crc, below
	out = binary.BigEndian.AppendUint16(out, uint16(b.Attributes))
	out = binary.BigEndian.AppendUint32(out, uint32(int32(len(b.Records)-1)))
	out = binary.BigEndian.AppendUint64(out, uint64(b.BaseTimestamp))
	out = binary.BigEndian.AppendUint64(out, uint64(b.BaseTimestamp+maxDelta))
	out = binary.BigEndian.AppendUint64(out, uint64(b.ProducerID))
	out = binary.BigEndian.AppendUint16(out, uint16(b.ProducerEpoch))
	out = binary.BigEndian.AppendUint32(out, uint32(b.BaseSequence))
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Records)))
	var err error
	if codec := int(b.Attributes & AttrCodecMask); codec == records.CodecNone {
		out = appendRecords(out, b.Records)
	} else if out, err = records.Compress(codec, out, appendRecords(nil, b.Records), b.Xerial); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
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
