package broker

// Client telemetry (KIP-714): the broker's side of GetTelemetrySubscriptions
// (71) and PushTelemetry (72). The rules are broker/telemetry's; this file
// holds the broker's instance of them, remembers what each connection's
// ApiVersions said about the client software (Kafka's ClientInformation,
// used by the client_software_* selectors), and exposes the pushed metrics
// on the broker's Prometheus registry:
//
//	kafka_client_<name>{client_id, client_instance_id, <attributes>}
//
// where <name> is the OTLP metric name without "org.apache.kafka.", dots
// and other characters outside [a-zA-Z0-9_] turned into '_'
// (org.apache.kafka.producer.record.queue.time.avg becomes
// kafka_client_producer_record_queue_time_avg). Gauges and non-monotonic
// sums are gauges, monotonic sums counters (deltas are added up, as the
// broker asks clients for delta temporality), histograms and summaries a
// <name>_count and a <name>_sum counter. The data point attributes (topic,
// partition, node_id, ...) become labels. Bounded: 1000 series per client
// instance, 20000 in all (the instances that pushed least recently are
// dropped first), and an instance's series expire 3 push intervals after
// its last push, or at once on its terminating push.

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/moldau/moldau/broker/telemetry"
	"github.com/moldau/moldau/protocol"
)

// defaultTelemetryMaxBytes is Kafka's telemetry.max.bytes default: the
// largest (compressed) metrics payload a push may carry. The broker
// property telemetry.max.bytes (an INT, at least 1) overrides it.
const defaultTelemetryMaxBytes = 1 << 20

// clientSoftware is what a connection's ApiVersions (v3+) said.
type clientSoftware struct{ name, version string }

// clientTelemetry is the broker's KIP-714 state.
//
// Locking: instances and store lock themselves. mu guards subsVersion
// (the entity-store version the instances' subscriptions were read at);
// softwareMu guards software; editMu serialises client-metrics config
// edits on this broker.
type clientTelemetry struct {
	instances *telemetry.Instances
	store     *telemetry.Store
	maxBytes  int32 // telemetry.max.bytes

	mu          sync.Mutex
	subsVersion uint64
	subsLoaded  bool

	softwareMu sync.Mutex
	software   map[weak.Pointer[protocol.ConnInfo]]clientSoftware

	editMu sync.Mutex

	pushes *prometheus.CounterVec
}

func newClientTelemetry(reg prometheus.Registerer, b *Broker) *clientTelemetry {
	t := &clientTelemetry{
		maxBytes:  defaultTelemetryMaxBytes,
		instances: telemetry.NewInstances(0, 0),
		store:     telemetry.NewStore(0, 0),
		software:  map[weak.Pointer[protocol.ConnInfo]]clientSoftware{},
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Name: "client_telemetry_pushes_total",
			Help: "PushTelemetry requests, by result (ok or the Kafka error name)."}, []string{"result"}),
	}
	if b == nil { // tests that build the metrics alone
		return t
	}
	if v, ok := b.cfg.Properties["telemetry.max.bytes"]; ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil && n >= 1 {
			t.maxBytes = int32(n)
		} else {
			b.logger.Warn("telemetry.max.bytes must be an integer of at least 1; using the default", "value", v, "default", defaultTelemetryMaxBytes)
		}
	}
	if reg != nil {
		reg.MustRegister(t.pushes, &telemetryCollector{t: t}, &clientSeriesCollector{t: t, b: b})
	}
	return t
}

// noteClientSoftware records the client software a connection's
// ApiVersions named (forgotten when the connection is collected).
func (b *Broker) noteClientSoftware(req *protocol.Request, name, version string) {
	if req.Conn == nil || name == "" {
		return
	}
	t := b.topics.metrics.telemetry
	wp := weak.Make(req.Conn)
	t.softwareMu.Lock()
	_, known := t.software[wp]
	t.software[wp] = clientSoftware{name, version}
	t.softwareMu.Unlock()
	if !known {
		runtime.AddCleanup(req.Conn, func(wp weak.Pointer[protocol.ConnInfo]) {
			t.softwareMu.Lock()
			delete(t.software, wp)
			t.softwareMu.Unlock()
		}, wp)
	}
}

