package embed

// StartCluster: n brokers in cluster mode (issue #14) in this process, their
// Raft traffic over one in-process replication.LocalNetwork so that a test
// can stop, restart and cut off nodes.
//
// Locking: opMu serialises the operations that start or stop brokers
// (StopNode, RestartNode, Close), which may take seconds; mu guards the
// nodes' state (broker, listener address, isolated) and is held only briefly, so
// Node, Addrs and Isolate never wait for a broker to close.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/replication"
)

// Cluster errors.
var (
	// ErrNoSuchNode: a node index outside 0..n-1.
	ErrNoSuchNode = errors.New("embed: no such node")
	// ErrNodeStopped: StopNode of a node that is not running.
	ErrNodeStopped = errors.New("embed: node is stopped")
	// ErrNodeRunning: RestartNode of a node that is running.
	ErrNodeRunning = errors.New("embed: node is running")
	// ErrClusterClosed: an operation on a closed Cluster.
	ErrClusterClosed = errors.New("embed: cluster is closed")
)

// Cluster is n embedded brokers forming one Raft cluster (see StartCluster).
//
// Nodes are indexed from 0 like Addrs: node i has Kafka node id i+1.
type Cluster struct {
	nw      *replication.LocalNetwork
	opts    options
	peers   []config.Peer
	tempDir string // removed by Close; "" when WithDataDir gave the base

	opMu   sync.Mutex // serialises StopNode, RestartNode, Close
	mu     sync.Mutex // guards nodes[*].b, .isolated, closed
	nodes  []*clusterNode
	closed bool
}

// clusterNode is one node's fixed identity and current broker.
type clusterNode struct {
	id       int32
	cfg      config.Config // Addr is the address it listened on first
	b        *broker.Broker
	reg      *trackingRegisterer // nil without WithRegisterer
	isolated bool
}

// NodeInfo describes one node of a Cluster.
type NodeInfo struct {
	ID       int32  // Kafka node id (index + 1)
	Addr     string // Kafka listener, host:port; kept across restarts
	DataDir  string
	Running  bool
	Isolated bool // cut off by Isolate and not yet healed
}

