package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/tests/harness"
)

// groupBroker is an in-process broker with fast group settings.
func groupBroker(t *testing.T) string {
	t.Helper()
	b := harness.InProcess(t, func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 0
		c.GroupMinSessionTimeoutMs = 500
	})
	return b.Addr()
}

func produceN(t *testing.T, addr, topic string, n int) {
	t.Helper()
	p := newClient(t, addr, kgo.DefaultProduceTopic(topic))
	for i := range n {
		p.Produce(ctxT(t), &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%05d", i))}, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := p.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func groupClient(t *testing.T, addr, group, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond)}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(addr)}, base...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// pollUntil polls cl until n records arrived (or the deadline).
func pollUntil(t *testing.T, cl *kgo.Client, n int, d time.Duration) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records", len(out), n)
		}
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}

func TestGroupsFranzCommitAndResume(t *testing.T) {
	addr := groupBroker(t)
	const topic, group = "g-resume", "g-resume-group"
	createTopic(t, addr, topic, 3, nil)
	produceN(t, addr, topic, 300)

	cl := groupClient(t, addr, group, topic)
	got := pollUntil(t, cl, 300, 30*time.Second)
	if len(got) != 300 {
		t.Fatalf("got %d", len(got))
	}
	if err := cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	produceN(t, addr, topic, 100)
	cl2 := groupClient(t, addr, group, topic)
	defer cl2.Close()
	got = pollUntil(t, cl2, 100, 30*time.Second)
	for _, r := range got {
		if string(r.Value) < "v00000" || len(got) != 100 {
			t.Fatalf("resumed at the wrong place: %d records", len(got))
		}
	}
	adm := kadm.NewClient(newClient(t, addr))
	offs, err := adm.FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 300 {
		t.Fatalf("committed offsets sum to %d, want 300", total)
	}
	described, err := adm.DescribeGroups(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if d := described[group]; d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("describe: state %q, %d members", d.State, len(d.Members))
	}
	var _ sync.Mutex
}
