package txn

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transaction coordinator's Prometheus metrics, registered
// on the registerer given to NewMetrics (none when nil).
type Metrics struct {
	ended   *prometheus.CounterVec
	results map[string]prometheus.Counter
}

// Transaction outcomes counted by moldau_txn_transactions_total.
const (
	resultCommit  = "commit"
	resultAbort   = "abort"
	resultTimeout = "timeout" // aborted by the coordinator after transaction.timeout.ms
	resultFenced  = "fenced"  // aborted by an InitProducerId of the same transactional id
)

// NewMetrics builds the metrics and registers them on reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "moldau", Subsystem: "txn", Name: "transactions_total",
			Help: "Transactions completed, by result (commit, abort, timeout, fenced).",
		}, []string{"result"}),
		results: map[string]prometheus.Counter{},
	}
	for _, r := range []string{resultCommit, resultAbort, resultTimeout, resultFenced} {
		m.results[r] = m.ended.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.ended)
	}
	return m
}

func (m *Metrics) ended1(result string) {
	if m != nil {
		m.results[result].Inc()
	}
}