// StartCluster runs n brokers in cluster mode in this process, with node ids
// 1..n, each listening for Kafka clients on its own free port of 127.0.0.1,
// their Raft traffic carried over an in-process network that Isolate and
// Heal control. It returns once every broker is registered (each one's
// Metadata lists the n brokers and a controller) or ctx ends.
//
// Options apply to every node: WithProperty and WithConfig set each node's
// configuration (node id, peers and the listener address are then set per
// node), WithLogger's logger gets a "node" attribute per node, and
// WithRegisterer's metrics get a "node" label per node (unregistered when
// the node stops, registered again when it restarts). The data is always on
// disk (Raft needs its log and votes to survive a restart): WithDataDir(dir)
// keeps node i's data in dir/node-<id>, found again by a later StartCluster
// on the same dir; without it every node gets a temporary directory that
// Close removes. WithAddr does not apply (each node has its own port) and
// makes StartCluster fail.
//
// Faults: StopNode, RestartNode, Isolate and Heal. There is no crash (a
// stop without the graceful leadership transfer): the broker offers none.
func StartCluster(ctx context.Context, n int, opts ...Option) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("embed: cluster of %d nodes", n)
	}
	o := options{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, opt := range opts {
		opt(&o)
	}
	base, err := config.Load(o.props, func(string) string { return "" }, o.logger)
	if err != nil {
		return nil, err
	}
	base.Addr = "127.0.0.1:0"
	base.Memory = true // flipped by WithDataDir
	base.DataDir = ""
	base.AdminAddr = ""
	base.SchemaRegistryAddr = o.schemaRegistryAddr()
	base.ConsoleAddr, base.HTTPProxyAddr = o.frontEndAddrs()
	for _, m := range o.mods {
		m(&base)
	}
	if _, port, err := net.SplitHostPort(base.Addr); err != nil || port != "0" {
		return nil, fmt.Errorf("embed: a cluster listens on free ports: the address %q does not apply", base.Addr)
	}
	c := &Cluster{nw: replication.NewLocalNetwork(), opts: o}
	dataBase := base.DataDir
	if base.Memory || dataBase == "" {
		if dataBase, err = os.MkdirTemp("", "moldau-cluster-"); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		c.tempDir = dataBase
	}
	for i := 1; i <= n; i++ {
		c.peers = append(c.peers, config.Peer{NodeID: int32(i), Addr: "local:" + strconv.Itoa(i)})
	}
	for i := 1; i <= n; i++ {
		cfg := base
		cfg.Memory = false
		cfg.NodeID = int32(i)
		cfg.Peers = c.peers
		cfg.DataDir = filepath.Join(dataBase, fmt.Sprintf("node-%d", i))
		nd := &clusterNode{id: int32(i), cfg: cfg}
		if o.reg != nil {
			nd.reg = &trackingRegisterer{inner: prometheus.WrapRegistererWith(prometheus.Labels{"node": strconv.Itoa(i)}, o.reg)}
		}
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		if err := c.startNode(nd); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// startNode opens and starts nd's broker on nd.cfg (opMu held or the
// cluster not yet returned).
func (c *Cluster) startNode(nd *clusterNode) error {
	bopts := []broker.Option{
		broker.WithLogger(c.opts.logger.With("node", nd.id)),
		broker.WithPeerNetwork(c.nw),
	}
	if nd.reg != nil {
		bopts = append(bopts, broker.WithRegisterer(nd.reg))
	}
	b, err := broker.New(nd.cfg, bopts...)
	if err != nil {
		nd.unregister()
		return fmt.Errorf("embed: node %d: %w", nd.id, err)
	}
	if err := b.Start(); err != nil {
		_ = b.Close(context.Background())
		nd.unregister()
		return fmt.Errorf("embed: node %d: %w", nd.id, err)
	}
	c.mu.Lock()
	nd.cfg.Addr = b.Addr() // a restart listens where clients know the node
	if a := b.SchemaRegistryAddr(); a != "" {
		nd.cfg.SchemaRegistryAddr = a // and serves its registry there
	}
	if a := b.ConsoleAddr(); a != "" {
		nd.cfg.ConsoleAddr = a // its console
	}
	if a := b.HTTPProxyAddr(); a != "" {
		nd.cfg.HTTPProxyAddr = a // and its HTTP proxy
	}
	nd.b = b
	c.mu.Unlock()
	return nil
}

// stopNode closes nd's broker, if running (opMu held).
func (c *Cluster) stopNode(nd *clusterNode) error {
	c.mu.Lock()
	b := nd.b
	nd.b = nil
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.Close(ctx)
	nd.unregister()
	if err != nil {
		return fmt.Errorf("embed: node %d: %w", nd.id, err)
	}
	return nil
}

// node returns node i, or ErrNoSuchNode.
func (c *Cluster) node(i int) (*clusterNode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.nodes) {
		return nil, fmt.Errorf("%w: %d (cluster of %d)", ErrNoSuchNode, i, len(c.nodes))
	}
	return c.nodes[i], nil
}

// WaitReady waits until every running node answers Metadata listing every
// running node and naming a controller (the metadata group's leader), or
// ctx ends. A cluster node holds requests until it has caught up with the
// metadata log and is registered, so after RestartNode this means the node
// rejoined. Stopped nodes are not waited for (the controller fences a
// silent broker after broker.session.timeout.ms and Metadata then stops
// listing it).
func (c *Cluster) WaitReady(ctx context.Context) error {
	var addrs []string
	var ids []int32
	c.mu.Lock()
	for _, nd := range c.nodes {
		if nd.b != nil {
			addrs, ids = append(addrs, nd.cfg.Addr), append(ids, nd.id)
		}
	}
	c.mu.Unlock()
	for i, addr := range addrs {
		if err := waitLists(ctx, addr, ids); err != nil {
			return fmt.Errorf("embed: node %d not ready: %w", ids[i], err)
		}
	}
	return nil
}

// waitLists polls the broker at addr until its Metadata lists every node
// of ids and a controller.
func waitLists(ctx context.Context, addr string, ids []int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0] // this broker, not whichever kgo picks
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
		resp, err := seed.Request(ctx, req)
		if err == nil {
			mr := resp.(*kmsg.MetadataResponse)
			var listed []int32
			for _, b := range mr.Brokers {
				listed = append(listed, b.NodeID)
			}
			missing := slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return slices.Contains(listed, id) })
			if len(missing) == 0 && mr.ControllerID >= 0 {
				return nil
			}
			last = fmt.Errorf("metadata lists brokers %v (want %v), controller %d", listed, ids, mr.ControllerID)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Bootstrap is every node's Kafka address, comma-separated: a client's
