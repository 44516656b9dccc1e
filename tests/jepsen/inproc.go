package jepsen

// The in-process Moldau cluster with a crashable file system: the disk
// faults of the campaign (FaultDiskFsync, FaultDiskTornWrite) and an
// in-process crash (FaultKillRandom, FaultKillLeader).
//
// Each node keeps its partition logs and Raft state on its own vfs.MemFS,
// seen through a vfs.ErrorFS whose injector (diskInjector) the nemesis arms.
// A crash is simulated in three steps: the injector fails every later
// operation (the process is gone: nothing more reaches the disk), the node is
// cut from the Raft network and its broker is closed, and the node's next
// incarnation starts on MemFS.CrashClone: only what was synced survives.
// The metadata store (cluster id, producer id blocks) is a bbolt file in a
// temporary directory; it is synced on every change, so a crash keeps it.
//
// Locking: opMu serialises Inject, Heal and Close (each may take seconds:
// a broker closes, a node restarts); mu guards the nodes' brokers and
// states and is held only briefly, so Seeds never waits for a restart.
// A diskInjector has its own mutex, taken on every file operation of its
// node.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/moldau/moldau/broker"
	"github.com/moldau/moldau/broker/config"
	"github.com/moldau/moldau/internal/testenv"
	"github.com/moldau/moldau/log/vfs"
	"github.com/moldau/moldau/replication"
)

// FaultPowerLoss, served by the in-process nemesis only: every node
// crashes at the same instant (a power cut of the whole cluster). Only what
// each node synced survives, so every write acknowledged with acks=all must
// have been synced on a majority before its acknowledgement.
const FaultPowerLoss FaultKind = "power-loss"

// In-process cluster errors.
var (
	// ErrNotTriggered: an armed disk fault found no matching file
	// operation in time (the node was idle); nothing was injected.
	ErrNotTriggered = errors.New("jepsen: disk fault not triggered")
	// ErrNodeDown: a fault aimed at a node already stopped by one.
	ErrNodeDown = errors.New("jepsen: every node is down or faulty")
	// errCrashed is what a crashed node's file operations return.
	errCrashed = fmt.Errorf("%w: the node has crashed", vfs.ErrInjected)
	// errFsync is the injected fsync failure (sticky until the crash).
	errFsync = fmt.Errorf("%w: fsync failed (EIO)", vfs.ErrInjected)
	// errWrite fails every mutation after a torn write (sticky).
	errWrite = fmt.Errorf("%w: write failed (EIO)", vfs.ErrInjected)
)

// InProcessOptions configure NewInProcessCluster.
type InProcessOptions struct {
	// Logger receives every broker's log with a "node" attribute (nil:
	// discarded; MOLDAU_TEST_LOG=1 sends it to stderr).
	Logger *slog.Logger
	// Seed makes the choice of the node hit reproducible.
	Seed int64
	// Configure edits each node's configuration before it starts (node
	// id, peers, listener and data directory are set already).
	Configure func(*config.Config)
	// TriggerTimeout bounds how long an armed disk fault waits for a
	// matching file operation (default 10 s).
	TriggerTimeout time.Duration
}

// InProcessCluster is three Moldau brokers in this process over an
// in-process Raft network, each on a crashable in-memory file system. It is
// both the Cluster and the Nemesis of a campaign.
type InProcessCluster struct {
	nw      *replication.LocalNetwork
	opts    InProcessOptions
	tempDir string
	peers   []config.Peer

	opMu    sync.Mutex // serialises Inject, Heal, Close
	mu      sync.Mutex // guards nodes[*].b, .state, closed; rng
	nodes   []*inprocNode
	rng     *rand.Rand
	closed  bool
	injects int

	stats DiskStats
	done  chan struct{} // closed by Close: watchers exit
}

// DiskStats counts what the in-process nemesis did and what the brokers
// reported doing about it (read with Stats).
type DiskStats struct {
	FsyncErrors    int // fsync faults that fired
	TornWrites     int // torn-write faults that fired
	Crashes        int // nodes crashed (every fault ends in one)
	Restarts       int // nodes restarted by Heal
	NodeStops      int // "replication node stopping on error" logged by a broker
	LogFailures    int // "partition log failed" logged
	TailTruncation int // "truncating torn or corrupt segment tail" logged at recovery
	SelfStops      int // disk faults after which the broker stopped serving on its own (Broker.Failed)
	MaxSelfStop    time.Duration
	MaxCloseTime   time.Duration
	MaxHealTime    time.Duration
}

