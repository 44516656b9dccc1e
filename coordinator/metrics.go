package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the coordinator's Prometheus metrics, registered on an
// injected Registerer so that several brokers can live in one process.
type Metrics struct {
	groups         *prometheus.GaugeVec
	states         [5]prometheus.Gauge
	members        prometheus.Gauge
	rebalances     prometheus.Counter
	offsetCommits  prometheus.Counter
	registerer     prometheus.Registerer
	lagRegistered  bool
	lagDescription *prometheus.Desc
}

// NewMetrics creates and registers the coordinator's metrics on reg (nil:
// not registered anywhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		groups: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "moldau", Subsystem: "group", Name: "groups", Help: "Classic consumer groups by state.",
		}, []string{"state"}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "moldau", Subsystem: "group", Name: "members", Help: "Members of classic consumer groups.",
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "moldau", Subsystem: "group", Name: "rebalances_total", Help: "Rebalances started.",
		}),
		offsetCommits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "moldau", Subsystem: "group", Name: "offset_commits_total", Help: "Partition offsets committed durably.",
		}),
		registerer: reg,
		lagDescription: prometheus.NewDesc("moldau_group_consumer_lag", "Log end offset minus committed offset, per group and partition.",
			[]string{"group", "topic", "partition"}, nil),
	}
	for s := range m.states {
		m.states[s] = m.groups.WithLabelValues(State(s).String())
	}
	if reg != nil {
		reg.MustRegister(m.groups, m.members, m.rebalances, m.offsetCommits)
	}
	return m
}

func (m *Metrics) groupsCreated()                       { m.states[StateEmpty].Inc() }
func (m *Metrics) groupsRemoved()                       { m.states[StateDead].Dec() }
func (m *Metrics) stateChange(from, to State)           { m.states[from].Dec(); m.states[to].Inc() }
func (m *Metrics) memberDelta(d int)                    { m.members.Add(float64(d)) }
func (m *Metrics) rebalance()                           { m.rebalances.Inc() }
func (m *Metrics) commits(n int)                        { m.offsetCommits.Add(float64(n)) }
func (m *Metrics) lagDesc() *prometheus.Desc            { return m.lagDescription }
func (m *Metrics) lagRegisterer() prometheus.Registerer { return m.registerer }

// EndOffsets tells the lag collector where partitions end.
type EndOffsets func(topic string, partition int32) (int64, bool)

// RegisterLag registers a collector computing consumer lag per group and
// partition on each scrape (committed offsets against end offsets).
func (c *Coordinator) RegisterLag(end EndOffsets) {
	reg := c.metrics.lagRegisterer()
	if reg == nil || c.metrics.lagRegistered {
		return
	}
	c.metrics.lagRegistered = true
	reg.MustRegister(&lagCollector{c: c, end: end})
}

type lagCollector struct {
	c   *Coordinator
	end EndOffsets
}

func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- l.c.metrics.lagDesc() }

func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	desc := l.c.metrics.lagDesc()
	for _, g := range l.c.allGroups() {
		g.mu.Lock()
		type lag struct {
			tp TopicPartition
			v  int64
		}
		var lags []lag
		for tp, e := range g.offsets {
			lags = append(lags, lag{tp, e.offset})
		}
		g.mu.Unlock()
		for _, x := range lags {
			end, ok := l.end(x.tp.Topic, x.tp.Partition)
			if !ok {
				continue
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(max(end-x.v, 0)),
				g.id, x.tp.Topic, itoa(x.tp.Partition))
		}
	}
}

func itoa(v int32) string {
	if v == 0 {
		return "0"
	}
	var b [12]byte
	i := len(b)
	neg := v < 0
	u := int64(v)
	if neg {
		u = -u
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
