package broker

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
)

// makeBatch builds a valid uncompressed v2 batch of n records with keys.
func makeBatch(n int, ts int64, withKeys bool) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte("value")}
		if withKeys {
			r.Key = []byte("key")
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // a 1-byte varint for these small records
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  ts,
		MaxTimestamp:    ts + int64(n-1),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(n),
		Records:         recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[offBatchLength:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
	return raw
}

func settings(mut func(*config.TopicSettings)) *config.TopicSettings {
	s := config.Default().ResolveTopic(nil)
	if mut != nil {
		mut(&s)
	}
	return &s
}

func TestValidateBatch(t *testing.T) {
	const now = 1_700_000_000_000
	good := func() []byte { return makeBatch(3, now, true) }
	cases := []struct {
		name string
		raw  func() []byte
		s    *config.TopicSettings
		want error
	}{
		{"valid", good, settings(nil), nil},
		{"short", func() []byte { return good()[:40] }, settings(nil), errCorruptMessage},
		{"truncated", func() []byte { b := good(); return b[:len(b)-1] }, settings(nil), errCorruptMessage},
		{"two batches", func() []byte { return append(good(), good()...) }, settings(nil), errInvalidRecord},
		{"bad crc", func() []byte { b := good(); b[len(b)-1] ^= 1; return b }, settings(nil), errCorruptMessage},
		{"magic 1", func() []byte { b := good(); b[offMagic] = 1; return b }, settings(nil), errInvalidRecord},
		{"too large", good, settings(func(s *config.TopicSettings) { s.MaxMessageBytes = 50 }), errMessageTooLarge},
		{"count mismatch", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[offRecordCount:], 4)
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
			return b
		}, settings(nil), errInvalidRecord},
		{"control batch", func() []byte {
			b := good()
			b[offAttributes+1] |= attrControl
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
			return b
		}, settings(nil), errInvalidRecord},
		{"future timestamp", func() []byte { return makeBatch(1, now+2*3600_000, true) }, settings(nil), errInvalidTimestamp},
		{"keyless on compacted", func() []byte { return makeBatch(2, now, false) }, settings(func(s *config.TopicSettings) { s.Compact = true }), errInvalidRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateBatch(tc.raw(), tc.s, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidateBatchLogAppendTime(t *testing.T) {
	const now = 1_700_000_000_000
	raw := makeBatch(2, 5, true)
	v, err := validateBatch(raw, settings(func(s *config.TopicSettings) { s.MessageTimestampType = "LogAppendTime" }), now)
	if err != nil {
		t.Fatal(err)
	}
	if !v.logAppendTime || int64(binary.BigEndian.Uint64(raw[offMaxTimestamp:])) != now {
		t.Fatal("max timestamp not rewritten")
	}
	if crc32.Checksum(raw[offAttributes:], castagnoli) != binary.BigEndian.Uint32(raw[offCRC:]) {
		t.Fatal("CRC not recomputed")
	}
}

// FuzzValidateBatch: any bytes are rejected with an error or accepted, never
// a panic; an accepted batch always has a valid CRC.
func FuzzValidateBatch(f *testing.F) {
	f.Add(makeBatch(1, 1000, true))
	f.Add(makeBatch(5, 1000, false))
	s := settings(func(s *config.TopicSettings) { s.TimestampAfterMaxMs = -1 })
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := validateBatch(raw, s, 1000)
		if err != nil {
			return
		}
		if crc32.Checksum(v.raw[offAttributes:], castagnoli) != binary.BigEndian.Uint32(v.raw[offCRC:]) {
			t.Fatal("accepted a batch with a bad CRC")
		}
	})
}
