package embed_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/embed"
)

// TestFaultInjection drives the three fault kinds through franz-go: failed
// produces are retried and land exactly once, a dropped connection is
// re-dialled, and a delayed response arrives no sooner than the delay.
func TestFaultInjection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := embed.Start(ctx, embed.WithProperty("num.partitions", "1"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic("faults"), kgo.MetadataMinAge(10*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("first")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Two produce requests fail with a retriable error: the client retries
	// and the record is appended once (the failed requests appended nothing).
	b.InjectFault(embed.Fault{Key: kmsg.Produce.Int16(), Count: 2, ErrorCode: kerr.NotLeaderForPartition.Code})
	r := kgo.StringRecord("second")
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r.Offset != 1 {
		t.Fatalf("record after two failed attempts at offset %d, want 1 (a failed attempt appended)", r.Offset)
	}

	// A non-retriable error reaches the application.
	b.InjectFault(embed.Fault{Key: kmsg.Produce.Int16(), ErrorCode: kerr.InvalidRecord.Code})
	if err := cl.ProduceSync(ctx, kgo.StringRecord("rejected")).FirstErr(); err != kerr.InvalidRecord {
		t.Fatalf("produce under INVALID_RECORD fault: %v", err)
	}

	// A dropped connection: the client re-dials and the request succeeds.
	b.InjectFault(embed.Fault{Key: kmsg.Produce.Int16(), CloseConn: true})
	r = kgo.StringRecord("third")
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A delayed ListOffsets response.
	b.InjectFault(embed.Fault{Key: kmsg.ListOffsets.Int16(), Delay: 300 * time.Millisecond})
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "faults"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("delayed response came after %v", el)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != r.Offset+1 {
		t.Fatalf("delayed ListOffsets served wrongly: %+v (want offset %d)", p, r.Offset+1)
	}

	// Reset disarms what is left.
	b.InjectFault(embed.Fault{Key: embed.AnyAPI, Count: 1000, CloseConn: true})
	if err := b.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	// A fresh client: franz-go refuses a deleted and re-created topic's new
	// id on a client that knew the old one (as against Kafka).
	cl2, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("faults"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if err := cl2.ProduceSync(ctx, kgo.StringRecord("after reset")).FirstErr(); err != nil {
		t.Fatalf("produce after Reset: %v", err)
	}
}