type inprocState int

const (
	inprocRunning    inprocState = iota
	inprocDiskFailed             // a disk fault fired; the broker runs on (it should stop serving on its own) until Heal crashes it
	inprocDown                   // crashed; Heal restarts it
)

// inprocNode is one node: its fixed identity, its current disk and broker.
type inprocNode struct {
	id    int32
	cfg   config.Config // Addr: the port it listened on first, kept
	mem   *vfs.MemFS    // the disk of the current incarnation
	inj   *diskInjector
	b     *broker.Broker
	state inprocState
}

// NewInProcessCluster starts three brokers (node ids 1-3) in this process
// and returns once each one's Metadata lists all three and a controller.
func NewInProcessCluster(ctx context.Context, opts InProcessOptions) (*InProcessCluster, error) {
	if opts.Logger == nil {
		if os.Getenv("MOLDAU_TEST_LOG") != "" {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		} else {
			opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	}
	if opts.TriggerTimeout <= 0 {
		opts.TriggerTimeout = 10 * time.Second
	}
	// Kafka ports below the ephemeral range, reserved for this process: a
	// node restarted after a power loss binds its port again, which an
	// outgoing connection could have taken had it come from ":0".
	ports, err := testenv.FreePorts(3)
	if err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	dir, err := os.MkdirTemp("", "moldau-inproc-")
	if err != nil {
		return nil, fmt.Errorf("jepsen: %w", err)
	}
	c := &InProcessCluster{nw: replication.NewLocalNetwork(), opts: opts, tempDir: dir,
		rng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)), done: make(chan struct{})}
	const n = 3
	for i := int32(1); i <= n; i++ {
		c.peers = append(c.peers, config.Peer{NodeID: i, Addr: "local:" + strconv.Itoa(int(i))})
	}
	for i := int32(1); i <= n; i++ {
		cfg := config.Default()
		cfg.NodeID = i
		cfg.Peers = c.peers
		cfg.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i-1]))
		cfg.AdminAddr = ""
		cfg.SchemaRegistryAddr = ""
		cfg.ConsoleAddr, cfg.HTTPProxyAddr = "", ""
		cfg.Memory = false // the metadata store in bbolt; the logs on the MemFS (WithFS)
		cfg.DataDir = filepath.Join(dir, "node-"+strconv.Itoa(int(i)))
		cfg.DefaultReplicationFactor = n
		cfg.MinInsyncReplicas = 2
		cfg.OffsetsTopicNumPartitions = 10
		cfg.GroupInitialRebalanceDelayMs = 0
		cfg.GroupConsumerSessionTimeoutMs = 6000 // as the process clusters (procs.go)
		cfg.GroupConsumerHeartbeatIntervalMs = 500
		if opts.Configure != nil {
			opts.Configure(&cfg)
		}
		c.nodes = append(c.nodes, &inprocNode{id: i, cfg: cfg, mem: vfs.NewMem(), inj: &diskInjector{}})
	}
	for _, nd := range c.nodes {
		if err := c.startNode(nd); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	if err := c.waitServing(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Name implements Cluster.
func (c *InProcessCluster) Name() string { return "moldau-inprocess" }

// Seeds implements Cluster: every node's listener (a restarted node listens
// on the same port).
func (c *InProcessCluster) Seeds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = nd.cfg.Addr
	}
	return out
}

// Dial implements Cluster: in-process nodes are dialled plainly.
func (c *InProcessCluster) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Stats returns what the nemesis did so far.
func (c *InProcessCluster) Stats() DiskStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close implements Cluster: it stops every running node and removes the
// temporary directory.
func (c *InProcessCluster) Close() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(c.nodes))
	)
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.stopBroker(nd)
		}()
	}
	wg.Wait()
	errs = append(errs, os.RemoveAll(c.tempDir))
	return errors.Join(errs...)
}

// Kinds implements Nemesis.
func (c *InProcessCluster) Kinds() []FaultKind {
	return []FaultKind{FaultDiskFsync, FaultDiskTornWrite, FaultKillRandom, FaultKillLeader, FaultPowerLoss}
}

