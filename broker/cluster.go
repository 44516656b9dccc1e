package broker

// The cluster view: which brokers exist (id and advertised endpoint), which
// one is the controller, and, per partition, its leader, leader epoch,
// replicas, in-sync replicas and offline replicas. It is the one place the
// handlers read those from (Metadata, DescribeTopicPartitions,
// DescribeCluster, FindCoordinator, ListOffsets, OffsetForLeaderEpoch,
// Produce, Fetch), and the one place leadership changes go through.
//
// One node today: the view holds this broker alone, as its own controller,
// and every partition has leader = this node, epoch 0, replicas = ISR =
// [this node]. Replication (issue #14) changes leadership through
// setLeadership as its Raft groups elect leaders, and the broker list
// through setBrokers as the metadata log commits them; readers need no
// change.
//
// Concurrency: everything is read lock-free. The broker list is an
// immutable snapshot behind an atomic pointer; each partition's leadership
// is an immutable *leadership behind an atomic pointer in the partition
// (partition.lead). Writers replace whole snapshots; a reader that loads a
// snapshot once sees one consistent state (leader and epoch together).
// Writers are serialised by mu (setBrokers, setLeadership), which guards
// nothing a reader needs. Lock order: mu, then partition.appendMu
// (setLeadership takes both).

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/moldau/moldau/protocol"
)

// Leadership errors, mapped to Kafka codes by errorCode.
var (
	// errNotLeader: this node does not lead the partition
	// (NOT_LEADER_OR_FOLLOWER).
	errNotLeader = errors.New("broker: not the leader of the partition")
	// errFencedLeaderEpoch: the request's current leader epoch is older
	// than the partition's (FENCED_LEADER_EPOCH).
	errFencedLeaderEpoch = errors.New("broker: fenced leader epoch")
	// errUnknownLeaderEpoch: the request's current leader epoch is newer
	// than the partition's (UNKNOWN_LEADER_EPOCH).
	errUnknownLeaderEpoch = errors.New("broker: unknown leader epoch")
)

// brokerNode is one broker's advertised endpoints.
type brokerNode struct {
	id int32
	// host and port: the endpoint of its first PLAINTEXT listener, else
	// of its first listener (inter-broker requests, and answers to a
	// request that came without a listener).
	host string
	port int32
	rack *string
	// endpoints: one per client listener, in listeners order (nil: only
	// host and port are known, an old registration).
	endpoints []endpoint
}

// endpoint is one advertised listener of a broker.
type endpoint struct {
	listener string // listener name: PLAINTEXT, SSL, INTERNAL, ...
	security string // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	host     string
	port     int32
}

// endpointFor is n's endpoint on listener, as Kafka answers a request that
// came in on that listener; ok is false when n has listeners and none of
// that name (Kafka then leaves n out). listener "" is the default
// endpoint.
func (n brokerNode) endpointFor(listener string) (host string, port int32, ok bool) {
	if listener == "" || len(n.endpoints) == 0 {
		return n.host, n.port, true
	}
	for _, e := range n.endpoints {
		if e.listener == listener {
			return e.host, e.port, true
		}
	}
	return "", 0, false
}

// listenerOf is the listener req came in on; "" without connection
// information (the default endpoint).
func listenerOf(req *protocol.Request) string {
	if req == nil || req.Conn == nil {
		return ""
	}
	return req.Conn.Listener
}

// defaultEndpoint picks host and port from endpoints: the first PLAINTEXT
// listener, else the first.
func defaultEndpoint(eps []endpoint) (string, int32) {
	for _, e := range eps {
		if e.security == "PLAINTEXT" {
			return e.host, e.port
		}
	}
	if len(eps) == 0 {
		return "", 0
	}
	return eps[0].host, eps[0].port
}

// clusterNodes is an immutable snapshot of the brokers.
type clusterNodes struct {
	brokers    []brokerNode // sorted by id
	controller int32
}

// leadership is one partition's leader and replica sets. It is immutable
// once published (partition.lead): replace it, never change it.
type leadership struct {
	leader   int32 // node id of the leader; -1: none (offline)
	epoch    int32 // the leader epoch
	replicas []int32
	isr      []int32
	offline  []int32
	local    bool // this node leads (leader == the view's self)
}

// clusterView is the broker's view of the cluster (see the file comment).
type clusterView struct {
	self  int32
	solo  *leadership // shared by every partition that starts on this node
	nodes atomic.Pointer[clusterNodes]
	mu    sync.Mutex // serialises writers
}

func newClusterView(self int32) *clusterView {
	c := &clusterView{self: self, solo: soloLeadership(self)}
	c.nodes.Store(&clusterNodes{brokers: []brokerNode{{id: self}}, controller: self})
	return c
}

