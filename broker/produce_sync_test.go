package broker

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/vfs"
)

// TestProduceAcksAllFsyncFailure: when the fsync behind acks=all fails, the
// partition is answered KAFKA_STORAGE_ERROR at every version, including v13
// where topics are named by id.
func TestProduceAcksAllFsyncFailure(t *testing.T) {
	for _, version := range []int16{3, 9, 13} {
		var failSync atomic.Bool
		fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
			if op == vfs.OpSync && failSync.Load() {
				return vfs.ErrInjected
			}
			return nil
		})
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		b, err := New(cfg, WithFS(fs), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		tp := mustCreateTopic(t, b, "durable", 2, nil)
		produce := func() *kmsg.ProduceResponse {
			req := kmsg.NewPtrProduceRequest()
			req.Acks = -1
			req.TimeoutMillis = 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = "durable", tp.id
			for i := range int32(2) {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition, rp.Records = i, adminBatch(2)
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
			return do[*kmsg.ProduceResponse](t, b, version, req)
		}
		for _, p := range produce().Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("v%d: healthy produce got %v", version, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		failSync.Store(true)
		for _, p := range produce().Topics[0].Partitions {
			if p.ErrorCode != kerr.KafkaStorageError.Code {
				t.Fatalf("v%d partition %d: failed fsync answered %v, want KAFKA_STORAGE_ERROR", version, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		failSync.Store(false)
		b.Close(t.Context())
	}
}
