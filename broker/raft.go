package broker

// Cluster mode (issue #14; a node started with peers): this node's part of
// the Raft cluster. Without peers none of this exists (b.raft is nil) and
// the broker is the single node of broker.go, with no Raft on any path.
//
// One replication.Node per broker hosts every group: the metadata group
// (group 0, voters = the peers: the controller quorum) and one group per
// partition replica hosted here (voters = the partition's replicas; raft
// node id = Kafka node id + 1, replication/DESIGN.md §1).
//
//   - The metadata group's log is __cluster_metadata-0 in the data
//     directory, one metadata record (broker/metadata) per RecordBatch; its
//     state machine is metadata.State, rebuilt at start by replaying the
//     committed log (the state is in memory; the log is not compacted).
//   - Writes to it (broker registration, admin requests, partition
//     leadership) are made by any node with ProposeForward: the node builds
//     the record from its view, forwards it to the metadata leader (the
//     controller) and waits until its own view shows the effect; a record
//     that lost a race is rejected identically by every replica and the
//     caller retries or answers the error it finds.
//   - The reconciler (reconcile, on its own goroutine) makes the topic
//     registry and the cluster view follow the metadata view: it opens the
//     replicas this node hosts (log, LogStorage, Raft group), publishes
//     the partitions it does not host with the leadership the metadata
//     records, and removes deleted topics.
//   - Partition groups: raft_partition.go.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moldau/moldau/broker/metadata"
	plog "github.com/moldau/moldau/log"
	"github.com/moldau/moldau/log/records"
	"github.com/moldau/moldau/replication"
	"go.etcd.io/raft/v3/raftpb"
)

// metadataGroup is the metadata group's Raft group id.
const metadataGroup uint64 = 0

// metadataDir is the metadata log's directory name (Kafka's).
const metadataDir = "__cluster_metadata-0"

// raftTick is the Raft tick (ElectionTick 10: a leader is suspected after
// 1-2 s of silence).
const raftTick = 100 * time.Millisecond

// Cluster errors.
var (
	// errNoController: no metadata leader is known (an election runs).
	errNoController = errors.New("broker: no controller known")
	// errMetadataTimeout: a metadata change was not seen applied in time.
	errMetadataTimeout = errors.New("broker: metadata change not applied in time")
	// errClosing: the broker is shutting down.
	errClosing = errors.New("broker: shutting down")
)

func raftID(node int32) uint64  { return uint64(node) + 1 }
func kafkaID(raft uint64) int32 { return int32(raft) - 1 }
func raftIDs(nodes []int32) []uint64 {
	out := make([]uint64, len(nodes))
	for i, n := range nodes {
		out[i] = raftID(n)
	}
	return out
}

// raftCluster is this node's part of the cluster (see the file comment).
type raftCluster struct {
	b      *Broker
	self   int32
	node   *replication.Node
	tcp    *replication.TCPTransport // nil on a LocalNetwork
	local  *replication.LocalNetwork // embed's in-process network, or nil
	logger *slog.Logger

	state       *metadata.State
	metaLog     *plog.Log
	metaStorage *replication.LogStorage
	incarnation metadata.UUID

	// applied is closed and replaced whenever the metadata view or the
	// controller changes (waitView); appliedMu guards it.
	appliedMu sync.Mutex
	applied   chan struct{}

	// ctx is cancelled by close (with stop): the context of the cluster's
	// own waits (registration, admin changes).
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // wakes the reconciler (capacity 1)
	// leaderKick wakes isrLoop at once (this node became a leader), so
	// the new leadership reaches the metadata without waiting a tick.
	leaderKick chan struct{}
	stop       chan struct{}
	wg         sync.WaitGroup
	// wgMu orders goTracked's Add against close: once stopped is set no
	// goroutine is added (a WaitGroup must not gain a task while Wait
	// runs with the count at zero).
	wgMu    sync.Mutex
	stopped bool

	// ready: this node has caught up with the metadata log since it
	// started (reconcile sets it; Handle holds requests until then).
	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once

	// hosted: the partitions this node hosts a replica of, by group id
	// (the reconciler's; hostedMu for readers elsewhere).
	hostedMu sync.Mutex
	hosted   map[uint64]*partition

	// Membership (raft_members.go): joining, a node not among --peers;
	// removed, this node saw itself unregistered; membersMu serialises
	// group 0's conf changes made here.
	joining   bool
	removed   atomic.Bool
	membersMu sync.Mutex
	// directoryID, idInUse, peerRefusals: raft_members.go (joining a
	// node id that another node holds).
	directoryID  metadata.UUID
	idInUse      atomic.Bool
	peerRefusals atomic.Int64

	// strayChecked: removeStrayReplicas ran (set by the reconciler;
	// isrLoop kicks it until then).
	strayChecked atomic.Bool
}

