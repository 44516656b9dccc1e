package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/replication"
)

// A failed fsync stops node 1's replication node; the broker stopped
// serving with it only in Raft: its Kafka listener stayed open and its
// Metadata kept naming it leader of the partitions it led, and the
// brokers as they were, for ever (a zombie; consumers fetching from it saw
// nothing new), and its Close waited 5 s for a leadership transfer that
// could not happen. Now it stops serving as a crashed process would:
// Failed is closed, Err names the storage error, the listener refuses
// connections, Close is quick, and the two other nodes go on acknowledging
// acks=all writes.
func TestStorageErrorStopsServing(t *testing.T) {
	nw := replication.NewLocalNetwork()
	var broken atomic.Bool
	var peers []config.Peer
	for i := int32(1); i <= 3; i++ {
		peers = append(peers, config.Peer{NodeID: i, Addr: fmt.Sprintf("local:%d", i)})
	}
	brokers := make([]*Broker, 3)
	t.Cleanup(func() {
		for _, b := range brokers {
			if b != nil {
				_ = b.Close(context.Background())
			}
		}
	})
	for i := range 3 {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.NodeID = int32(i + 1)
		cfg.Peers = peers
		cfg.Addr = "127.0.0.1:0"
		var fs vfs.FS = vfs.NewMem()
		if i == 0 {
			fs = vfs.NewErrorFS(fs, func(op vfs.Op, path string) error {
				if broken.Load() && op == vfs.OpSync && strings.HasSuffix(path, ".log") {
					return vfs.ErrInjected
				}
				return nil
			})
		}
		b, err := New(cfg, WithLogger(clusterLogger().With("node", i+1)), WithPeerNetwork(nw), WithFS(fs))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		brokers[i] = b
	}
	waitCond(t, "every broker registered", func() bool {
		for _, b := range brokers {
			if len(b.cluster.brokers()) != 3 {
				return false
			}
		}
		return true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers[1].Addr(), brokers[2].Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, nil, "sf"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produceN(t, cl, "sf", 0, 30)
	if err := brokers[0].Err(); err != nil {
		t.Fatalf("Err before any fault: %v", err)
	}

	broken.Store(true)
	// Node 1 replicates every partition: the next write syncs there.
	produceN(t, cl, "sf", 30, 30)
	select {
	case <-brokers[0].Failed():
	case <-time.After(30 * time.Second):
		t.Fatal("node 1's broker still serves 30 s after its fsync failed")
	}
	if err := brokers[0].Err(); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("Err = %v, want the injected fsync error", err)
	}
	if brokers[0].Ready() {
		t.Fatal("a failed broker reports Ready")
	}
	if c, err := net.DialTimeout("tcp", brokers[0].Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the failed broker's listener still accepts connections")
	}
	start := time.Now()
	_ = brokers[0].Close(ctx)
	brokers[0] = nil
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closing the failed broker took %v (a leadership transfer it cannot make?)", d)
	}
	// The two others go on: acks=all writes to every partition.
	produceN(t, cl, "sf", 60, 30)
	got := consumeAll(t, []string{brokers[1].Addr(), brokers[2].Addr()}, "sf", 90)
	if len(got) != 90 {
		t.Fatalf("read %d records, want 90", len(got))
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
