// Package bench holds Moldau's Go benchmarks. These drive an in-process
// broker with franz-go over loopback, so `go test -bench . -cpuprofile` shows
// where the broker spends its time on the produce and fetch paths.
package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/tests/harness"
)

func setup(b *testing.B, partitions int32) (string, string) {
	b.Helper()
	dir := b.TempDir()
	br := harness.InProcess(b, func(c *config.Config) { c.Memory = false; c.DataDir = dir })
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	return br.Addr(), topic
}

func produce(b *testing.B, addr, topic string, n int, value []byte, acks kgo.Acks) {
	b.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks), kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerBatchCompression(kgo.NoCompression())}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for range n {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkProduce1KiB16P: one producer, 1 KiB records, 16 partitions.
func BenchmarkProduce1KiB16P(b *testing.B) {
	for _, acks := range []struct {
		name string
		acks kgo.Acks
	}{{"acks=1", kgo.LeaderAck()}, {"acks=all", kgo.AllISRAcks()}} {
		b.Run(acks.name, func(b *testing.B) {
			addr, topic := setup(b, 16)
			value := randomValue(1024)
			b.SetBytes(1024)
			b.ResetTimer()
			produce(b, addr, topic, b.N, value, acks.acks)
		})
	}
}

// BenchmarkConsume1KiB16P: catch-up consume of b.N preloaded 1 KiB records.
func BenchmarkConsume1KiB16P(b *testing.B) {
	addr, topic := setup(b, 16)
	value := randomValue(1024)
	produce(b, addr, topic, b.N, value, kgo.LeaderAck())
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.SetBytes(1024)
	b.ResetTimer()
	ctx := context.Background()
	for got := 0; got < b.N; {
		fs := cl.PollFetches(ctx)
		got += fs.NumRecords()
	}
}

// randomValue returns incompressible bytes, so no codec flatters a result.
func randomValue(n int) []byte {
	v := make([]byte, n)
	_, _ = rand.Read(v)
	return v
}