// Inject implements Nemesis. A disk fault is armed on one node (every other
// fault injected so far is healed first, by the contract) and waited for:
//
//   - FaultDiskFsync: the node's next Sync of a segment or Raft hard-state
//     file fails, and so does every later Sync and SyncDir of that node (the
//     disk has gone bad). The broker is left running with it until Heal
//     crashes and restarts it: it must stop serving what it could not
//     persist on its own.
//   - FaultDiskTornWrite: the node's next Write to a segment file lands
//     half (durably: it is on the disk whatever happens next) and fails,
//     and so does every later write, sync, truncation, rename or removal
//     of that node (the disk has died). As above, the broker runs on with
//     it until Heal; after the crash its recovery finds the torn tail.
//   - FaultKillRandom, FaultKillLeader: the node crashes now.
//   - FaultPowerLoss: every node crashes now.
//
// The node hit is the leader of a random partition of topic for
// FaultKillLeader and for every other disk fault, a random node otherwise.
func (c *InProcessCluster) Inject(ctx context.Context, kind FaultKind, topic string) (Fault, error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !slices.Contains(c.Kinds(), kind) {
		return Fault{}, fmt.Errorf("%w: %s", ErrUnsupportedFault, kind)
	}
	if kind == FaultPowerLoss {
		return c.powerLoss()
	}
	c.mu.Lock()
	c.injects++
	wantLeader := kind == FaultKillLeader || (kind != FaultKillRandom && c.injects%2 == 0)
	c.mu.Unlock()
	nd, how := c.pickNode(ctx, topic, wantLeader)
	if nd == nil {
		return Fault{}, ErrNodeDown
	}
	f := Fault{Kind: kind, Nodes: []int32{nd.id}, At: time.Now()}
	switch kind {
	case FaultDiskFsync, FaultDiskTornWrite:
		fired := nd.inj.arm(kind)
		select {
		case <-fired:
		case <-time.After(c.opts.TriggerTimeout):
			if nd.inj.disarm() {
				return Fault{}, fmt.Errorf("%w: %s on node %d within %v", ErrNotTriggered, kind, nd.id, c.opts.TriggerTimeout)
			}
		case <-ctx.Done():
			if nd.inj.disarm() {
				return Fault{}, ctx.Err()
			}
		}
		path := nd.inj.hitPath()
		f.At = time.Now()
		c.mu.Lock()
		if kind == FaultDiskFsync {
			c.stats.FsyncErrors++
			f.Detail = fmt.Sprintf("node %d (%s): fsync of %s failed, and every later one", nd.id, how, path)
		} else {
			c.stats.TornWrites++
			f.Detail = fmt.Sprintf("node %d (%s): write to %s torn at half, and every later write failed", nd.id, how, path)
		}
		nd.state = inprocDiskFailed
		go c.watchSelfStop(nd.b, f.At)
		c.mu.Unlock()
		return f, nil
	default:
		f.Detail = fmt.Sprintf("node %d (%s): crash", nd.id, how)
	}
	if err := c.crash(nd); err != nil {
		return f, err
	}
	return f, nil
}

