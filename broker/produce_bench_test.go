package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
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

// BenchmarkProducePipelined: one connection to a served broker keeps
// `depth` Produce requests (v8, acks=1, one 10-record batch) in flight to a
// partition with flush.messages=1. When the connection's reader goroutine
// does not wait for the fsync, it appends the next requests while the
// writer waits for the first one's, and those share the next fsync.
func BenchmarkProducePipelined(b *testing.B) {
	const depth = 8
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Addr = "127.0.0.1:0"
	br, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close(context.Background())
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	s, err := br.checkTopicSpec("pipe", 1, -1, nil, map[string]*string{"flush.messages": kmsg.StringPtr("1")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := br.createTopic(s); err != nil {
		b.Fatal(err)
	}
	conn, err := net.Dial("tcp", br.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(8)
	req.Acks = 1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "pipe"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = adminBatch(10)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	frame := func(corr int32) []byte {
		// Request header v1: key, version, correlation id, client id.
		var f []byte
		f = binary.BigEndian.AppendUint32(f, 0)
		f = binary.BigEndian.AppendUint16(f, uint16(req.Key()))
		f = binary.BigEndian.AppendUint16(f, 8)
		f = binary.BigEndian.AppendUint32(f, uint32(corr))
		f = binary.BigEndian.AppendUint16(f, 1)
		f = append(f, 'b')
		f = req.AppendTo(f)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		return f
	}
	r := bufio.NewReader(conn)
	readResp := func() {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			b.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			b.Fatal(err)
		}
		resp := kmsg.NewPtrProduceResponse()
		resp.SetVersion(8)
		if err := resp.ReadFrom(body[4:]); err != nil {
			b.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			b.Fatalf("produce error %d", code)
		}
	}
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		for sent < b.N && sent-got < depth {
			if _, err := conn.Write(frame(int32(sent))); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		readResp()
		got++
	}
}
