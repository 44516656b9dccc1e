package console

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The sampler's cadence and memory (API.md: up to the last 150 samples, one
// every 2 s).
const (
	throughputInterval = 2 * time.Second
	throughputPoints   = 150
)

// The broker's per-topic counters the sampler reads (broker/metrics.go).
const (
	metricBytesIn    = "moldau_topic_bytes_in_total"
	metricRecordsIn  = "moldau_topic_records_in_total"
	metricBytesOut   = "moldau_topic_bytes_out_total"
	metricTopicLabel = "topic"
)

// point is one throughput sample: rates over the interval ending at T.
type point struct {
	T               int64   `json:"t"`
	BytesInPerSec   float64 `json:"bytes_in_per_sec"`
	RecordsInPerSec float64 `json:"records_in_per_sec"`
	BytesOutPerSec  float64 `json:"bytes_out_per_sec"`
}

// counters is one topic's three counter values at one gather.
type counters struct {
	bytesIn, recordsIn, bytesOut float64
}

// ring holds a topic's last points, oldest first from start.
type ring struct {
	buf   []point
	start int
}

func (r *ring) add(p point, capacity int) {
	if len(r.buf) < capacity {
		r.buf = append(r.buf, p)
		return
	}
	r.buf[r.start] = p
	r.start = (r.start + 1) % capacity
}

func (r *ring) points() []point {
	out := make([]point, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// throughput samples the broker's per-topic counters every interval into
// a ring of points per topic. One goroutine (run) writes; handlers read.
//
// Locking: mu guards rings and totals. prev and prevAt belong to run.
type throughput struct {
	g        prometheus.Gatherer
	interval time.Duration
	capacity int
	log      *slog.Logger

	mu    sync.Mutex
	rings map[string]*ring

	prev   map[string]counters
	prevAt time.Time

	stop chan struct{}
	done chan struct{}
}

// newThroughput starts sampling g (nil: no sampling, every topic has no
// points).
func newThroughput(g prometheus.Gatherer, interval time.Duration, capacity int, log *slog.Logger) *throughput {
	t := &throughput{g: g, interval: interval, capacity: capacity, log: log,
		rings: map[string]*ring{}, stop: make(chan struct{}), done: make(chan struct{})}
	if g == nil {
		close(t.done)
		return t
	}
	go t.run()
	return t
}

func (t *throughput) run() {
	defer close(t.done)
	t.sample(time.Now()) // the baseline: the first point needs a previous value
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.sample(now)
		}
	}
}

func (t *throughput) close() {
	if t.g != nil {
		close(t.stop)
	}
	<-t.done
}

// sample gathers the counters and, from the second gather on, adds a point
// per topic. A counter that went down (the topic was deleted and created
// again) counts from zero.
func (t *throughput) sample(now time.Time) {
	cur, err := gatherCounters(t.g)
	if err != nil {
		t.log.Warn("console: gathering broker metrics", "err", err)
		return
	}
	prev, prevAt := t.prev, t.prevAt
	t.prev, t.prevAt = cur, now
	if prev == nil {
		return
	}
	secs := now.Sub(prevAt).Seconds()
	if secs <= 0 {
		return
	}
	rate := func(c, p float64) float64 {
		if c < p {
			p = 0
		}
		return (c - p) / secs
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for topic, c := range cur {
		p := prev[topic]
		r := t.rings[topic]
		if r == nil {
			r = &ring{}
			t.rings[topic] = r
		}
		r.add(point{T: now.UnixMilli(), BytesInPerSec: rate(c.bytesIn, p.bytesIn),
			RecordsInPerSec: rate(c.recordsIn, p.recordsIn), BytesOutPerSec: rate(c.bytesOut, p.bytesOut)}, t.capacity)
	}
	for topic := range t.rings {
		if _, ok := cur[topic]; !ok {
			delete(t.rings, topic) // the broker dropped the topic's series
		}
	}
}

// gatherCounters reads the three per-topic counters.
func gatherCounters(g prometheus.Gatherer) (map[string]counters, error) {
	mfs, err := g.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, err
	}
	out := map[string]counters{}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != metricBytesIn && name != metricRecordsIn && name != metricBytesOut {
			continue
		}
		for _, m := range mf.GetMetric() {
			topic := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == metricTopicLabel {
					topic = l.GetValue()
				}
			}
			if topic == "" || m.GetCounter() == nil {
				continue
			}
			c := out[topic]
			v := m.GetCounter().GetValue()
			switch name {
			case metricBytesIn:
				c.bytesIn += v
			case metricRecordsIn:
				c.recordsIn += v
			case metricBytesOut:
				c.bytesOut += v
			}
			out[topic] = c
		}
	}
	return out, nil
}

// points returns topic's samples, oldest first ([] when none).
func (t *throughput) points(topic string) []point {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.rings[topic]; r != nil {
		return r.points()
	}
	return []point{}
}

// latest returns topic's newest sample (zero when none).
func (t *throughput) latest(topic string) point {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rings[topic]
	if r == nil || len(r.buf) == 0 {
		return point{}
	}
	i := r.start - 1
	if i < 0 {
		i = len(r.buf) - 1
	}
	return r.buf[i]
}

// total sums every topic's newest sample.
func (t *throughput) total() point {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sum point
	for _, r := range t.rings {
		if len(r.buf) == 0 {
			continue
		}
		i := r.start - 1
		if i < 0 {
			i = len(r.buf) - 1
		}
		p := r.buf[i]
		sum.BytesInPerSec += p.BytesInPerSec
		sum.RecordsInPerSec += p.RecordsInPerSec
		sum.BytesOutPerSec += p.BytesOutPerSec
	}
	return sum
}