// bootstrap list.
func (c *Cluster) Bootstrap() string { return strings.Join(c.Addrs(), ",") }

// Addrs is every node's Kafka address, by index (stopped nodes included:
// a restarted node listens on the same address).
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = nd.cfg.Addr
	}
	return out
}

// SchemaRegistryURL is node i's schema registry URL, "http://host:port"
// ("" when WithSchemaRegistry was not given or the node is stopped); every
// node serves one over the same replicated _schemas topic. It panics if i
// is out of range, as indexing would.
func (c *Cluster) SchemaRegistryURL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.nodes[i].b; b != nil {
		return registryURL(b.SchemaRegistryAddr())
	}
	return ""
}

// ConsoleURL is node i's web console URL, "http://host:port" ("" when
// WithConsole was not given or the node is stopped). It panics if i is out
// of range, as indexing would.
func (c *Cluster) ConsoleURL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.nodes[i].b; b != nil {
		return registryURL(b.ConsoleAddr())
	}
	return ""
}

// HTTPProxyURL is node i's REST Proxy API URL, "http://host:port" (""
// when WithHTTPProxy was not given or the node is stopped). It panics if i
// is out of range, as indexing would.
func (c *Cluster) HTTPProxyURL(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.nodes[i].b; b != nil {
		return registryURL(b.HTTPProxyAddr())
	}
	return ""
}

// Node describes node i (0-based; Kafka node id i+1). It panics if i is out
// of range, as indexing would.
func (c *Cluster) Node(i int) NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := c.nodes[i]
	return NodeInfo{ID: nd.id, Addr: nd.cfg.Addr, DataDir: nd.cfg.DataDir, Running: nd.b != nil, Isolated: nd.isolated}
}

// Len is the number of nodes.
func (c *Cluster) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// AddNode starts a new node that joins the running cluster, as a process
// started with --node-id N --peer-addr ... --peers <the cluster's voters>
// does (broker/raft_members.go): node id Len()+1, its own data directory
// beside the others', the other nodes' options. The controller adds it to
// the metadata quorum as a learner (an observer); it registers as a
// broker and can host partitions; AddRaftVoter makes it a voter. It
// returns the node's index once every running node lists it (WaitReady)
// or ctx ends (the node is then left running: Close stops it).
func (c *Cluster) AddNode(ctx context.Context) (int, error) {
	c.opMu.Lock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.opMu.Unlock()
		return -1, ErrClusterClosed
	}
	first := c.nodes[0]
	id := int32(len(c.nodes) + 1)
	cfg := first.cfg
	c.mu.Unlock()
	cfg.NodeID = id
	cfg.Peers = c.peers
	cfg.PeerAddr = "local:" + strconv.Itoa(int(id))
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(filepath.Dir(first.cfg.DataDir), fmt.Sprintf("node-%d", id))
	nd := &clusterNode{id: id, cfg: cfg}
	if c.opts.reg != nil {
		nd.reg = &trackingRegisterer{inner: prometheus.WrapRegistererWith(prometheus.Labels{"node": strconv.Itoa(int(id))}, c.opts.reg)}
	}
	if err := c.startNode(nd); err != nil {
		c.opMu.Unlock()
		return -1, err
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, nd)
	i := len(c.nodes) - 1
	c.mu.Unlock()
	c.opMu.Unlock()
	return i, c.WaitReady(ctx)
}

