package schemareg

// Prometheus metrics, registered on Config.Registerer (nil: none), so
// that several brokers can run in one process (each registers on its own
// Registerer).

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests       *prometheus.CounterVec   // path template, method, status
	latency        *prometheus.HistogramVec // path template, method
	schemas        prometheus.Gauge         // registered (subject, version) pairs, not deleted
	subjects       prometheus.Gauge         // subjects with a non-deleted version
	schemasByType  *prometheus.GaugeVec     // distinct ids by schema type
	compatChecks   *prometheus.CounterVec   // result: compatible / incompatible
	writeConflicts prometheus.Counter       // writes that lost their offset and retried
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "moldau", "schema_registry"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "HTTP requests by path template, method and status code.",
		}, []string{"path", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "HTTP request latency by path template and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"path", "method"}),
		schemas: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "registered_schemas",
			Help: "Registered subject versions that are not deleted.",
		}),
		subjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "subjects",
			Help: "Subjects with at least one version that is not deleted.",
		}),
		schemasByType: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "schemas_by_type",
			Help: "Distinct schema ids by schema type.",
		}, []string{"type"}),
		compatChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "compatibility_checks_total",
			Help: "Compatibility checks (registrations and /compatibility) by result.",
		}, []string{"result"}),
		writeConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "write_conflicts_total",
			Help: "Writes to the schemas topic that lost their offset to another instance and were retried.",
		}),
	}
	if reg != nil {
		// A registry restarted on the same Registerer reuses the
		// collectors registered by its predecessor.
		var err error
		for _, c := range []any{&m.requests, &m.latency, &m.schemas, &m.subjects, &m.schemasByType, &m.compatChecks, &m.writeConflicts} {
			switch p := c.(type) {
			case **prometheus.CounterVec:
				*p, err = registerOrReuse(reg, *p)
			case **prometheus.HistogramVec:
				*p, err = registerOrReuse(reg, *p)
			case *prometheus.Gauge:
				*p, err = registerOrReuse(reg, *p)
			case **prometheus.GaugeVec:
				*p, err = registerOrReuse(reg, *p)
			case *prometheus.Counter:
				*p, err = registerOrReuse(reg, *p)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// observeState refreshes the gauges from st (caller holds mu).
func (m *metrics) observeState(st *state) {
	schemas, subjects := 0, 0
	for _, versions := range st.subjects {
		live := 0
		for _, e := range versions {
			if !e.value.Deleted {
				live++
			}
		}
		schemas += live
		if live > 0 {
			subjects++
		}
	}
	m.schemas.Set(float64(schemas))
	m.subjects.Set(float64(subjects))
	byType := map[string]int{"AVRO": 0, "PROTOBUF": 0, "JSON": 0}
	for _, e := range st.ids {
		byType[e.schemaType]++
	}
	for t, n := range byType {
		m.schemasByType.WithLabelValues(t).Set(float64(n))
	}
}

func (m *metrics) compatibilityChecked(compatible bool) {
	if compatible {
		m.compatChecks.WithLabelValues("compatible").Inc()
	} else {
		m.compatChecks.WithLabelValues("incompatible").Inc()
	}
}
