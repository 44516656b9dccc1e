package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/records"
)

// makeBatch builds a valid uncompressed v2 batch of n records with
// timestamps ts, ts+1, ...; keys unless withKeys is false.
func makeBatch(n int, ts int64, withKeys bool) []byte {
	return buildTestBatch(n, ts, func(i int) []byte {
		if withKeys {
			return []byte("key")
		}
		return nil
	}, nil)
}

// buildTestBatch builds n records: key(i) as key (nil: none), timestamp
// tsOf(i) (nil: ts+i), value "value".
func buildTestBatch(n int, ts int64, key func(int) []byte, tsOf func(int) int64) []byte {
	b := records.NewBuilder(nil, records.NoProducer(ts))
	for i := range n {
		t := ts + int64(i)
		if tsOf != nil {
			t = tsOf(i)
		}
		b.Add(t, key(i), []byte("value"))
	}
	return b.Build()
}

// compressBatch returns raw (uncompressed) with its records compressed by
// codec.
func compressBatch(t testing.TB, raw []byte, codec int) []byte {
	t.Helper()
	out := slices.Clone(raw[:records.HeaderSize])
	out, err := records.Compress(codec, out, raw[records.HeaderSize:], false)
	if err != nil {
		t.Fatal(err)
	}
	attrs := binary.BigEndian.Uint16(out[records.OffAttributes:])
	binary.BigEndian.PutUint16(out[records.OffAttributes:], attrs&^records.AttrCompressionMask|uint16(codec))
	binary.BigEndian.PutUint32(out[records.OffBatchLength:], uint32(len(out)-records.LengthOverhead))
	records.SetCRC(out)
	return out
}

// resign recomputes a test batch's CRC after an edit.
func resign(b []byte) []byte { records.SetCRC(b); return b }

func settings(mut func(*config.TopicSettings)) *config.TopicSettings {
	s := config.Default().ResolveTopic(nil)
	if mut != nil {
		mut(&s)
	}
	return &s
}

func compacted(s *config.TopicSettings) { s.Compact = true }

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
		{"magic 1", func() []byte { b := good(); b[records.OffMagic] = 1; return b }, settings(nil), errInvalidRecord},
		{"too large", good, settings(func(s *config.TopicSettings) { s.MaxMessageBytes = 50 }), errMessageTooLarge},
		{"count mismatch", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[records.OffRecordCount:], 4)
			return resign(b)
		}, settings(nil), errInvalidRecord},
		{"fewer records than counted", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[records.OffRecordCount:], 4)
			binary.BigEndian.PutUint32(b[records.OffLastOffsetDelta:], 3)
			return resign(b)
		}, settings(nil), errCorruptMessage},
		{"control batch", func() []byte {
			b := good()
			b[records.OffAttributes+1] |= records.AttrControl
			return resign(b)
		}, settings(nil), errInvalidRecord},
		{"future timestamp", func() []byte { return makeBatch(1, now+2*3600_000, true) }, settings(nil), errInvalidTimestamp},
		{"keyless on compacted", func() []byte { return makeBatch(2, now, false) }, settings(compacted), errInvalidRecord},
		{"keyless on compacted, gzip", func() []byte { return compressBatch(t, makeBatch(2, now, false), records.CodecGzip) }, settings(compacted), errInvalidRecord},
		{"keyed on compacted, lz4", func() []byte { return compressBatch(t, good(), records.CodecLZ4) }, settings(compacted), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateBatch(tc.raw(), tc.s, now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// recordIndexes returns the batch indexes a *recordsError lists.
func recordIndexes(t *testing.T, err error) []int32 {
	t.Helper()
	var re *recordsError
	if !errors.As(err, &re) {
		t.Fatalf("err %v (%T), want a *recordsError", err, err)
	}
	var out []int32
	for _, r := range re.records {
		out = append(out, r.index)
	}
	return out
}

// TestValidateBatchRecordErrors: every refused record is listed, not only
// the first (KIP-467), uncompressed and compressed, with Kafka's codes.
func TestValidateBatchRecordErrors(t *testing.T) {
	const now = 1_700_000_000_000
	var keyless []int32
	for i := int32(3); i < 100; i += 10 {
		keyless = append(keyless, i)
	}
	key := func(i int) []byte {
		if slices.Contains(keyless, int32(i)) {
			return nil
		}
		return fmt.Appendf(nil, "k%d", i)
	}
	late := []int32{0, 50, 99}
	tsOf := func(i int) int64 {
		if slices.Contains(late, int32(i)) {
			return now + 2*3600_000
		}
		return now
	}
	for _, codec := range []int{records.CodecNone, records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		t.Run(fmt.Sprintf("codec %d", codec), func(t *testing.T) {
			batch := func(key func(int) []byte, tsOf func(int) int64) []byte {
				raw := buildTestBatch(100, now, key, tsOf)
				if codec != records.CodecNone {
					raw = compressBatch(t, raw, codec)
				}
				return raw
			}
			// 10 of 100 keyless on a compacted topic: INVALID_RECORD, those 10.
			_, err := validateBatch(batch(key, nil), settings(compacted), now)
			if !errors.Is(err, errInvalidRecord) || errors.Is(err, errInvalidTimestamp) {
				t.Fatalf("keyless: err %v", err)
			}
			if got := recordIndexes(t, err); !slices.Equal(got, keyless) {
				t.Fatalf("keyless: indexes %v, want %v", got, keyless)
			}
			// The same batch on a delete topic is fine.
			if _, err := validateBatch(batch(key, nil), settings(nil), now); err != nil {
				t.Fatalf("keyless on a delete topic: %v", err)
			}
			// Three records an hour too late: INVALID_TIMESTAMP, those three.
			_, err = validateBatch(batch(func(i int) []byte { return []byte("k") }, tsOf), settings(nil), now)
			if !errors.Is(err, errInvalidTimestamp) {
				t.Fatalf("timestamps: err %v", err)
			}
			if got := recordIndexes(t, err); !slices.Equal(got, late) {
				t.Fatalf("timestamps: indexes %v, want %v", got, late)
			}
			// Both: INVALID_TIMESTAMP (as Kafka: any timestamp error wins),
			// every refused record listed once, in order.
			_, err = validateBatch(batch(key, tsOf), settings(compacted), now)
			if !errors.Is(err, errInvalidTimestamp) {
				t.Fatalf("both: err %v", err)
			}
			want := slices.Sorted(slices.Values(append(slices.Clone(keyless), late...)))
			if got := recordIndexes(t, err); !slices.Equal(got, want) {
				t.Fatalf("both: indexes %v, want %v", got, want)
			}
			// message.timestamp.before.max.ms: an old record in the middle.
			old := func(i int) int64 {
				if i == 42 {
					return now - 10_000
				}
				return now
			}
			_, err = validateBatch(batch(func(int) []byte { return []byte("k") }, old),
				settings(func(s *config.TopicSettings) { s.TimestampBeforeMaxMs = 1000 }), now)
			if got := recordIndexes(t, err); !slices.Equal(got, []int32{42}) {
				t.Fatalf("before.max.ms: indexes %v", got)
			}
		})
	}
}

func TestValidateBatchOffsetDeltas(t *testing.T) {
	const now = 1_700_000_000_000
	// Records whose offset deltas are 0, 1, 1, 3: the third is refused.
	var recs []byte
	for i, d := range []int32{0, 1, 1, 3} {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: d, Key: []byte("k"), Value: []byte("v")}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: 3, FirstTimestamp: now, MaxTimestamp: now + 3,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 4, Records: recs}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[records.OffBatchLength:], uint32(len(raw)-records.LengthOverhead))
	_, err := validateBatch(resign(raw), settings(nil), now)
	if !errors.Is(err, errInvalidRecord) {
		t.Fatalf("err %v", err)
	}
	if got := recordIndexes(t, err); !slices.Equal(got, []int32{2}) {
		t.Fatalf("indexes %v, want [2]", got)
	}
}

