package replication

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are a Node's Prometheus metrics, registered on the injected
// Config.Registerer (none if nil), never on a global registry. Every
// series carries the constant label raft_node (Config.ID), so that nodes
// embedded in one process (tests, STYLE habit 13) can share a registry
// without clashing; a node created again with the same id on the same
// registry (a restart) takes over the collectors already registered
// (prometheus.AlreadyRegisteredError), so its counters go on from where
// the previous incarnation left them. The gauges are computed at scrape
// time, from the node that registered them last.
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
	sendDropped    prometheus.Counter
}

// registerOrReuse registers c on reg, or returns the collector of the
// same description registered before (by an earlier node of the same id).
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("replication: register metrics: %w", err)
}

func newNodeMetrics(reg prometheus.Registerer, n *Node) (*nodeMetrics, error) {
	node := prometheus.Labels{"raft_node": strconv.FormatUint(n.id, 10)}
	m := &nodeMetrics{
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "leader_changes_total", ConstLabels: node,
			Help: "Leader changes seen by this node's groups (a new leader known in a group)."}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "proposals_total", ConstLabels: node,
			Help: "Proposals made on this node, by outcome: committed (applied here), dropped (not committed), failed (node stopped, group removed)."}, []string{"result"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "moldau", Subsystem: "raft", Name: "commit_seconds", ConstLabels: node,
			Help: "From proposal to applied on the leader (acks=all latency inside the replication layer).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}),
		persistLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "moldau", Subsystem: "raft", Name: "persist_seconds", ConstLabels: node,
			Help: "Storage.Save of one Ready (entries, hard state, snapshot; fsync as the policy says).", Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20)}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "frames_sent_total", ConstLabels: node,
			Help: "Batches handed to the transport (one per peer per flush)."}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "messages_sent_total", ConstLabels: node,
			Help: "Raft messages handed to the transport (liveness envelopes included)."}),
		sendFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "send_failures_total", ConstLabels: node,
			Help: "Batches the transport could not send (peer unreachable)."}),
		sendDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "moldau", Subsystem: "raft", Name: "send_dropped_total", ConstLabels: node,
			Help: "Messages dropped because their peer's send queue was full (Config.MaxPeerQueueBytes)."}),
	}
	if reg != nil {
		var err error
		reuse := func(c prometheus.Counter) prometheus.Counter {
			if err == nil {
				c, err = registerOrReuse(reg, c)
			}
			return c
		}
		m.leaderChanges = reuse(m.leaderChanges)
		m.framesSent = reuse(m.framesSent)
		m.messagesSent = reuse(m.messagesSent)
		m.sendFailures = reuse(m.sendFailures)
		m.sendDropped = reuse(m.sendDropped)
		if err == nil {
			m.proposals, err = registerOrReuse(reg, m.proposals)
		}
		if err == nil {
			m.commitLatency, err = registerOrReuse(reg, m.commitLatency)
		}
		if err == nil {
			m.persistLatency, err = registerOrReuse(reg, m.persistLatency)
		}
		if err == nil {
			var gc *groupCollector
			if gc, err = registerOrReuse(reg, newGroupCollector(node)); err == nil {
				gc.n.Store(n)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	m.committed = m.proposals.WithLabelValues("committed")
	m.dropped = m.proposals.WithLabelValues("dropped")
	m.failed = m.proposals.WithLabelValues("failed")
	return m, nil
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

// groupCollector reports the per-node group gauges at scrape time, for
// the node that registered it last (all zero once that node stopped).
type groupCollector struct {
	n                                     atomic.Pointer[Node]
	groupsDesc, leadingDesc, quiescedDesc *prometheus.Desc
}

func newGroupCollector(node prometheus.Labels) *groupCollector {
	return &groupCollector{
		groupsDesc:   prometheus.NewDesc("moldau_raft_groups", "Raft groups hosted by this node.", nil, node),
		leadingDesc:  prometheus.NewDesc("moldau_raft_leader_groups", "Raft groups this node leads.", nil, node),
		quiescedDesc: prometheus.NewDesc("moldau_raft_quiesced_groups", "Raft groups not ticking because they are idle.", nil, node),
	}
}

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.groupsDesc
	ch <- c.leadingDesc
	ch <- c.quiescedDesc
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	var total, leading, quiesced int
	if n := c.n.Load(); n != nil && !n.stopping.Load() {
		n.mu.RLock()
		for _, g := range n.groups {
			total++
			if g.leading.Load() {
				leading++
			}
			if g.quiesced.Load() {
				quiesced++
			}
		}
		n.mu.RUnlock()
	}
	ch <- prometheus.MustNewConstMetric(c.groupsDesc, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(c.leadingDesc, prometheus.GaugeValue, float64(leading))
	ch <- prometheus.MustNewConstMetric(c.quiescedDesc, prometheus.GaugeValue, float64(quiesced))
}
