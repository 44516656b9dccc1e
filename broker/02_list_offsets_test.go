package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/internal/batchtest"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
)

// ListOffsets by timestamp and by max timestamp (KIP-734) must name the
// record, not its batch, as Kafka does: UnifiedLog.fetchOffsetByTimestamp
// with RecordBatch.offsetOfMaxTimestamp (KAFKA-16310) for -3, and
// FileRecords.searchForTimestamp for a timestamp. The requests go through
// the handlers, kmsg-encoded.

var listOffsetsCodecs = []struct {
	name  string
	codec int
}{
	{"none", records.CodecNone},
	{"gzip", records.CodecGzip},
	{"snappy", records.CodecSnappy},
	{"lz4", records.CodecLZ4},
	{"zstd", records.CodecZstd},
}

// timedRecord is one record of a test batch: its key and its timestamp.
type timedRecord struct {
	key string
	ts  int64
}

// timedBatchOf is a batch of recs (values "value-"+key), compressed with
// codec, whose MaxTimestamp is the largest record timestamp (as a producer
// sets it).
func timedBatchOf(codec int, recs ...timedRecord) batchtest.Batch {
	b := batchtest.New(recs[0].ts)
	b.Attributes = int16(codec)
	for _, tr := range recs {
		b.Records = append(b.Records, batchtest.Record{Key: []byte(tr.key), Value: []byte("value-" + tr.key), TimestampDelta: tr.ts - recs[0].ts})
	}
	return b
}

// timedBatch is timedBatchOf encoded.
func timedBatch(t *testing.T, codec int, recs ...timedRecord) []byte {
	t.Helper()
	raw, err := timedBatchOf(codec, recs...).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// produceBatch produces one batch to partition 0 of topic (acks=all) and
// returns the partition's answer, failing on an error.
func produceBatch(t *testing.T, b *Broker, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ProduceResponse](t, b, 9, req)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		t.Fatalf("produce to %s: error %d %v", topic, sp.ErrorCode, sp.ErrorMessage)
	}
	return sp
}

// listOffset asks ListOffsets v9 for spec on partition 0 of topic and
// returns the answer's offset and timestamp.
func listOffset(t *testing.T, b *Broker, topic string, spec int64, readCommitted bool) (offset, timestamp int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if readCommitted {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = spec
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ListOffsetsResponse](t, b, 9, req)
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		t.Fatalf("list offsets %s spec %d: error %d", topic, spec, sp.ErrorCode)
	}
	return sp.Offset, sp.Timestamp
}

type offsetCase struct {
	name       string
	spec       int64
	offset, ts int64
}

// checkOffsets asks each case read_uncommitted and read_committed (no
// transactions here: both answer the same).
func checkOffsets(t *testing.T, b *Broker, topic string, cases []offsetCase) {
	t.Helper()
	for _, c := range cases {
		for _, rc := range []bool{false, true} {
			off, ts := listOffset(t, b, topic, c.spec, rc)
			if off != c.offset || ts != c.ts {
				t.Errorf("%s: %s (spec %d, read_committed %v) = offset %d ts %d; want offset %d ts %d",
					topic, c.name, c.spec, rc, off, ts, c.offset, c.ts)
			}
		}
	}
}

// TestListOffsetsRecordInsideBatch: three batches whose records are out of
// timestamp order, for every codec. -3 names the first record with the
// largest timestamp (inside the batch, not its last offset; the earlier of
// two batches sharing it; the earlier of two records sharing it); a
// timestamp names the first record at or after it.
func TestListOffsetsRecordInsideBatch(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	for _, c := range listOffsetsCodecs {
		topic := "ts-" + c.name
		mustCreateTopic(t, b, topic, 1, nil)
		// Offsets 0–3, 4–7, 8–9.
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"a", base + 100}, timedRecord{"b", base + 400}, timedRecord{"c", base + 250}, timedRecord{"d", base + 400}))
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"e", base + 300}, timedRecord{"f", base + 420}, timedRecord{"g", base + 500}, timedRecord{"h", base + 500}))
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"i", base + 500}, timedRecord{"j", base + 90}))
		checkOffsets(t, b, topic, []offsetCase{
			{name: "max timestamp", spec: tsMaxTimestamp, offset: 6, ts: base + 500},
			{name: "latest", spec: tsLatest, offset: 10, ts: -1},
			{name: "before everything", spec: base, offset: 0, ts: base + 100},
			{name: "first record's timestamp", spec: base + 100, offset: 0, ts: base + 100},
			{name: "inside the first batch", spec: base + 101, offset: 1, ts: base + 400},
			{name: "inside the second batch", spec: base + 401, offset: 5, ts: base + 420},
			{name: "second batch, not its first record", spec: base + 421, offset: 6, ts: base + 500},
			{name: "beyond the max", spec: base + 501, offset: -1, ts: -1},
		})
	}
}