func TestValidateBatchLogAppendTime(t *testing.T) {
	const now = 1_700_000_000_000
	raw := makeBatch(2, 5, true)
	v, err := validateBatch(raw, settings(func(s *config.TopicSettings) { s.MessageTimestampType = "LogAppendTime" }), now)
	if err != nil {
		t.Fatal(err)
	}
	if !v.logAppendTime || int64(binary.BigEndian.Uint64(raw[records.OffMaxTimestamp:])) != now {
		t.Fatal("max timestamp not rewritten")
	}
	if !records.ValidCRC(raw) {
		t.Fatal("CRC not recomputed")
	}
}

// TestValidateBatchLeavesLeaderEpoch: the leader epoch is the log append's
// to stamp, not validation's.
func TestValidateBatchLeavesLeaderEpoch(t *testing.T) {
	raw := makeBatch(3, 1000, true)
	binary.BigEndian.PutUint32(raw[records.OffLeaderEpoch:], 77)
	if _, err := validateBatch(raw, settings(nil), 1000); err != nil {
		t.Fatal(err)
	}
	if e := binary.BigEndian.Uint32(raw[records.OffLeaderEpoch:]); e != 77 {
		t.Fatalf("validation wrote leader epoch %d", e)
	}
}

// TestValidateBatchAllocs: validating an uncompressed batch allocates
// nothing per record (nothing at all on success).
func TestValidateBatchAllocs(t *testing.T) {
	raw := makeBatch(100, 1000, true)
	s := settings(compacted)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := validateBatch(raw, s, 1000); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("validateBatch of 100 records: %.1f allocations, want 0", allocs)
	}
}

