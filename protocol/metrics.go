package protocol

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the front end's Prometheus metrics. They are registered on an
// injected Registerer so that several brokers can live in one process.
type Metrics struct {
	connections prometheus.Gauge
	accepted    prometheus.Counter
	requests    *prometheus.HistogramVec
	// Bytes of file ranges in responses (fetch records) sent with
	// sendfile(2) and copied through the write buffer.
	fileSent, fileCopied atomic.Int64
}

// NewMetrics creates and registers the front end's metrics on reg (nil: not
// registered anywhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "moldau", Name: "connections_active", Help: "Open client connections.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "moldau", Name: "connections_accepted_total", Help: "Client connections accepted.",
		}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "moldau", Name: "request_duration_seconds",
			Help:    "Time from reading a request to writing its response, by API key and version.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
		}, []string{"api_key", "api_version"}),
	}
	fileBytes := func(path string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "moldau", Name: "response_file_bytes_total",
			Help:        "Record bytes sent from segment files, by path: sendfile (page cache to socket) or copy (through the write buffer).",
			ConstLabels: prometheus.Labels{"path": path},
		}, func() float64 { return float64(v.Load()) })
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.accepted, m.requests, fileBytes("sendfile", &m.fileSent), fileBytes("copy", &m.fileCopied))
	}
	return m
}

var smallInts = func() []string {
	s := make([]string, 128)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func itoa(v int16) string {
	if v >= 0 && int(v) < len(smallInts) {
		return smallInts[v]
	}
	return strconv.Itoa(int(v))
}

func (m *Metrics) connOpened() { m.connections.Inc(); m.accepted.Inc() }
func (m *Metrics) connClosed() { m.connections.Dec() }
func (m *Metrics) observe(key, version int16, d time.Duration) {
	m.requests.WithLabelValues(itoa(key), itoa(version)).Observe(d.Seconds())
}