// newRaftCluster opens the metadata log and starts the node (at New, before
// the topics are loaded: in cluster mode they come from the metadata log).
func newRaftCluster(b *Broker, o options) (*raftCluster, error) {
	cfg := b.cfg
	c := &raftCluster{
		b: b, self: cfg.NodeID, logger: b.logger.With("component", "cluster"),
		state: metadata.New(), applied: make(chan struct{}), kick: make(chan struct{}, 1), leaderKick: make(chan struct{}, 1),
		stop: make(chan struct{}), hosted: map[uint64]*partition{}, local: o.peerNetwork, readyCh: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if _, err := rand.Read(c.incarnation[:]); err != nil {
		return nil, err
	}
	var err error
	if c.directoryID, err = loadDirectoryID(b.fs, b.dataDir); err != nil {
		return nil, err
	}
	var voters []uint64
	peerAddr := cfg.PeerAddr
	for _, p := range cfg.Peers {
		voters = append(voters, raftID(p.NodeID))
		if p.NodeID == cfg.NodeID && peerAddr == "" {
			peerAddr = p.Addr
		}
	}
	if !slices.Contains(voters, raftID(cfg.NodeID)) {
		// A joiner (raft_members.go): the peers are the voters it asks.
		if cfg.PeerAddr == "" {
			return nil, fmt.Errorf("broker: node id %d is not among the peers and has no peer address to join with", cfg.NodeID)
		}
		c.joining = true
	}
	var transport replication.Transport
	if c.local != nil {
		transport = c.local.Endpoint(raftID(cfg.NodeID))
	} else {
		t, err := replication.NewTCPTransport(replication.TCPConfig{ID: raftID(cfg.NodeID), ListenAddr: peerAddr,
			BindOutgoing: bindable(peerAddr), Logger: c.logger,
			DialLower: c.joining, AcceptPeer: func(uint64) bool { return true }})
		if err != nil {
			return nil, err
		}
		for _, p := range cfg.Peers {
			if p.NodeID != cfg.NodeID {
				t.SetPeer(raftID(p.NodeID), p.Addr)
			}
		}
		c.tcp, transport = t, t
	}
	node, err := replication.NewNode(replication.Config{
		ID: raftID(cfg.NodeID), Transport: transport, TickInterval: raftTick,
		Logger: c.logger, Registerer: o.registerer, Peers: voters,
	})
	if err != nil {
		c.closeTransport()
		return nil, err
	}
	c.node = node
	if c.local != nil {
		c.local.Attach(raftID(cfg.NodeID), node)
	} else {
		c.tcp.Start(node)
	}
	dir := filepath.Join(b.dataDir, metadataDir)
	l, _, err := plog.Open(b.fs, dir, plog.Config{Replicated: true, SegmentBytes: 64 << 20, Files: segmentFiles,
		RetentionMs: -1, RetentionBytes: -1, FlushMessages: 1<<63 - 1, FlushMs: 1<<63 - 1}, c.logger)
	if err != nil {
		c.shutdownNode()
		return nil, fmt.Errorf("broker: open the metadata log: %w", err)
	}
	st, err := replication.OpenLogStorage(replication.LogStorageConfig{Log: l, FS: b.fs, Voters: voters, Logger: c.logger})
	if err != nil {
		l.Close()
		c.shutdownNode()
		return nil, fmt.Errorf("broker: metadata log storage: %w", err)
	}
	c.metaLog, c.metaStorage = l, st
	// The state is in memory: every committed entry is applied again
	// (Applied 0; the log is never compacted).
	if err := node.AddGroup(replication.GroupConfig{ID: metadataGroup, Storage: st, StateMachine: metaSM{c}}); err != nil {
		l.Close()
		c.shutdownNode()
		return nil, fmt.Errorf("broker: metadata group: %w", err)
	}
	return c, nil
}

// bindable reports whether addr's host is an IP literal (outgoing
// connections can then be bound to it; a name or an unspecified address
// leaves the choice to the kernel).
func bindable(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && !ip.IsUnspecified()
}

// start runs the reconciler and registers this broker (at Serve, once the
// Kafka listener's advertised endpoint is known).
func (c *raftCluster) start() {
	c.wg.Add(7)
	go func() {
		defer c.wg.Done()
		c.memberLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.reassignLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.fenceLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.balanceLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.reconcileLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.registerLoop()
	}()
	go func() {
		defer c.wg.Done()
		c.isrLoop()
	}()
	c.kickReconcile()
}

func (c *raftCluster) closeTransport() {
	if c.tcp != nil {
		c.tcp.Close()
	}
	if c.local != nil {
		c.local.Detach(raftID(c.self))
	}
}

func (c *raftCluster) shutdownNode() {
	c.closeTransport()
	if c.node != nil {
		c.node.Stop()
	}
}

// close stops the loops and the node, then closes the metadata log (the
// partition logs are closed by the broker's Close).
func (c *raftCluster) close() error {
	c.wgMu.Lock()
	c.stopped = true
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wgMu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.shutdownNode()
	var errs []error
	if err := c.node.Err(); err != nil {
		errs = append(errs, err)
	}
	if c.metaLog != nil {
		if err := c.metaLog.Close(); err != nil && !errors.Is(err, plog.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// transferLeadership hands every group this node leads to another voter
// (graceful shutdown: clients see a new leader, not an error), waiting up
// to d for the moves.
func (c *raftCluster) transferLeadership(d time.Duration) {
	select {
	case <-c.node.Done(): // stopped on a storage error: it leads nothing any more
		return
	default:
	}
	deadline := time.Now().Add(d)
	moving := func() int {
		n := 0
		groups := []uint64{metadataGroup}
		c.hostedMu.Lock()
		for gid := range c.hosted {
			groups = append(groups, gid)
		}
		c.hostedMu.Unlock()
		for _, gid := range groups {
			_, _, leading, err := c.node.Leader(gid)
			if err != nil || !leading {
				continue
			}
			reps, err := c.node.Replicas(gid)
			if err != nil {
				continue
			}
			best := uint64(0)
			var bestMatch uint64
			for _, r := range reps {
				if r.ID != raftID(c.self) && r.Match >= bestMatch {
					best, bestMatch = r.ID, r.Match
				}
			}
			if best != 0 {
				n++
				_ = c.node.TransferLeadership(gid, best)
			}
		}
		return n
	}
	for moving() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}

// view is the current metadata view.
func (c *raftCluster) view() *metadata.View { return c.state.View() }

// changed signals waiters (waitView) and the reconciler.
func (c *raftCluster) changed() {
	c.appliedMu.Lock()
	close(c.applied)
	c.applied = make(chan struct{})
	c.appliedMu.Unlock()
	c.kickReconcile()
}

func (c *raftCluster) kickReconcile() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// waitView waits until cond holds of the metadata view, ctx ends or the
// cluster stops.
func (c *raftCluster) waitView(ctx context.Context, cond func(*metadata.View) bool) error {
	for {
		c.appliedMu.Lock()
		ch := c.applied
		c.appliedMu.Unlock()
		if cond(c.view()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", errMetadataTimeout, ctx.Err())
		case <-c.stop:
			return errClosing
		}
	}
}

// propose forwards rec to the metadata leader and waits until done holds
// of the view, re-forwarding every second (a forwarded entry can be lost
// with a leader change). build makes the record from the current view
// (nil, err: give up with err).
func (c *raftCluster) propose(ctx context.Context, build func(*metadata.View) (metadata.Record, error), done func(*metadata.View) (bool, error)) error {
	for {
		v := c.view()
		if ok, err := done(v); ok || err != nil {
			return err
		}
		rec, err := build(v)
		if err != nil {
			return err
		}
		data, err := metadata.Encode(rec)
		if err != nil {
			return err
		}
		if err := c.node.ProposeForward(metadataGroup, metadataBatch(data)); err != nil && !errors.Is(err, replication.ErrNotLeader) {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		var result error
		err = c.waitView(wctx, func(v *metadata.View) bool {
			ok, err := done(v)
			result = err
			return ok || err != nil
		})
		cancel()
		if err == nil {
			return result
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", errMetadataTimeout, ctx.Err())
		}
		if errors.Is(err, errClosing) {
			return err
		}
	}
}

// metadataBatch wraps an encoded metadata record in a RecordBatch (one
// record, its value), the form every entry of a partition-style log has.
func metadataBatch(rec []byte) []byte {
	bld := records.NewBuilder(nil, records.NoProducer(-1))
	bld.Add(-1, nil, rec)
	return bld.Build()
}

// metadataRecord extracts the record from an entry's batch.
func metadataRecord(batch []byte) ([]byte, error) {
	if h, err := plog.ParseBatchHeader(batch); err != nil {
		return nil, err
	} else if h.IsControl() {
		return nil, nil
	}
	it, err := records.BatchRecords(batch)
	if err != nil {
		return nil, err
	}
	r, ok := it.Next()
	if !ok {
		return nil, fmt.Errorf("broker: metadata batch without a record: %v", it.Err())
	}
	return r.Value, nil
}

// metaSM applies the metadata log to the state (replication.StateMachine
// and LeadershipObserver of group 0).
type metaSM struct{ c *raftCluster }

func (m metaSM) Apply(entries []*raftpb.Entry) error {
	c := m.c
	for _, e := range entries {
		var rec []byte
		if e.GetType() == raftpb.EntryNormal && len(e.GetData()) > 0 {
			var err error
			if rec, err = metadataRecord(e.GetData()); err != nil {
				return fmt.Errorf("broker: metadata entry %d: %w", e.GetIndex(), err)
			}
		}
		if res := c.state.Apply(e.GetIndex(), rec); res.Err != nil {
			c.logger.Debug("metadata record rejected", "index", res.Index, "type", res.Type, "err", res.Err)
			c.noteRejected(res)
		}
	}
	if n := len(entries); n > 0 {
		if end, err := c.metaStorage.EndOffset(entries[n-1].GetIndex()); err == nil {
			c.metaLog.SetHighWatermark(end)
		}
	}
	c.changed()
	return nil
}

// Restore: the metadata log is never compacted, so no snapshot is ever
// sent for it.
func (metaSM) Restore(*raftpb.Snapshot) error {
	return errors.New("broker: metadata snapshots are not supported")
}

func (m metaSM) LeaderChanged(leader, term uint64) {
	ctrl := int32(-1)
	if leader != 0 {
		ctrl = kafkaID(leader)
	}
	m.c.state.SetController(ctrl, int32(term))
	m.c.changed()
}

// registerLoop registers this broker (its Kafka endpoint) and unfences
// it, then re-registers whenever the view loses it (a new incarnation
// after a restart replaces the old registration).
func (c *raftCluster) registerLoop() {
	self := c.b.cluster.selfNode()
	host, port := self.host, self.port
	// Every client listener, so that each node answers a client with the
	// others' endpoints on the listener the client came in on.
	var listeners []metadata.Listener
	for _, e := range self.endpoints {
		listeners = append(listeners, metadata.Listener{Name: e.listener, Host: e.host, Port: e.port, SecurityProtocol: e.security})
	}
	if len(listeners) == 0 {
		listeners = []metadata.Listener{{Name: "PLAINTEXT", Host: host, Port: port, SecurityProtocol: "PLAINTEXT"}}
	}
	reg := metadata.RegisterBroker{NodeID: c.self, Incarnation: c.incarnation, Listeners: listeners}
	registered := func(v *metadata.View) bool {
		br, ok := v.Broker(c.self)
		return ok && br.Incarnation == c.incarnation && !br.Fenced
	}
	for {
		if c.removed.Load() {
			<-c.stop // unregistered (raft_members.go): never again
			return
		}
		err := c.propose(c.ctx, func(v *metadata.View) (metadata.Record, error) {
			if c.removed.Load() {
				return nil, errClosing
			}
			if br, ok := v.Broker(c.self); ok && br.Incarnation == c.incarnation {
				return metadata.UnfenceBroker{NodeID: c.self}, nil
			}
			return reg, nil
		}, func(v *metadata.View) (bool, error) { return registered(v), nil })
		if err != nil {
			c.logger.Warn("broker registration failed; retrying", "err", err)
			select {
			case <-c.stop:
				return
			case <-time.After(time.Second):
			}
			continue
		}
		c.logger.Info("broker registered", "node", c.self, "endpoint", net.JoinHostPort(host, strconv.Itoa(int(port))))
		// Wait until the registration is lost, or stop.
		if err := c.waitView(c.ctx, func(v *metadata.View) bool { return !registered(v) }); err != nil {
			return
		}
		if _, ok := c.view().Broker(c.self); !ok {
			c.noteRemoved() // unregistered (UnregisterBroker): raft_members.go
		}
	}
}

// controller is the metadata leader's node id (-1: none known).
func (c *raftCluster) controller() int32 { return c.view().Controller().NodeID }

// reconcileLoop runs reconcile whenever the metadata view changes.
func (c *raftCluster) reconcileLoop() {
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		if err := c.reconcile(); err != nil {
			c.logger.Error("applying the metadata to this node failed; retrying", "err", err)
			select {
			case <-c.stop:
				return
			case <-time.After(time.Second):
			}
			c.kickReconcile()
		}
	}
}

// reconcile makes the cluster view and the topic registry follow the
// metadata view (see the file comment). topics.adminMu is held.
func (c *raftCluster) reconcile() error {
	b := c.b
	v := c.view()
	b.topics.adminMu.Lock()
	defer b.topics.adminMu.Unlock()
	select {
	case <-c.stop:
		return nil
	default:
	}

	// Brokers: the registered, unfenced ones (this node always).
	self := b.cluster.selfNode()
	nodes := []brokerNode{self}
	for _, br := range v.Brokers() {
		if br.NodeID == c.self || br.Fenced || len(br.Listeners) == 0 {
			continue
		}
		var rack *string
		if br.Rack != "" {
			rack = &br.Rack
		}
		eps := make([]endpoint, len(br.Listeners))
		for i, l := range br.Listeners {
			eps[i] = endpoint{listener: l.Name, security: l.SecurityProtocol, host: l.Host, port: l.Port}
		}
		host, port := defaultEndpoint(eps)
		nodes = append(nodes, brokerNode{id: br.NodeID, host: host, port: port, rack: rack, endpoints: eps})
	}
	if err := b.cluster.setBrokers(nodes, v.Controller().NodeID); err != nil {
		return err
	}

	var add, remove []*topic
	var errs []error
	for _, mt := range v.Topics() {
		t := b.topics.getID([16]byte(mt.ID))
		isNew := t == nil
		if isNew {
			t = newTopic(mt.Name, [16]byte(mt.ID), mt.Configs, *b.config())
		} else if !maps.Equal(t.state.Load().overrides, mt.Configs) {
			t.setConfigs(maps.Clone(mt.Configs), *b.config())
			lc := t.logConfig()
			lc.Replicated = true
			for _, p := range t.partitionList() {
				p.setLogConfig(lc)
			}
		}
		parts := t.partitionList()
		if len(parts) < len(mt.Partitions) {
			// Opened in parallel (each open is a few fsyncs); published
			// up to the first that failed, the rest closed again.
			from := len(parts)
			opened := make([]*partition, len(mt.Partitions)-from)
			failed := len(opened)
			var mu sync.Mutex
			_ = forEachParallel(len(opened), func(k int) error {
				p, err := c.openReplica(t, &mt.Partitions[from+k])
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					failed = min(failed, k)
					return nil
				}
				opened[k] = p
				return nil
			})
			for k := failed; k < len(opened); k++ {
				if opened[k] != nil {
					c.closeReplica(opened[k])
				}
			}
			grown := append(slices.Clone(parts), opened[:failed]...)
			t.partitions.Store(&grown)
			parts = grown
		}
		if !isNew {
			parts = c.reconcileHosting(t, mt, parts, &errs)
		}
		for i := range parts {
			p := parts[i]
			if i >= len(mt.Partitions) {
				continue
			}
			mp := &mt.Partitions[i]
			offline := offlineReplicas(v, mp.ReportedReplicas())
			if p.repl != nil {
				b.cluster.setOffline(p, offline)
				// A follower's ISR is the one its leader published (the
				// leader computes its own: isrLoop).
				if l := p.lead.Load(); !l.local && l.leader >= 0 && mp.Leader == l.leader && mp.LeaderEpoch == l.epoch && !slices.Equal(mp.ISR, l.isr) {
					_ = b.cluster.setLeadership(p, l.leader, l.epoch, l.replicas, mp.ISR, offline)
				}
				continue
			}
			l := p.lead.Load()
			if mp.LeaderEpoch >= l.epoch && (mp.Leader != l.leader || mp.LeaderEpoch != l.epoch || !slices.Equal(mp.ISR, l.isr) || !slices.Equal(offline, l.offline)) {
				nl := remoteLeadership(mp)
				nl.offline = offline
				p.setLead(nl)
				p.notify()
			}
		}
		if isNew && len(parts) > 0 {
			add = append(add, t)
		}
	}
	for _, t := range b.topics.all() {
		if _, ok := v.TopicByID(metadata.UUID(t.id)); !ok {
			remove = append(remove, t)
		}
	}
	if len(add) > 0 || len(remove) > 0 {
		b.topics.publishLocked(add, remove)
	}
	for _, t := range remove {
		for _, p := range t.partitionList() {
			c.dropReplica(p)
		}
		b.logger.Info("topic deleted", "topic", t.name)
	}
	for _, t := range add {
		b.logger.Info("topic created", "topic", t.name, "partitions", len(t.partitionList()))
	}
	if len(errs) == 0 && c.ready.Load() && !c.strayChecked.Load() {
		c.strayChecked.Store(c.removeStrayReplicas(v))
	}
	if len(errs) == 0 && !c.ready.Load() && c.caughtUp(v) {
		c.readyOnce.Do(func() {
			c.ready.Store(true)
			close(c.readyCh)
			c.logger.Info("caught up with the cluster metadata", "applied", v.Applied(), "topics", len(v.Topics()))
		})
	}
	return errors.Join(errs...)
}

// caughtUp reports whether v (just reconciled) is this node's view of the
// whole committed metadata log: a leader is known, everything this node
// knows to be committed is applied, this broker is registered and
// unfenced and the cluster has its id. Kafka's brokers likewise serve
// only once they caught up with the metadata log.
func (c *raftCluster) caughtUp(v *metadata.View) bool {
	st, err := c.node.Status(metadataGroup)
	if err != nil || st.Leader == 0 || st.Applied < st.Commit || v.Applied() < st.Commit {
		return false
	}
	br, ok := v.Broker(c.self)
	return ok && br.Incarnation == c.incarnation && !br.Fenced && v.ClusterID() != ""
}

// readyWait bounds how long a request waits for a restarted node to catch
// up with the metadata log (waitReady).
const readyWait = 10 * time.Second

// waitReady holds a request until this node caught up (caughtUp), at most
// d: after that it is served from what the node has.
func (c *raftCluster) waitReady(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.readyCh:
	case <-ctx.Done():
	case <-t.C:
	case <-c.stop:
	}
}

// clusterID is the cluster's id once the metadata log names it, else
// this node's own.
func (b *Broker) clusterID() string {
	if b.raft != nil {
		if id := b.raft.view().ClusterID(); id != "" {
			return id
		}
	}
	return b.meta.clusterID()
}

// adminTimeout bounds how long an admin request waits for its metadata
// change to be applied on this node.
const adminTimeout = 30 * time.Second

// maxReplicationFactor is the replication factor limit of a create: the
// registered, unfenced brokers.
func (c *raftCluster) liveBrokers() int { return len(c.view().LiveBrokers()) }

// metadataError maps the metadata state's rejections to the broker's
// admin errors.
func metadataError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, metadata.ErrTopicExists), errors.Is(err, metadata.ErrTopicIDExists):
		return fmt.Errorf("%w: %v", errTopicExists, err)
	case errors.Is(err, metadata.ErrInvalidTopic), errors.Is(err, metadata.ErrTopicCollision):
		return fmt.Errorf("%w: %v", errInvalidTopic, err)
	case errors.Is(err, metadata.ErrInvalidPartitions):
		return fmt.Errorf("%w: %v", errInvalidPartitions, err)
	case errors.Is(err, metadata.ErrInvalidReplicationFactor):
		return fmt.Errorf("%w: %v", errInvalidReplicationFactor, err)
	case errors.Is(err, metadata.ErrInvalidReplicaAssignment), errors.Is(err, metadata.ErrUnknownBroker):
		return fmt.Errorf("%w: %v", errInvalidReplicaAssignment, err)
	case errors.Is(err, metadata.ErrUnknownTopic):
		return fmt.Errorf("%w: %v", errUnknownTopic, err)
	case errors.Is(err, metadata.ErrInvalidConfig):
		return fmt.Errorf("%w: %v", errInvalidRequest, err)
	}
	return err
}

