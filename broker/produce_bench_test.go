package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/protocol"
)

// BenchmarkProducePath drives the produce handler directly (no sockets):
// one 10-record batch per request to one partition on the OS file system.
// handle-ns/op is the time the connection's reader goroutine spends in
// Handle; the rest (the reply's Wait) runs on the writer goroutine.
func BenchmarkProducePath(b *testing.B) {
	for _, c := range []struct {
		name    string
		acks    int16
		configs map[string]*string
	}{
		{"acks=1", 1, nil},
		{"acks=all", -1, nil},
		{"acks=1/flush.messages=1", 1, map[string]*string{"flush.messages": kmsg.StringPtr("1")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := config.Default()
			cfg.DataDir = b.TempDir()
			br, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close(context.Background())
			s, err := br.checkTopicSpec("bench", 1, -1, nil, c.configs)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := br.createTopic(s); err != nil {
				b.Fatal(err)
			}
			batch := adminBatch(10)
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks = c.acks
			req.TimeoutMillis = 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = batch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			preq := &protocol.Request{Key: req.Key(), Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}}
			ctx := context.Background()
			var inHandle time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				reply := br.Handle(ctx, preq)
				inHandle += time.Since(t0)
				resp := reply.Resp
				if reply.Wait != nil {
					resp = reply.Wait(ctx)
				}
				pr := resp.(*kmsg.ProduceResponse)
				if code := pr.Topics[0].Partitions[0].ErrorCode; code != 0 {
					b.Fatalf("produce error %d", code)
				}
			}
			b.ReportMetric(float64(inHandle.Nanoseconds())/float64(b.N), "handle-ns/op")
		})
	}
}
