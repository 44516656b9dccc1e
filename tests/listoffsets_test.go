package tests

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/tests/harness"
)

// listOffsetAt asks ListOffsets (the newest version both sides speak) for
// spec on partition 0 and returns the offset and timestamp.
func listOffsetAt(t *testing.T, cl *kgo.Client, topic string, spec int64) (int64, int64) {
	t.Helper()
	return listPartitionOffset(t, cl, topic, spec, 0)
}

// batchesAt fetches partition 0 from offset 0 and counts the record
// batches.
func batchesAt(t *testing.T, cl *kgo.Client, topic string) int {
	t.Helper()
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctxT(t), cl)
	if err != nil || len(mresp.Topics) != 1 {
		t.Fatalf("metadata: %v", err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 100, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, mresp.Topics[0].TopicID // the name before v13, the id from it
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("fetch %s: %v", topic, err)
	}
	b := p.RecordBatches
	n := 0
	for len(b) >= 12 {
		size := 12 + int(binary.BigEndian.Uint32(b[8:]))
		if size > len(b) {
			break
		}
		b, n = b[size:], n+1
	}
	return n
}

// TestListOffsetsMaxTimestampFromKgo: franz-go's producer sends three
// records with timestamps base+100, base+400, base+250 in one batch, with
// each codec; ListOffsets -3 (KIP-734) names the second record with its
// timestamp, as Kafka 4.x does, and a timestamp lookup the first record at
// or after it.
func TestListOffsetsMaxTimestampFromKgo(t *testing.T) {
	b := harness.InProcess(t, nil)
	addr := b.Addr()
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()},
	} {
		// The client may split the three records when its metadata for the
		// new topic arrives between them (seen under load): that is the
		// client's batching, not what is tested, so try a fresh topic.
		var topic string
		var cl *kgo.Client
		ctx := ctxT(t)
		for attempt := 0; ; attempt++ {
			topic = fmt.Sprintf("list-offsets-max-%s-%d", c.name, attempt)
			createTopic(t, addr, topic, 1, nil)
			cl = newClient(t, addr, kgo.ProducerBatchCompression(c.codec), kgo.ManualFlushing(), kgo.DefaultProduceTopic(topic))
			results := make(chan error, 3)
			for i, d := range []time.Duration{100, 400, 250} {
				cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint("v", i)), Timestamp: base.Add(d * time.Millisecond)},
					func(_ *kgo.Record, err error) { results <- err })
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := <-results; err != nil {
					t.Fatalf("%s: produce: %v", c.name, err)
				}
			}
			n := batchesAt(t, cl, topic)
			if n == 1 {
				break
			}
			if attempt == 4 {
				t.Fatalf("%s: the records went in %d batches, want 1 (5 tries)", c.name, n)
			}
			t.Logf("%s: the client split the records into %d batches; again on a new topic", c.name, n)
		}
		ms := base.UnixMilli()
		for _, q := range []struct {
			spec, offset, ts int64
		}{
			{-3, 1, ms + 400},
			{ms + 101, 1, ms + 400},
			{ms + 100, 0, ms + 100},
			{ms + 401, -1, -1},
		} {
			if off, ts := listOffsetAt(t, cl, topic, q.spec); off != q.offset || ts != q.ts {
				t.Errorf("%s: spec %d = offset %d ts %d; want offset %d ts %d", c.name, q.spec, off, ts, q.offset, q.ts)
			}
		}
	}
}