// TestListOffsetsThreeRecordBatch is the case: timestamps base+100,
// base+400, base+250 in one batch; -3 gives the second record.
func TestListOffsetsThreeRecordBatch(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	for _, c := range listOffsetsCodecs {
		topic := "three-" + c.name
		mustCreateTopic(t, b, topic, 1, nil)
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"a", base + 100}, timedRecord{"b", base + 400}, timedRecord{"c", base + 250}))
		checkOffsets(t, b, topic, []offsetCase{
			{name: "max timestamp", spec: tsMaxTimestamp, offset: 1, ts: base + 400},
			{name: "after the first record", spec: base + 150, offset: 1, ts: base + 400},
		})
	}
}

// TestListOffsetsLogAppendTime: in a LogAppendTime batch every record has
// the append time, so -3 gives the first record of the latest batch (Kafka's
// offsetOfMaxTimestamp walks the records, whose timestamp() is the batch's
// max timestamp), and a timestamp lookup the first record of the batch.
func TestListOffsetsLogAppendTime(t *testing.T) {
	b := newAdminBroker(t)
	// The broker stamps append times from a clock the test moves (set
	// before any request; the broker is not started, so nothing else
	// reads it yet).
	var clockMu sync.Mutex
	clock := time.Now()
	b.now = func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return clock
	}
	base := clock.UnixMilli() - 60_000
	for _, c := range listOffsetsCodecs {
		topic := "append-" + c.name
		mustCreateTopic(t, b, topic, 1, map[string]*string{"message.timestamp.type": kmsg.StringPtr("LogAppendTime")})
		first := produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"a", base + 100}, timedRecord{"b", base + 400}, timedRecord{"c", base + 250}))
		// The second batch gets a later append time.
		clockMu.Lock()
		clock = clock.Add(time.Millisecond)
		clockMu.Unlock()
		second := produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"d", base + 900}, timedRecord{"e", base + 50}, timedRecord{"f", base + 70}))
		if first.LogAppendTime <= 0 || second.LogAppendTime <= first.LogAppendTime {
			t.Fatalf("append times %d, %d: want increasing", first.LogAppendTime, second.LogAppendTime)
		}
		checkOffsets(t, b, topic, []offsetCase{
			{name: "max timestamp", spec: tsMaxTimestamp, offset: 3, ts: second.LogAppendTime},
			{name: "first append time", spec: first.LogAppendTime, offset: 0, ts: first.LogAppendTime},
			{name: "second append time", spec: first.LogAppendTime + 1, offset: 3, ts: second.LogAppendTime},
			{name: "producer's timestamps are gone", spec: base + 900, offset: 0, ts: first.LogAppendTime},
		})
	}
}

// TestListOffsetsAfterCompaction: the cleaner removes the record that had
// the largest timestamp; -3 and timestamp lookups then name records that
// remain, for every codec (the cleaner recompresses what it keeps).
func TestListOffsetsAfterCompaction(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	for _, c := range listOffsetsCodecs {
		topic := "compact-" + c.name
		tp := mustCreateTopic(t, b, topic, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")})
		p := tp.partition(0)
		lc := tp.logConfig()
		lc.SegmentBytes = 1 // every batch in a segment of its own
		p.log.SetConfig(lc)
		// Offsets 0–2 (b is replaced at 3), 3–4, and 5 to keep 3–4 out of
		// the active segment.
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"a", base + 100}, timedRecord{"b", base + 400}, timedRecord{"c", base + 250}))
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"b", base + 300}, timedRecord{"e", base + 50}))
		produceBatch(t, b, topic, timedBatch(t, c.codec, timedRecord{"f", base + 10}))
		checkOffsets(t, b, topic, []offsetCase{
			{name: "max timestamp before cleaning", spec: tsMaxTimestamp, offset: 1, ts: base + 400},
			{name: "timestamp before cleaning", spec: base + 260, offset: 1, ts: base + 400},
		})
		st, err := p.log.CompactTxn(time.Now().UnixMilli(), plog.NewCleaner(1<<20), p.cleanerTxnView())
		if err != nil {
			t.Fatal(err)
		}
		if st.RecordsRemoved != 1 {
			t.Fatalf("%s: cleaner removed %d records, want 1: %+v", topic, st.RecordsRemoved, st)
		}
		checkOffsets(t, b, topic, []offsetCase{
			{name: "max timestamp after cleaning", spec: tsMaxTimestamp, offset: 3, ts: base + 300},
			{name: "timestamp after cleaning, next batch", spec: base + 260, offset: 3, ts: base + 300},
			{name: "timestamp after cleaning, same batch", spec: base + 101, offset: 2, ts: base + 250},
		})
	}
}