// createTopic commits the topic through the metadata group and returns it
// once this node has published it (its partitions open or known).
func (c *raftCluster) createTopic(s topicSpec, manual [][]int32) (*topic, error) {
	ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
	defer cancel()
	id := metadata.UUID(newTopicID())
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		rec, err := v.NewCreateTopic(s.name, id, s.configs, s.partitions, s.replicationFactor, manual)
		return rec, metadataError(err)
	}, func(v *metadata.View) (bool, error) {
		t, ok := v.Topic(s.name)
		switch {
		case !ok:
			return false, nil
		case t.ID != id:
			return false, fmt.Errorf("%w: %q", errTopicExists, s.name)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	// As Kafka's controller names every partition's leader in the
	// records that create it, the answer waits (a bounded time) until
	// every partition has an elected leader in the metadata, so a client
	// that produces at once finds one on any broker (kafka-go, for one,
	// does not retry LEADER_NOT_AVAILABLE).
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	_ = c.waitView(lctx, func(v *metadata.View) bool {
		t, ok := v.TopicByID(id)
		if !ok {
			return true
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	})
	lcancel()
	// Published by the reconciler once it applied the view.
	var t *topic
	err = c.waitLocal(ctx, func() bool {
		t = c.b.topics.getID([16]byte(id))
		return t != nil
	})
	return t, err
}

// waitLocal waits until cond holds of this node's registry (after the
// reconciler's next pass), polling.
func (c *raftCluster) waitLocal(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", errMetadataTimeout, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// deleteTopic commits the deletion of t.
func (c *raftCluster) deleteTopic(t *topic) error {
	ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
	defer cancel()
	id := metadata.UUID(t.id)
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		return metadata.DeleteTopic{TopicID: id}, nil
	}, func(v *metadata.View) (bool, error) {
		_, ok := v.TopicByID(id)
		return !ok, nil
	})
	if err != nil {
		return err
	}
	return c.waitLocal(ctx, func() bool { return c.b.topics.getID(t.id) == nil })
}

// createPartitions commits the growth of topic name to count partitions.
func (c *raftCluster) createPartitions(name string, count int32, manual [][]int32, validateOnly bool) error {
	ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
	defer cancel()
	mt, ok := c.view().Topic(name)
	if !ok {
		return fmt.Errorf("%w: %q", errUnknownTopic, name)
	}
	current := int32(len(mt.Partitions))
	if err := checkPartitionCount(name, current, count); err != nil {
		return err
	}
	if validateOnly {
		_, err := c.view().NewCreatePartitions(mt.ID, count, manual)
		return metadataError(err)
	}
	id := mt.ID
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		rec, err := v.NewCreatePartitions(id, count, manual)
		return rec, metadataError(err)
	}, func(v *metadata.View) (bool, error) {
		t, ok := v.TopicByID(id)
		if !ok {
			return false, fmt.Errorf("%w: %q", errUnknownTopic, name)
		}
		return int32(len(t.Partitions)) >= count, nil
	})
	if err != nil {
		return err
	}
	return c.waitLocal(ctx, func() bool {
		t := c.b.topics.getID([16]byte(id))
		return t != nil && int32(len(t.partitionList())) >= count
	})
}

