package bench

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/embed"
)

// BenchmarkClusterProduceAcksAll is W11 in miniature: acks=all produce of
// 1 KiB records to a topic of 6 partitions at replication factor 3 on a
// three-node in-process cluster (embed.StartCluster: Raft traffic over the
// in-process LocalNetwork, which encodes and decodes every message as the
// TCP transport does), from 4 idempotent producers at once. It measures the
// broker's replicated produce path: proposal, persist, replication,
// apply and the acks=all wake-up.
func BenchmarkClusterProduceAcksAll(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := embed.StartCluster(ctx, 3, embed.WithDataDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		b.Fatal(err)
	}
	defer adm.Close()
	topic := fmt.Sprintf("bench-rf3-%d", time.Now().UnixNano())
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 6, 3, nil, topic); err != nil {
		b.Fatal(err)
	}
	const producers = 4
	value := randomValue(1024)
	clients := make([]*kgo.Client, producers)
	for i := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(100))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
		// Warm up: metadata, producer id, leaders elected.
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	var wg sync.WaitGroup
	for i, cl := range clients {
		n := b.N / producers
		if i == 0 {
			n += b.N % producers
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	// CPU time of the process (the three nodes and the clients) per
	// record: steadier than ns/op on a machine shared with other work.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