// TestListOffsetsMaxTimestampTie: records sharing the largest timestamp in
// one batch give the first of them (KAFKA-16310), across sealed segments
// too: the first segment holding the maximum wins.
func TestListOffsetsMaxTimestampTie(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	tp := mustCreateTopic(t, b, "tie", 1, nil)
	lc := tp.logConfig()
	lc.SegmentBytes = 1
	tp.partition(0).log.SetConfig(lc)
	for i := range 3 {
		produceBatch(t, b, "tie", timedBatch(t, records.CodecNone,
			timedRecord{fmt.Sprint("x", i), base + 5}, timedRecord{fmt.Sprint("y", i), base + 700}, timedRecord{fmt.Sprint("z", i), base + 700}))
	}
	if n := tp.partition(0).log.Segments(); n < 3 {
		t.Fatalf("%d segments, want one per batch", n)
	}
	checkOffsets(t, b, "tie", []offsetCase{
		{name: "max timestamp", spec: tsMaxTimestamp, offset: 1, ts: base + 700},
		{name: "timestamp", spec: base + 6, offset: 1, ts: base + 700},
	})
}

// TestListOffsetsStopsAtLastFetchable: a record found by timestamp or as the
// max timestamp is answered only below the last fetchable offset, the last
// stable offset for read_committed and the high watermark otherwise
// (Kafka's Partition.fetchOffsetForTimestamp and ReplicaManager); beyond
// it the answer is -1, -1.
func TestListOffsetsStopsAtLastFetchable(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	tp := mustCreateTopic(t, b, "fetchable", 1, nil)
	p := tp.partition(0)
	produceBatch(t, b, "fetchable", timedBatch(t, records.CodecNone, timedRecord{"a", base + 100}, timedRecord{"b", base + 200}))
	// Offsets 2–3: an open transaction (appended as Produce would after the
	// coordinator's check), so the last stable offset stays at 2.
	open := timedBatchOf(records.CodecNone, timedRecord{"c", base + 300}, timedRecord{"d", base + 900})
	open.Attributes |= records.AttrTransactional
	open.ProducerID, open.ProducerEpoch, open.BaseSequence = 7, 0, 0
	v, err := validateBatch(open.MustEncode(), tp.settings(), time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.appendBatch(&v, time.Now().UnixMilli(), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if lso := p.lastStableOffset(); lso != 2 {
		t.Fatalf("last stable offset %d, want 2", lso)
	}
	check := func(name string, spec int64, readCommitted bool, offset, ts int64) {
		t.Helper()
		if off, got := listOffset(t, b, "fetchable", spec, readCommitted); off != offset || got != ts {
			t.Errorf("%s (spec %d, read_committed %v) = offset %d ts %d; want offset %d ts %d", name, spec, readCommitted, off, got, offset, ts)
		}
	}
	check("max timestamp", tsMaxTimestamp, false, 3, base+900)
	check("max timestamp in an open transaction", tsMaxTimestamp, true, -1, -1)
	check("timestamp", base+250, false, 2, base+300)
	check("timestamp in an open transaction", base+250, true, -1, -1)
	check("timestamp below the open transaction", base+150, true, 1, base+200)
	p.log.SetHighWatermark(1)
	check("max timestamp above the high watermark", tsMaxTimestamp, false, -1, -1)
	check("timestamp above the high watermark", base+150, false, -1, -1)
	check("timestamp below the high watermark", base+50, false, 0, base+100)
}

// TestListOffsetsBelowLogStart: a batch whose only record at or after the
// timestamp lies below the log start is passed over for the next record
// that qualifies (FileRecords.searchForTimestamp skips records below the
// starting offset); -3 ignores the log start, as Kafka's does.
func TestListOffsetsBelowLogStart(t *testing.T) {
	b := newAdminBroker(t)
	base := time.Now().UnixMilli() - 60_000
	for _, c := range listOffsetsCodecs {
		topic := "start-" + c.name
		tp := mustCreateTopic(t, b, topic, 1, nil)
		produceBatch(t, b, topic, timedBatch(t, c.codec,
			timedRecord{"a", base + 400}, timedRecord{"b", base + 100}, timedRecord{"c", base + 100}))
		produceBatch(t, b, topic, timedBatch(t, c.codec, timedRecord{"d", base + 50}, timedRecord{"e", base + 350}))
		if err := tp.partition(0).log.DeleteRecordsBefore(1); err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, b, topic, []offsetCase{
			{name: "record below the log start passed over", spec: base + 300, offset: 4, ts: base + 350},
			{name: "first record at the log start", spec: base, offset: 1, ts: base + 100},
			{name: "max timestamp", spec: tsMaxTimestamp, offset: 0, ts: base + 400},
		})
	}
}
