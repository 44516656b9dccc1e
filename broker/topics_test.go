package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker/config"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/protocol"
)

// fsGate blocks, while armed, every operation of one kind on one path until
// released: it stands for a slow disk under an admin operation.
type fsGate struct {
	mu      sync.Mutex
	op      vfs.Op
	path    string
	armed   bool
	blocked chan struct{} // closed when the first operation is held
	release chan struct{}
}

func (g *fsGate) arm(op vfs.Op, path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.op, g.path, g.armed = op, path, true
	g.blocked, g.release = make(chan struct{}), make(chan struct{})
}

func (g *fsGate) inject(op vfs.Op, path string) error {
	g.mu.Lock()
	if !g.armed || op != g.op || path != g.path {
		g.mu.Unlock()
		return nil
	}
	g.armed = false
	blocked, release := g.blocked, g.release
	g.mu.Unlock()
	close(blocked)
	<-release
	return nil
}

// handleNow sends req through Handle and returns the response, waiting for a
// Reply.Wait if there is one.
func handleNow(b *Broker, version int16, req kmsg.Request) kmsg.Response {
	req.SetVersion(version)
	ctx := context.Background()
	reply := b.Handle(ctx, &protocol.Request{Key: req.Key(), Version: version, Body: req, Parsed: true, Conn: &protocol.ConnInfo{}})
	if reply.Wait != nil {
		return reply.Wait(ctx)
	}
	return reply.Resp
}

// TestAdminDoesNotStallDataPath: while an admin operation on topic B is held
// inside its file system I/O (a directory fsync of a create, the removal of
// a partition directory of a delete), Produce, Fetch and Metadata for topic
// A complete. Before the registry was copy-on-write, the admin operation
// held the registry's write lock across that I/O and every lookup of A
// waited for it.
func TestAdminDoesNotStallDataPath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, b *Broker)
		gate  func(b *Broker) (vfs.Op, string)
		admin func(b *Broker) error
	}{
		{
			name: "create",
			gate: func(b *Broker) (vfs.Op, string) { return vfs.OpSyncDir, b.dataDir },
			admin: func(b *Broker) error {
				_, err := b.createTopic(topicSpec{name: "b", partitions: 20, replicationFactor: 1})
				return err
			},
		},
		{
			name:  "create-partitions",
			setup: func(t *testing.T, b *Broker) { mustCreateTopic(t, b, "b", 1, nil) },
			gate:  func(b *Broker) (vfs.Op, string) { return vfs.OpSyncDir, b.dataDir },
			admin: func(b *Broker) error { return b.createPartitions("b", 20, nil, false) },
		},
		{
			name:  "delete",
			setup: func(t *testing.T, b *Broker) { mustCreateTopic(t, b, "b", 4, nil) },
			gate: func(b *Broker) (vfs.Op, string) {
				return vfs.OpRemoveAll, filepath.Join(b.dataDir, partitionDirName("b", 2))
			},
			admin: func(b *Broker) error { return b.deleteTopic(b.topics.get("b")) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := &fsGate{}
			cfg := config.Default()
			cfg.Memory = true
			cfg.DataDir = "/data"
			b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				WithFS(vfs.NewErrorFS(vfs.NewMem(), gate.inject)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close(context.Background()) })
			mustCreateTopic(t, b, "a", 1, nil)
			if tc.setup != nil {
				tc.setup(t, b)
			}

			gate.arm(tc.gate(b))
			adminDone := make(chan error, 1)
			go func() { adminDone <- tc.admin(b) }()
			select {
			case <-gate.blocked:
			case err := <-adminDone:
				t.Fatalf("the admin operation finished (%v) without reaching the gated I/O", err)
			case <-time.After(10 * time.Second):
				t.Fatal("the admin operation never reached the gated I/O")
			}

			// Data path to topic a, with the admin operation held.
			dataDone := make(chan string, 1)
			go func() {
				prod := kmsg.NewPtrProduceRequest()
				prod.Acks, prod.TimeoutMillis = 1, 5000
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = "a"
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = adminBatch(3)
				rt.Partitions = append(rt.Partitions, rp)
				prod.Topics = append(prod.Topics, rt)
				pr := handleNow(b, 9, prod).(*kmsg.ProduceResponse)
				if c := pr.Topics[0].Partitions[0].ErrorCode; c != 0 {
					dataDone <- fmt.Sprintf("produce: error code %d", c)
					return
				}
				fetch := kmsg.NewPtrFetchRequest()
				fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 0, 1, 1<<20
				ft := kmsg.NewFetchRequestTopic()
				ft.Topic = "a"
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.PartitionMaxBytes = 1 << 20
				ft.Partitions = append(ft.Partitions, fp)
				fetch.Topics = append(fetch.Topics, ft)
				fr := handleNow(b, 11, fetch).(*kmsg.FetchResponse)
				if sp := fr.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.HighWatermark != 3 || len(sp.RecordBatches) == 0 {
					dataDone <- "fetch: unexpected answer"
					return
				}
				md := kmsg.NewPtrMetadataRequest()
				mt := kmsg.NewMetadataRequestTopic()
				mt.Topic = kmsg.StringPtr("a")
				md.Topics = append(md.Topics, mt)
				mr := handleNow(b, 12, md).(*kmsg.MetadataResponse)
				if len(mr.Topics) != 1 || mr.Topics[0].ErrorCode != 0 || len(mr.Topics[0].Partitions) != 1 {
					dataDone <- "metadata: unexpected answer"
					return
				}
				dataDone <- ""
			}()
			dataFinished := false
			select {
			case msg := <-dataDone:
				dataFinished = true
				if msg != "" {
					t.Error(msg)
				}
			case <-time.After(10 * time.Second):
				t.Error("produce/fetch/metadata of topic a did not complete while the admin operation on b was held in its I/O")
			}
			close(gate.release)
			select {
			case err := <-adminDone:
				if err != nil {
					t.Fatalf("admin operation: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("admin operation did not finish after its I/O was released")
			}
			if !dataFinished {
				<-dataDone // it finishes once the admin operation does, at worst
			}
		})
	}
}

