package tests

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/tests/harness"
)

// brokerSetup collects newBroker's options.
type brokerSetup struct {
	mutate []func(*config.Config)
	opts   []broker.Option
}

// brokerOption adjusts the broker newBroker starts.
type brokerOption func(*brokerSetup)

// newBroker starts an in-process broker (in memory unless an option says
// otherwise), closed at the test's cleanup, and returns its address.
func newBroker(t *testing.T, opts ...brokerOption) string {
	t.Helper()
	var s brokerSetup
	for _, o := range opts {
		o(&s)
	}
	return harness.InProcess(t, func(c *config.Config) {
		for _, m := range s.mutate {
			m(c)
		}
	}, s.opts...).Addr()
}

// fastGroups: a group's first rebalance starts at once and sessions may be
// as short as 500 ms.
func fastGroups(s *brokerSetup) {
	s.mutate = append(s.mutate, func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 0
		c.GroupMinSessionTimeoutMs = 500
	})
}

// onDisk keeps the logs in a temporary directory and checks retention and
// compaction every 100 ms.
func onDisk(t *testing.T) brokerOption {
	dir := t.TempDir()
	return func(s *brokerSetup) {
		s.mutate = append(s.mutate, func(c *config.Config) {
			c.Memory = false
			c.DataDir = dir
			c.LogRetentionCheckIntervalMs = 100
		})
	}
}

// withClock makes the broker read the time from c (broker.WithClock).
func withClock(c *testClock) brokerOption {
	return func(s *brokerSetup) { s.opts = append(s.opts, broker.WithClock(c.Now)) }
}

// withMetrics registers the broker's metrics on reg.
func withMetrics(reg prometheus.Registerer) brokerOption {
	return func(s *brokerSetup) { s.opts = append(s.opts, broker.WithRegisterer(reg)) }
}

// metricValue sums the counters or gauges of family name in reg whose
// labels include labels (name=value pairs); 0 when none was set yet.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}) {
					continue metrics
				}
			}
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

// testClock is a clock a test moves by hand, so that time-based work
// (segment.ms rolls, retention, delete horizons) comes due when the test
// says, not after a sleep.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, what, cond)
}

// listPartitionOffset asks ListOffsets (the newest version both sides speak)
// for spec (a timestamp, -1 latest, -2 earliest, -3 max timestamp) on
// partition 0 of topic under isolation (0 read_uncommitted, 1
// read_committed), and returns the answer's offset and timestamp.
func listPartitionOffset(t *testing.T, cl *kgo.Client, topic string, spec int64, isolation int8) (int64, int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = spec
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("list offsets %s spec %d isolation %d: %v", topic, spec, isolation, err)
	}
	return p.Offset, p.Timestamp
}

// committedSum is the sum of group's committed offsets over its partitions.
func committedSum(t *testing.T, addr, group string) int64 {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, addr)).FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if err := offs.Error(); err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	return sum
}
