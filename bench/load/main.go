// Command load is Moldau's load tool: it produces a fixed volume of records
// with franz-go to any Kafka-protocol broker, then consumes them back, and
// prints throughput. It sends traffic only to the broker address given.
//
//	go run ./bench/load -brokers 127.0.0.1:9092 -partitions 16 -size 1024 -mib 512 -acks 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	var (
		brokers    = flag.String("brokers", "127.0.0.1:9092", "seed broker")
		topic      = flag.String("topic", fmt.Sprintf("load-%d", time.Now().UnixNano()), "topic (created if missing)")
		partitions = flag.Int("partitions", 16, "partitions")
		size       = flag.Int("size", 1024, "record value size in bytes")
		mib        = flag.Int("mib", 256, "MiB to produce")
		acks       = flag.String("acks", "1", "0, 1 or all")
		codec      = flag.String("codec", "none", "none, gzip, snappy, lz4, zstd")
		consume    = flag.Bool("consume", true, "consume everything back afterwards")
		linger     = flag.Duration("linger", 0, "producer linger")
	)
	flag.Parse()
	if err := run(*brokers, *topic, *partitions, *size, *mib, *acks, *codec, *consume, *linger); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(brokers, topic string, partitions, size, mib int, acks, codec string, consume bool, linger time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1 << 20), kgo.MaxBufferedRecords(1 << 16)}
	switch acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	default:
		return fmt.Errorf("bad -acks %q", acks)
	}
	codecs := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
	c, ok := codecs[codec]
	if !ok {
		return fmt.Errorf("bad -codec %q", codec)
	}
	opts = append(opts, kgo.ProducerBatchCompression(c))
	if linger > 0 {
		opts = append(opts, kgo.ProducerLinger(linger))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	n := mib << 20 / size
	value := make([]byte, size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var failed atomic.Int64
	start := time.Now()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("produce: %d records x %d B, %d partitions, acks=%s, codec=%s: %.1f MiB/s, %.0f records/s (%v, %d failed)\n",
		n, size, partitions, acks, codec, float64(n*size)/(1<<20)/el.Seconds(), float64(n)/el.Seconds(), el.Round(time.Millisecond), failed.Load())
	if !consume {
		return nil
	}
	cc, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return err
	}
	defer cc.Close()
	start = time.Now()
	got := 0
	for got < n-int(failed.Load()) {
		fs := cc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		got += fs.NumRecords()
	}
	el = time.Since(start)
	fmt.Printf("consume: %d records: %.1f MiB/s, %.0f records/s (%v)\n", got, float64(got*size)/(1<<20)/el.Seconds(), float64(got)/el.Seconds(), el.Round(time.Millisecond))
	return nil
}