func BenchmarkValidateBatch(b *testing.B) {
	raw := makeBatch(100, 1000, true)
	s := settings(compacted)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := validateBatch(raw, s, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProduceRecordErrors sends produce requests by hand and checks the
// partition's answer as Kafka gives it: INVALID_RECORD with exactly the
// keyless records' batch indexes and Kafka's messages (v8+); before v8 the
// error code alone.
func TestProduceRecordErrors(t *testing.T) {
	b := newAdminBroker(t)
	cfgs := map[string]*string{"cleanup.policy": new("compact")}
	mustCreateTopic(t, b, "compacted", 1, cfgs)
	mustCreateTopic(t, b, "timed", 1, nil)
	now := b.now().UnixMilli()
	var keyless []int32
	for i := int32(5); i < 100; i += 10 {
		keyless = append(keyless, i)
	}
	key := func(i int) []byte {
		if slices.Contains(keyless, int32(i)) {
			return nil
		}
		return fmt.Appendf(nil, "k%d", i)
	}
	produce := func(version int16, topic string, raw []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = raw
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := do[*kmsg.ProduceResponse](t, b, version, req)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("response shape %+v", resp)
		}
		return resp.Topics[0].Partitions[0]
	}
	wantKey := "Compacted topic cannot accept message without key in topic partition compacted-0"
	for _, codec := range []int{records.CodecNone, records.CodecZstd} {
		raw := buildTestBatch(100, now, key, nil)
		if codec != records.CodecNone {
			raw = compressBatch(t, raw, codec)
		}
		for _, version := range []int16{7, 8, 9, 11} {
			sp := produce(version, "compacted", slices.Clone(raw))
			if sp.ErrorCode != kerr.InvalidRecord.Code || sp.BaseOffset != -1 {
				t.Fatalf("codec %d v%d: error %d base %d, want INVALID_RECORD", codec, version, sp.ErrorCode, sp.BaseOffset)
			}
			if version < 8 {
				continue
			}
			var got []int32
			for _, r := range sp.ErrorRecords {
				got = append(got, r.RelativeOffset)
				if r.ErrorMessage == nil || *r.ErrorMessage != wantKey {
					t.Fatalf("codec %d v%d: record %d message %v", codec, version, r.RelativeOffset, r.ErrorMessage)
				}
			}
			if !slices.Equal(got, keyless) {
				t.Fatalf("codec %d v%d: record errors at %v, want %v", codec, version, got, keyless)
			}
			wantMsg := "One or more records have been rejected due to 10 record errors in total, and only showing the first three errors at most: [" +
				"RecordError(batchIndex=5, message='" + wantKey + "'), RecordError(batchIndex=15, message='" + wantKey + "'), " +
				"RecordError(batchIndex=25, message='" + wantKey + "')]"
			if sp.ErrorMessage == nil || *sp.ErrorMessage != wantMsg {
				t.Fatalf("codec %d v%d: error message %v,\nwant %s", codec, version, sp.ErrorMessage, wantMsg)
			}
		}
	}
	// Nothing was appended; a keyed batch lands at 0.
	if sp := produce(9, "compacted", buildTestBatch(3, now, func(i int) []byte { return []byte("k") }, nil)); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("keyed batch: error %d base %d", sp.ErrorCode, sp.BaseOffset)
	}

	// Timestamps: INVALID_TIMESTAMP, the late records listed.
	late := now + 2*3600_000
	sp := produce(9, "timed", buildTestBatch(4, now, func(int) []byte { return []byte("k") }, func(i int) int64 {
		if i%2 == 1 {
			return late
		}
		return now
	}))
	if sp.ErrorCode != kerr.InvalidTimestamp.Code || len(sp.ErrorRecords) != 2 ||
		sp.ErrorRecords[0].RelativeOffset != 1 || sp.ErrorRecords[1].RelativeOffset != 3 {
		t.Fatalf("timestamps: %+v", sp)
	}
	if m := sp.ErrorRecords[1].ErrorMessage; m == nil || !strings.HasPrefix(*m, fmt.Sprintf("Timestamp %d of message with offset 3 is out of range. The timestamp should be within [", late)) {
		t.Fatalf("timestamp record message %v", m)
	}
	if m := sp.ErrorMessage; m == nil || *m != "One or more records have been rejected due to invalid timestamp" {
		t.Fatalf("timestamp message %v", m)
	}
}

// FuzzValidateBatch: any bytes are rejected with an error or accepted, never
// a panic; an accepted batch always has a valid CRC; a refused record's
// index is within the batch.
func FuzzValidateBatch(f *testing.F) {
	f.Add(makeBatch(1, 1000, true))
	f.Add(makeBatch(5, 1000, false))
	f.Add(compressBatch(f, makeBatch(5, 1000, false), records.CodecSnappy))
	s := settings(func(s *config.TopicSettings) { s.TimestampAfterMaxMs = 10; s.Compact = true })
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := validateBatch(raw, s, 1000)
		var re *recordsError
		if errors.As(err, &re) {
			for _, r := range re.records {
				if r.index < 0 || r.index >= int32(binary.BigEndian.Uint32(raw[records.OffRecordCount:])) {
					t.Fatalf("refused record index %d", r.index)
				}
			}
		}
		if err != nil {
			return
		}
		if !records.ValidCRC(v.raw) {
			t.Fatal("accepted a batch with a bad CRC")
		}
	})
}