// StopNode closes node i (0-based) gracefully: it hands the leadership of
// the Raft groups it leads to the other nodes, answers or drains its
// clients' requests and closes its logs. Stopping a stopped node is
// ErrNodeStopped.
func (c *Cluster) StopNode(i int) error {
	nd, err := c.node(i)
	if err != nil {
		return err
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	closed, running := c.closed, nd.b != nil
	c.mu.Unlock()
	switch {
	case closed:
		return ErrClusterClosed
	case !running:
		return fmt.Errorf("%w: %d", ErrNodeStopped, i)
	}
	return c.stopNode(nd)
}

// RestartNode starts stopped node i (0-based) again: the same node id, data
// directory and Kafka address, so clients reconnect to it. It returns once
// the node listens; it catches up with the others in the background
// (WaitReady waits until it is registered again). Restarting a running
// node is ErrNodeRunning. An isolated node stays isolated until Heal.
func (c *Cluster) RestartNode(i int) error {
	nd, err := c.node(i)
	if err != nil {
		return err
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	closed, running := c.closed, nd.b != nil
	c.mu.Unlock()
	switch {
	case closed:
		return ErrClusterClosed
	case running:
		return fmt.Errorf("%w: %d", ErrNodeRunning, i)
	}
	return c.startNode(nd)
}

// Isolate cuts node i's (0-based) Raft links to every other node, both
// ways, as a network partition between brokers would; its Kafka listener
// stays up, so clients still reach it. It lasts until Heal, across a stop
// and restart of the node. It panics if i is out of range.
func (c *Cluster) Isolate(i int) {
	c.mu.Lock()
	nd := c.nodes[i]
	nd.isolated = true
	c.mu.Unlock()
	c.nw.Isolate(uint64(nd.id) + 1) // raft node id = Kafka node id + 1
}

// Heal restores every link Isolate cut.
func (c *Cluster) Heal() {
	c.mu.Lock()
	for _, nd := range c.nodes {
		nd.isolated = false
	}
	c.mu.Unlock()
	c.nw.Heal()
}

// Close stops every running node (in parallel: each one's leadership
// transfer would otherwise wait for nodes about to stop) and removes the
// temporary data directories. No goroutine is left behind.
func (c *Cluster) Close() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.stopNode(nd)
		}()
	}
	wg.Wait()
	if c.tempDir != "" {
		errs = append(errs, os.RemoveAll(c.tempDir))
	}
	return errors.Join(errs...)
}

// trackingRegisterer remembers what a node's broker registered so that
// stopping the node unregisters it and a restart can register again.
type trackingRegisterer struct {
	inner prometheus.Registerer
	mu    sync.Mutex
	cs    []prometheus.Collector
}

func (r *trackingRegisterer) Register(col prometheus.Collector) error {
	if err := r.inner.Register(col); err != nil {
		return err
	}
	r.mu.Lock()
	r.cs = append(r.cs, col)
	r.mu.Unlock()
	return nil
}

func (r *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, col := range cs {
		if err := r.Register(col); err != nil {
			panic(err)
		}
	}
}

func (r *trackingRegisterer) Unregister(col prometheus.Collector) bool {
	return r.inner.Unregister(col)
}

// unregister removes everything the node's broker registered.
func (nd *clusterNode) unregister() {
	if nd.reg == nil {
		return
	}
	nd.reg.mu.Lock()
	cs := nd.reg.cs
	nd.reg.cs = nil
	nd.reg.mu.Unlock()
	for _, col := range cs {
		nd.reg.inner.Unregister(col)
	}
}
