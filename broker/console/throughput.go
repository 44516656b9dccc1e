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

func (r *ring) last() point {
	i := r.start - 1
	if i < 0 {
		i = len(r.buf) - 1
	}
	return r.buf[i]
}

// series is one topic's samples. A topic whose every sample in the window
// is zero keeps no ring (its points are made from the shared sample times
// when asked), so idle topics cost a few words each instead of a ring of
// capacity points: 10,000 idle topics held ~48 MB of zeros before.
type series struct {
	first  uint64 // the sample that gave the topic its first point
	active uint64 // the last sample with a rate above zero (0: none)
	ring   *ring  // nil while every point in the window is zero
}

// throughput samples the broker's per-topic counters every interval into
// a series per topic. One goroutine (run) writes; handlers read.
//
// Locking: mu guards series, times and seq. prev and prevAt belong to run.
type throughput struct {
	g        prometheus.Gatherer
	interval time.Duration
	capacity int
	log      *slog.Logger

	mu     sync.Mutex
	series map[string]*series
	times  []int64 // times[seq%capacity]: the time of sample seq (ms)
	seq    uint64  // samples that made points; 0: none yet

	prev   map[string]counters
	prevAt time.Time

	stop chan struct{}
	done chan struct{}
}

// newThroughput starts sampling g (nil: no sampling, every topic has no
// points).
func newThroughput(g prometheus.Gatherer, interval time.Duration, capacity int, log *slog.Logger) *throughput {
	t := &throughput{g: g, interval: interval, capacity: capacity, log: log,
		series: map[string]*series{}, times: make([]int64, capacity),
		stop: make(chan struct{}), done: make(chan struct{})}
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
	t.seq++
	seq := t.seq
	t.times[seq%uint64(t.capacity)] = now.UnixMilli()
	for topic, c := range cur {
		p := prev[topic]
		pt := point{T: now.UnixMilli(), BytesInPerSec: rate(c.bytesIn, p.bytesIn),
			RecordsInPerSec: rate(c.recordsIn, p.recordsIn), BytesOutPerSec: rate(c.bytesOut, p.bytesOut)}
		s := t.series[topic]
		if s == nil {
			s = &series{first: seq}
			t.series[topic] = s
		}
		moving := pt.BytesInPerSec != 0 || pt.RecordsInPerSec != 0 || pt.BytesOutPerSec != 0
		if moving {
			s.active = seq
			if s.ring == nil {
				// The zeros before it in the window, then the point.
				s.ring = &ring{buf: t.zerosLocked(s, seq-1)}
			}
		}
		if s.ring == nil {
			continue
		}
		s.ring.add(pt, t.capacity)
		if !moving && seq-s.active >= uint64(t.capacity) {
			s.ring = nil // every point in the window is zero again
		}
	}
	for topic := range t.series {
		if _, ok := cur[topic]; !ok {
			delete(t.series, topic) // the broker dropped the topic's series
		}
	}
}

// zerosLocked returns zero points for s at the samples of the window up to
// and including upto, oldest first. t.mu is held.
func (t *throughput) zerosLocked(s *series, upto uint64) []point {
	// times holds the samples (t.seq-capacity, t.seq].
	from := s.first
	if t.seq+1 > uint64(t.capacity) && t.seq+1-uint64(t.capacity) > from {
		from = t.seq + 1 - uint64(t.capacity)
	}
	out := make([]point, 0, t.capacity)
	for i := from; i <= upto; i++ {
		out = append(out, point{T: t.times[i%uint64(t.capacity)]})
	}
	return out
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
	s := t.series[topic]
	switch {
	case s == nil:
		return []point{}
	case s.ring != nil:
		return s.ring.points()
	default:
		return t.zerosLocked(s, t.seq)
	}
}

// latest returns topic's newest sample (zero when none).
func (t *throughput) latest(topic string) point {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.series[topic]
	switch {
	case s == nil:
		return point{}
	case s.ring != nil:
		return s.ring.last()
	default:
		return point{T: t.times[t.seq%uint64(t.capacity)]}
	}
}

// total sums every topic's newest sample (idle topics add zero).
func (t *throughput) total() point {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sum point
	for _, s := range t.series {
		if s.ring == nil {
			continue
		}
		p := s.ring.last()
		sum.BytesInPerSec += p.BytesInPerSec
		sum.RecordsInPerSec += p.RecordsInPerSec
		sum.BytesOutPerSec += p.BytesOutPerSec
	}
	return sum
}
