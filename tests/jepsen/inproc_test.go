package jepsen

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newInProcess(t *testing.T, opts InProcessOptions) *InProcessCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := NewInProcessCluster(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	})
	return c
}

// ackedRecord is a value the cluster acknowledged, and where.
type ackedRecord struct {
	partition int32
	offset    int64
}

// TestInProcessDiskFaults: an idempotent acks=all producer writes unique
// values to three partitions (replication factor 3, min.insync.replicas 2)
// while each disk fault, and a plain crash, hits a node several times,
// each healed (crash, restart on what the disk kept) before the next. Read
// back afterwards, every acknowledged value is there exactly once, at the
// offset its acknowledgement named, and no offset holds two values.
func TestInProcessDiskFaults(t *testing.T) {
	c := newInProcess(t, InProcessOptions{Seed: 1})
	const topic, parts = "disk-queue", 3
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.Dialer(c.Dial),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(64))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(ctx, parts, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}

	var (
		mu      sync.Mutex
		acked   = map[string]ackedRecord{}
		failed  int
		failErr error
	)
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	prodCtx, stopProducing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; prodCtx.Err() == nil; i++ {
			v := "v" + strconv.Itoa(i)
			cl.Produce(prodCtx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++ // indeterminate: may or may not be written
					if failErr == nil {
						failErr = err
					}
					return
				}
				acked[v] = ackedRecord{r.Partition, r.Offset}
			})
		}
	}()
	// waitAcks polls until n more records are acknowledged.
	waitAcks := func(what string, n int, d time.Duration) {
		t.Helper()
		want := ackedCount() + n
		deadline := time.Now().Add(d)
		for ackedCount() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d acknowledged, want %d within %v", what, ackedCount(), want, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAcks("before the faults", 200, 30*time.Second)

	plan := []FaultKind{FaultDiskFsync, FaultDiskTornWrite, FaultPowerLoss, FaultDiskFsync, FaultDiskTornWrite, FaultKillLeader, FaultPowerLoss, FaultDiskFsync, FaultDiskTornWrite}
	for _, kind := range plan {
		f, err := c.Inject(ctx, kind, topic)
		if err != nil {
			t.Fatalf("inject %s: %v", kind, err)
		}
		t.Logf("fault: %s: %s", f.Kind, f.Detail)
		if kind == FaultDiskFsync || kind == FaultDiskTornWrite {
			// A storage error stops the node: the broker stops serving
			// on its own, before Heal crashes it.
			deadline := time.Now().Add(10 * time.Second)
			for st := c.Stats(); st.SelfStops < st.FsyncErrors+st.TornWrites; st = c.Stats() {
				if time.Now().After(deadline) {
					t.Fatalf("node %d still serves 10 s after %s", f.Nodes[0], kind)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if kind != FaultPowerLoss {
			// The two other nodes keep serving while the fault holds.
			waitAcks("during "+string(kind), 100, 30*time.Second)
		}
		start := time.Now()
		if err := c.Heal(ctx); err != nil {
			t.Fatalf("heal after %s: %v", kind, err)
		}
		t.Logf("healed in %v", time.Since(start).Round(time.Millisecond))
		waitAcks("after healing "+string(kind), 100, 30*time.Second)
	}
	stopProducing()
	wg.Wait()
	flushCtx, cancelFlush := context.WithTimeout(ctx, 30*time.Second)
	_ = cl.Flush(flushCtx)
	cancelFlush()

	got := readAll(t, ctx, c, topic, parts)
	mu.Lock()
	defer mu.Unlock()
	var anomalies []string
	seen := map[string]ackedRecord{}
	for p, recs := range got {
		for _, r := range recs {
			v := string(r.Value)
			if prev, dup := seen[v]; dup {
				anomalies = append(anomalies, fmt.Sprintf("duplicate: %s at %d/%d and %d/%d", v, prev.partition, prev.offset, p, r.Offset))
			}
			seen[v] = ackedRecord{int32(p), r.Offset}
		}
	}
	for v, a := range acked {
		s, ok := seen[v]
		switch {
		case !ok:
			anomalies = append(anomalies, fmt.Sprintf("lost write: %s acknowledged at %d/%d, never read", v, a.partition, a.offset))
		case s != a:
			anomalies = append(anomalies, fmt.Sprintf("inconsistent offset: %s acknowledged at %d/%d, read at %d/%d", v, a.partition, a.offset, s.partition, s.offset))
		}
	}
	st := c.Stats()
	t.Logf("faults %d (fsync errors %d, torn writes %d), crashes %d, restarts %d; brokers stopped serving on their own after %d disk faults (slowest %v); brokers logged: node stops %d, log failures %d, torn tails truncated %d; slowest crash-close %v, slowest heal %v",
		len(plan), st.FsyncErrors, st.TornWrites, st.Crashes, st.Restarts, st.SelfStops, st.MaxSelfStop.Round(time.Millisecond),
		st.NodeStops, st.LogFailures, st.TailTruncation, st.MaxCloseTime.Round(time.Millisecond), st.MaxHealTime.Round(time.Millisecond))
	t.Logf("records: %d acknowledged, %d failed (indeterminate; first: %v), %d read; anomalies %d", len(acked), failed, failErr, len(seen), len(anomalies))
	if len(anomalies) > 0 {
		if len(anomalies) > 20 {
			anomalies = append(anomalies[:20], fmt.Sprintf("... and %d more", len(anomalies)-20))
		}
		t.Fatalf("anomalies:\n%s", strings.Join(anomalies, "\n"))
	}
	if st.FsyncErrors == 0 || st.TornWrites == 0 {
		t.Fatalf("a disk fault never fired: %+v", st)
	}
}

// readAll reads every partition of topic from the start to its end offset
// (read_uncommitted: the queue has no transactions), by partition.
func readAll(t *testing.T, ctx context.Context, c *InProcessCluster, topic string, parts int32) [][]*kgo.Record {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.Dialer(c.Dial))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	for p := range parts {
		offsets[p] = kgo.NewOffset().AtStart()
		o, ok := ends.Lookup(topic, p)
		if !ok || o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, p, o.Err)
		}
		want[p] = o.Offset
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.Dialer(c.Dial),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := make([][]*kgo.Record, parts)
	next := map[int32]int64{}
	done := func() bool {
		for p := range parts {
			if next[p] < want[p] {
				return false
			}
		}
		return true
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("read back: %v; at %v, want %v", rctx.Err(), next, want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < next[r.Partition] {
				t.Errorf("non-monotonic poll: %d/%d after %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition] = r.Offset + 1
			out[r.Partition] = append(out[r.Partition], r)
		})
	}
	return out
}
