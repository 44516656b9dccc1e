package replication

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are a Node's Prometheus metrics, registered on the injected
// Config.Registerer (none if nil), never on a global registry, so two
// nodes can live in one process. The gauges are computed at scrape time.
type nodeMetrics struct {
	leaderChanges  prometheus.Counter
	proposals      *prometheus.CounterVec
	committed      prometheus.Counter // proposals{result="committed"}
	dropped        prometheus.Counter // proposals{result="dropped"}
	failed         prometheus.Counter // proposals{result="failed"}
	commitLatency  prometheus.Histogram
	persistLatency prometheus.Histogram
	framesSent     prometheus.Counter
	messagesSent   prometheus.Counter
	sendFailures   prometheus.Counter
}

func newNodeMetrics(reg prometheus.Registerer, n *Node) *nodeMetrics {
	m := &nodeMetrics{
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "leader_changes_total",
			Help: "Leader changes seen by this node's groups (a new leader known in a group)."}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "proposals_total",
			Help: "Proposals made on this node, by outcome: committed (applied here), dropped (not committed), failed (node stopped, group removed)."}, []string{"result"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "moldau", Subsystem: "raft", Name: "commit_seconds",
			Help: "From proposal to applied on the leader (acks=all latency inside the replication layer).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
		persistLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "moldau", Subsystem: "raft", Name: "persist_seconds",
			Help: "Storage.Save of one Ready (entries, hard state, snapshot; fsync as the policy says).", Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20)}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "frames_sent_total",
			Help: "Batches handed to the transport (one per peer per flush)."}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "messages_sent_total",
			Help: "Raft messages handed to the transport (liveness envelopes included)."}),
		sendFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "send_failures_total",
			Help: "Batches the transport could not send (peer unreachable)."}),
	}
	m.committed = m.proposals.WithLabelValues("committed")
	m.dropped = m.proposals.WithLabelValues("dropped")
	m.failed = m.proposals.WithLabelValues("failed")
	if reg != nil {
		reg.MustRegister(m.leaderChanges, m.proposals, m.commitLatency, m.persistLatency,
			m.framesSent, m.messagesSent, m.sendFailures, groupCollector{n})
	}
	return m
}

// observeProposal counts a finished proposal.
func (m *nodeMetrics) observeProposal(p *Proposal, err error) {
	switch {
	case err == nil:
		m.committed.Inc()
		m.commitLatency.Observe(time.Since(p.start).Seconds())
	case isDropped(err):
		m.dropped.Inc()
	default:
		m.failed.Inc()
	}
}

// groupCollector reports the per-node group gauges at scrape time.
type groupCollector struct{ n *Node }

var (
	groupsDesc   = prometheus.NewDesc("moldau_raft_groups", "Raft groups hosted by this node.", nil, nil)
	leadingDesc  = prometheus.NewDesc("moldau_raft_leader_groups", "Raft groups this node leads.", nil, nil)
	quiescedDesc = prometheus.NewDesc("moldau_raft_quiesced_groups", "Raft groups not ticking because they are idle.", nil, nil)
)

func (c groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- groupsDesc
	ch <- leadingDesc
	ch <- quiescedDesc
}

func (c groupCollector) Collect(ch chan<- prometheus.Metric) {
	c.n.mu.RLock()
	var total, leading, quiesced int
	for _, g := range c.n.groups {
		total++
		if g.leading.Load() {
			leading++
		}
		if g.quiesced.Load() {
			quiesced++
		}
	}
	c.n.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(groupsDesc, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(leadingDesc, prometheus.GaugeValue, float64(leading))
	ch <- prometheus.MustNewConstMetric(quiescedDesc, prometheus.GaugeValue, float64(quiesced))
}
