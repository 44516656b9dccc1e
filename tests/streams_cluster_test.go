package tests

// Kafka Streams with the Streams rebalance protocol (KIP-1071) on a
// three-node Moldau cluster: CountSum (tests/streams) runs in two instances
// with group.protocol=streams while the node coordinating its group is
// killed with SIGKILL and restarted. The group's state (topology, members,
// epochs, tasks) is in __consumer_offsets, replicated: the node that takes
// the group over loads it, the members carry on with their epochs, and
// kafka-streams-groups still shows all four members. The output must hold
// each customer's exact count and sum (exactly once).

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/internal/testenv"
)

func TestStreamsGroupProtocolCluster(t *testing.T) {
	testenv.SkipIfShort(t, "a long run with real clients on a three-node cluster")
	cp := streamsClasspath(t)
	c := startProcCluster(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out, app := "orders-"+suffix, "customer-totals-"+suffix, "countsum-"+suffix
	c.createReplicatedTopic(in, 4)
	c.createReplicatedTopic(out, 4)

	const n, customers = 20000, 200
	rng := rand.New(rand.NewSource(7))
	want := map[string]countSum{}
	produce := func(from, to int) {
		prod := c.client(kgo.DefaultProduceTopic(in))
		defer prod.Close()
		ctx := ctxT(t)
		for i := from; i < to; i++ {
			cust := fmt.Sprintf("c%03d", rng.Intn(customers))
			amount := int64(1 + rng.Intn(1000))
			cs := want[cust]
			cs.count++
			cs.sum += amount
			want[cust] = cs
			prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("o%05d", i)), Value: []byte(fmt.Sprintf("%s,%d", cust, amount))},
				func(r *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, n/2)
	bootstrap := strings.Join(c.seeds(), ",")
	appA := startCountSum(t, cp, "A", bootstrap, in, out, app, "streams")
	appB := startCountSum(t, cp, "B", bootstrap, in, out, app, "streams")

	got := map[string]countSum{}
	outputs := 0
	total := func() (s int64) {
		for _, cs := range got {
			s += cs.count
		}
		return s
	}
	equal := func() bool {
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
	cons := c.client(kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	read := func(wait time.Duration) int {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cons.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", tp, part, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			cs, err := parseCountSum(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			got[string(r.Key)] = cs
			outputs++
		})
		return len(fs.Records())
	}
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	killed, described := false, false
	lastChange := time.Now()
	for !equal() {
		for _, a := range []*countSumApp{appA, appB} {
			if err, ok := a.exitedEarly(); ok {
				t.Fatalf("instance %s exited (%v) with %d of %d orders counted:\n%s", a.name, err, total(), n, a.out.Tail(8000))
			}
		}
		if read(time.Second) > 0 {
			lastChange = time.Now()
		}
		if !killed && total() >= n/4 {
			killed = true
			co := c.admin().FindGroupCoordinators(ctxT(t), app)[app]
			if co.Err != nil {
				t.Fatalf("find the coordinator of %s: %v", app, co.Err)
			}
			node := c.node(co.NodeID)
			t.Logf("%d orders counted after %v: kill -9 node %d (the group's coordinator) and restart it", total(),
				time.Since(start).Round(time.Millisecond), co.NodeID)
			node.kill9()
			node.start()
			produce(n/2, n)
		}
		if killed && !described && total() >= 3*n/4 {
			// After the failover: the group as the new coordinator loaded
			// it, its four members still there.
			described = describeStreamsGroup(t, c.seeds()[0], app)
		}
		if total() >= n && time.Since(lastChange) > 15*time.Second {
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	for !described && time.Now().Before(deadline.Add(time.Minute)) {
		described = describeStreamsGroup(t, c.seeds()[0], app)
	}
	if !described {
		t.Errorf("kafka-streams-groups --describe never showed the group %s with four members after the failover", app)
	}
	if err := appA.stop(); err != nil {
		t.Errorf("instance A: %v\n%s", err, appA.out.Tail(8000))
	}
	if err := appB.stop(); err != nil {
		t.Errorf("instance B: %v\n%s", err, appB.out.Tail(8000))
	}
	for read(2*time.Second) > 0 {
	}
	t.Logf("%d customers, %d orders counted in the output after %v", len(got), total(), elapsed.Round(time.Millisecond))
	var bad []string
	for k, v := range want {
		if g := got[k]; g != v {
			bad = append(bad, fmt.Sprintf("%s: count %d sum %d, want count %d sum %d", k, g.count, g.sum, v.count, v.sum))
		}
	}
	if outputs != n {
		bad = append(bad, fmt.Sprintf("%d output records under read_committed, want one per order, %d", outputs, n))
	}
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("... %d more", len(bad)-20))
		}
		t.Errorf("output differs from the input's counts and sums:\n%s\ninstance A:\n%s\ninstance B:\n%s",
			strings.Join(bad, "\n"), appA.out.Tail(8000), appB.out.Tail(8000))
	}
}