// soloLeadership is the leadership of a partition on a single node: led by
// self at epoch 0, the only replica and in sync.
func soloLeadership(self int32) *leadership {
	r := []int32{self}
	return &leadership{leader: self, epoch: 0, replicas: r, isr: r, offline: []int32{}, local: true}
}

// initialLeadership is what a partition opened on this node starts with
// (one shared immutable value: 10,000 partitions cost no more than one).
func (c *clusterView) initialLeadership() *leadership { return c.solo }

// setSelfEndpoints records this broker's advertised endpoints, one per
// client listener (at Serve).
func (c *clusterView) setSelfEndpoints(eps []endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.nodes.Load()
	next := &clusterNodes{brokers: slices.Clone(cur.brokers), controller: cur.controller}
	host, port := defaultEndpoint(eps)
	for i := range next.brokers {
		if next.brokers[i].id == c.self {
			next.brokers[i].host, next.brokers[i].port = host, port
			next.brokers[i].endpoints = slices.Clone(eps)
		}
	}
	c.nodes.Store(next)
}

// setBrokers replaces the broker list and the controller. This node must
// be in the list.
func (c *clusterView) setBrokers(brokers []brokerNode, controller int32) error {
	bs := slices.Clone(brokers)
	slices.SortFunc(bs, func(a, b brokerNode) int { return int(a.id) - int(b.id) })
	if !slices.ContainsFunc(bs, func(n brokerNode) bool { return n.id == c.self }) {
		return fmt.Errorf("broker: cluster view without this node %d", c.self)
	}
	c.mu.Lock()
	c.nodes.Store(&clusterNodes{brokers: bs, controller: controller})
	c.mu.Unlock()
	return nil
}

// brokers returns the known brokers, sorted by id. The slice is shared:
// do not modify it.
func (c *clusterView) brokers() []brokerNode { return c.nodes.Load().brokers }

// broker returns the endpoint of node id.
func (c *clusterView) broker(id int32) (brokerNode, bool) {
	for _, n := range c.nodes.Load().brokers {
		if n.id == id {
			return n, true
		}
	}
	return brokerNode{}, false
}

// self returns this broker's endpoint.
func (c *clusterView) selfNode() brokerNode {
	n, _ := c.broker(c.self)
	return n
}

// controllerID is the node id of the controller.
func (c *clusterView) controllerID() int32 { return c.nodes.Load().controller }

// leadershipOf returns p's current leadership (never nil).
func (c *clusterView) leadershipOf(p *partition) *leadership { return p.lead.Load() }

// setLeadership publishes p's new leadership. The epoch never goes back;
// the leader's epoch stamps the batches it appends from then on
// (partition.apply). Replication calls it as elections complete; tests
// use it to make another node the leader or to bump the epoch.
func (c *clusterView) setLeadership(p *partition, leader, epoch int32, replicas, isr, offline []int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := p.lead.Load(); epoch < cur.epoch {
		return fmt.Errorf("broker: leader epoch %d of %s is older than %d", epoch, p.dirName(), cur.epoch)
	}
	if offline == nil {
		offline = []int32{}
	}
	// The append lock orders the change with appends: an append either
	// completes under the old leadership or sees the new one.
	p.appendMu.Lock()
	if leader == c.self {
		// As Kafka's makeLeader: the new leader's epoch starts at its log
		// end, so OffsetForLeaderEpoch answers it before any append.
		if err := p.assignEpochLocked(epoch); err != nil {
			p.appendMu.Unlock()
			return fmt.Errorf("broker: leader epoch %d of %s: %w", epoch, p.dirName(), err)
		}
	}
	p.setLead(&leadership{leader: leader, epoch: epoch, replicas: slices.Clone(replicas), isr: slices.Clone(isr),
		offline: slices.Clone(offline), local: leader == c.self})
	p.appendMu.Unlock()
	p.notify() // long polls re-read and see the error
	return nil
}

// setOffline replaces p's offline replicas (cluster mode: replicas whose
// brokers are fenced or unregistered), keeping the rest.
func (c *clusterView) setOffline(p *partition, offline []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := p.lead.Load()
	if slices.Equal(cur.offline, offline) {
		return
	}
	next := *cur
	next.offline = slices.Clone(offline)
	p.setLead(&next)
}

// checkLeader is Kafka's Partition.getLocalLog check for a request that
// must be served by the leader: a current leader epoch (-1: none given)
// older than the partition's is fenced, a newer one unknown; then a
// partition led elsewhere is not ours. It returns the leadership checked.
func (c *clusterView) checkLeader(p *partition, current int32) (*leadership, error) {
	l := p.lead.Load()
	switch {
	case current >= 0 && current < l.epoch:
		return l, errFencedLeaderEpoch
	case current >= 0 && current > l.epoch:
		return l, errUnknownLeaderEpoch
	case !l.local:
		return l, errNotLeader
	}
	return l, nil
}
