package broker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// brokerMetrics are the broker's Prometheus metrics, registered on the
// injected Registerer (never a global one). Per-topic counters are resolved
// once per topic (topicMetrics), so the produce and fetch paths only add to
// a counter.
type brokerMetrics struct {
	bytesIn, recordsIn, bytesOut, produceErrors *prometheus.CounterVec
	fetchWaits                                  prometheus.Counter
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
	if reg != nil {
		reg.MustRegister(m.bytesIn, m.recordsIn, m.bytesOut, m.produceErrors, m.fetchWaits, &logCollector{b: b})
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
)

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPartitions
	ch <- descLogBytes
	ch <- descTopics
	ch <- descSegments
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	topics := c.b.topics.all()
	ch <- prometheus.MustNewConstMetric(descTopics, prometheus.GaugeValue, float64(len(topics)))
	for _, t := range topics {
		parts := t.partitionList()
		var size int64
		var segments int
		for _, p := range parts {
			if p != nil {
				size += p.log.Size()
				segments += p.log.Segments()
			}
		}
		ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(parts)), t.name)
		ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.GaugeValue, float64(size), t.name)
		ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(segments), t.name)
	}
}