// alterTopicConfigs commits topic id's new overrides.
func (c *raftCluster) alterTopicConfigs(t *topic, next map[string]string) error {
	ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
	defer cancel()
	id := metadata.UUID(t.id)
	err := c.propose(ctx, func(v *metadata.View) (metadata.Record, error) {
		return metadata.AlterTopicConfigs{TopicID: id, Configs: next}, nil
	}, func(v *metadata.View) (bool, error) {
		mt, ok := v.TopicByID(id)
		if !ok {
			return false, fmt.Errorf("%w: %q", errUnknownTopic, t.name)
		}
		return maps.Equal(mt.Configs, next) || (len(mt.Configs) == 0 && len(next) == 0), nil
	})
	if err != nil {
		return err
	}
	return c.waitLocal(ctx, func() bool {
		return maps.Equal(t.state.Load().overrides, next) || len(next) == 0 && len(t.state.Load().overrides) == 0
	})
}

// leadershipMoved follows a hosted partition's leadership with the
// coordinators (Kafka's onElection/onResignation): when this node becomes
// the leader of a __consumer_offsets or __transaction_state partition, the
// group or transaction coordinator loads that partition's state, once the
// new leader has applied its whole log (its high watermark reached the log
// end, which happens when the entry opening its term commits). Called by
// the partition's Raft group with its lock held: the load runs on its own
// goroutine.
func (b *Broker) leadershipMoved(p *partition, leader bool) {
	if b.raft == nil {
		return
	}
	name := p.topic.name
	if !leader {
		if name == offsetsTopic {
			b.groups.Unload(p.index)
		}
		return
	}
	if name != offsetsTopic && name != txnStateTopic {
		return
	}
	c := b.raft
	c.goTracked(func() {
		deadline := time.Now().Add(30 * time.Second)
		for p.highWatermark() < p.endOffset() {
			if !p.lead.Load().local || time.Now().After(deadline) {
				return
			}
			select {
			case <-c.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		var err error
		if name == offsetsTopic {
			err = b.groups.Load(p.index)
		} else {
			err = b.txns.Load(p.index)
		}
		if err != nil {
			c.logger.Error("loading coordinator state after a leadership change", "partition", p.dirName(), "err", err)
			return
		}
		c.logger.Info("coordinator state loaded", "partition", p.dirName())
	})
}

// goTracked runs f on a goroutine close waits for, unless close has begun
// (then f does not run). For goroutines started from outside the loops
// that start adds them (Raft's apply callbacks): an Add racing close's
// Wait at count zero would panic.
func (c *raftCluster) goTracked(f func()) bool {
	c.wgMu.Lock()
	defer c.wgMu.Unlock()
	if c.stopped {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// leaderConfirmTimeout bounds how long a coordinator request waits for
// confirmLeads: a round completes in one heartbeat round trip, or after a
// few heartbeat ticks (raft resends its context each tick) if answers were
// lost; a leader that cannot confirm in this long is cut off or deposed.
const leaderConfirmTimeout = 5 * raftTick

// confirmLeads reports whether this node leads partition p's Raft group
// and has proved it since the call began (replication.Node.ConfirmLeader,
// a ReadIndex round: a quorum of the voters answered a heartbeat of this
// node's term, which no voter that had moved to a later term does, and
// the log is applied up to the commit index of that moment). So a node
// deposed without knowing it yet (a paused process, a leader in a
// minority) answers false instead of serving its stale in-memory
// coordinator state (the fault campaign's offset regression). It waits at
// most leaderConfirmTimeout and takes no broker lock; callers must hold
// none that Raft's apply takes (the coordinators' request checks hold
// none). Cost: one heartbeat round trip per call (concurrent calls share
// one); a quiesced group is woken by it.
func (c *raftCluster) confirmLeads(p *partition) bool {
	if p == nil || p.repl == nil || !p.lead.Load().local {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaderConfirmTimeout)
	defer cancel()
	if err := c.node.ConfirmLeader(ctx, p.repl.gid); err != nil {
		c.logger.Debug("coordinator leadership not confirmed", "partition", p.dirName(), "err", err)
		return false
	}
	return true
}

// groupOf is partition p's Raft group id (0: unknown): its own if hosted
// here, else the metadata view's.
func (c *raftCluster) groupOf(p *partition) uint64 {
	if p.repl != nil {
		return p.repl.gid
	}
	mt, ok := c.view().TopicByID(metadata.UUID(p.topic.id))
	if !ok || int(p.index) >= len(mt.Partitions) {
		return 0
	}
	return mt.Partitions[p.index].GroupID
}

// balanceLoop is Kafka's auto leader rebalance, run by the controller
// (the metadata leader): every leader.imbalance.check.interval.seconds,
// for each broker whose preferred partitions (it is their first replica)
// are led by others in more than leader.imbalance.per.broker.percentage of
// cases, leadership of those whose preferred replica is in sync is asked
// back (RequestTransfer).
func (c *raftCluster) balanceLoop() {
	cfg := c.b.cfg
	if !cfg.AutoLeaderRebalanceEnable {
		return
	}
	tick := time.NewTicker(time.Duration(cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		if _, _, leading, err := c.node.Leader(metadataGroup); err != nil || !leading {
			continue
		}
		c.rebalanceLeaders(int(cfg.LeaderImbalancePerBrokerPercentage))
	}
}

// rebalanceLeaders asks leadership back for the preferred replicas of
// every broker whose imbalance is above pct percent; it returns how many
// transfers it asked for.
func (c *raftCluster) rebalanceLeaders(pct int) int {
	type move struct {
		gid            uint64
		leader, target int32
	}
	preferred := map[int32]int{}
	moves := map[int32][]move{}
	for _, t := range c.view().Topics() {
		for _, p := range t.Partitions {
			if len(p.Replicas) == 0 || p.Reassigning() {
				continue // a reassignment places the leadership itself
			}
			pref := p.Replicas[0]
			preferred[pref]++
			if p.Leader >= 0 && p.Leader != pref && slices.Contains(p.ISR, pref) {
				moves[pref] = append(moves[pref], move{p.GroupID, p.Leader, pref})
			}
		}
	}
	asked := 0
	for broker, ms := range moves {
		if len(ms)*100 <= pct*preferred[broker] {
			continue
		}
		for _, m := range ms {
			if err := c.node.RequestTransfer(m.gid, raftID(m.target), raftID(m.leader)); err == nil {
				asked++
			}
		}
	}
	if asked > 0 {
		c.logger.Info("leader rebalance: asked preferred replicas to lead", "partitions", asked)
	}
	return asked
}

// brokerSessionTimeout is Kafka's broker.session.timeout.ms default: a
// broker the controller has not heard from for this long is fenced (a
// variable for tests, set before any broker starts).
var brokerSessionTimeout = 9 * time.Second

// fenceLoop runs on every node and acts on the controller: a registered
// broker silent for brokerSessionTimeout (Raft liveness: no frame from
// its node) is fenced, so Metadata stops listing it and its replicas
// show as offline; it unfences itself when it is back (registerLoop).
func (c *raftCluster) fenceLoop() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	silentSince := map[int32]time.Time{}
	for {
		select {
		case <-c.stop:
			return
		case now := <-tick.C:
			if _, _, leading, err := c.node.Leader(metadataGroup); err != nil || !leading {
				clear(silentSince)
				continue
			}
			if c.view().ClusterID() == "" {
				// The first controller names the cluster (its own id).
				if data, err := metadata.Encode(metadata.SetClusterID{ClusterID: c.b.meta.clusterID()}); err == nil {
					_ = c.node.ProposeForward(metadataGroup, metadataBatch(data))
				}
			}
			for _, br := range c.view().Brokers() {
				id := br.NodeID
				if id == c.self || br.Fenced || c.node.PeerAlive(raftID(id)) {
					delete(silentSince, id)
					continue
				}
				since, ok := silentSince[id]
				if !ok {
					silentSince[id] = now
					continue
				}
				if now.Sub(since) >= brokerSessionTimeout {
					if data, err := metadata.Encode(metadata.FenceBroker{NodeID: id}); err == nil {
						_ = c.node.ProposeForward(metadataGroup, metadataBatch(data))
						c.logger.Warn("fencing a silent broker", "node", id, "silent", now.Sub(since).Round(time.Second))
					}
					delete(silentSince, id)
				}
			}
		}
	}
}

// offlineReplicas is the replicas among rs whose brokers are not live
// (unregistered or fenced) in v.
func offlineReplicas(v *metadata.View, rs []int32) []int32 {
	out := []int32{}
	for _, r := range rs {
		if br, ok := v.Broker(r); !ok || br.Fenced {
			out = append(out, r)
		}
	}
	return out
}
