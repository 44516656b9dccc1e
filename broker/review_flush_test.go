package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
)

// TestReviewFlushMessagesDuplicateRetry: with flush.messages=1 the fsync of
// a produce runs in its reply's Wait, which a connection that dies never
// calls. The idempotent producer then retries the batch on a new
// connection; the retry is a duplicate, and its answer (success, the first
// attempt's offset) must still come only once the batch is durable, as
// Kafka's (whose append fsyncs before anything is answered) does. Every
// acks level that answers is checked.
func TestReviewFlushMessagesDuplicateRetry(t *testing.T) {
	for _, acks := range []int16{1, -1} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		b, err := New(cfg, WithFS(vfs.NewMem()), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		tp := mustCreateTopic(t, b, "f", 1, map[string]*string{"flush.messages": kmsg.StringPtr("1")})
		p := tp.partition(0)
		raw := producerBatch(4242, 0, 0, 3, false).raw
		handle := func() protocol.Reply {
			req := produceReq("f", 0, append([]byte(nil), raw...))
			req.Acks = acks
			req.SetVersion(9)
			return b.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
		}
		// The first attempt is appended; its connection dies before the
		// writer goroutine calls the reply's Wait.
		_ = handle()
		if p.endOffset() != 3 || p.log.DurableOffset() != 0 {
			t.Fatalf("acks=%d: after the first attempt end %d durable %d, want 3, 0", acks, p.endOffset(), p.log.DurableOffset())
		}
		// The retry.
		r := handle()
		resp := r.Resp
		if r.Wait != nil {
			resp = r.Wait(context.Background())
		}
		sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if sp.ErrorCode != 0 || sp.BaseOffset != 0 {
			t.Fatalf("acks=%d: retry answered error %d base %d, want the duplicate's success at 0", acks, sp.ErrorCode, sp.BaseOffset)
		}
		if d := p.log.DurableOffset(); d < 3 {
			t.Errorf("acks=%d: the retry was acknowledged with the batch not durable (durable offset %d, end 3)", acks, d)
		}
		_ = b.Close(context.Background())
	}
}
