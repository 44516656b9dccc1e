package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
	"github.com/moldau/moldau/txn"
)

// TestTxnV2AddPartitionDurableInReply: a transactions-v2 produce (v12+)
// adds its partition to the transaction without an fsync on the reader
// goroutine (Handle returns with the state record not yet durable); the
// reply's Wait makes it durable before the acknowledgement, so a crash right
// after the acknowledgement recovers a transaction that lists the
// partition.
func TestTxnV2AddPartitionDurableInReply(t *testing.T) {
	fs := vfs.NewMem()
	cfg := config.Default()
	cfg.DataDir = t.TempDir() // bbolt on disk; the logs on fs
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := New(cfg, WithLogger(logger), WithFS(fs))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = b.Close(context.Background())
		}
	}()
	mustCreateTopic(t, b, "d", 1, nil)
	const id = "tv2"
	pe, err := b.txns.InitProducerID(id, time.Minute, txn.ProducerIDAndEpoch{ProducerID: -1, Epoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	state := b.topics.get(txnStateTopic).partition(txn.PartitionFor(id, b.txns.Partitions()))

	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(12)
	req.TransactionID = kmsg.StringPtr(id)
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "d"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = producerBatch(pe.ProducerID, pe.Epoch, 0, 3, true).raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx := context.Background()
	reply := b.Handle(ctx, &protocol.Request{Key: 0, Version: 12, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	if reply.Wait == nil {
		t.Fatal("a transactions-v2 produce that added a partition has no Wait: its state record was synced on the reader goroutine, or never")
	}
	if end, durable := state.log.EndOffset(), state.log.DurableOffset(); durable >= end {
		t.Fatalf("the state record is durable (%d of %d) before the reply's Wait: the fsync ran on the reader goroutine", durable, end)
	}
	resp := reply.Wait(ctx).(*kmsg.ProduceResponse)
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("produce: error code %d", c)
	}
	if end, durable := state.log.EndOffset(), state.log.DurableOffset(); durable < end {
		t.Fatalf("acknowledged with the state record not durable (%d of %d)", durable, end)
	}

	// Crash now: only what was fsynced survives.
	crashed := fs.CrashClone()
	closed = true
	_ = b.Close(context.Background())
	b2, err := New(cfg, WithLogger(logger), WithFS(crashed))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close(context.Background())
	tx, ok := b2.txns.Describe(id)
	if !ok {
		t.Fatal("transaction lost in the crash")
	}
	want := txn.TopicPartition{Topic: "d", Partition: 0}
	found := false
	for _, tp := range tx.Partitions {
		found = found || tp == want
	}
	if tx.State != txn.StateOngoing || !found {
		t.Fatalf("after the crash: state %v, partitions %v; want ongoing with %v", tx.State, tx.Partitions, want)
	}
}
