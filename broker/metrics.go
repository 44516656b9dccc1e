package broker

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/protocol"
)

// brokerMetrics are the broker's Prometheus metrics, registered on the
// injected Registerer (never a global one). Per-topic counters are resolved
// once per topic (topicMetrics), so the produce and fetch paths only add to
// a counter.
type brokerMetrics struct {
	bytesIn, recordsIn, bytesOut, produceErrors *prometheus.CounterVec
	fetchWaits                                  prometheus.Counter
	// waiting[key]: requests of that API held in purgatory (a long-poll
	// fetch, an acks=all produce waiting for its fsync, a join waiting for
	// the rebalance, a coordinator write), resolved once per key.
	waiting    [kmsg.MaxKey + 1]prometheus.Gauge
	waitingVec *prometheus.GaugeVec
	// followerLag: cluster mode, the largest gap in Raft entries between
	// a partition this node leads and one of its followers (isrLoop).
	followerLag prometheus.Gauge
	// sasl: SASL authentications by outcome (sasl_auth.go).
	sasl *saslMetrics
	// telemetry: client telemetry (KIP-714) state and the pushed client
	// metrics it exposes (telemetry.go).
	telemetry *clientTelemetry
}

// topicMetrics are one topic's counters.
type topicMetrics struct {
	bytesIn, recordsIn, bytesOut prometheus.Counter
}

func newBrokerMetrics(reg prometheus.Registerer, b *Broker) *brokerMetrics {
	m := &brokerMetrics{
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "topic_bytes_in_total",
			Help: "Record batch bytes appended, by topic."}, []string{"topic"}),
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "topic_records_in_total",
			Help: "Records appended, by topic."}, []string{"topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "topic_bytes_out_total",
			Help: "Record batch bytes returned by Fetch, by topic."}, []string{"topic"}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "produce_errors_total",
			Help: "Produce partitions answered with an error, by Kafka error code."}, []string{"code"}),
		fetchWaits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Name: "fetch_long_polls_total",
			Help: "Fetch requests that waited for data (fetch purgatory)."}),
	}
	m.waitingVec = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "moldau", Name: "requests_waiting",
		Help: "Requests held until they can be answered (Kafka's purgatory): long-poll fetches, acks=all produces waiting for fsync, group and transaction coordinator operations; by API."}, []string{"api"})
	for k := range m.waiting {
		if name := kmsg.NameForKey(int16(k)); name != "Unknown" && name != "" {
			m.waiting[k] = m.waitingVec.WithLabelValues(name)
		}
	}
	m.followerLag = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "moldau", Name: "raft_follower_max_lag_entries",
		Help: "Cluster mode: the largest lag, in Raft entries, of a follower behind a partition this node leads."})
	m.sasl = newSASLMetrics(reg)
	m.telemetry = newClientTelemetry(reg, b)
	if reg != nil {
		reg.MustRegister(m.bytesIn, m.recordsIn, m.bytesOut, m.produceErrors, m.fetchWaits, m.waitingVec, &logCollector{b: b})
		if len(b.cfg.Peers) > 0 {
			reg.MustRegister(m.followerLag)
		}
	}
	return m
}

func (m *brokerMetrics) forTopic(name string) *topicMetrics {
	return &topicMetrics{
		bytesIn:   m.bytesIn.WithLabelValues(name),
		recordsIn: m.recordsIn.WithLabelValues(name),
		bytesOut:  m.bytesOut.WithLabelValues(name),
	}
}

func (m *brokerMetrics) dropTopic(name string) {
	m.bytesIn.DeleteLabelValues(name)
	m.recordsIn.DeleteLabelValues(name)
	m.bytesOut.DeleteLabelValues(name)
}

// logCollector reports partition counts and log sizes on scrape, read from
// the logs themselves rather than kept up to date on every append.
type logCollector struct{ b *Broker }

var (
	descPartitions = prometheus.NewDesc("moldau_partitions", "Partitions hosted, by topic.", []string{"topic"}, nil)
	descLogBytes   = prometheus.NewDesc("moldau_log_size_bytes", "Bytes in the partition logs, by topic.", []string{"topic"}, nil)
	descTopics     = prometheus.NewDesc("moldau_topics", "Topics hosted.", nil, nil)
	descSegments   = prometheus.NewDesc("moldau_log_segments", "Segments in the partition logs, by topic.", []string{"topic"}, nil)
	// Cluster mode (raft.go): partitions this node leads, and of those
	// the ones whose ISR is below the replica count; partitions (of any
	// leader) without a leader, as this node sees them.
	descLeaders         = prometheus.NewDesc("moldau_partition_leaders", "Partitions this node leads.", nil, nil)
	descUnderReplicated = prometheus.NewDesc("moldau_partitions_under_replicated", "Partitions this node leads whose in-sync replicas are fewer than their replicas.", nil, nil)
	descOffline         = prometheus.NewDesc("moldau_partitions_offline", "Partitions without a leader, as this node's view has them.", nil, nil)
)

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPartitions
	ch <- descLogBytes
	ch <- descTopics
	ch <- descSegments
	ch <- descLeaders
	ch <- descUnderReplicated
	ch <- descOffline
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	topics := c.b.topics.all()
	ch <- prometheus.MustNewConstMetric(descTopics, prometheus.GaugeValue, float64(len(topics)))
	var leaders, under, offline int
	for _, t := range topics {
		for _, p := range t.partitionList() {
			l := p.lead.Load()
			switch {
			case l.leader < 0:
				offline++
			case l.local:
				leaders++
				if len(l.isr) < len(l.replicas) {
					under++
				}
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descLeaders, prometheus.GaugeValue, float64(leaders))
	ch <- prometheus.MustNewConstMetric(descUnderReplicated, prometheus.GaugeValue, float64(under))
	ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, float64(offline))
	for _, t := range topics {
		parts := t.partitionList()
		var size int64
		var segments int
		for _, p := range parts {
			if p != nil {
				size += p.size()
				segments += p.segments()
			}
		}
		ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(parts)), t.name)
		ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.GaugeValue, float64(size), t.name)
		ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(segments), t.name)
	}
}

// countWaiting keeps moldau_requests_waiting up while reply's Wait runs.
func (m *brokerMetrics) countWaiting(key int16, reply protocol.Reply) protocol.Reply {
	if reply.Wait == nil || key < 0 || int(key) >= len(m.waiting) || m.waiting[key] == nil {
		return reply
	}
	// Counted while Wait runs (the connection's writer calls it in request
	// order), not from Handle: a connection that closes drops its queued
	// replies without calling their Wait.
	g, wait := m.waiting[key], reply.Wait
	reply.Wait = func(ctx context.Context) kmsg.Response {
		g.Inc()
		defer g.Dec()
		return wait(ctx)
	}
	return reply
}
