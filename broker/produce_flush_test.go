package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
)

// TestFlushMessagesOffReader: with flush.messages=1 every produce is
// fsynced before its answer (acks=1 and acks=0 alike), but the fsync runs in
// the reply's Wait (the connection's writer goroutine), not in Handle (the
// reader goroutine): Handle returns while the fsync is blocked, a second
// pipelined produce is handled meanwhile, and each answer comes only once
// its data is durable.
func TestFlushMessagesOffReader(t *testing.T) {
	release := make(chan struct{})
	var blockSync, blocked atomic.Int32
	fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, ".log") && blockSync.Load() > 0 {
			blocked.Add(1)
			<-release
		}
		return nil
	})
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, WithFS(fs), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	tp := mustCreateTopic(t, b, "f", 1, map[string]*string{"flush.messages": kmsg.StringPtr("1")})
	p := tp.partition(0)
	handle := func(acks int16) protocol.Reply {
		req := produceReq("f", 0, adminBatch(2))
		req.Acks = acks
		req.SetVersion(9)
		return b.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	}
	blockSync.Store(1)
	handled := make(chan [2]protocol.Reply, 1)
	go func() { handled <- [2]protocol.Reply{handle(1), handle(0)} }()
	var replies [2]protocol.Reply
	select {
	case replies = <-handled:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Handle waited for the flush.messages fsync")
	}
	if blocked.Load() != 0 {
		t.Fatalf("Handle started %d fsyncs", blocked.Load())
	}
	if p.endOffset() != 4 || p.log.DurableOffset() != 0 {
		t.Fatalf("after handling: end %d durable %d, want 4, 0", p.endOffset(), p.log.DurableOffset())
	}
	for i, r := range replies {
		if r.Wait == nil {
			t.Fatalf("reply %d has no Wait: the flush would not happen before the answer", i)
		}
	}
	if replies[0].NoResponse || !replies[1].NoResponse {
		t.Fatalf("NoResponse %v %v, want false (acks=1), true (acks=0)", replies[0].NoResponse, replies[1].NoResponse)
	}
	answered := make(chan kmsg.Response, 1)
	go func() { answered <- replies[0].Wait(context.Background()) }()
	for deadline := time.Now().Add(10 * time.Second); blocked.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the reply's Wait did not fsync")
		}
		time.Sleep(time.Millisecond) // polling for the condition
	}
	select {
	case <-answered:
		t.Fatal("answered before the fsync finished")
	default:
	}
	blockSync.Store(0)
	close(release)
	resp := (<-answered).(*kmsg.ProduceResponse)
	wantCode(t, "flushed produce", resp.Topics[0].Partitions[0].ErrorCode, nil)
	if p.log.DurableOffset() != 4 {
		t.Fatalf("durable %d after the answer, want 4", p.log.DurableOffset())
	}
	replies[1].Wait(context.Background())
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
}

// TestFlushMessagesAcks0FailedSyncCloses: an acks=0 produce whose
// flush.messages fsync (in the reply's Wait) fails closes the connection, as
// Kafka closes it after any failed acks=0 produce; one whose fsync succeeds
// leaves it open.
func TestFlushMessagesAcks0FailedSyncCloses(t *testing.T) {
	var failSync atomic.Bool
	fs := vfs.NewErrorFS(vfs.NewMem(), func(op vfs.Op, path string) error {
		if op == vfs.OpSync && strings.HasSuffix(path, ".log") && failSync.Load() {
			return errInjectedSync
		}
		return nil
	})
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, WithFS(fs), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	mustCreateTopic(t, b, "f", 1, map[string]*string{"flush.messages": kmsg.StringPtr("1")})
	produce := func() protocol.Reply {
		req := produceReq("f", 0, adminBatch(1))
		req.Acks = 0
		req.SetVersion(9)
		return b.Handle(context.Background(), &protocol.Request{Key: req.Key(), Version: 9, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	}
	closes := func(r protocol.Reply) bool {
		if r.Wait != nil {
			r.Wait(context.Background())
		}
		return r.Close || (r.CloseAfterWait != nil && r.CloseAfterWait())
	}
	if r := produce(); !r.NoResponse || closes(r) {
		t.Fatalf("a flushed acks=0 produce: NoResponse %v, closes the connection", r.NoResponse)
	}
	failSync.Store(true)
	if r := produce(); !closes(r) {
		t.Fatal("an acks=0 produce whose fsync failed left the connection open")
	}
}

var errInjectedSync = errors.New("injected fsync failure")