// clientInfo describes the client of req for the subscriptions' selectors.
func (b *Broker) clientInfo(req *protocol.Request) telemetry.ClientInfo {
	info := telemetry.ClientInfo{ClientID: req.ClientID}
	if req.Conn == nil {
		return info
	}
	t := b.topics.metrics.telemetry
	t.softwareMu.Lock()
	sw := t.software[weak.Make(req.Conn)]
	t.softwareMu.Unlock()
	info.SoftwareName, info.SoftwareVersion = sw.name, sw.version
	if a := req.Conn.Remote; a != nil {
		host, port := splitHostPort(a.String())
		info.SourceAddress, info.SourcePort = host, port
	}
	return info
}

func splitHostPort(s string) (string, string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			h := s[:i]
			if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
				h = h[1 : len(h)-1]
			}
			return h, s[i+1:]
		}
	}
	return s, ""
}

// telemetryInstances returns the instance cache with its subscriptions
// brought up to date with the entity store.
func (b *Broker) telemetryInstances() *telemetry.Instances {
	t := b.topics.metrics.telemetry
	v := b.entities.Version()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.subsLoaded || v != t.subsVersion {
		t.instances.SetSubscriptions(b.clientMetricsSubscriptions())
		t.subsVersion, t.subsLoaded = v, true
	}
	return t.instances
}

// telemetryCollector exposes the pushed client metrics on scrape.
type telemetryCollector struct{ t *clientTelemetry }

var (
	descTelemetryClients = prometheus.NewDesc("moldau_client_telemetry_clients", "Client instances whose pushed metrics are exposed.", nil, nil)
	descTelemetrySeries  = prometheus.NewDesc("moldau_client_telemetry_series", "Client metric series exposed.", nil, nil)
	descTelemetryEvicted = prometheus.NewDesc("moldau_client_telemetry_clients_evicted_total", "Client instances whose series were dropped to stay under the total series cap.", nil, nil)
	descTelemetryExpired = prometheus.NewDesc("moldau_client_telemetry_clients_expired_total", "Client instances whose series expired (no push for 3 push intervals).", nil, nil)
	descTelemetryDropped = prometheus.NewDesc("moldau_client_telemetry_points_dropped_total", "Pushed data points not exposed: not a finite number, over the per-push limit, over the per-client series cap, a name already exposed with another type, or not subscribed.", nil, nil)
)

func (c *telemetryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTelemetryClients
	ch <- descTelemetrySeries
	ch <- descTelemetryEvicted
	ch <- descTelemetryExpired
	ch <- descTelemetryDropped
}

func (c *telemetryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.t.store.Stats()
	ch <- prometheus.MustNewConstMetric(descTelemetryClients, prometheus.GaugeValue, float64(st.Clients))
	ch <- prometheus.MustNewConstMetric(descTelemetrySeries, prometheus.GaugeValue, float64(st.Series))
	ch <- prometheus.MustNewConstMetric(descTelemetryEvicted, prometheus.CounterValue, float64(st.EvictedClients))
	ch <- prometheus.MustNewConstMetric(descTelemetryExpired, prometheus.CounterValue, float64(st.ExpiredClients))
	ch <- prometheus.MustNewConstMetric(descTelemetryDropped, prometheus.CounterValue, float64(st.DroppedSamples))
}

// clientSeriesCollector exposes the client series: an unchecked collector
// (Describe sends nothing), since the series come and go with the pushes.
type clientSeriesCollector struct {
	t *clientTelemetry
	b *Broker
}

func (c *clientSeriesCollector) Describe(chan<- *prometheus.Desc) {}

func (c *clientSeriesCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.t.store.Snapshot(c.b.nowMs()) {
		names := make([]string, 0, 2+len(s.Labels))
		values := make([]string, 0, 2+len(s.Labels))
		names = append(names, "client_id", "client_instance_id")
		values = append(values, s.ClientID, s.Instance)
		for _, l := range s.Labels {
			names = append(names, l.Name)
			values = append(values, l.Value)
		}
		typ := prometheus.GaugeValue
		if s.Kind == telemetry.KindCounter {
			typ = prometheus.CounterValue
		}
		desc := prometheus.NewDesc(s.Name, "Client metric pushed by clients (KIP-714).", names, nil)
		m, err := prometheus.NewConstMetric(desc, typ, s.Value, values...)
		if err != nil {
			continue
		}
		ch <- m
	}
}
