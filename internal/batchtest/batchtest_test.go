package batchtest

import (
	"bytes"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/log/records"
)

// TestEncodeReadsBack decodes what Encode wrote with franz-go's kmsg (the
// header, the CRC) and log/records (the records, after decompression).
func TestEncodeReadsBack(t *testing.T) {
	recs := []Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{Key: nil, Value: bytes.Repeat([]byte{'x'}, 300), TimestampDelta: 7, Headers: []records.RecordHeader{{Key: "h", Value: []byte("hv")}}},
		{Key: []byte("k2"), Value: nil, TimestampDelta: 3},
	}
	for _, tc := range []struct {
		name   string
		codec  int16
		xerial bool
	}{{"none", records.CodecNone, false}, {"gzip", records.CodecGzip, false}, {"snappy", records.CodecSnappy, false},
		{"snappy-xerial", records.CodecSnappy, true}, {"lz4", records.CodecLZ4, false}, {"zstd", records.CodecZstd, false}} {
		t.Run(tc.name, func(t *testing.T) {
			b := Batch{BaseOffset: 5, LeaderEpoch: 3, Attributes: tc.codec | records.AttrTransactional, Xerial: tc.xerial,
				BaseTimestamp: 1000, ProducerID: 42, ProducerEpoch: 2, BaseSequence: 9, Records: recs}
			raw, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(raw); err != nil {
				t.Fatal(err)
			}
			if int(rb.Length) != len(raw)-12 || uint32(rb.CRC) != crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)) {
				t.Fatalf("length %d of %d bytes, crc %x", rb.Length, len(raw), rb.CRC)
			}
			if rb.FirstOffset != 5 || rb.PartitionLeaderEpoch != 3 || rb.Magic != 2 || rb.Attributes != tc.codec|records.AttrTransactional ||
				rb.LastOffsetDelta != 2 || rb.FirstTimestamp != 1000 || rb.MaxTimestamp != 1007 || rb.ProducerID != 42 ||
				rb.ProducerEpoch != 2 || rb.FirstSequence != 9 || rb.NumRecords != 3 {
				t.Fatalf("header %+v", rb)
			}
			var got []records.Record
			if err := records.ForEach(raw, 1<<20, func(r records.Record) error {
				r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
				got = append(got, r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("read %d records", len(got))
			}
			for i, r := range got {
				w := recs[i]
				if r.OffsetDelta != int32(i) || r.TimestampDelta != w.TimestampDelta || !bytes.Equal(r.Key, w.Key) ||
					(r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) ||
					int(r.Headers) != len(w.Headers) {
					t.Errorf("record %d: %+v, want %+v", i, r, w)
				}
			}
		})
	}
}