// Heal implements Nemesis: a node hit by a disk fault is crashed now, then
// every crashed node restarts on what its disk kept; Heal returns once
// every node serves Metadata listing all three and a controller.
func (c *InProcessCluster) Heal(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	start := time.Now()
	var errs []error
	for _, nd := range c.nodes {
		c.mu.Lock()
		st := nd.state
		c.mu.Unlock()
		if st == inprocDiskFailed {
			if err := c.crash(nd); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.nw.Heal()
	for _, nd := range c.nodes {
		c.mu.Lock()
		st := nd.state
		c.mu.Unlock()
		if st != inprocDown {
			continue
		}
		if err := c.startNode(nd); err != nil {
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		c.stats.Restarts++
		c.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.waitServing(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.stats.MaxHealTime = max(c.stats.MaxHealTime, time.Since(start))
	c.mu.Unlock()
	return nil
}

// watchSelfStop records whether and how fast b stops serving on its own
// after its fsync failed (a storage error stops the node).
func (c *InProcessCluster) watchSelfStop(b *broker.Broker, since time.Time) {
	if b == nil {
		return
	}
	select {
	case <-b.Failed():
		c.mu.Lock()
		c.stats.SelfStops++
		c.stats.MaxSelfStop = max(c.stats.MaxSelfStop, time.Since(since))
		c.mu.Unlock()
	case <-c.done:
	}
}

// pickNode chooses the node to hit among the running ones: the leader of
// a random partition of topic if wantLeader and one is known, else a
// random one. how says which.
func (c *InProcessCluster) pickNode(ctx context.Context, topic string, wantLeader bool) (*inprocNode, string) {
	c.mu.Lock()
	var running []*inprocNode
	for _, nd := range c.nodes {
		if nd.state == inprocRunning && nd.b != nil {
			running = append(running, nd)
		}
	}
	if len(running) == 0 {
		c.mu.Unlock()
		return nil, ""
	}
	random := running[c.rng.IntN(len(running))]
	pick := c.rng.Uint32()
	c.mu.Unlock()
	if !wantLeader || topic == "" {
		return random, "random"
	}
	leaders := c.leaders(ctx, topic)
	if len(leaders) == 0 {
		return random, "random: no leader known"
	}
	p := leaders[int(pick)%len(leaders)]
	for _, nd := range running {
		if nd.id == p[1] {
			return nd, fmt.Sprintf("leader of %s/%d", topic, p[0])
		}
	}
	return random, "random: the leader is down"
}

// leaders lists (partition, leader) of topic as Metadata answers it.
func (c *InProcessCluster) leaders(ctx context.Context, topic string) [][2]int32 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Seeds()...), kgo.Dialer(c.Dial))
	if err != nil {
		return nil
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) == 0 {
		return nil
	}
	var out [][2]int32
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode == 0 && p.Leader >= 0 {
			out = append(out, [2]int32{p.Partition, p.Leader})
		}
	}
	return out
}

// powerLoss crashes every running node at one instant (opMu held).
func (c *InProcessCluster) powerLoss() (Fault, error) {
	f := Fault{Kind: FaultPowerLoss, At: time.Now(), Detail: "every node crashes at once"}
	c.mu.Lock()
	var running []*inprocNode
	for _, nd := range c.nodes {
		if nd.state != inprocDown {
			running = append(running, nd)
			f.Nodes = append(f.Nodes, nd.id)
		}
	}
	c.mu.Unlock()
	for _, nd := range running {
		nd.inj.crash() // first every disk stops, then the slow part
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(running))
	)
	for i, nd := range running {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.crash(nd)
		}()
	}
	wg.Wait()
	return f, errors.Join(errs...)
}

// crash simulates the death of nd's process: nothing more reaches its
// disk, it is cut from its peers, its broker is closed (Kafka connections
// drop) and its next incarnation gets the disk as a crash leaves it.
func (c *InProcessCluster) crash(nd *inprocNode) error {
	nd.inj.crash()
	c.nw.Isolate(uint64(nd.id) + 1) // raft node id = Kafka node id + 1
	start := time.Now()
	err := c.stopBroker(nd)
	took := time.Since(start)
	c.mu.Lock()
	nd.mem = nd.mem.CrashClone()
	nd.inj = &diskInjector{}
	nd.state = inprocDown
	c.stats.Crashes++
	c.stats.MaxCloseTime = max(c.stats.MaxCloseTime, took)
	c.mu.Unlock()
	if err != nil && !errors.Is(err, vfs.ErrInjected) {
		// A crashed node's close fails on its dead disk: expected. Any
		// other error is reported.
		return fmt.Errorf("jepsen: close crashed node %d: %w", nd.id, err)
	}
	return nil
}

// stopBroker closes nd's broker if running (opMu held). A close that hangs
// is a bug: it is bounded and reported.
func (c *InProcessCluster) stopBroker(nd *inprocNode) error {
	c.mu.Lock()
	b := nd.b
	nd.b = nil
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Close(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		return fmt.Errorf("jepsen: node %d: broker Close hung for 60 s", nd.id)
	}
}

// startNode starts nd's broker on its current disk (opMu held, or the
// cluster not yet returned).
func (c *InProcessCluster) startNode(nd *inprocNode) error {
	c.mu.Lock()
	mem, inj := nd.mem, nd.inj
	cfg := nd.cfg
	c.mu.Unlock()
	logger := slog.New(&countingHandler{inner: c.opts.Logger.Handler(), c: c}).With("node", nd.id)
	b, err := broker.New(cfg, broker.WithFS(vfs.NewErrorFS(mem, inj.inject)),
		broker.WithPeerNetwork(c.nw), broker.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("jepsen: node %d: %w", nd.id, err)
	}
	if err := b.Start(); err != nil {
		_ = b.Close(context.Background())
		return fmt.Errorf("jepsen: node %d: %w", nd.id, err)
	}
	c.mu.Lock()
	nd.cfg.Addr = b.Addr() // a restart listens where clients know the node
	nd.b = b
	nd.state = inprocRunning
	c.mu.Unlock()
	return nil
}