// TestCloseWaitsForInFlightCreate: a CreateTopics still running when Close
// starts (a shutdown whose connections did not drain in time, or an
// embedded caller) must not publish partitions whose logs Close never
// closes. Close waits for the admin operation (topics.adminMu), as the
// registry's read lock made it wait before the registry was copy-on-write.
func TestCloseWaitsForInFlightCreate(t *testing.T) {
	gate := &fsGate{}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithFS(vfs.NewErrorFS(vfs.NewMem(), gate.inject)))
	if err != nil {
		t.Fatal(err)
	}
	gate.arm(vfs.OpSyncDir, b.dataDir)
	type result struct {
		tp  *topic
		err error
	}
	created := make(chan result, 1)
	go func() {
		s, err := b.checkTopicSpec("late", 3, -1, nil, nil)
		if err != nil {
			created <- result{nil, err}
			return
		}
		tp, err := b.createTopic(s)
		created <- result{tp, err}
	}()
	select {
	case <-gate.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("create never reached its directory fsync")
	}
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	// Release the create once Close has either returned or is waiting
	// for the admin lock.
	deadline := time.Now().Add(10 * time.Second)
	closeDone := false
	for !closeDone && !closeWaitsOnAdmin() {
		select {
		case <-closed:
			closeDone = true
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Close neither returned nor waited for the admin lock")
		}
	}
	close(gate.release)
	r := <-created
	if !closeDone {
		<-closed
	}
	if r.err != nil {
		return // refused after Close: nothing published, nothing leaked
	}
	for _, p := range r.tp.partitionList() {
		if err := p.log.Close(); !errors.Is(err, plog.ErrClosed) {
			t.Errorf("partition %s of a topic created during Close was left open by Close (close now: %v)", p.dirName(), err)
		}
	}
}

func closeWaitsOnAdmin() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "(*Broker).Close") && strings.Contains(g, "sync.(*Mutex).Lock") {
			return true
		}
	}
	return false
}