// waitServing polls every node until its Metadata lists all the nodes and
// a controller, or ctx ends.
func (c *InProcessCluster) waitServing(ctx context.Context) error {
	var ids []int32
	for _, nd := range c.nodes {
		ids = append(ids, nd.id)
	}
	for i, addr := range c.Seeds() {
		if err := waitListing(ctx, addr, ids); err != nil {
			return fmt.Errorf("jepsen: node %d not serving: %w", ids[i], err)
		}
	}
	return nil
}

// waitListing polls the broker at addr until its Metadata lists every node
// of ids and a controller.
func waitListing(ctx context.Context, addr string, ids []int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0]
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		resp, err := seed.Request(rctx, req)
		cancel()
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

// diskInjector is one incarnation's fault injector (vfs.NewErrorFS).
type diskInjector struct {
	mu          sync.Mutex
	armed       FaultKind // "" when nothing is armed
	fired       chan struct{}
	hit         string
	syncBroken  bool // the fsync fault fired: every later Sync and SyncDir fails
	writeBroken bool // the torn write fired: every later mutation fails
	crashed     atomic.Bool
}

func (d *diskInjector) arm(kind FaultKind) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed, d.fired, d.hit = kind, make(chan struct{}), ""
	return d.fired
}

// disarm cancels an armed fault; false if it fired meanwhile.
func (d *diskInjector) disarm() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.armed == "" {
		return false
	}
	d.armed = ""
	return true
}

func (d *diskInjector) hitPath() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hit
}

func (d *diskInjector) crash() { d.crashed.Store(true) }

// segmentFile: a partition or metadata log segment.
func segmentFile(path string) bool { return strings.HasSuffix(path, ".log") }

// raftStateFile: a segment or the Raft hard state (term, vote, commit).
func raftStateFile(path string) bool {
	base := filepath.Base(path)
	return segmentFile(path) || strings.HasPrefix(base, "raft-hardstate")
}

// inject is the vfs.Injector.
func (d *diskInjector) inject(op vfs.Op, path string) error {
	if d.crashed.Load() {
		return errCrashed
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.syncBroken && (op == vfs.OpSync || op == vfs.OpSyncDir) {
		return errFsync
	}
	if d.writeBroken && mutation(op) {
		return errWrite
	}
	switch {
	case d.armed == FaultDiskFsync && op == vfs.OpSync && raftStateFile(path):
		d.syncBroken = true
		d.fire(path)
		return errFsync
	case d.armed == FaultDiskTornWrite && op == vfs.OpWrite && segmentFile(path):
		// The prefix lands durably; nothing written after it does
		// (writeBroken is set before the prefix is written).
		d.writeBroken = true
		d.fire(path)
		return &vfs.TornWriteError{Fraction: 0.5, Durable: true}
	}
	return nil
}

// mutation: an operation that changes the disk.
func mutation(op vfs.Op) bool {
	switch op {
	case vfs.OpWrite, vfs.OpSync, vfs.OpSyncDir, vfs.OpTruncate, vfs.OpRename, vfs.OpRemove, vfs.OpRemoveAll, vfs.OpMkdirAll:
		return true
	}
	return false
}

func (d *diskInjector) fire(path string) {
	d.armed, d.hit = "", path
	close(d.fired)
}

// countingHandler counts the broker log messages that tell how a node
// handled a disk fault (DiskStats) and passes every record on.
type countingHandler struct {
	inner slog.Handler
	c     *InProcessCluster
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	var counter *int
	switch r.Message {
	case "replication node stopping on error":
		counter = &h.c.stats.NodeStops
	case "partition log failed":
		counter = &h.c.stats.LogFailures
	case "truncating torn or corrupt segment tail":
		counter = &h.c.stats.TailTruncation
	}
	if counter != nil {
		h.c.mu.Lock()
		*counter++
		h.c.mu.Unlock()
	}
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{inner: h.inner.WithAttrs(as), c: h.c}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{inner: h.inner.WithGroup(name), c: h.c}
}
